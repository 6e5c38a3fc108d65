"""Losses, metrics, configuration and the generic training engine of genodsl.

Names are loaded on first use (PEP 562), so importing one submodule (e.g. the losses, which
the search config needs) never drags in the whole engine, and the CLI starts faster.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "checkpoint": ["RunPaths", "load_checkpoint", "load_model", "load_run", "read_summary"],
    "compare": ["CompareRow", "compare_runs", "render_comparison"],
    "config": ["RunConfig", "TrainConfig", "build_config", "dump_config", "load_config",
               "parse_overrides"],
    "evaluate": ["EvalResult", "evaluate", "render_eval", "write_eval"],
    "loop": ["EpochStats", "Trainer", "TrainResult", "fit"],
    "losses": ["LOSS_NAMES", "LossName", "build_loss", "class_pixel_counts",
               "inverse_frequency_weights"],
    "metrics": ["BatchMetrics", "EmptyMaskRule", "MetricAccumulator", "segmentation_metrics"],
    "predict": ["PredictionFiles", "predict", "predict_masks", "write_predictions"],
    "runtime": ["count_flops", "count_parameters"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'genodsl.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
