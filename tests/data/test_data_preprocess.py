"""Preprocessing: class maps, channels, resize, CLAHE and normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genodsl.data import ClassMap, Normalize, Preprocess
from genodsl.data.preprocess import clahe, normalize, single_channel_mask, to_channels
from genodsl.errors import DataError


def test_binary_class_map() -> None:
    mask = np.array([[0, 255], [255, 0]], np.uint8)
    out = ClassMap(2, {0: 0, 255: 1}).apply(mask, "m.png")
    assert out.dtype == np.int64 and out.tolist() == [[0, 1], [1, 0]]


def test_multi_organ_class_map() -> None:
    mask = np.array([[0, 63, 126], [189, 252, 0]], np.uint8)  # CHAOS-style grey levels
    cmap = ClassMap(5, {0: 0, 63: 1, 126: 2, 189: 3, 252: 4})
    assert cmap.apply(mask).tolist() == [[0, 1, 2], [3, 4, 0]]


def test_values_outside_the_map_name_file_and_values() -> None:
    mask = np.array([[0, 255, 17, 3]], np.uint8)
    with pytest.raises(DataError) as err:
        ClassMap(2, {0: 0, 255: 1}).apply(mask, "masks/x.png")
    text = str(err.value)
    assert "masks/x.png" in text and "[3, 17]" in text and "E307" in text


def test_identity_map_checks_range() -> None:
    assert ClassMap(3).apply(np.array([[0, 2]], np.uint8)).tolist() == [[0, 2]]
    with pytest.raises(DataError, match=r"\[7, 255\] are not class indices 0..1") as err:
        ClassMap(2).apply(np.array([[0, 7, 255]], np.uint8), "em/00.png")
    assert "class_map" in str(err.value) and "em/00.png" in str(err.value)


def test_float_masks_must_be_integral() -> None:
    assert ClassMap(2).apply(np.array([[0.0, 1.0]], np.float32)).tolist() == [[0, 1]]
    with pytest.raises(DataError, match="non-integer"):
        ClassMap(2).apply(np.array([[0.0, 0.5]], np.float32), "l.nii.gz")


def test_mask_channels_collapse_only_when_equal() -> None:
    rgb = np.stack([np.eye(3, dtype=np.uint8) * 255] * 3, -1)
    assert single_channel_mask(rgb).shape == (3, 3)
    rgb[0, 0, 1] = 7
    with pytest.raises(DataError, match="channels with different values"):
        single_channel_mask(rgb, "m.png")


def test_channel_conversions() -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 100
    assert to_channels(rgba, 3).shape == (2, 2, 3)  # alpha dropped
    assert to_channels(rgba, 1)[0, 0, 0] == pytest.approx(29.9, abs=1e-3)  # 0.299 * 100
    assert to_channels(np.ones((2, 2), np.uint8), 3).shape == (2, 2, 3)
    with pytest.raises(DataError, match="has 5 channels but in_channels is 1") as err:
        to_channels(np.zeros((2, 2, 5), np.uint8), 1, "five.tif")
    assert "five.tif" in str(err.value)


def test_resize_image_bilinear_mask_nearest() -> None:
    pre = Preprocess(ClassMap(3), size=(8, 6), normalize=Normalize.NONE)
    image = np.linspace(0, 255, 16 * 12).reshape(16, 12).astype(np.uint8)
    mask = np.zeros((16, 12), np.uint8)
    mask[:8] = 1
    mask[8:, 6:] = 2
    img_t, mask_t = pre.pair(image, mask)
    assert img_t.shape == (1, 8, 6) and mask_t.shape == (8, 6)
    assert mask_t[:4].eq(1).all() and mask_t[4:, 3:].eq(2).all() and mask_t[4:, :3].eq(0).all()
    assert 0 <= img_t.min() and img_t.max() <= 255
    assert len(torch.unique(img_t)) > 10  # interpolated, not nearest


def test_pair_size_mismatch_names_both_files() -> None:
    pre = Preprocess(ClassMap(2))
    with pytest.raises(DataError, match="5x5 \\(HxW\\)") as err:
        pre.pair(np.zeros((4, 4)), np.zeros((5, 5), np.uint8), image_file="i.png",
                 mask_file="m.png")
    assert "i.png" in str(err.value) and "m.png" in str(err.value)


def test_clahe_as_in_nas_unet() -> None:
    rng = np.random.default_rng(0)
    low_contrast = (0.4 + 0.05 * rng.random((1, 64, 64))).astype(np.float32)
    out = clahe(low_contrast, 0.05)
    assert out.shape == (1, 64, 64) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.std() > 0.1 > low_contrast.std()
    rgb = clahe(rng.random((3, 32, 32)).astype(np.float32), 0.05)
    assert rgb.shape == (3, 32, 32)
    pre = Preprocess(ClassMap(2), clahe_clip_limit=0.05, normalize=Normalize.NONE)
    assert torch.allclose(pre.image(low_contrast[0]), torch.from_numpy(out))


def test_normalisations() -> None:
    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    z = normalize(x, Normalize.ZSCORE)
    assert torch.allclose(z.mean(dim=(1, 2)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(z.std(dim=(1, 2), unbiased=False), torch.ones(2), atol=1e-5)
    m = normalize(x, Normalize.MINMAX)
    assert torch.equal(m.amin(dim=(1, 2)), torch.zeros(2))
    assert torch.equal(m.amax(dim=(1, 2)), torch.ones(2))
    assert torch.equal(normalize(x, Normalize.NONE), x)
    flat = normalize(torch.full((1, 3, 3), 7.0), Normalize.ZSCORE)
    assert torch.isfinite(flat).all() and flat.abs().max() == 0


def test_intensity_clip_before_normalising() -> None:
    pre = Preprocess(ClassMap(2), normalize=Normalize.NONE, intensity_clip=(-100.0, 200.0))
    out = pre.image(np.array([[-1000, 0, 50, 3000]], np.int16))
    assert out.tolist() == [[[-100.0, 0.0, 50.0, 200.0]]]


def test_binary_0_255_masks_are_read_without_a_class_map():
    import numpy as np
    from genodsl.data.preprocess import ClassMap

    mask = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    out = ClassMap(2, None).apply(mask, "m.png")
    assert out.tolist() == [[0, 1], [1, 0]]
    with pytest.raises(DataError, match="not class indices"):
        ClassMap(3, None).apply(mask, "m.png")  # three classes: 255 is ambiguous


def test_label_values_invert_the_class_map():
    from genodsl.data.preprocess import ClassMap

    assert ClassMap(2, {0: 0, 5: 1}).label_values().tolist() == [0, 5]   # liver = 5 again
    assert ClassMap(3).label_values().tolist() == [0, 1, 2]              # identity
    assert ClassMap(2, {0: 0, 128: 1, 255: 1}).label_values().tolist() == [0, 128]  # smallest
