"""Whole-image inference at any size: sliding windows, padding to the divisor, cropping back."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genodsl.errors import DataError
from genodsl.train.infer import infer_image, infer_labels, pad_amounts, pad_forward


class Pointwise(nn.Module):
    """A 1×1 convolution: its output at a pixel depends on that pixel only."""

    size_divisor = 1

    def __init__(self, classes: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, classes, 1)

    def forward(self, x):
        return self.conv(x)


class Strided(nn.Module):
    """Down by 4 and up by 4: takes only multiples of 4, like a U-Net of depth 2."""

    size_divisor = 4

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.down = nn.Conv2d(1, 4, 4, stride=4)
        self.up = nn.ConvTranspose2d(4, 2, 4, stride=4)

    def forward(self, x):
        if x.shape[-2] % 4 or x.shape[-1] % 4:
            raise RuntimeError(f"size {tuple(x.shape[-2:])} is not a multiple of 4")
        return self.up(torch.relu(self.down(x)))


def test_a_window_covering_the_image_equals_the_whole_image():
    model = Strided()
    image = torch.randn(1, 24, 36)
    whole = infer_image(model, image, roi=None, device="cpu")
    window = infer_image(model, image, roi=(24, 36), mode="gaussian", device="cpu")
    bigger = infer_image(model, image, roi=(64, 64), mode="constant", device="cpu")
    assert whole.shape == (2, 24, 36)
    assert torch.allclose(whole, window, atol=1e-6) and torch.allclose(whole, bigger, atol=1e-6)
    assert torch.allclose(whole.sum(0), torch.ones(24, 36), atol=1e-5)  # probabilities


@pytest.mark.parametrize("mode", ["gaussian", "constant"])
def test_overlapping_windows_blend_to_the_whole_image_for_a_pointwise_net(mode):
    model = Pointwise()
    image = torch.randn(2, 1, 37, 53)
    whole = infer_image(model, image, device="cpu")
    slid = infer_image(model, image, roi=(16, 20), overlap=0.5, mode=mode, device="cpu")
    assert slid.shape == (2, 3, 37, 53)
    assert torch.allclose(whole, slid, atol=1e-5)


@pytest.mark.parametrize("size", [(37, 53), (270, 400), (1, 3)])
def test_odd_sizes_are_padded_and_cropped_back(size):
    model = Strided()
    image = torch.randn(1, *size)
    with pytest.raises(RuntimeError):
        model(image[None])  # the bare network cannot take it
    probs = infer_image(model, image, device="cpu")
    assert probs.shape == (2, *size)
    slid = infer_image(model, image, roi=(16, 24), overlap=0.25, device="cpu")
    assert slid.shape == (2, *size) and torch.isfinite(slid).all()


def test_padding_is_split_as_divisible_pad_splits_it():
    from monai.transforms import DivisiblePad

    x = torch.zeros(1, 37, 53)
    padded = DivisiblePad(k=16)(x)
    left, right, top, bottom = pad_amounts(37, 53, 16)
    assert (top + 37 + bottom, left + 53 + right) == tuple(padded.shape[-2:])
    marker = torch.zeros(1, 1, 37, 53)
    marker[..., 0, 0] = 1
    seen = {}

    def net(t):
        seen["t"] = t
        return t

    out = pad_forward(net, marker, 16)
    assert out.shape == marker.shape and torch.equal(out, marker)
    ref = DivisiblePad(k=16)(marker[0])
    assert torch.equal(seen["t"][0], torch.as_tensor(ref).as_subclass(torch.Tensor))


class Shifted(nn.Module):
    """A random 1×3 (3D: 1×1×3) kernel, not mirror-symmetric: its output changes when the
    input is flipped left-right, so mirroring must flip each pass back before averaging."""

    size_divisor = 1

    def __init__(self, dims: int = 2):
        super().__init__()
        torch.manual_seed(0)
        Conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.dims = dims
        self.conv = Conv(1, 3, (1,) * (dims - 1) + (3,), padding=(0,) * (dims - 1) + (1,))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.conv(x)


@pytest.mark.parametrize("dims", [2, 3])
def test_mirroring_averages_the_softmax_of_every_flip_flipped_back(dims):
    from genodsl.train.infer import mirror_axes

    model = Shifted(dims)
    image = torch.randn(2, 1, *(5, 7, 6)[-dims:])
    plain = infer_image(model, image, device="cpu")
    assert model.calls == 1
    model.calls = 0
    mirrored = infer_image(model, image, device="cpu", mirror=True)
    assert model.calls == 2 ** dims and len(mirror_axes(dims)) == 2 ** dims - 1
    with torch.no_grad():
        expected = torch.softmax(model(image), 1)
        for axes in mirror_axes(dims):
            expected += torch.softmax(model(image.flip(axes)), 1).flip(axes)
    assert torch.allclose(mirrored, expected / 2 ** dims, atol=1e-6)
    assert not torch.allclose(mirrored, plain, atol=1e-3)  # the flips saw something else
    assert torch.allclose(mirrored.sum(1), torch.ones(2, *image.shape[2:]), atol=1e-5)


def test_mirroring_leaves_a_flip_symmetric_net_unchanged_in_windows_too():
    model = Pointwise()  # a 1×1 conv commutes with every flip
    image = torch.randn(1, 1, 37, 53)
    plain = infer_image(model, image, roi=(16, 20), device="cpu")
    mirrored = infer_image(model, image, roi=(16, 20), device="cpu", mirror=True)
    assert torch.allclose(plain, mirrored, atol=1e-5)


def test_labels_are_resampled_to_the_requested_size():
    model = Pointwise(classes=2)
    image = torch.randn(1, 1, 20, 30)
    labels = infer_labels(model, image, (40, 60), device="cpu")
    assert labels.shape == (1, 40, 60) and labels.dtype == torch.int64


def test_bad_inputs_are_diagnostics():
    with pytest.raises(DataError):
        infer_image(Pointwise(), torch.zeros(5, 5), device="cpu")
    with pytest.raises(DataError):
        infer_image(Pointwise(), torch.zeros(1, 5, 5), roi=(0, 4), device="cpu")


def _odd_folder(root, n: int = 6, size: tuple[int, int] = (37, 53)) -> None:
    """``n`` PNG pairs of an odd size: a bright disc (class 1) on noise."""
    import numpy as np
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size[0], :size[1]]
    for i in range(n):
        cy, cx, r = rng.integers(10, size[0] - 10), rng.integers(10, size[1] - 10), 7
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)
        image = (mask * 150 + rng.integers(0, 80, size)).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"img{i}.png")
        Image.fromarray(mask * 255).save(root / "masks" / f"img{i}.png")


def test_odd_sizes_train_predict_evaluate_end_to_end(tmp_path, cli):
    import csv
    import json

    from PIL import Image

    from tests.conftest import GENOTYPES

    _odd_folder(tmp_path / "data")
    run = tmp_path / "run"
    code, _, err = cli("train", GENOTYPES / "nasunet.geno", "-n", "nasunet_tiny",
                       "--data", tmp_path / "data", "--out", run, "--epochs", "1",
                       "--no-progress", "--set", "data.size=null", "--set",
                       "data.patch=[16,24]", "--set", "train.batch_size=2")
    assert code == 0, err
    code, out, err = cli("predict", run, tmp_path / "data" / "images" / "img0.png",
                         "--out", tmp_path / "pred", "--no-progress")
    assert code == 0, err
    for kind in ("mask", "view", "overlay"):
        assert Image.open(tmp_path / "pred" / f"img0_{kind}.png").size == (53, 37)
    code, out, err = cli("evaluate", run, "--data", tmp_path / "data", "--out",
                         tmp_path / "ev", "--no-progress")
    assert code == 0, err
    assert "HD95 (px)" in out and "(6 images" in out
    with (tmp_path / "ev" / "per_case.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and all(r["shape"] == "37x53" and r["unit"] == "px" for r in rows)
    summary = json.loads((tmp_path / "ev" / "metrics.json").read_text(encoding="utf-8"))
    assert summary["cases"] == 6 and summary["unit"] == "px" and "nsd" in summary
    code, out, err = cli("evaluate", run, "--data", tmp_path / "data", "--out",
                         tmp_path / "ev_mirror", "--no-progress", "--mirror")
    assert code == 0, err
    mirrored = json.loads((tmp_path / "ev_mirror" / "metrics.json").read_text(encoding="utf-8"))
    assert mirrored["cases"] == 6 and mirrored["dsc"] != summary["dsc"]
    code, _, err = cli("evaluate", run, "--data", tmp_path / "data", "--out",
                       tmp_path / "ev_again", "--no-progress",
                       "--set", "data.inference.mirror=true")
    assert code == 0, err  # the flag is the config key
    again = json.loads((tmp_path / "ev_again" / "metrics.json").read_text(encoding="utf-8"))
    assert again["dsc"] == mirrored["dsc"]
    code, _, err = cli("predict", run, tmp_path / "data" / "images" / "img0.png",
                       "--out", tmp_path / "pred_mirror", "--no-progress", "--mirror")
    assert code == 0, err
    assert Image.open(tmp_path / "pred_mirror" / "img0_mask.png").size == (53, 37)


def test_patches_are_cropped_and_padded_when_the_image_is_smaller():
    from genodsl.data.augment import build_augmenter
    from genodsl.data.config import AugmentConfig

    aug = build_augmenter(AugmentConfig(enabled=False), patch=(32, 48))
    image = torch.randn(1, 20, 60) + 5.0
    mask = torch.ones(20, 60, dtype=torch.long)
    out, out_mask = aug(image, mask, seed=3)
    assert out.shape == (1, 32, 48) and out_mask.shape == (32, 48)
    assert int(out_mask.sum()) == 20 * 48  # 12 padded rows are background
    assert float((out == 0).float().sum()) == 12 * 48  # and zeros in the image
    again, _ = aug(image, mask, seed=3)
    assert torch.equal(out, again)  # a pure function of the seed
    assert build_augmenter(AugmentConfig(enabled=False)) is None
