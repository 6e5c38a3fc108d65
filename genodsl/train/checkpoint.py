"""Training run folders and checkpoint files (the saved model is :mod:`genodsl.runs.saved`).

Run folder layout::

    run_dir/
      config.yaml            the RunConfig the run was started with
      log.jsonl              one line per epoch (+ per-step lines, resume/interrupt events)
      checkpoints/last.pt    full training state after the last completed epoch (resume point)
      model.safetensors      the selected model (best validation DSC), genodsl.runs.saved
      checkpoints/interrupted.pt  weights at a Ctrl-C inside an epoch (not a resume point)
      curves.png             loss and DSC curves
      summary.json           final metrics, params, FLOPs, time/epoch, peak memory
      tensorboard/           only with train.tensorboard

Checkpoints are plain ``torch.save`` dicts of tensors, numbers, strings, lists and dicts, so
they load with ``torch.load(weights_only=True)``. Every file is written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import CheckpointError
from ..runtime.saving import torch_save_atomic

FORMAT_VERSION = 1
LAST_KEYS = frozenset({
    "format_version", "kind", "model", "optimizer", "scheduler", "scaler", "epoch",
    "global_step", "best_score", "best_epoch", "history", "rng", "config", "model_spec",
    "num_classes", "class_names", "loss_weights", "model_info",
})


@dataclass(frozen=True)
class RunPaths:
    """Every file of a run folder."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def log(self) -> Path:
        return self.root / "log.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def interrupted(self) -> Path:
        return self.checkpoints / "interrupted.pt"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a checkpoint dict atomically (a crash never leaves a partial file)."""
    torch_save_atomic(dict(state), path)


def load_checkpoint(path: str | os.PathLike[str],
                    required: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` onto the CPU; check its keys."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"no checkpoint at {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: any unpickling error
        raise CheckpointError(f"cannot read checkpoint: {exc}", file=str(p)) from None
    if not isinstance(state, dict):
        raise CheckpointError("not a genodsl checkpoint (not a dict)", file=str(p))
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"unsupported checkpoint format "
                              f"{state.get('format_version')!r}, expected {FORMAT_VERSION}",
                              file=str(p))
    missing = sorted(required - set(state))
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(missing)}", file=str(p))
    return state


def read_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = RunPaths(Path(run_dir)).summary
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read summary: {exc}", file=str(path)) from None
