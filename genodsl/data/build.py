"""Entry points used by training, search, evaluation and prediction.

* :func:`build_datasets` → ``(train, val)`` split by case, train augmented; the split is saved to
  (or, when present, re-read from) ``run_dir/split.json``.
* :func:`build_dataset` → every sample, not augmented (evaluation).
* :func:`load_input` → one image or volume file preprocessed as in training (prediction).

``dims`` (2 or 3) is the network's (its ``dims`` setting, the built model's ``dims``), the one
source of truth for the shape of samples: 2 cuts volumes into 2D slices
(:class:`~genodsl.data.datasets.SegmentationDataset`), 3 keeps them whole and trains on 3D
patches (:class:`~genodsl.data.volumes3d.VolumeDataset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genodsl.data import io
from genodsl.data.augment import build_augmenter, build_volume_augmenter
from genodsl.data.config import DataConfig, Layout
from genodsl.data.datasets import SegmentationDataset
from genodsl.data.geometry import Geometry, read_with_geometry
from genodsl.data.layouts import discover
from genodsl.data.nnunet import stack_channel_files
from genodsl.data.preprocess import Preprocess
from genodsl.data.problems import Code, data_error
from genodsl.data.splits import SPLIT_FILE, Split, check_split, load_split, make_split, save_split
from genodsl.data.synthetic import SyntheticSpec, synthetic_units
from genodsl.data.volumes3d import VolumeDataset, volume_image
from genodsl.errors import ConfigError


def check_dims(cfg: DataConfig, dims: int) -> None:
    """``data.patch`` and ``data.inference.roi`` have one side per axis of the network."""
    for key, value in (("data.patch", cfg.patch), ("data.inference.roi", cfg.inference.roi)):
        if value is not None and len(value) != dims:
            shape = "[d, h, w]" if dims == 3 else "[h, w]"
            raise ConfigError(f"{key} = {list(value)} but the network is {dims}D (dims = "
                              f"{dims}): give {shape}", hint=f"e.g. --set {key}="
                              + ("[16,32,32]" if dims == 3 else "[128,128]"))


def _units(cfg: DataConfig) -> list:
    if cfg.layout is Layout.SYNTHETIC:
        spec = SyntheticSpec.from_config(cfg.synthetic, num_classes=cfg.num_classes,
                                         channels=cfg.in_channels, seed=cfg.seed)
        return synthetic_units(cfg.synthetic.n_images, spec)
    return discover(cfg)[1]


def build_dataset(cfg: DataConfig, dims: int = 2) -> SegmentationDataset | VolumeDataset:
    """Every sample of the configured data, preprocessed, not augmented: 2D slices, or whole
    volumes for a 3D network (``dims = 3``)."""
    check_dims(cfg, dims)
    if dims == 3:
        vol = VolumeDataset(_units(cfg), _volume_preprocess(cfg), cache=cfg.cache,
                            check_files=cfg.check_files)
        vol.seed = cfg.seed
        return vol
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


def _volume_preprocess(cfg: DataConfig) -> Preprocess:
    """The 2D preprocessing without resizing: a 3D network sees the volume's own grid."""
    return Preprocess.from_config(cfg.model_copy(update={"size": None}))


def build_datasets(cfg: DataConfig, run_dir: str | Path | None = None, dims: int = 2
                   ) -> tuple[SegmentationDataset | VolumeDataset,
                              SegmentationDataset | VolumeDataset]:
    """``(train, val)`` datasets split by case; only train is augmented (3D: train yields
    random ``data.patch`` patches, val whole volumes).

    With ``run_dir``, an existing ``run_dir/split.json`` is reused (a resumed run), otherwise
    the new split is written there, after all data was read and checked.
    """
    full = build_dataset(cfg, dims)
    split = resolve_split(cfg, full.cases, run_dir)
    if run_dir is not None and not (Path(run_dir) / SPLIT_FILE).exists():
        save_split(split, Path(run_dir) / SPLIT_FILE)
    augment = (build_volume_augmenter(cfg.augment, cfg.patch) if dims == 3
               else build_augmenter(cfg.augment, cfg.patch))
    train = full.subset(split.train, augment=augment, seed=cfg.seed)
    val = full.subset(split.val)
    return train, val


@dataclass(frozen=True)
class PredictionInput:
    """A preprocessed input for prediction and how to put predictions back in its geometry."""

    path: Path
    images: torch.Tensor                 # float32 [N, C, H, W]; N = 1 for a 2D image;
    #                                      [1, C, D, H, W]: a whole volume for a 3D network
    names: tuple[str, ...]
    original_shape: tuple[int, ...]      # (H, W) of a 2D image, (Z, Y, X) of a volume
    slice_axis: int | None               # the axis slices were cut across; None for 2D
    geometry: Geometry | None = None     # where a volume lies in space; None for 2D

    def restore(self, labels: torch.Tensor) -> np.ndarray:
        """Predicted labels ``[N, H, W]`` (a 3D network's: ``[1, D, H, W]``, the volume's own
        grid) → uint8 array in the input's original geometry."""
        if self.images.ndim == 5:
            if tuple(labels.shape) != (1, *self.original_shape):
                raise ValueError(f"expected labels [1, {', '.join(map(str, self.original_shape))}"
                                 f"], got {tuple(labels.shape)}")
            return labels[0].round().to(torch.uint8).numpy()
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


def load_input(path: str | Path, cfg: DataConfig, dims: int = 2) -> PredictionInput:
    """Read one image (PNG, JPEG, BMP, TIFF) or volume (NIfTI, NRRD, MetaImage, DICOM series
    folder, TIFF stack) and preprocess it exactly as training samples are (without
    augmentation); a volume is cut into slices across ``data.slice_axis`` and keeps its
    geometry, so :func:`genodsl.data.geometry.write_label` can write the prediction back.
    For a 3D network (``dims = 3``) a volume stays whole: ``images`` is ``[1, C, D, H, W]``."""
    p = Path(path)
    pre = Preprocess.from_config(cfg)
    if not p.exists():
        raise data_error(Code.MISSING, "input not found", file=p)
    if dims == 3 and not io.is_volume(p):
        raise data_error(Code.SHAPE, "a 3D network (dims = 3) predicts volumes, not 2D images",
                         file=p, hint="give a NIfTI, NRRD, MetaImage or DICOM series")
    if not io.is_volume(p):  # an nnU-Net CASE_0000 file brings its other channels
        image = stack_channel_files(p, io.read_image(p), 2, cfg.in_channels, io.read_image)
        return PredictionInput(p, pre.image(image, p)[None], (io.stem_of(p),),
                               tuple(image.shape[:2]), None)
    volume, geometry = read_with_geometry(p)  # (Z, Y, X[, C])
    volume = stack_channel_files(p, volume, 3, cfg.in_channels, io.read_volume)
    stem = p.name if p.is_dir() else io.stem_of(p)
    if dims == 3:
        image = volume_image(_volume_preprocess(cfg), volume, p)
        return PredictionInput(p, image[None], (stem,), tuple(volume.shape[:3]), None, geometry)
    axis = cfg.slice_axis.index
    slices = [pre.image(np.take(volume, k, axis=axis), f"{p}[{'zyx'[axis]}={k}]")
              for k in range(volume.shape[axis])]
    names = tuple(f"{stem}_{'zyx'[axis]}{k:03d}" for k in range(len(slices)))
    return PredictionInput(p, torch.stack(slices), names, tuple(volume.shape[:3]), axis, geometry)
