"""Side-by-side comparison of finished runs, read from their ``summary.json``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rich.table import Table

from ..errors import CheckpointError
from .checkpoint import read_summary


@dataclass(frozen=True)
class CompareRow:
    run: str
    status: str
    dsc: float | None  # best validation DSC (mean over foreground classes)
    miou: float | None  # mIoU (all classes) at that epoch
    params: int | None
    flops: int | None  # forward FLOPs for one image
    time_per_epoch_s: float | None
    peak_memory_mb: float | None
    best_epoch: int | None
    epochs_completed: int
    dsc_per_class: dict[str, float] | None = None  # validation DSC of every class, best epoch


def compare_runs(run_dirs: Sequence[str | os.PathLike[str]]) -> list[CompareRow]:
    """One row per run folder, in the order given."""
    paths = [Path(d) for d in run_dirs]
    names = [p.name for p in paths]
    if len(set(names)) != len(names):  # same folder name under different parents
        names = [str(p) for p in paths]
    rows = []
    for path, name in zip(paths, names):
        s = read_summary(path)
        if s is None:
            raise CheckpointError(f"{path} has no summary.json",
                                  hint="is it a genodsl run folder? every run writes one when "
                                       "it ends or is interrupted")
        rows.append(CompareRow(
            run=name, status=str(s.get("status", "?")), dsc=s.get("dsc"), miou=s.get("miou"),
            params=s.get("params"), flops=s.get("flops"),
            time_per_epoch_s=s.get("time_per_epoch_s"), peak_memory_mb=s.get("peak_memory_mb"),
            best_epoch=s.get("best_epoch"), epochs_completed=int(s.get("epochs_completed", 0)),
            dsc_per_class=(s.get("best") or {}).get("val_dsc_per_class")))
    return rows


def _si(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f}{suffix}{unit}"
    return f"{value:.0f}{unit}"


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def render_comparison(rows: Sequence[CompareRow], title: str = "runs") -> Table:
    """A rich table of the rows; the best DSC is shown in bold."""
    table = Table(title=title)
    for col, justify in (("run", "left"), ("status", "left"), ("DSC", "right"),
                         ("DSC per class", "right"), ("mIoU", "right"), ("params", "right"), ("FLOPs", "right"),
                         ("s/epoch", "right"), ("peak MB", "right"), ("best ep", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    scores = [r.dsc for r in rows if r.dsc is not None]
    top = max(scores) if scores else None
    for r in rows:
        dsc = _num(r.dsc, ".4f")
        if top is not None and r.dsc == top and len(rows) > 1:
            dsc = f"[bold]{dsc}[/bold]"
        per_class = " ".join(f"{k}:{v:.3f}" for k, v in (r.dsc_per_class or {}).items()
                             if v is not None) or "—"
        table.add_row(r.run, r.status, dsc, per_class, _num(r.miou, ".4f"), _si(r.params), _si(r.flops),
                      _num(r.time_per_epoch_s, ".2f"), _num(r.peak_memory_mb, ".0f"),
                      "—" if r.best_epoch is None else str(r.best_epoch))
    return table
