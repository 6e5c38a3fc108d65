"""Segmentation metrics: per-image DSC, IoU, HD95 (MONAI) and pixel accuracy, plus an accumulator.

Empty-mask rule (:class:`EmptyMaskRule`, chosen per run, recorded in every summary):

* ``score`` (default): for a class absent from the ground truth, an empty prediction scores
  DSC = IoU = 1.0 and any false positive scores 0.0 (MONAI ``ignore_empty=False``).
* ``ignore``: a class absent from the ground truth gives NaN, left out of every mean
  (MONAI's default ``ignore_empty=True``).

HD95 (MONAI ``compute_hausdorff_distance(percentile=95)``, in pixels unless ``spacing`` is
given) is NaN whenever the prediction or the ground truth of that class is empty, and NaN
values are left out of means. It is computed for foreground classes only; the background
column is NaN.

Dataset summaries (:meth:`MetricAccumulator.summary`):

* ``dsc`` (the headline "DSC"): mean over foreground classes of each class's mean over images;
* ``miou``: mean over **all** classes (background and the last class included) of each class's
  mean IoU over images;
* ``dsc_pooled`` / ``miou_pooled``: the same from intersections and unions summed over the
  whole dataset (the way the NAS-Unet reference accumulates mIoU, but with every class);
* ``pixel_accuracy``: correct pixels / all pixels of the dataset.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import torch
from monai.metrics import compute_dice, compute_hausdorff_distance, compute_iou
from monai.networks.utils import one_hot

from ..errors import DataError
from .config import EmptyMaskRule


@dataclass(frozen=True)
class BatchMetrics:
    """Per-image metrics of one batch; NaN marks a value left out of means."""

    dice: torch.Tensor  # [B, K]
    iou: torch.Tensor  # [B, K]
    pixel_accuracy: torch.Tensor  # [B]
    hd95: torch.Tensor | None  # [B, K], background column NaN; None when not computed


def to_labels(pred: torch.Tensor) -> torch.Tensor:
    """Logits ``[B, K, H, W]`` -> labels ``[B, H, W]``; integer labels pass through."""
    if pred.is_floating_point():
        if pred.ndim != 4:
            raise DataError(f"expected logits [B, K, H, W], got {tuple(pred.shape)}")
        return pred.argmax(dim=1)
    return pred.long()


def _check(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> None:
    if pred.ndim != 3 or pred.shape != target.shape:
        raise DataError(f"prediction {tuple(pred.shape)} and mask {tuple(target.shape)} must "
                        f"both be [B, H, W]")
    for what, t in (("prediction", pred), ("mask", target)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise DataError(f"{what} values must lie in [0, {num_classes}), "
                            f"got [{int(t.min())}, {int(t.max())}]")


def segmentation_metrics(pred: torch.Tensor, target: torch.Tensor, num_classes: int, *,
                         empty: EmptyMaskRule | str = EmptyMaskRule.SCORE, hd95: bool = False,
                         spacing: Sequence[float] | None = None) -> BatchMetrics:
    """Per-image metrics of labels (or logits) ``pred`` against integer masks ``[B, H, W]``."""
    rule = EmptyMaskRule(empty)
    pred = to_labels(pred).detach().cpu()
    target = target.detach().cpu().long()
    _check(pred, target, num_classes)
    p1h = one_hot(pred.unsqueeze(1), num_classes)  # [B, K, H, W]
    t1h = one_hot(target.unsqueeze(1), num_classes)
    ignore = rule is EmptyMaskRule.IGNORE
    dice = compute_dice(p1h, t1h, include_background=True, ignore_empty=ignore)
    iou = compute_iou(p1h, t1h, include_background=True, ignore_empty=ignore)
    acc = (pred == target).flatten(1).float().mean(dim=1)
    dist = None
    if hd95:
        with warnings.catch_warnings():  # empty masks are expected; they give NaN by rule
            warnings.simplefilter("ignore")
            fg = compute_hausdorff_distance(p1h, t1h, include_background=False, percentile=95,
                                            spacing=list(spacing) if spacing else None)
        fg = fg.float().reshape(pred.shape[0], num_classes - 1)
        fg[~torch.isfinite(fg)] = float("nan")
        dist = torch.cat([torch.full((pred.shape[0], 1), float("nan")), fg], dim=1)
    return BatchMetrics(dice=dice.float(), iou=iou.float(), pixel_accuracy=acc, hd95=dist)


def _nanmean(values: torch.Tensor) -> float:
    finite = values[~torch.isnan(values)]
    return float(finite.mean()) if finite.numel() else math.nan


def json_float(value: float) -> float | None:
    """NaN (a value left out by rule) -> None, so summaries stay valid JSON."""
    return None if value is None or math.isnan(value) else float(value)


class MetricAccumulator:
    """Collects per-image rows and dataset-level summaries over many batches."""

    def __init__(self, num_classes: int, class_names: Sequence[str] | None = None, *,
                 empty: EmptyMaskRule | str = EmptyMaskRule.SCORE, hd95: bool = False,
                 spacing: Sequence[float] | None = None):
        if num_classes < 2:
            raise DataError(f"segmentation needs at least 2 classes, got {num_classes}")
        names = list(class_names) if class_names is not None else [str(i) for i in
                                                                   range(num_classes)]
        if len(names) != num_classes or len(set(names)) != num_classes:
            raise DataError(f"need {num_classes} distinct class names, got {names}")
        self.num_classes = num_classes
        self.class_names = names
        self.empty = EmptyMaskRule(empty)
        self.hd95 = hd95
        self.spacing = spacing
        self.reset()

    def reset(self) -> None:
        self._rows: list[dict[str, object]] = []
        self._dice: list[torch.Tensor] = []
        self._iou: list[torch.Tensor] = []
        self._hd: list[torch.Tensor] = []
        self._confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)

    @property
    def columns(self) -> list[str]:
        cols = ["name", "case", "pixel_accuracy"]
        cols += [f"dsc_{c}" for c in self.class_names]
        cols += [f"iou_{c}" for c in self.class_names]
        if self.hd95:
            cols += [f"hd95_{c}" for c in self.class_names[1:]]
        return cols

    def update(self, pred: torch.Tensor, target: torch.Tensor,
               names: Sequence[str] | None = None,
               cases: Sequence[str] | None = None) -> BatchMetrics:
        labels = to_labels(pred).detach().cpu()
        target = target.detach().cpu().long()
        m = segmentation_metrics(labels, target, self.num_classes, empty=self.empty,
                                 hd95=self.hd95, spacing=self.spacing)
        k = self.num_classes
        # confusion[t, p]: pixels of true class t predicted as p
        self._confusion += torch.bincount(target.reshape(-1) * k + labels.reshape(-1),
                                          minlength=k * k).reshape(k, k)
        self._dice.append(m.dice)
        self._iou.append(m.iou)
        if m.hd95 is not None:
            self._hd.append(m.hd95)
        start = len(self._rows)
        for i in range(labels.shape[0]):
            row: dict[str, object] = {
                "name": names[i] if names is not None else f"image{start + i}",
                "case": cases[i] if cases is not None else "",
                "pixel_accuracy": float(m.pixel_accuracy[i]),
            }
            for c, cname in enumerate(self.class_names):
                row[f"dsc_{cname}"] = float(m.dice[i, c])
            for c, cname in enumerate(self.class_names):
                row[f"iou_{cname}"] = float(m.iou[i, c])
            if m.hd95 is not None:
                for c, cname in enumerate(self.class_names[1:], start=1):
                    row[f"hd95_{cname}"] = float(m.hd95[i, c])
            self._rows.append(row)
        return m

    def rows(self) -> list[dict[str, object]]:
        """One dict per image, keys :attr:`columns`; NaN marks a value left out by rule."""
        return [dict(r) for r in self._rows]

    def summary(self) -> dict[str, object]:
        """Dataset-level numbers (NaN written as None); see the module docstring."""
        k, names = self.num_classes, self.class_names
        if not self._rows:
            raise DataError("no images were evaluated (empty dataset?)")
        dice = torch.cat(self._dice)
        iou = torch.cat(self._iou)
        dsc_pc = [_nanmean(dice[:, c]) for c in range(k)]
        iou_pc = [_nanmean(iou[:, c]) for c in range(k)]
        conf = self._confusion.double()
        tp = conf.diag()
        fp = conf.sum(0) - tp
        fn = conf.sum(1) - tp
        union = tp + fp + fn
        nan = torch.tensor(math.nan, dtype=torch.float64)
        iou_pool = torch.where(union > 0, tp / union.clamp(min=1), nan)
        dsc_pool = torch.where(union > 0, 2 * tp / (2 * tp + fp + fn).clamp(min=1), nan)
        out: dict[str, object] = {
            "images": len(self._rows),
            "empty_mask_rule": self.empty.value,
            "dsc": json_float(_nanmean(torch.tensor(dsc_pc[1:]))),
            "miou": json_float(_nanmean(torch.tensor(iou_pc))),
            "dsc_pooled": json_float(_nanmean(dsc_pool[1:])),
            "miou_pooled": json_float(_nanmean(iou_pool)),
            "pixel_accuracy": float(tp.sum() / conf.sum()),
            "dsc_per_class": {n: json_float(v) for n, v in zip(names, dsc_pc)},
            "iou_per_class": {n: json_float(v) for n, v in zip(names, iou_pc)},
        }
        if self._hd:
            hd = torch.cat(self._hd)
            hd_pc = [_nanmean(hd[:, c]) for c in range(1, k)]
            out["hd95"] = json_float(_nanmean(torch.tensor(hd_pc)))
            out["hd95_per_class"] = {n: json_float(v) for n, v in zip(names[1:], hd_pc)}
        return out
