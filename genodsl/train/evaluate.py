"""Evaluate a model on a dataset, per case, at the ground truth's own resolution.

Every image is inferred whole (:func:`genodsl.train.infer.infer_image`: padded to the
network's divisor, sliding windows when ``inference`` asks for them); its class
probabilities are resampled (bilinear) to its mask's own size and only then turned into
labels, so a mask is never resized. The slices of one case (samples sharing ``case``, in
dataset order) are stacked into the case's volume and scored once
(:class:`~genodsl.train.metrics.CaseAccumulator`): DSC and IoU per class over voxels, HD95,
mean surface distance and surface Dice in mm from the case's spacing
(``dataset.case_spacing(case)``; px where it is unknown, e.g. 2D images). A 3D network's
samples are whole volumes ``[C, D, H, W]`` (sliding windows of the patch size, in 3D), each
scored as its case.

Writes ``per_case.csv`` (one row per case) and ``metrics.json``; :func:`render_eval` makes
the table.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from rich.console import Console
from rich.table import Table
from torch import nn
from torch.utils.data import Dataset

from ..errors import DataError
from ..files import atomic_path, write_json_atomic
from ..runtime.device import pick_device
from .infer import infer_labels
from .metrics import SURFACE, CaseAccumulator, EmptyMaskRule
from .runlog import make_progress

CSV_NAME = "per_case.csv"
JSON_NAME = "metrics.json"


@dataclass(frozen=True)
class EvalResult:
    columns: list[str]
    rows: list[dict[str, Any]]  # one per case; NaN = left out by rule
    summary: dict[str, Any]  # CaseAccumulator.summary(), NaN written as None


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, *, num_classes: int,
             class_names: Sequence[str] | None = None, device: str | torch.device = "auto",
             empty: EmptyMaskRule | str = EmptyMaskRule.SCORE, tolerance: float = 1.0,
             inference: Mapping[str, Any] | None = None,
             out_dir: str | os.PathLike[str] | None = None, progress: bool = False,
             console: Console | None = None) -> EvalResult:
    """Run ``model`` over ``dataset`` and score it per case; write files when ``out_dir`` is
    set. ``inference``: keyword arguments of :func:`~genodsl.train.infer.infer_image` (roi,
    overlap, mode, ...); ``tolerance``: the surface Dice tolerance (mm, or px without
    spacing). ``progress`` shows a bar over the samples (on ``console``)."""
    dev = device if isinstance(device, torch.device) else pick_device(device)
    model = model.to(dev).eval()
    acc = CaseAccumulator(num_classes, class_names, empty=empty, tolerance=tolerance)
    spacing_of = getattr(dataset, "case_spacing", None)
    cases: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    with make_progress(progress, console) as bar:
        task = bar.add_task("evaluate", total=len(dataset), info="")  # type: ignore[arg-type]
        for i in range(len(dataset)):  # type: ignore[arg-type]
            sample = dataset[i]
            image, mask = sample["image"], sample["mask"]
            if (image.ndim, mask.ndim) not in ((3, 2), (4, 3)):
                raise DataError(f"sample {i}: expected image [C, H, W] and mask [H, W] (a "
                                "volume: [C, D, H, W] and [D, H, W]), got "
                                f"{tuple(image.shape)} and {tuple(mask.shape)}")
            labels = infer_labels(model, image[None], mask.shape, device=dev,
                                  **dict(inference or {}))[0]
            case = str(sample.get("case") or sample.get("name") or f"case{i}")
            cases.setdefault(case, []).append((labels, mask.long()))
            bar.update(task, advance=1)
    for case, pairs in cases.items():
        shapes = {tuple(m.shape) for _, m in pairs}
        if len(shapes) > 1:
            raise DataError(f"the slices of case '{case}' have different sizes {sorted(shapes)}"
                            "; they cannot be stacked into one volume",
                            hint="give each image its own case (data.case_pattern)")
        if len(pairs) == 1:  # a 2D image, or a whole volume (a 3D network's sample)
            pred, target = pairs[0]
        else:
            pred = torch.stack([p for p, _ in pairs])
            target = torch.stack([m for _, m in pairs])
        spacing = spacing_of(case) if spacing_of is not None else None
        if spacing is not None and len(spacing) != pred.ndim:
            spacing = tuple(spacing)[-pred.ndim:]
        slices = len(pairs) if pairs[0][1].ndim == 2 else sum(m.shape[0] for _, m in pairs)
        acc.add(case, pred, target, spacing=spacing, slices=slices)
    result = EvalResult(acc.columns, acc.rows(), acc.summary())
    if out_dir is not None:
        write_eval(result, out_dir)
    return result


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def write_eval(result: EvalResult, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``per_case.csv`` (NaN as an empty cell) and ``metrics.json`` atomically."""
    out = Path(out_dir)
    csv_path, json_path = out / CSV_NAME, out / JSON_NAME
    with atomic_path(csv_path) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=result.columns)
            writer.writeheader()
            for row in result.rows:
                writer.writerow({k: _cell(v) for k, v in row.items()})
    write_json_atomic(json_path, result.summary)
    return csv_path, json_path


def _fmt(value: Any, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_eval(result: EvalResult, title: str = "evaluation") -> Table:
    """Per-class DSC, IoU, HD95, ASD (in the cases' unit) and NSD, then the means."""
    s = result.summary
    unit = s["unit"]
    table = Table(title=f"{title} ({s['images']} images, {s['cases']} cases, empty masks: "
                        f"{s['empty_mask_rule']})")
    for name in ("class", "DSC", "IoU", f"HD95 ({unit})", f"ASD ({unit})",
                 f"NSD@{s['surface_tolerance']:g}{unit}"):
        table.add_column(name, justify="left" if name == "class" else "right")
    for name, dsc in s["dsc_per_class"].items():
        surface = [_fmt(s[f"{m}_per_class"].get(name), 2 if m != "nsd" else 4)
                   if name in s[f"{m}_per_class"] else "" for m in SURFACE]
        table.add_row(name, _fmt(dsc), _fmt(s["iou_per_class"][name]), *surface)
    table.add_section()
    table.add_row("mean (DSC: foreground, mIoU: all)", _fmt(s["dsc"]), _fmt(s["miou"]),
                  *(_fmt(s.get(m), 2 if m != "nsd" else 4) for m in SURFACE), style="bold")
    table.add_row("pooled over all pixels", _fmt(s["dsc_pooled"]), _fmt(s["miou_pooled"]),
                  "", "", "")
    table.caption = (f"pixel accuracy {_fmt(s['pixel_accuracy'])}; per case (a volume's slices "
                     f"scored together); distances in {unit}")
    return table
