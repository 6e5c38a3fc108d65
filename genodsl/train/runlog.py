"""Run logging: JSONL lines, loss/DSC curves, peak memory, optional TensorBoard, progress."""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from ..errors import ConfigError
from ..files import atomic_path, json_safe, write_text_atomic


class JsonlLog:
    """Append-only JSON-lines log; each line is flushed as soon as it is written."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, record: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(json_safe(record)) + "\n")
            fh.flush()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a crash
                continue
        return out

    def truncate_after(self, epoch: int) -> None:
        """Drop lines of epochs after ``epoch`` (work lost with an interrupted epoch)."""
        kept = [r for r in self.read() if int(r.get("epoch", 0)) <= epoch]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> tuple[float | None, str]:
    """CUDA: max allocated since the last reset. Else: the process's max RSS so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    try:
        import resource
    except ImportError:  # Windows
        return None, "unavailable"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return rss * scale / 2**20, "process_max_rss"


def write_curves(history: Iterable[Mapping[str, Any]], path: Path) -> Path | None:
    """Loss (train, val) and validation DSC/mIoU per epoch as one PNG (Agg, no pyplot).

    Without matplotlib (the ``plots`` extra) it warns and draws nothing (returns None).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        warnings.warn(f"{path.name} not drawn: matplotlib is not installed (install the plots "
                      'extra: pip install "genodsl[plots]")', stacklevel=2)
        return None

    rows = list(history)
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_dsc = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in rows]
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], marker=".", label="train")
    val = [(r["epoch"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
    if val:
        ax_loss.plot(*zip(*val), marker=".", label="val")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_loss.legend(loc="upper right")
    for key, label in (("val_dsc", "val DSC"), ("val_miou", "val mIoU")):
        pts = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax_dsc.plot(*zip(*pts), marker=".", label=label)
    ax_dsc.set(xlabel="epoch", ylabel="score", title="validation", ylim=(0, 1))
    if ax_dsc.lines:
        ax_dsc.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


class TensorBoard:
    """Scalars through ``torch.utils.tensorboard`` (imported only when enabled)."""

    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError("train.tensorboard needs the tensorboard package",
                              hint="pip install 'genodsl[log]' or set train.tensorboard=false") \
                from exc
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, values: Mapping[str, Any], step: int) -> None:
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def make_progress(enabled: bool, console: Console | None = None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("left"),
        TimeRemainingColumn(), console=console, disable=not enabled, transient=False,
    )


class MemoryLog(JsonlLog):
    """A :class:`JsonlLog` that keeps its lines in memory: the log of ranks other than 0."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))

    def read(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.records]

    def truncate_after(self, epoch: int) -> None:
        self.records = [r for r in self.records if int(r.get("epoch", 0)) <= epoch]


def open_log(path: Path, main: bool) -> JsonlLog:
    """The run's log: the file on rank 0 (or a plain process), in memory on the others."""
    return JsonlLog(path) if main else MemoryLog(path)
