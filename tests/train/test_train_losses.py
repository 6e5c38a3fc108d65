"""Loss values against hand computations on tiny tensors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genodsl.errors import ConfigError, DataError
from genodsl.train.losses import (LOSS_NAMES, build_loss, class_pixel_counts,
                                  inverse_frequency_weights)

LOGITS = torch.tensor([[[[2.0, -1.0], [0.5, 0.0]],
                        [[-1.0, 1.0], [0.0, 3.0]]]])  # [1, 2, 2, 2]
TARGET = torch.tensor([[[0, 1], [1, 1]]])  # [1, 2, 2]


def _hand_dice_per_class(squared: bool, smooth_nr: float, smooth_dr: float) -> torch.Tensor:
    p = LOGITS.softmax(dim=1)[0]  # [2, 2, 2]
    g = F.one_hot(TARGET[0], 2).permute(2, 0, 1).float()
    inter = (p * g).sum(dim=(1, 2))
    denom = (p**2).sum(dim=(1, 2)) + (g**2).sum(dim=(1, 2)) if squared \
        else p.sum(dim=(1, 2)) + g.sum(dim=(1, 2))
    return 1 - (2 * inter + smooth_nr) / (denom + smooth_dr)


def test_dice_matches_hand_formula():
    expected = _hand_dice_per_class(False, 1e-5, 1e-5).mean()
    got = build_loss("dice", 2)(LOGITS, TARGET)
    assert torch.allclose(got, expected, atol=1e-6)


def test_dice_ref_is_vnet_squared_smooth_one():
    expected = _hand_dice_per_class(True, 1.0, 1.0).mean()
    got = build_loss("dice_ref", 2)(LOGITS, TARGET)
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, build_loss("dice", 2)(LOGITS, TARGET))


def test_weighted_dice_is_weighted_mean_of_class_losses():
    w = torch.tensor([0.5, 1.5])
    expected = (w * _hand_dice_per_class(False, 1e-5, 1e-5)).mean()
    got = build_loss("weighted_dice", 2, class_weights=[0.5, 1.5])(LOGITS, TARGET)
    assert torch.allclose(got, expected, atol=1e-6)
    # counts 30:10 -> inverse frequency normalised to mean 1 -> the same weights
    from_counts = build_loss("weighted_dice", 2, class_counts=[30, 10])(LOGITS, TARGET)
    assert torch.allclose(from_counts, expected, atol=1e-6)


def test_inverse_frequency_weights():
    assert inverse_frequency_weights([30, 10]) == pytest.approx([0.5, 1.5])
    assert inverse_frequency_weights([10, 0, 10]) == pytest.approx([1.0, 0.0, 1.0])
    with pytest.raises(ConfigError):
        inverse_frequency_weights([0, 0])


def test_ce_and_dice_ce():
    ce = F.cross_entropy(LOGITS, TARGET)
    assert torch.allclose(build_loss("ce", 2)(LOGITS, TARGET), ce)
    w = torch.tensor([1.0, 3.0])
    assert torch.allclose(build_loss("ce", 2, class_weights=[1, 3])(LOGITS, TARGET),
                          F.cross_entropy(LOGITS, TARGET, weight=w))
    dice = _hand_dice_per_class(False, 1e-5, 1e-5).mean()
    assert torch.allclose(build_loss("dice_ce", 2)(LOGITS, TARGET), dice + ce, atol=1e-6)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_backpropagates(name):
    opts = {"class_weights": [1.0, 2.0, 1.0]} if name == "weighted_dice" else {}
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    target = torch.randint(0, 3, (2, 8, 8))
    loss = build_loss(name, 3, **opts)(logits, target)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_unknown_loss_suggests_a_name():
    with pytest.raises(ConfigError) as err:
        build_loss("dise", 2)
    assert "unknown loss 'dise'" in str(err.value)
    assert "did you mean 'dice'" in str(err.value)


@pytest.mark.parametrize("name, opts, needle", [
    ("dice", {"class_weights": [1, 1]}, "no option 'class_weights'"),
    ("weighted_dice", {}, "needs class weights"),
    ("weighted_dice", {"class_weights": [1, 2, 3]}, "3 class weights for 2 classes"),
    ("weighted_dice", {"class_weights": [1, 1], "class_counts": [1, 1]}, "not both"),
    ("ce", {"class_weights": [-1, 1]}, ">= 0"),
])
def test_bad_options_are_config_errors(name, opts, needle):
    with pytest.raises(ConfigError, match=needle):
        build_loss(name, 2, **opts)


def test_shape_mismatch_is_a_data_error():
    loss = build_loss("dice", 2)
    with pytest.raises(DataError):
        loss(LOGITS, TARGET[:, :1])
    with pytest.raises(DataError):
        build_loss("dice", 3)(LOGITS, TARGET)


def test_class_pixel_counts():
    masks = [torch.tensor([[0, 1], [1, 2]]), torch.tensor([[2, 2], [0, 0]])]
    assert class_pixel_counts(masks, 3) == [3, 2, 3]
    with pytest.raises(DataError):
        class_pixel_counts([torch.tensor([[3]])], 3)
