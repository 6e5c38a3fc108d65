"""Training configuration (pydantic v2) and the YAML loader with dotted-key overrides.

One YAML file holds one section per concern::

    train:
      epochs: 200
      lr: 3.0e-4
    # data: ...    (added by genodsl.data)
    # search: ...  (added by genodsl.search)

:class:`RunConfig` is the top-level model; each section is its own frozen model with
``extra="forbid"``, so a typo'd key anywhere is a :class:`~genodsl.errors.ConfigError` naming
the key with a "did you mean" hint. Adding a section is one field on :class:`RunConfig`.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import config as _config
from ..config import config_error, dump_config, parse_overrides  # noqa: F401 (re-exported)
from ..data.config import DataConfig
from ..search.config import SearchConfig
from ..utils import AmpSetting
from .losses import LossName
from .metrics import EmptyMaskRule

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class TrainConfig(BaseModel):
    """Training settings; defaults follow the NAS-Unet paper (Adam 3e-4, wd 5e-5, 200 epochs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(200, ge=1, description="training epochs")
    batch_size: int = Field(8, ge=1, description="images per step")
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(3e-4, gt=0, description="initial learning rate")
    weight_decay: float = Field(5e-5, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD only")
    scheduler: Literal["cosine", "none"] = "cosine"
    eta_min: float = Field(0.0, ge=0, description="final lr of the cosine schedule")
    grad_clip: float | None = Field(5.0, gt=0, description="max grad norm; null disables")
    loss: LossName = LossName.DICE
    class_weights: tuple[float, ...] | None = Field(
        None, description="per-class loss weights; weighted_dice without them counts the "
                          "training masks and uses inverse class frequency")
    empty_mask_rule: EmptyMaskRule = EmptyMaskRule.SCORE
    seed: int = Field(0, ge=0)
    deterministic: bool = Field(False, description="torch.use_deterministic_algorithms")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    num_workers: int = Field(0, ge=0, description="DataLoader workers")
    amp: AmpSetting = Field(False, description="mixed precision: false, true (fp16 + scaler on "
                                               "CUDA, bf16 elsewhere), bf16, or fp16 (+ scaler)")
    channels_last: bool = Field(False, description="NHWC memory format (faster convs on GPU)")
    tensorboard: bool = Field(False, description="also write TensorBoard scalars")
    log_every: int = Field(10, ge=0, description="per-step log lines every N steps; 0: none")
    val_every: int = Field(1, ge=1, description="validate every N epochs (and the last)")
    count_flops: bool = Field(True, description="count forward FLOPs of one image at start")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
        return value

    @model_validator(mode="after")
    def _weights_need_a_weighted_loss(self) -> "TrainConfig":
        if self.class_weights is not None and self.loss in (LossName.DICE, LossName.DICE_REF):
            raise ValueError(f"class_weights are not used by loss '{self.loss.value}'; "
                             f"use weighted_dice, ce or dice_ce")
        return self


class RunConfig(BaseModel):
    """The whole YAML file: one optional section per concern."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: TrainConfig = Field(default_factory=TrainConfig)
    data: DataConfig | None = None
    search: SearchConfig | None = None


# Keys that may differ when resuming a run (they do not change the numbers it produces).
RESUMABLE_CHANGES = frozenset({"device", "num_workers", "tensorboard", "log_every",
                               "channels_last"})


def build_config(data: Mapping[str, Any] | None = None,
                 overrides: Mapping[str, object] | None = None, *,
                 model: type[BaseModel] = RunConfig, source: str | None = None) -> Any:
    """Validate a mapping plus dotted overrides against ``model`` (default: RunConfig)."""
    return _config.build_config(data, overrides, model=model, source=source)


def load_config(path: str | os.PathLike[str] | None,
                overrides: Mapping[str, object] | None = None, *,
                model: type[BaseModel] = RunConfig) -> Any:
    """Read a YAML config (or only defaults when ``path`` is None) and apply overrides."""
    return _config.load_config(path, overrides, model=model)
