"""Intensity statistics of the training foreground, for CT normalisation (as nnU-Net's).

``data.normalize: ct`` clips each channel to the 0.5 and 99.5 percentiles of the intensities
inside the labels (class > 0) of the *training* cases, then subtracts their mean and divides
by their standard deviation.  :func:`fit_intensity` computes these once, when a training run
starts, and stores them as ``data.ct_window`` in the run's config, so that validation,
``evaluate`` and ``predict`` apply exactly the same window.  MR, ultrasound and other images
use per-image z-scores (``zscore``), which need no statistics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genodsl.data.config import DataConfig, Layout, Normalize
from genodsl.data.layouts import discover
from genodsl.data.preprocess import ClassMap, single_channel_mask, to_channels
from genodsl.data.problems import Code, data_error
from genodsl.data.splits import SPLIT_FILE, check_split, load_split, make_split

_PER_CASE = 10_000  # foreground voxels sampled per case (nnU-Net samples too)


def foreground_statistics(cfg: DataConfig, cases: set[str]
                          ) -> tuple[tuple[float, float, float, float], ...]:
    """Per channel ``(p0.5, p99.5, mean, std)`` of the foreground voxels of ``cases``."""
    rng = np.random.default_rng(cfg.seed)
    class_map = ClassMap(cfg.num_classes, cfg.class_map)
    samples: list[np.ndarray] = []
    for unit in discover(cfg)[1]:
        if unit.case not in cases:
            continue
        values = []
        for raw in unit.load(cfg.slice_axis.index):
            image = to_channels(raw.image, cfg.in_channels, raw.image_file).astype(np.float64)
            labels = class_map.apply(single_channel_mask(raw.mask, raw.mask_file), raw.mask_file)
            values.append(image[labels > 0])  # (voxels, C)
        fg = np.concatenate(values) if values else np.empty((0, cfg.in_channels))
        if len(fg) > _PER_CASE:
            fg = fg[rng.choice(len(fg), _PER_CASE, replace=False)]
        samples.append(fg)
    fg = np.concatenate(samples) if samples else np.empty((0, cfg.in_channels))
    if len(fg) < 2:
        raise data_error(Code.MISSING, "normalize: ct needs foreground (labelled) voxels in the "
                         "training cases, and they have none", file=str(cfg.root),
                         hint="use data.normalize=zscore, or give data.ct_window")
    lo, hi = np.percentile(fg, [0.5, 99.5], axis=0)
    clipped = np.clip(fg, lo, hi)
    mean, std = clipped.mean(axis=0), clipped.std(axis=0)
    return tuple((float(a), float(b), float(m), float(max(s, 1e-8)))
                 for a, b, m, s in zip(lo, hi, mean, std))


def fit_intensity(cfg: DataConfig, run_dir: str | Path | None = None) -> DataConfig:
    """``cfg`` with ``ct_window`` computed from the training cases when ``normalize`` is ct
    and it is not set yet (the split is the run's ``split.json`` or the one the config makes)."""
    if cfg.normalize is not Normalize.CT or cfg.ct_window is not None:
        return cfg
    if cfg.layout is Layout.SYNTHETIC:
        raise data_error(Code.MISSING, "normalize: ct needs files with CT intensities",
                         hint="use data.normalize=zscore for synthetic data")
    cases = [u.case for u in discover(cfg)[1]]
    stored = Path(run_dir) / SPLIT_FILE if run_dir is not None else None
    if stored is not None and stored.is_file():
        split = load_split(stored)
        check_split(split, cases, stored)
    else:
        split = make_split(cases, cfg.split, cfg.seed)
    return cfg.model_copy(update={"ct_window": foreground_statistics(cfg, set(split.train))})
