"""Augmentation keeps image and mask aligned, is seeded, and applies to training only."""

from __future__ import annotations

import pytest
import torch

from genodsl.data import (AugmentConfig, Augmenter, build_augmenter, build_datasets,
                          parse_data_config)


def shapes(h: int = 32, w: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """An image of two bright rectangles and the mask equal to its thresholded image."""
    image = torch.zeros(1, h, w)
    image[0, 3:12, 5:20] = 1.0
    image[0, 18:28, 2:9] = 1.0
    return image, (image[0] > 0.5).long()


@pytest.mark.parametrize("h,w", [(32, 32), (24, 40)])
def test_flips_and_rot90_keep_mask_equal_to_thresholded_image(h: int, w: int) -> None:
    aug = Augmenter(AugmentConfig(flip=True, rot90=True, rotate_degrees=0, prob=0.5))
    image, mask = shapes(h, w)
    changed = 0
    for seed in range(16):
        img2, mask2 = aug(image, mask, seed)
        assert img2.shape == (1, h, w) and mask2.shape == (h, w)  # non-square never rotated
        assert mask2.dtype == torch.int64
        assert torch.equal(mask2, (img2[0] > 0.5).long())
        changed += not torch.equal(mask2, mask)
    assert changed >= 8


def test_small_rotations_and_elastic_stay_aligned() -> None:
    aug = Augmenter(AugmentConfig(flip=False, rotate_degrees=20, elastic=True, prob=1.0,
                                  elastic_spacing=8, elastic_magnitude=(0.0, 1.0)))
    image, mask = shapes()
    for seed in range(6):
        img2, mask2 = aug(image, mask, seed)
        assert set(mask2.unique().tolist()) <= {0, 1}  # nearest keeps class indices
        agree = ((img2[0] > 0.5).long() == mask2).float().mean().item()
        assert agree > 0.97
        assert not torch.equal(mask2, mask)


def test_same_seed_same_result() -> None:
    aug = Augmenter(AugmentConfig(rot90=True, elastic=True, prob=0.7))
    image, mask = shapes()
    a, b = aug(image, mask, 123), aug(image, mask, 123)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    outs = {aug(image, mask, s)[1].sum().item() for s in range(10)}
    assert len(outs) > 1


def test_disabled_augmentation() -> None:
    assert build_augmenter(AugmentConfig(enabled=False)) is None
    assert build_augmenter(AugmentConfig(flip=False, rotate_degrees=0)) is None


def test_only_the_training_split_is_augmented() -> None:
    cfg = parse_data_config({"layout": "synthetic", "size": 32, "synthetic": {"n_images": 10},
                             "augment": {"rot90": True, "prob": 1.0}})
    train, val = build_datasets(cfg)
    assert train.augment is not None and val.augment is None
    assert torch.equal(val[0]["image"], val[0]["image"])
    first = torch.stack([train[0]["mask"] for _ in range(8)])
    assert any(not torch.equal(first[0], m) for m in first[1:])


def test_set_epoch_makes_augmentation_reproducible() -> None:
    cfg = parse_data_config({"layout": "synthetic", "size": 32, "synthetic": {"n_images": 6},
                             "augment": {"rot90": True, "elastic": True, "prob": 0.8}})
    train_a, _ = build_datasets(cfg)
    train_b, _ = build_datasets(cfg)
    train_a.set_epoch(3)
    train_b.set_epoch(3)
    for i in range(len(train_a)):
        assert torch.equal(train_a[i]["image"], train_b[i]["image"])
        assert torch.equal(train_a[i]["mask"], train_b[i]["mask"])
    train_b.set_epoch(4)
    assert any(not torch.equal(train_a[i]["image"], train_b[i]["image"])
               for i in range(len(train_a)))


def test_scale_zooms_image_and_mask_together() -> None:
    aug = Augmenter(AugmentConfig(flip=False, rotate_degrees=0, scale=(0.7, 1.4), prob=1.0))
    image, mask = shapes()
    areas = set()
    for seed in range(6):
        img2, mask2 = aug(image, mask, seed)
        assert img2.shape == image.shape and mask2.shape == mask.shape  # the size is kept
        assert set(mask2.unique().tolist()) <= {0, 1}
        assert ((img2[0] > 0.5).long() == mask2).float().mean().item() > 0.97
        areas.add(int(mask2.sum()))
    assert len(areas) > 1 and areas != {int(mask.sum())}


@pytest.mark.parametrize("cfg", [dict(gamma=(0.5, 2.0)), dict(noise_std=0.2)])
def test_intensity_transforms_change_the_image_only(cfg) -> None:
    aug = Augmenter(AugmentConfig(flip=False, rotate_degrees=0, prob=1.0, **cfg))
    image, mask = shapes()
    image = image * 0.8 + 0.1  # gamma needs values between the extremes to act on
    image[0, 0, 0], image[0, -1, -1] = 0.0, 1.0
    img2, mask2 = aug(image, mask, 3)
    assert torch.equal(mask2, mask)
    assert img2.shape == image.shape and not torch.allclose(img2, image)


def test_bad_augment_range_names_the_key() -> None:
    from genodsl.errors import ConfigError
    with pytest.raises(ConfigError) as err:
        parse_data_config({"root": "d", "augment": {"scale": [1.2, 0.8]}})
    assert "data.augment.scale" in str(err.value) and "low <= high" in str(err.value)


EVERY_2D = AugmentConfig(prob=0.7, rot90=True, rotate_degrees=20, elastic=True, elastic_spacing=8,
                         scale=(0.85, 1.25), gamma=(0.7, 1.5), noise_std=0.1)


def with_meta_tracking(aug: Augmenter, image: torch.Tensor, mask: torch.Tensor,
                       seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same transforms run the way MONAI runs them by default: on MetaTensors."""
    from monai.data import get_track_meta

    assert get_track_meta()
    out = {"image": image, "mask": mask[None].float()}
    aug._compose.set_random_state(seed=seed % (2**32))
    out = aug._compose(out)
    assert type(out["image"]).__name__ == "MetaTensor"
    return (out["image"].as_subclass(torch.Tensor).float(),
            out["mask"].as_subclass(torch.Tensor)[0].round().long())


def test_plain_tensors_give_the_numbers_of_meta_tensors_and_restore_the_flag() -> None:
    from monai.data import get_track_meta

    aug = Augmenter(EVERY_2D)
    image, mask = shapes()
    image = image + 0.1 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    for seed in range(6):
        got = aug(image, mask, seed)
        assert get_track_meta()  # MONAI's process-wide flag is back on
        want = with_meta_tracking(aug, image, mask, seed)
        assert type(got[0]) is torch.Tensor and type(got[1]) is torch.Tensor
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_plain_tensors_restores_the_flag_after_an_error() -> None:
    from monai.data import get_track_meta, set_track_meta

    from genodsl.data.augment import plain_tensors

    for before in (True, False):
        set_track_meta(before)
        try:
            with pytest.raises(RuntimeError), plain_tensors():
                assert not get_track_meta()
                raise RuntimeError("a transform failed")
            assert get_track_meta() is before
        finally:
            set_track_meta(True)
