"""``RunConfig``: the whole YAML file of a run, one section per concern (torch-free).

::

    runtime:   # how the run is carried out: device, amp, num_workers, channels_last, seed,
               # progress, deterministic (genodsl.config.RuntimeConfig)
    model:     # which model: a .geno file and network, or a baseline; classes/in_channels
               # override the network's (``--set model.classes=3`` for a 3-class dataset)
    data:      # genodsl.data.config.DataConfig
    train:     # genodsl.train.config.TrainConfig
    search:    # genodsl.search.config.SearchConfig

Every section is frozen and forbids unknown keys, so a typo'd key anywhere is a
:class:`~genodsl.errors.ConfigError` naming the dotted key with a "did you mean" hint. A run
folder's ``config.yaml`` is this file for that run (:func:`record`), so ``--resume`` reads
back exactly what the run was started with.
"""

from __future__ import annotations

import os
from typing import Any, Literal, Mapping

from pydantic import Field, model_validator

from ..config import RuntimeConfig, Section, build_config, load_config
from ..data.config import DataConfig
from ..search.config import SearchConfig
from ..train.config import TrainConfig

Kind = Literal["train", "search"]


class ModelConfig(Section):
    """Which model a run builds; ``classes``, ``in_channels``, ``C`` and ``depth`` override the
    network's (train a searched genotype wider than its supernet: ``--set model.C=32``)."""

    file: str | None = Field(None, description="the .geno file (a genotype for train, a "
                                               "search space for search)")
    network: str | None = Field(None, description="the network in the file (default: its "
                                                  "only network)")
    baseline: str | None = Field(None, description="train a baseline instead: unet, "
                                                   "unet_small, fcdensenet56/67/103")
    classes: int | None = Field(None, ge=2, description="output classes (default: the "
                                                        "network's, or the data's)")
    in_channels: int | None = Field(None, ge=1, description="input channels (default: the "
                                                            "network's, or the data's)")
    C: int | None = Field(None, ge=1, description="channels of the first cell (default: the "
                                                 "network's); checked like the file's")
    depth: int | None = Field(None, ge=1, description="down cells (default: the network's)")

    @model_validator(mode="after")
    def _one_model(self) -> "ModelConfig":
        if self.file is not None and self.baseline is not None:
            raise ValueError("give a .geno file or a baseline, not both")
        if self.baseline is not None and self.network is not None:
            raise ValueError("network names a network of a .geno file, not of a baseline")
        if self.baseline is not None and (self.C is not None or self.depth is not None):
            raise ValueError("C and depth set a .geno network's size, not a baseline's")
        return self

    def overrides(self) -> dict[str, int]:
        """The network settings this section overrides (``{"classes": 3}``)."""
        return {k: v for k in ("classes", "in_channels", "C", "depth")
                if (v := getattr(self, k)) is not None}


class RunConfig(Section):
    """The whole YAML file: one section per concern."""

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig | None = None
    train: TrainConfig = Field(default_factory=TrainConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)


def run_config(path: str | os.PathLike[str] | None = None,
               overrides: Mapping[str, object] | None = None) -> RunConfig:
    """A YAML file (or only defaults when ``path`` is None) with dotted overrides applied."""
    return load_config(path, overrides, model=RunConfig)


def from_mapping(data: Mapping[str, Any], overrides: Mapping[str, object] | None = None, *,
                 source: str | None = None) -> RunConfig:
    """A RunConfig from JSON/YAML data (e.g. a run's saved config) plus overrides."""
    return build_config(data, overrides, model=RunConfig, source=source)


def record(cfg: RunConfig, kind: Kind) -> dict[str, Any]:
    """The run config as JSON data for a run's ``config.yaml``: the sections ``kind`` uses."""
    drop = {"search"} if kind == "train" else {"train"}
    return cfg.model_dump(mode="json", exclude=drop)
