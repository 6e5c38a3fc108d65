"""The search's data: the weight half and the alpha half of one dataset (``genodsl.data``).

:func:`search_data_config` fills what the user left unset: half the cases go to the alpha
half (the paper's "half the training images as validation"), the split and the synthetic
images follow the run's seed, and the channels and classes come from the network
(:func:`genodsl.data.config.fit_to_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..data.build import build_datasets
from ..data.config import DataConfig, Layout, SplitConfig, fit_to_model
from ..errors import ConfigError
from ..lang.ir import Network
from ..runtime.loader import make_loader, passes
from ..train.batches import unpack_batch
from .strategy import Batch


def search_data_config(cfg: DataConfig, net: Network, seed: int) -> DataConfig:
    given = cfg.model_fields_set
    update: dict[str, object] = {}
    if "split" not in given:
        update["split"] = SplitConfig(val_fraction=0.5)
    if "seed" not in given:
        update["seed"] = seed
    settings = net.settings
    assert settings is not None  # a loaded program is validated
    return fit_to_model(cfg.model_copy(update=update), settings.in_channels, settings.classes,
                        f"network '{net.name}'")


def describe(cfg: DataConfig) -> str:
    """One line naming the data, for the provenance header (no wall clock, no out dir)."""
    size = "x".join(map(str, cfg.size)) if cfg.size else "native"
    if cfg.patch is not None and len(cfg.patch) == 3:
        size = "volumes, patches " + "x".join(map(str, cfg.patch))
    if cfg.layout is Layout.SYNTHETIC:
        s = cfg.synthetic
        return (f"synthetic ({s.n_images} images, seed {cfg.seed}), size {size}, "
                f"alpha half {cfg.split.val_fraction}")
    return f"{cfg.root} ({cfg.layout.value}), size {size}, split seed {cfg.seed}"


def build_halves(cfg: DataConfig, run_dir: Path, dims: int = 2) -> tuple[Dataset, Dataset]:
    """(weight half, alpha half); the split is saved in (and re-read from) ``run_dir``.
    A 3D space (``dims = 3``) searches on random ``data.patch`` patches of both halves'
    volumes (:mod:`genodsl.data.volumes3d`)."""
    weight, alpha = build_datasets(cfg, run_dir, dims)
    if dims == 3:  # the alpha half steps on patches too, not on whole volumes
        alpha = alpha.subset(alpha.cases, augment=weight.augment, seed=cfg.seed + 1)
    if len(alpha) == 0:
        raise ConfigError("the alpha half is empty", hint="set data.split.val_fraction > 0")
    return weight, alpha


def half_loader(ds: Dataset, batch_size: int, generator: torch.Generator,
                num_workers: int) -> DataLoader:
    """Shuffled full batches of ``batch_size`` (the global batch: this rank gets its slice)."""
    if len(ds) < batch_size:  # type: ignore[arg-type]
        raise ConfigError(f"batch size {batch_size} is larger than a data half "
                          f"({len(ds)} samples)", hint="lower search.batch_size")  # type: ignore[arg-type]
    return make_loader(ds, batch_size, generator, drop_last=True, num_workers=num_workers)


class Batches:
    """Endless batches of one loader; a new pass (reshuffled by its generator) when one ends.

    :meth:`restart` begins a fresh pass; the runner calls it at every epoch start, so an
    epoch's batches depend only on the generator's state then (saved in checkpoints).
    """

    def __init__(self, loader: DataLoader, num_classes: int, device: torch.device,
                 channels_last: bool = False):
        self.loader = loader
        self.num_classes = num_classes
        self.device = device
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self._it: Iterator | None = None

    def restart(self) -> None:
        self._it = passes(self.loader)

    def next(self) -> Batch:
        if self._it is None:
            self.restart()
        raw = next(self._it)  # type: ignore[arg-type]
        image, mask = unpack_batch(raw, self.num_classes)
        fmt = self.memory_format if image.ndim == 4 else torch.contiguous_format  # 3D: NCDHW
        return Batch(image.to(self.device, memory_format=fmt),
                     mask.to(self.device))


def fixed_batch(ds: Dataset, size: int, num_classes: int, device: torch.device) -> Batch:
    """The first ``size`` samples of ``ds`` as one batch (the Hessian monitor's, every epoch)."""
    from torch.utils.data import default_collate

    n = min(size, len(ds))  # type: ignore[arg-type]
    image, mask = unpack_batch(default_collate([ds[i] for i in range(n)]), num_classes)
    return Batch(image.to(device), mask.to(device))
