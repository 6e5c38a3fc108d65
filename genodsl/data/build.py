"""Entry points used by training, search, evaluation and prediction.

* :func:`build_datasets` → ``(train, val)`` split by case, train augmented; the split is saved to
  (or, when present, re-read from) ``run_dir/split.json``.
* :func:`build_dataset` → every sample, not augmented (evaluation).
* :func:`load_input` → one image or volume file preprocessed as in training (prediction).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genodsl.data import io
from genodsl.data.augment import build_augmenter
from genodsl.data.config import DataConfig, Layout
from genodsl.data.datasets import SegmentationDataset
from genodsl.data.geometry import Geometry, read_with_geometry
from genodsl.data.layouts import discover
from genodsl.data.nnunet import stack_channel_files
from genodsl.data.preprocess import Preprocess
from genodsl.data.problems import Code, data_error
from genodsl.data.splits import SPLIT_FILE, Split, check_split, load_split, make_split, save_split
from genodsl.data.synthetic import SyntheticSpec, synthetic_units


def _units(cfg: DataConfig) -> list:
    if cfg.layout is Layout.SYNTHETIC:
        spec = SyntheticSpec.from_config(cfg.synthetic, num_classes=cfg.num_classes,
                                         channels=cfg.in_channels, seed=cfg.seed)
        return synthetic_units(cfg.synthetic.n_images, spec)
    return discover(cfg)[1]


def build_dataset(cfg: DataConfig) -> SegmentationDataset:
    """Every sample of the configured data, preprocessed, not augmented."""
    ds = SegmentationDataset(_units(cfg), Preprocess.from_config(cfg),
                             slice_axis=cfg.slice_axis.index, cache=cfg.cache,
                             check_files=cfg.check_files)
    ds.seed = cfg.seed
    return ds


def resolve_split(cfg: DataConfig, cases: list[str], run_dir: str | Path | None) -> Split:
    """The split stored in ``run_dir`` if there is one (checked against ``cases``), else a new
    one from the config (not written here)."""
    if run_dir is not None and (Path(run_dir) / SPLIT_FILE).exists():
        path = Path(run_dir) / SPLIT_FILE
        split = load_split(path)
        check_split(split, cases, path)
        return split
    return make_split(cases, cfg.split, cfg.seed)


def build_datasets(cfg: DataConfig, run_dir: str | Path | None = None
                   ) -> tuple[SegmentationDataset, SegmentationDataset]:
    """``(train, val)`` datasets split by case; only train is augmented.

    With ``run_dir``, an existing ``run_dir/split.json`` is reused (a resumed run), otherwise
    the new split is written there, after all data was read and checked.
    """
    full = build_dataset(cfg)
    split = resolve_split(cfg, full.cases, run_dir)
    if run_dir is not None and not (Path(run_dir) / SPLIT_FILE).exists():
        save_split(split, Path(run_dir) / SPLIT_FILE)
    train = full.subset(split.train, augment=build_augmenter(cfg.augment, cfg.patch),
                        seed=cfg.seed)
    val = full.subset(split.val)
    return train, val


@dataclass(frozen=True)
class PredictionInput:
    """A preprocessed input for prediction and how to put predictions back in its geometry."""

    path: Path
    images: torch.Tensor                 # float32 [N, C, H, W]; N = 1 for a 2D image
    names: tuple[str, ...]
    original_shape: tuple[int, ...]      # (H, W) of a 2D image, (Z, Y, X) of a volume
    slice_axis: int | None               # the axis slices were cut across; None for 2D
    geometry: Geometry | None = None     # where a volume lies in space; None for 2D

    def restore(self, labels: torch.Tensor) -> np.ndarray:
        """Predicted labels ``[N, H, W]`` → uint8 array in the input's original geometry."""
        if labels.ndim != 3 or labels.shape[0] != self.images.shape[0]:
            raise ValueError(f"expected labels [N={self.images.shape[0]}, H, W], got "
                             f"{tuple(labels.shape)}")
        if self.slice_axis is None:
            size = self.original_shape
        else:
            size = tuple(s for i, s in enumerate(self.original_shape) if i != self.slice_axis)
        out = F.interpolate(labels[:, None].float(), size=size, mode="nearest-exact")[:, 0]
        arr = out.round().to(torch.uint8).numpy()
        return arr[0] if self.slice_axis is None else np.moveaxis(arr, 0, self.slice_axis)


def load_input(path: str | Path, cfg: DataConfig) -> PredictionInput:
    """Read one image (PNG, JPEG, BMP, TIFF) or volume (NIfTI, NRRD, MetaImage, DICOM series
    folder, TIFF stack) and preprocess it exactly as training samples are (without
    augmentation); a volume is cut into slices across ``data.slice_axis`` and keeps its
    geometry, so :func:`genodsl.data.geometry.write_label` can write the prediction back."""
    p = Path(path)
    pre = Preprocess.from_config(cfg)
    if not p.exists():
        raise data_error(Code.MISSING, "input not found", file=p)
    if not io.is_volume(p):  # an nnU-Net CASE_0000 file brings its other channels
        image = stack_channel_files(p, io.read_image(p), 2, cfg.in_channels, io.read_image)
        return PredictionInput(p, pre.image(image, p)[None], (io.stem_of(p),),
                               tuple(image.shape[:2]), None)
    volume, geometry = read_with_geometry(p)  # (Z, Y, X[, C])
    volume = stack_channel_files(p, volume, 3, cfg.in_channels, io.read_volume)
    axis = cfg.slice_axis.index
    slices = [pre.image(np.take(volume, k, axis=axis), f"{p}[{'zyx'[axis]}={k}]")
              for k in range(volume.shape[axis])]
    stem = p.name if p.is_dir() else io.stem_of(p)
    names = tuple(f"{stem}_{'zyx'[axis]}{k:03d}" for k in range(len(slices)))
    return PredictionInput(p, torch.stack(slices), names, tuple(volume.shape[:3]), axis, geometry)
