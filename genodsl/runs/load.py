"""A finished (or interrupted) training run, read back: its model, configuration and results."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from .saved import MODEL_FILE, ModelSpec, load_model


@dataclass(frozen=True)
class Run:
    """A run folder's model (weights loaded, eval mode) and what the run recorded."""

    path: Path
    model: nn.Module
    spec: ModelSpec
    config: Any                      # the run's RunConfig
    class_names: list[str] | None
    epoch: int | None                # the epoch whose weights these are
    selected: str | None             # "best" (by validation DSC) or "last" (no validation)
    summary: dict[str, Any] | None   # summary.json (None while the run has not written one)

    @property
    def genotype(self) -> str | None:
        """The .geno text of the network (None for a baseline)."""
        return self.spec.geno

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE


def load_run(run_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> Run:
    """The model of a training run (``RUN/model.safetensors``) with its config and summary."""
    from ..train.checkpoint import read_summary
    from .config import RunConfig

    root = Path(run_dir)
    if not root.is_dir():
        raise CheckpointError(f"no run folder at {root}", file=str(root))
    model_file = root / MODEL_FILE
    if not model_file.is_file():
        raise CheckpointError(f"{root} holds no {MODEL_FILE}", file=str(root),
                              hint="a training run writes it at its first epoch; is this a "
                                   "finished `genodsl train` run folder?")
    saved = load_model(model_file, device)
    if saved.config is None:
        raise CheckpointError(f"{MODEL_FILE} has no run configuration (written by "
                              "`genodsl compile`, not by a training run?)", file=str(model_file))
    try:
        config = RunConfig.model_validate(saved.config)
    except Exception as exc:  # pydantic's ValidationError: a file of another version
        raise CheckpointError(f"the run configuration in {MODEL_FILE} does not validate: "
                              f"{exc}", file=str(model_file)) from None
    run = saved.run or {}
    return Run(root, saved.model, saved.spec, config, saved.class_names, run.get("epoch"),
               run.get("selected"), read_summary(root))
