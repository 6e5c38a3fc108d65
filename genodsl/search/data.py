"""The search's data: the weight half and the alpha half of one dataset (``genodsl.data``).

:func:`resolve_data_config` fills what the user left unset from the search: half the cases go
to the alpha half (the paper's "half the training images as validation"), the split and the
synthetic images follow the search seed, and the channels and classes come from the network
(setting them to other values than the network's is an error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from ..data.build import build_datasets
from ..data.config import DataConfig, Layout, SplitConfig
from ..distributed import ShardedBatchSampler
from ..errors import ConfigError
from ..lang.ir import NetworkSettings
from ..train.loop import seed_worker, unpack_batch
from .strategy import Batch


def resolve_data_config(cfg: DataConfig, settings: NetworkSettings, seed: int) -> DataConfig:
    given = cfg.model_fields_set
    update: dict[str, object] = {}
    if "split" not in given:
        update["split"] = SplitConfig(val_fraction=0.5)
    if "seed" not in given:
        update["seed"] = seed
    for key, value in (("in_channels", settings.in_channels), ("num_classes", settings.classes)):
        if key not in given:
            update[key] = value
        elif getattr(cfg, key) != value:
            net_key = "classes" if key == "num_classes" else key
            raise ConfigError(f"data.{key} = {getattr(cfg, key)} (given or implied by "
                              f"data.class_map) but the network has {net_key} = {value}",
                              hint=f"make data.{key} and the network's {net_key} agree")
    out = cfg.model_copy(update=update)
    return out


def describe(cfg: DataConfig) -> str:
    """One line naming the data, for the provenance header (no wall clock, no out dir)."""
    size = "x".join(map(str, cfg.size)) if cfg.size else "native"
    if cfg.layout is Layout.SYNTHETIC:
        s = cfg.synthetic
        return (f"synthetic ({s.n_images} images, seed {cfg.seed}), size {size}, "
                f"alpha half {cfg.split.val_fraction}")
    return f"{cfg.root} ({cfg.layout.value}), size {size}, split seed {cfg.seed}"


def build_halves(cfg: DataConfig, run_dir: Path) -> tuple[Dataset, Dataset]:
    """(weight half, alpha half); the split is saved in (and re-read from) ``run_dir``."""
    weight, alpha = build_datasets(cfg, run_dir)
    if len(alpha) == 0:
        raise ConfigError("the alpha half is empty", hint="set data.split.val_fraction > 0")
    return weight, alpha


def make_loader(ds: Dataset, batch_size: int, generator: torch.Generator,
                num_workers: int) -> DataLoader:
    """Shuffled batches of ``batch_size`` (the global batch: this rank gets its slice)."""
    if len(ds) < batch_size:
        raise ConfigError(f"batch size {batch_size} is larger than a data half "
                          f"({len(ds)} samples)", hint="lower search.batch_size")
    batches = BatchSampler(RandomSampler(ds, generator=generator), batch_size, drop_last=True)
    return DataLoader(ds, batch_sampler=ShardedBatchSampler(batches), generator=generator,
                      num_workers=num_workers,
                      worker_init_fn=seed_worker if num_workers else None)


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
        self._it = iter(self.loader)

    def next(self) -> Batch:
        if self._it is None:
            self.restart()
        try:
            raw = next(self._it)  # type: ignore[arg-type]
        except StopIteration:
            self.restart()
            raw = next(self._it)  # type: ignore[arg-type]
        image, mask = unpack_batch(raw, self.num_classes)
        return Batch(image.to(self.device, memory_format=self.memory_format),
                     mask.to(self.device))
