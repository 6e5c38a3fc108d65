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
