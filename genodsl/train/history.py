"""What a training run reports: one record per epoch, the result, and ``summary.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

FLOPS_DEFINITION = "forward pass of one image, FlopCounterMode (2 FLOPs per multiply-add)"


@dataclass(frozen=True)
class EpochStats:
    """One epoch of training (and validation, when it ran)."""

    epoch: int
    train_loss: float
    lr: float
    time_s: float
    peak_memory_mb: float | None
    val_loss: float | None = None
    val_dsc: float | None = None
    val_miou: float | None = None
    val_dsc_per_class: dict[str, float | None] | None = None
    data_wait_s: float | None = None  # of time_s, waiting for training batches


@dataclass(frozen=True)
class TrainResult:
    status: str  # "completed" or "interrupted"
    run_dir: Path
    history: list[EpochStats]
    summary: dict[str, Any]


def summarize(history: Sequence[EpochStats], best_epoch: int | None, **facts: Any
              ) -> dict[str, Any]:
    """``summary.json``: status, best and final epochs, time, memory, and ``facts``.

    ``facts`` holds the run's own keys: ``status``, ``epochs``, the model info (params,
    FLOPs), the device, loss, classes and model spec.
    """
    best = next((h for h in history if h.epoch == best_epoch), None)
    final = next((h for h in reversed(history) if h.val_dsc is not None), None)
    mems = [h.peak_memory_mb for h in history if h.peak_memory_mb is not None]
    times = [h.time_s for h in history]
    waits = [h.data_wait_s for h in history if h.data_wait_s is not None]
    status = facts.pop("status")
    epochs = facts.pop("epochs")
    return {
        "status": status, "epochs": epochs,
        "epochs_completed": history[-1].epoch if history else 0,
        "dsc": best.val_dsc if best else None, "miou": best.val_miou if best else None,
        "best_epoch": best_epoch, "best": asdict(best) if best else None,
        "final": asdict(final) if final else None,
        "final_train_loss": history[-1].train_loss if history else None,
        "flops_definition": FLOPS_DEFINITION,
        "time_per_epoch_s": sum(times) / len(times) if times else None,
        "total_time_s": sum(times), "peak_memory_mb": max(mems) if mems else None,
        # the share of the time spent waiting for training batches (the data path starving
        # the model; raise runtime.num_workers, keep data.cache on)
        "data_wait_share": sum(waits) / sum(times) if waits and sum(times) > 0 else None,
        **facts,
    }
