"""Evaluate a model on a dataset: per-image CSV, summary JSON and a rich table."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from rich.console import Console
from rich.table import Table
from torch import nn
from torch.utils.data import Dataset

from ..errors import ConfigError
from ..files import atomic_path, write_json_atomic
from ..runtime.device import pick_device
from ..runtime.loader import make_loader
from .batches import unpack_batch
from .metrics import EmptyMaskRule, MetricAccumulator
from .runlog import make_progress

CSV_NAME = "per_image.csv"
JSON_NAME = "metrics.json"


@dataclass(frozen=True)
class EvalResult:
    columns: list[str]
    rows: list[dict[str, Any]]  # one per image; NaN = left out by the empty-mask rule
    summary: dict[str, Any]  # MetricAccumulator.summary(), NaN written as None


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, *, num_classes: int,
             class_names: Sequence[str] | None = None, device: str | torch.device = "auto",
             batch_size: int = 1, num_workers: int = 0,
             empty: EmptyMaskRule | str = EmptyMaskRule.SCORE, hd95: bool = True,
             spacing: Sequence[float] | None = None,
             out_dir: str | os.PathLike[str] | None = None, progress: bool = False,
             console: Console | None = None) -> EvalResult:
    """Run ``model`` over ``dataset`` and collect metrics; write files when ``out_dir`` is set.

    ``progress`` shows a bar over the batches (on ``console``).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    model = model.to(dev).eval()
    acc = MetricAccumulator(num_classes, class_names, empty=empty, hd95=hd95, spacing=spacing)
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers)
    with make_progress(progress, console) as bar:
        task = bar.add_task("evaluate", total=len(loader), info="")
        for batch in loader:
            _score(model, batch, dev, num_classes, acc)
            bar.update(task, advance=1)
    result = EvalResult(acc.columns, acc.rows(), acc.summary())
    if out_dir is not None:
        write_eval(result, out_dir)
    return result


def _score(model: nn.Module, batch: Any, dev: torch.device, num_classes: int,
           acc: MetricAccumulator) -> None:
    image, mask = unpack_batch(batch, num_classes)
    logits = model(image.to(dev))
    if logits.ndim != 4 or logits.shape[1] != num_classes \
            or logits.shape[2:] != image.shape[2:]:
        raise ConfigError(f"the model must return logits [B, {num_classes}, H, W], got "
                          f"{tuple(logits.shape)} for input {tuple(image.shape)}")
    acc.update(logits.argmax(dim=1).cpu(), mask, batch.get("name"), batch.get("case"))


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def write_eval(result: EvalResult, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``per_image.csv`` (NaN as an empty cell) and ``metrics.json`` atomically."""
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
    """Per-class DSC / IoU / HD95 and the dataset-level numbers as a rich table."""
    s = result.summary
    table = Table(title=f"{title} ({s['images']} images, empty masks: {s['empty_mask_rule']})")
    table.add_column("class")
    table.add_column("DSC", justify="right")
    table.add_column("IoU", justify="right")
    has_hd = "hd95_per_class" in s
    if has_hd:
        table.add_column("HD95 (px)", justify="right")
    for name, dsc in s["dsc_per_class"].items():
        cells = [name, _fmt(dsc), _fmt(s["iou_per_class"][name])]
        if has_hd:
            cells.append(_fmt(s["hd95_per_class"].get(name), 2))
        table.add_row(*cells)
    table.add_section()
    footer = ["mean (DSC: foreground, mIoU: all)", _fmt(s["dsc"]), _fmt(s["miou"])]
    if has_hd:
        footer.append(_fmt(s.get("hd95"), 2))
    table.add_row(*footer, style="bold")
    pooled = ["pooled over all pixels", _fmt(s["dsc_pooled"]), _fmt(s["miou_pooled"])]
    table.add_row(*(pooled + ([""] if has_hd else [])))
    table.caption = f"pixel accuracy {_fmt(s['pixel_accuracy'])}"
    return table
