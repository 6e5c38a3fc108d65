"""Side-by-side comparison of finished runs, read from their ``summary.json``.

Cross-validation: a run whose ``split.json`` names a fold (``genodsl train --fold N``) is one
fold of its parent folder's experiment; a folder given to :func:`compare_runs` that holds
``fold_*`` runs stands for all of them.  :func:`summarise_folds` gives each experiment's
mean ± standard deviation over its folds (DSC, mIoU, per-class DSC).
"""

from __future__ import annotations

import json
import os
import statistics
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
    fold: int | None = None          # cross-validation fold (split.json), None: no CV
    experiment: str | None = None    # the folder holding the folds


@dataclass(frozen=True)
class FoldSummary:
    """Mean and standard deviation over the folds of one cross-validation experiment."""

    experiment: str
    folds: tuple[int, ...]
    dsc: tuple[float, float] | None                   # (mean, std)
    miou: tuple[float, float] | None
    dsc_per_class: dict[str, tuple[float, float]]


def _fold_of(path: Path) -> int | None:
    try:
        fold = json.loads((path / "split.json").read_text(encoding="utf-8")).get("fold")
    except (OSError, ValueError, AttributeError):
        return None
    return fold if isinstance(fold, int) else None


def _expand(paths: Sequence[Path]) -> list[Path]:
    """A folder without summary.json that holds ``fold_*`` runs stands for them."""
    out: list[Path] = []
    for p in paths:
        folds = sorted((d for d in p.glob("fold_*") if (d / "summary.json").is_file()),
                       key=lambda d: (len(d.name), d.name)) if p.is_dir() else []
        out += folds if folds and not (p / "summary.json").is_file() else [p]
    return out


def compare_runs(run_dirs: Sequence[str | os.PathLike[str]]) -> list[CompareRow]:
    """One row per run folder, in the order given (a folder of folds: one per fold)."""
    paths = _expand([Path(d) for d in run_dirs])
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
            dsc_per_class=(s.get("best") or {}).get("val_dsc_per_class"),
            fold=(fold := _fold_of(path)),
            experiment=None if fold is None else str(path.resolve().parent)))
    return rows


def _mean_std(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise_folds(rows: Sequence[CompareRow]) -> list[FoldSummary]:
    """One summary per experiment with at least one fold, in order of first appearance."""
    groups: dict[str, list[CompareRow]] = {}
    for r in rows:
        if r.experiment is not None:
            groups.setdefault(r.experiment, []).append(r)
    out = []
    for experiment, members in groups.items():
        classes = dict.fromkeys(k for r in members for k in (r.dsc_per_class or {}))
        per_class = {c: ms for c in classes if (ms := _mean_std(
            [v for r in members if (v := (r.dsc_per_class or {}).get(c)) is not None]))}
        out.append(FoldSummary(
            Path(experiment).name, tuple(sorted(r.fold for r in members if r.fold is not None)),
            _mean_std([r.dsc for r in members if r.dsc is not None]),
            _mean_std([r.miou for r in members if r.miou is not None]), per_class))
    return out


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
                         ("DSC per class", "right"), ("mIoU", "right"), ("params", "right"),
                         ("FLOPs", "right"),
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
        table.add_row(r.run, r.status, dsc, per_class, _num(r.miou, ".4f"), _si(r.params),
                      _si(r.flops),
                      _num(r.time_per_epoch_s, ".2f"), _num(r.peak_memory_mb, ".0f"),
                      "—" if r.best_epoch is None else str(r.best_epoch))
    summaries = summarise_folds(rows)
    if summaries:
        table.add_section()
    for f in summaries:
        def pm(ms: tuple[float, float] | None, digits: int = 4) -> str:
            return "—" if ms is None else f"{ms[0]:.{digits}f} ± {ms[1]:.{digits}f}"
        per_class = " ".join(f"{k}:{pm(v, 3)}" for k, v in f.dsc_per_class.items()) or "—"
        table.add_row(f"{f.experiment} (folds {', '.join(map(str, f.folds))})",
                      "mean ± std", pm(f.dsc), per_class, pm(f.miou), "", "", "", "", "")
    return table
