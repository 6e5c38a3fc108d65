"""Segmentation losses, all built on MONAI / torch, behind one registry.

Every loss takes logits ``[B, K, H, W]`` and an integer mask ``[B, H, W]`` (the dataset
contract) and returns a scalar.

| name            | what it is                                                                  |
| --------------- | --------------------------------------------------------------------------- |
| ``dice``        | MONAI ``DiceLoss``: softmax, one-hot targets, smooth 1e-5 (the paper's loss) |
| ``dice_ref``    | the NAS-Unet reference variant: V-Net squared denominators, smooth 1         |
| ``weighted_dice`` | ``dice`` with per-class weights (the paper's CHAOS re-weighting)          |
| ``ce``          | cross-entropy, optional class weights                                       |
| ``dice_ce``     | MONAI ``DiceCELoss`` (sum of both; weights apply to both)                    |

``weighted_dice`` takes explicit ``class_weights`` or ``class_counts`` (pixels per class, e.g.
from :func:`class_pixel_counts`), turned into inverse-frequency weights normalised to mean 1.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
from monai.losses import DiceCELoss, DiceLoss
from torch import nn

from ..errors import ConfigError, DataError, did_you_mean
from .config import LossName


LOSS_NAMES: tuple[str, ...] = tuple(m.value for m in LossName)

# Options accepted by build_loss, per loss.
_OPTIONS: dict[LossName, frozenset[str]] = {
    LossName.DICE: frozenset({"include_background"}),
    LossName.DICE_REF: frozenset({"include_background"}),
    LossName.WEIGHTED_DICE: frozenset({"include_background", "class_weights", "class_counts"}),
    LossName.CE: frozenset({"class_weights", "class_counts", "label_smoothing"}),
    LossName.DICE_CE: frozenset({"include_background", "class_weights", "class_counts",
                                 "lambda_dice", "lambda_ce"}),
}


class SegmentationLoss(nn.Module):
    """Adapts a loss on (logits, one-channel target) to the dataset's ``[B, H, W]`` masks."""

    def __init__(self, name: LossName, inner: nn.Module, num_classes: int, needs_channel: bool):
        super().__init__()
        self.name = name
        self.inner = inner
        self.num_classes = num_classes
        self.needs_channel = needs_channel

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # [B, K, H, W] with a [B, H, W] mask, or a volume's [B, K, D, H, W] with [B, D, H, W]
        if logits.ndim not in (4, 5) or logits.shape[1] != self.num_classes:
            raise DataError(f"loss expects logits [B, {self.num_classes}, H, W], "
                            f"got {tuple(logits.shape)}")
        if target.ndim != logits.ndim - 1 or target.shape[0] != logits.shape[0] \
                or target.shape[1:] != logits.shape[2:]:
            raise DataError(f"loss expects a mask [B, H, W] matching logits "
                            f"{tuple(logits.shape)}, got {tuple(target.shape)}")
        target = target.long()
        if self.needs_channel:
            target = target.unsqueeze(1)  # [B, (D,) H, W] -> [B, 1, (D,) H, W]
        return self.inner(logits.float(), target)


def inverse_frequency_weights(class_counts: Sequence[float]) -> list[float]:
    """Weights proportional to 1 / frequency, normalised to mean 1 (absent classes get 0)."""
    counts = [float(c) for c in class_counts]
    if any(c < 0 for c in counts) or sum(counts) <= 0:
        raise ConfigError(f"class_counts must be non-negative with a positive sum, got {counts}")
    inv = [1.0 / c if c > 0 else 0.0 for c in counts]
    present = [w for w in inv if w > 0]
    scale = len(present) / sum(present)
    return [w * scale for w in inv]


def class_pixel_counts(masks: Iterable[torch.Tensor], num_classes: int) -> list[int]:
    """Pixels per class over an iterable of integer masks (any shape)."""
    total = torch.zeros(num_classes, dtype=torch.long)
    for mask in masks:
        flat = mask.reshape(-1).long()
        if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= num_classes):
            raise DataError(f"mask values must lie in [0, {num_classes}), "
                            f"got [{int(flat.min())}, {int(flat.max())}]")
        total += torch.bincount(flat, minlength=num_classes)
    return [int(c) for c in total]


def parse_loss_name(name: str | LossName) -> LossName:
    if isinstance(name, LossName):
        return name
    try:
        return LossName(name)
    except ValueError:
        raise ConfigError(f"unknown loss '{name}'", hint=did_you_mean(str(name), LOSS_NAMES)) \
            from None


def _weights(name: LossName, num_classes: int, opts: dict[str, object],
             required: bool) -> torch.Tensor | None:
    weights = opts.get("class_weights")
    counts = opts.get("class_counts")
    if weights is not None and counts is not None:
        raise ConfigError(f"loss '{name.value}': give class_weights or class_counts, not both")
    if weights is None and counts is not None:
        weights = inverse_frequency_weights(counts)  # type: ignore[arg-type]
    if weights is None:
        if required:
            raise ConfigError(f"loss '{name.value}' needs class weights",
                              hint="set train.class_weights, or pass class_counts "
                                   "(the trainer counts them on the training set)")
        return None
    values = [float(w) for w in weights]  # type: ignore[union-attr]
    if len(values) != num_classes:
        raise ConfigError(f"loss '{name.value}': {len(values)} class weights for "
                          f"{num_classes} classes")
    if any(w < 0 for w in values) or not any(w > 0 for w in values):
        raise ConfigError(f"loss '{name.value}': class weights must be >= 0 and not all 0, "
                          f"got {values}")
    return torch.tensor(values, dtype=torch.float32)


def build_loss(name: str | LossName, num_classes: int, **opts: object) -> SegmentationLoss:
    """Build a registered loss; unknown names and options raise :class:`ConfigError`."""
    loss = parse_loss_name(name)
    if num_classes < 2:
        raise ConfigError(f"segmentation needs at least 2 classes, got {num_classes}")
    unknown = sorted(set(opts) - _OPTIONS[loss])
    if unknown:
        raise ConfigError(f"loss '{loss.value}' has no option '{unknown[0]}'",
                          hint=did_you_mean(unknown[0], _OPTIONS[loss]))
    include_bg = bool(opts.get("include_background", True))
    if loss is LossName.DICE:
        inner: nn.Module = DiceLoss(softmax=True, to_onehot_y=True,
                                    include_background=include_bg)
    elif loss is LossName.DICE_REF:
        inner = DiceLoss(squared_pred=True, smooth_nr=1.0, smooth_dr=1.0, softmax=True,
                         to_onehot_y=True, include_background=include_bg)
    elif loss is LossName.WEIGHTED_DICE:
        weight = _weights(loss, num_classes, opts, required=True)
        if weight is not None and not include_bg:
            weight = weight[1:]
        inner = DiceLoss(softmax=True, to_onehot_y=True, include_background=include_bg,
                         weight=weight)
    elif loss is LossName.CE:
        weight = _weights(loss, num_classes, opts, required=False)
        inner = nn.CrossEntropyLoss(weight=weight,
                                    label_smoothing=float(opts.get("label_smoothing", 0.0)))
        return SegmentationLoss(loss, inner, num_classes, needs_channel=False)
    else:
        weight = _weights(loss, num_classes, opts, required=False)
        inner = DiceCELoss(softmax=True, to_onehot_y=True, include_background=include_bg,
                           weight=weight, lambda_dice=float(opts.get("lambda_dice", 1.0)),
                           lambda_ce=float(opts.get("lambda_ce", 1.0)))
    return SegmentationLoss(loss, inner, num_classes, needs_channel=True)
