"""``SearchConfig``: the settings of an architecture search, with the paper's defaults.

One YAML section (``search:``) next to ``data:``; every key can be overridden from the
command line (``--set search.epochs=50``).  A typo'd key is a :class:`ConfigError`.

Defaults (NAS-Unet paper + reference search config, see ``shared/reference.md``):

* weights: SGD, momentum 0.95, weight decay 3e-4, cosine lr 0.025 → 0.01, grad clip 5;
* alphas: Adam lr 3e-4, weight decay 1e-4, betas (0.5, 0.999) as in DARTS;
* 300 epochs, stop when the derived genotype is unchanged for 40 epochs;
* ``warmup_epochs = 10``: alphas stay frozen for the first 10 epochs, as in the reference's
  config (the paper says "from the start").  We keep the reference's value: the supernet's
  weights are random at first, and alpha steps on random weights favour parameter-free ops
  (pools, identity), which is DARTS' best-known failure mode.  Set 0 for the paper's setting.
* the normal-op alphas are shared by the down and up cells (the reference does).
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..train.losses import LossName
from ..utils import AmpSetting

_DEVICE_VALUES = ("auto", "cpu", "mps", "cuda")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Strategy(str, Enum):
    DARTS = "darts"          # first-order DARTS
    DARTS2 = "darts2"        # second-order DARTS (unrolled, finite-difference Hessian)
    PROXYLESS = "proxyless"  # ProxylessNAS binary gates (one sampled path per edge)


class CostMetric(str, Enum):
    PARAMS = "params"  # parameters of the derived network
    FLOPS = "flops"    # forward FLOPs of one image (FlopCounterMode, 2 per multiply-add)


class WeightOptimConfig(_Frozen):
    """The network weights: SGD on the weight half of the data."""

    lr: float = Field(0.025, gt=0, description="initial learning rate (cosine schedule)")
    lr_min: float = Field(0.01, ge=0, description="learning rate at the last epoch")
    momentum: float = Field(0.95, ge=0, lt=1)
    weight_decay: float = Field(3e-4, ge=0)
    grad_clip: float | None = Field(5.0, gt=0, description="max grad norm; null disables")


class AlphaOptimConfig(_Frozen):
    """The architecture weights: Adam on the alpha half of the data."""

    lr: float = Field(3e-4, gt=0)
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = Field(1e-4, ge=0)
    init_std: float = Field(1e-3, ge=0, description="alphas start as init_std · N(0, 1)")


class CostConfig(_Frozen):
    """Optional penalty on the expected cost of the derived network (all strategies).

    penalty = weight · max(0, E[cost] / target − 1): zero under the budget, linear above it.
    """

    metric: CostMetric = CostMetric.PARAMS
    target: float | None = Field(None, gt=0, description="budget (parameters or FLOPs/image)")
    weight: float = Field(0.0, ge=0, description="0 disables the penalty")

    @model_validator(mode="after")
    def _needs_target(self) -> "CostConfig":
        if self.weight > 0 and self.target is None:
            raise ValueError("a cost penalty (weight > 0) needs a target")
        return self


class SearchConfig(_Frozen):
    """Everything a search run needs besides the space, the network and the data."""

    strategy: Strategy = Strategy.DARTS
    epochs: int = Field(300, ge=1)
    steps_per_epoch: int | None = Field(
        None, ge=1, description="weight steps per epoch; null: one pass over the weight half")
    batch_size: int = Field(4, ge=1)
    warmup_epochs: int = Field(10, ge=0, description="epochs before the first alpha step")
    patience: int | None = Field(
        40, ge=1, description="stop when the genotype is unchanged this many epochs")
    share_normal_alphas: bool = Field(True, description="down and up cells share normal alphas")
    loss: LossName = LossName.DICE
    seed: int = Field(0, ge=0)
    weights: WeightOptimConfig = WeightOptimConfig()
    alphas: AlphaOptimConfig = AlphaOptimConfig()
    cost: CostConfig = CostConfig()
    amp: AmpSetting = Field(False, description="mixed precision: false, true (fp16 on CUDA, "
                                               "bf16 elsewhere), bf16, or fp16 (loss scaling)")
    # -- how the run is carried out (none of these changes its result) ----------------------
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    num_workers: int = Field(0, ge=0)
    channels_last: bool = Field(False, description="NHWC memory format (faster convs on GPU)")
    deterministic: bool = False
    progress: bool = True
    tensorboard: bool = False
    plots: bool = Field(True, description="alpha evolution PNGs and cell renders at the end")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        base, _, index = value.partition(":")
        if base not in _DEVICE_VALUES or (index and (base != "cuda" or not index.isdigit())):
            raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
        return value


RESUMABLE_KEYS = frozenset({"device", "num_workers", "progress", "tensorboard", "plots",
                            "channels_last"})


def config_hash(search: SearchConfig, extra: dict[str, Any] | None = None) -> str:
    """A short hash of everything that decides a run's result (resumable keys left out)."""
    data = search.model_dump(mode="json", exclude=set(RESUMABLE_KEYS))
    blob = json.dumps({"search": data, **(extra or {})}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
