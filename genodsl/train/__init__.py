"""Losses, metrics, configuration and the generic training engine of genodsl."""

from .checkpoint import RunPaths, load_checkpoint, load_model, load_run, read_summary
from .compare import CompareRow, compare_runs, render_comparison
from .config import RunConfig, TrainConfig, build_config, dump_config, load_config, parse_overrides
from .evaluate import EvalResult, evaluate, render_eval, write_eval
from .loop import EpochStats, Trainer, TrainResult, fit
from .losses import (LOSS_NAMES, LossName, build_loss, class_pixel_counts,
                     inverse_frequency_weights)
from .metrics import BatchMetrics, EmptyMaskRule, MetricAccumulator, segmentation_metrics
from .predict import PredictionFiles, predict, predict_masks, write_predictions
from .runtime import count_flops, count_parameters

__all__ = [
    "BatchMetrics", "CompareRow", "EmptyMaskRule", "EpochStats", "EvalResult", "LOSS_NAMES",
    "LossName", "MetricAccumulator", "PredictionFiles", "RunConfig", "RunPaths", "TrainConfig",
    "TrainResult", "Trainer", "build_config", "build_loss", "class_pixel_counts",
    "compare_runs", "count_flops", "count_parameters", "dump_config", "evaluate", "fit",
    "inverse_frequency_weights", "load_checkpoint", "load_config", "load_model", "load_run",
    "parse_overrides", "predict", "predict_masks", "read_summary", "render_comparison",
    "render_eval", "segmentation_metrics", "write_eval", "write_predictions",
]
