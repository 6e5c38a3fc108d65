"""A search's run folder and its resumable state (``checkpoints/last.pt``).

Run folder::

    run_dir/
      config.yaml          the space file, network, search and data settings
      split.json           which cases went to the weight and the alpha half
      genotype.geno        the derived genotype of the last finished epoch (the result)
      history/epoch_NNNN.geno   every epoch's derived genotype
      log.jsonl            one line per epoch (+ events: resumed, interrupted, stopped)
      checkpoints/last.pt  everything needed to continue after the last finished epoch
      alphas_down.png, alphas_up.png   alpha evolution per edge (at the end)
      monitors.png         parameter-free share, entropy, eigenvalue by epoch (at the end)
      cells/               renders of the final cells
      summary.json         status, epochs, wall time, final genotype, its size

``last.pt`` is written atomically after every epoch and loads with ``weights_only=True``; it
holds the supernet (weights and alphas), both optimizers, the lr schedule, the sampler, all
RNG states (python, numpy, torch, both data generators), the alpha history and the early-stop
counter, so a resumed run continues exactly as an uninterrupted one would; also the alphas'
starting distributions and the Hessian eigenvalues measured so far (monitors).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..runtime.seeding import capture_rng, restore_rng
from ..train.checkpoint import FORMAT_VERSION, RunPaths, load_checkpoint, save_checkpoint

KIND = "search"
KEYS = frozenset({"format_version", "kind", "epoch", "net", "strategy", "rng", "config_hash",
                  "alpha_history", "signature", "unchanged", "finished"})


@dataclass(frozen=True)
class SearchPaths(RunPaths):
    """A search run folder: a training run's files plus the genotypes and alpha plots."""

    @property
    def genotype(self) -> Path:
        return self.root / "genotype.geno"

    def history(self, epoch: int) -> Path:
        return self.root / "history" / f"epoch_{epoch:04d}.geno"

    def alphas_png(self, cell: str) -> Path:
        return self.root / f"alphas_{cell}.png"

    @property
    def monitors_png(self) -> Path:
        return self.root / "monitors.png"

    @property
    def cells(self) -> Path:
        return self.root / "cells"


@dataclass
class Progress:
    """What the loop carries from epoch to epoch (besides modules and optimizers)."""

    epoch: int = 0                       # finished epochs
    alpha_history: list[dict[str, torch.Tensor]] | None = None
    signature: str = ""                  # the last derived genotype, printed
    unchanged: int = 0                   # epochs (after warm-up) without a change
    finished: bool = False               # all epochs done or stopped early
    alpha_start: dict[str, torch.Tensor] | None = None  # the probabilities before any step
    eigen: dict[int, float] | None = None  # epoch → dominant Hessian eigenvalue
    stop_reason: str | None = None       # "patience" or "eigenvalue" when stopped early
    elapsed_s: float = 0.0               # wall time up to the last checkpoint, resumes included

    def __post_init__(self) -> None:
        if self.alpha_history is None:
            self.alpha_history = []
        if self.eigen is None:
            self.eigen = {}


def save_state(path: Path, net: torch.nn.Module, strategy: Any, progress: Progress,
               generators: dict[str, torch.Generator], config_hash: str) -> None:
    save_checkpoint({
        "format_version": FORMAT_VERSION, "kind": KIND, "epoch": progress.epoch,
        "net": net.state_dict(), "strategy": strategy.state_dict(),
        "rng": capture_rng(generators), "config_hash": config_hash,
        "alpha_history": progress.alpha_history, "signature": progress.signature,
        "unchanged": progress.unchanged, "finished": progress.finished,
        "alpha_start": progress.alpha_start, "eigen": progress.eigen,
        "stop_reason": progress.stop_reason, "elapsed_s": progress.elapsed_s,
    }, path)


def load_state(path: Path, net: torch.nn.Module, strategy: Any,
               generators: dict[str, torch.Generator], config_hash: str) -> Progress:
    """Restore everything from ``path``; the run's settings must be the same as before."""
    state = load_checkpoint(path, KEYS)
    if state["kind"] != KIND:
        raise CheckpointError(f"not a search checkpoint (kind '{state['kind']}')",
                              file=str(path))
    if state["config_hash"] != config_hash:
        raise CheckpointError(
            f"the settings differ from the run's (config hash {config_hash}, the run has "
            f"{state['config_hash']})", file=str(path),
            hint="resume with the same space, network, data, search and runtime settings (only "
                 "device, num_workers, channels_last, progress, tensorboard and plots may "
                 "change)")
    net.load_state_dict(state["net"])
    strategy.load_state_dict(state["strategy"])
    restore_rng(state["rng"], generators)
    return Progress(int(state["epoch"]), list(state["alpha_history"]), str(state["signature"]),
                    int(state["unchanged"]), bool(state["finished"]), state.get("alpha_start"),
                    {int(e): float(v) for e, v in (state.get("eigen") or {}).items()},
                    state.get("stop_reason"), float(state.get("elapsed_s") or 0.0))
