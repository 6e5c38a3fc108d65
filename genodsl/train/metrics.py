"""Segmentation metrics: per-image DSC, IoU and pixel accuracy (training's validation, the
search), and per-case metrics in millimetres (evaluation).

Empty-mask rule (:class:`EmptyMaskRule`, chosen per run, recorded in every summary):

* ``score`` (default): for a class absent from the ground truth, an empty prediction scores
  DSC = IoU = 1.0 and any false positive scores 0.0 (MONAI ``ignore_empty=False``).
* ``ignore``: a class absent from the ground truth gives NaN, left out of every mean
  (MONAI's default ``ignore_empty=True``).

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
from monai.metrics import compute_dice, compute_iou
from monai.networks.utils import one_hot

from ..errors import DataError
from .config import EmptyMaskRule


@dataclass(frozen=True)
class BatchMetrics:
    """Per-image metrics of one batch; NaN marks a value left out of means."""

    dice: torch.Tensor  # [B, K]
    iou: torch.Tensor  # [B, K]
    pixel_accuracy: torch.Tensor  # [B]


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
                         empty: EmptyMaskRule | str = EmptyMaskRule.SCORE) -> BatchMetrics:
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
    return BatchMetrics(dice=dice.float(), iou=iou.float(), pixel_accuracy=acc)


def _nanmean(values: torch.Tensor) -> float:
    finite = values[~torch.isnan(values)]
    return float(finite.mean()) if finite.numel() else math.nan


def json_float(value: float) -> float | None:
    """NaN (a value left out by rule) -> None, so summaries stay valid JSON."""
    return None if value is None or math.isnan(value) else float(value)


class MetricAccumulator:
    """Collects per-image rows and dataset-level summaries over many batches."""

    def __init__(self, num_classes: int, class_names: Sequence[str] | None = None, *,
                 empty: EmptyMaskRule | str = EmptyMaskRule.SCORE):
        if num_classes < 2:
            raise DataError(f"segmentation needs at least 2 classes, got {num_classes}")
        names = list(class_names) if class_names is not None else [str(i) for i in
                                                                   range(num_classes)]
        if len(names) != num_classes or len(set(names)) != num_classes:
            raise DataError(f"need {num_classes} distinct class names, got {names}")
        self.num_classes = num_classes
        self.class_names = names
        self.empty = EmptyMaskRule(empty)
        self.reset()

    def reset(self) -> None:
        self._rows: list[dict[str, object]] = []
        self._dice: list[torch.Tensor] = []
        self._iou: list[torch.Tensor] = []
        self._confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)

    @property
    def columns(self) -> list[str]:
        cols = ["name", "case", "pixel_accuracy"]
        cols += [f"dsc_{c}" for c in self.class_names]
        cols += [f"iou_{c}" for c in self.class_names]
        return cols

    def update(self, pred: torch.Tensor, target: torch.Tensor,
               names: Sequence[str] | None = None,
               cases: Sequence[str] | None = None) -> BatchMetrics:
        labels = to_labels(pred).detach().cpu()
        target = target.detach().cpu().long()
        m = segmentation_metrics(labels, target, self.num_classes, empty=self.empty)
        k = self.num_classes
        # confusion[t, p]: pixels of true class t predicted as p
        self._confusion += torch.bincount(target.reshape(-1) * k + labels.reshape(-1),
                                          minlength=k * k).reshape(k, k)
        self._dice.append(m.dice)
        self._iou.append(m.iou)
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
        return out


# ---------------------------------------------------------------- per case, in millimetres

SURFACE = ("hd95", "asd", "nsd")  # 95th-percentile Hausdorff, mean surface distance, surface Dice


def case_metrics(pred: torch.Tensor, target: torch.Tensor, num_classes: int, *,
                 spacing: Sequence[float] | None = None, tolerance: float = 1.0,
                 empty: EmptyMaskRule | str = EmptyMaskRule.SCORE) -> dict[str, torch.Tensor]:
    """Metrics of one case: label maps ``pred`` and ``target`` of one shape ``[H, W]`` or
    ``[Z, H, W]`` (a volume: every voxel counts once).

    Returns ``dsc``, ``iou`` ``[K]`` (2|P∩G| / (|P|+|G|) and |P∩G| / |P∪G| over all voxels),
    ``pixel_accuracy`` (a scalar) and, for the foreground classes, ``hd95``, ``asd`` (MONAI
    ``compute_hausdorff_distance(percentile=95)``, ``compute_average_surface_distance(
    symmetric=True)``: the mean over the surface voxels of both masks of the distance to the
    other surface) and ``nsd`` (``compute_surface_dice`` at ``tolerance``) ``[K - 1]``, in the
    units of ``spacing`` (per axis, mm; None: 1 per axis, i.e. pixels). HD95 and ASD are NaN
    when either mask of the class is empty; NSD follows the empty-mask rule like DSC.
    """
    from monai.metrics import (compute_average_surface_distance, compute_hausdorff_distance,
                               compute_surface_dice)

    rule = EmptyMaskRule(empty)
    pred = to_labels(pred).detach().cpu().long()
    target = target.detach().cpu().long()
    if pred.shape != target.shape or pred.ndim not in (2, 3):
        raise DataError(f"prediction {tuple(pred.shape)} and mask {tuple(target.shape)} must "
                        f"both be [H, W] or [Z, H, W]")
    _check(pred.reshape(1, -1, pred.shape[-1]), target.reshape(1, -1, target.shape[-1]),
           num_classes)
    sp = [float(s) for s in spacing] if spacing is not None else [1.0] * pred.ndim
    if len(sp) != pred.ndim or min(sp) <= 0:
        raise DataError(f"spacing {tuple(sp)} does not fit a case of shape {tuple(pred.shape)}")
    p1h = one_hot(pred[None, None], num_classes)  # [1, K, (Z,) H, W]
    t1h = one_hot(target[None, None], num_classes)
    ignore = rule is EmptyMaskRule.IGNORE
    out = {"dsc": compute_dice(p1h, t1h, include_background=True, ignore_empty=ignore)[0],
           "iou": compute_iou(p1h, t1h, include_background=True, ignore_empty=ignore)[0],
           "pixel_accuracy": (pred == target).float().mean()}
    both = (p1h.flatten(2).sum(-1) > 0) & (t1h.flatten(2).sum(-1) > 0)  # [1, K]
    nan = torch.tensor(math.nan)
    with warnings.catch_warnings():  # empty masks are expected; they give NaN by rule
        warnings.simplefilter("ignore")
        hd = compute_hausdorff_distance(p1h, t1h, include_background=False, percentile=95,
                                        spacing=sp)[0].float()
        asd = compute_average_surface_distance(p1h, t1h, include_background=False,
                                               symmetric=True, spacing=sp)[0].float()
        nsd = compute_surface_dice(p1h, t1h, [float(tolerance)] * (num_classes - 1),
                                   include_background=False, spacing=sp)[0].float()
    fg_both = both[0, 1:]
    out["hd95"] = torch.where(fg_both, hd, nan)
    out["asd"] = torch.where(fg_both, asd, nan)
    gt_empty = t1h[0, 1:].flatten(1).sum(-1) == 0
    pred_empty = p1h[0, 1:].flatten(1).sum(-1) == 0
    score_empty = torch.where(pred_empty, torch.tensor(1.0), torch.tensor(0.0))
    out["nsd"] = torch.where(gt_empty, nan if ignore else score_empty,
                             torch.nan_to_num(nsd, nan=0.0))
    return out


class CaseAccumulator(MetricAccumulator):
    """Per-case rows (slices of a case already stacked into its volume) and summaries with
    HD95, ASD and NSD per class, in ``unit`` (mm when the cases' spacing is known, else px).
    """

    def __init__(self, num_classes: int, class_names: Sequence[str] | None = None, *,
                 empty: EmptyMaskRule | str = EmptyMaskRule.SCORE, tolerance: float = 1.0):
        super().__init__(num_classes, class_names, empty=empty)
        if not tolerance > 0:
            raise DataError(f"the surface tolerance must be > 0, got {tolerance}")
        self.tolerance = float(tolerance)

    def reset(self) -> None:
        super().reset()
        self._surface: dict[str, list[torch.Tensor]] = {m: [] for m in SURFACE}
        self._units: set[str] = set()
        self._slices = 0

    @property
    def columns(self) -> list[str]:
        cols = ["case", "slices", "shape", "spacing", "unit", "pixel_accuracy"]
        cols += [f"dsc_{c}" for c in self.class_names]
        cols += [f"iou_{c}" for c in self.class_names]
        cols += [f"{m}_{c}" for m in SURFACE for c in self.class_names[1:]]
        return cols

    def add(self, case: str, pred: torch.Tensor, target: torch.Tensor, *,
            spacing: Sequence[float] | None = None, slices: int = 1) -> dict[str, torch.Tensor]:
        """Score one case (labels ``[H, W]`` or ``[Z, H, W]``; ``spacing`` per axis in mm)."""
        m = case_metrics(pred, target, self.num_classes, spacing=spacing,
                         tolerance=self.tolerance, empty=self.empty)
        k = self.num_classes
        labels, target = to_labels(pred).long().cpu(), target.long().cpu()
        self._confusion += torch.bincount(target.reshape(-1) * k + labels.reshape(-1),
                                          minlength=k * k).reshape(k, k)
        self._dice.append(m["dsc"][None].float())
        self._iou.append(m["iou"][None].float())
        for name in SURFACE:
            self._surface[name].append(m[name][None])
        unit = "mm" if spacing is not None else "px"
        self._units.add(unit)
        self._slices += slices
        row: dict[str, object] = {
            "case": case, "slices": slices, "shape": "x".join(map(str, target.shape)),
            "spacing": "x".join(f"{s:g}" for s in spacing) if spacing is not None else "",
            "unit": unit, "pixel_accuracy": float(m["pixel_accuracy"])}
        for name in ("dsc", "iou"):
            row.update({f"{name}_{c}": float(m[name][i]) for i, c in enumerate(self.class_names)})
        for name in SURFACE:
            row.update({f"{name}_{c}": float(m[name][i])
                        for i, c in enumerate(self.class_names[1:])})
        self._rows.append(row)
        return m

    def update(self, *args, **kwargs):  # noqa: D102 (cases come through add())
        raise TypeError("CaseAccumulator scores whole cases: use add()")

    def summary(self) -> dict[str, object]:
        """The base summary over cases, plus ``cases``, ``images`` (slices), ``unit``,
        ``surface_tolerance`` and the means (and per class) of HD95, ASD and NSD."""
        out = super().summary()
        out["images"] = self._slices
        out = {"cases": len(self._rows), **out}
        out["unit"] = next(iter(self._units)) if len(self._units) == 1 else "mixed"
        out["surface_tolerance"] = self.tolerance
        for name in SURFACE:
            values = torch.cat(self._surface[name])
            per_class = [_nanmean(values[:, c]) for c in range(self.num_classes - 1)]
            out[name] = json_float(_nanmean(torch.tensor(per_class)))
            out[f"{name}_per_class"] = {n: json_float(v)
                                        for n, v in zip(self.class_names[1:], per_class)}
        return out
