"""``SearchConfig``: the settings of an architecture search, with the paper's defaults.

One YAML section (``search:``) next to ``runtime:`` and ``data:``; every key can be
overridden from the command line (``--set search.epochs=50``).  A typo'd key is a
:class:`ConfigError`.  The seed, device, precision and workers are the shared ``runtime:``
section (:class:`genodsl.config.RuntimeConfig`).  Torch-free.

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

from pydantic import Field, model_validator

from ..config import RuntimeConfig, Section, outcome, resumable
from ..train.config import LossName
from .strategies import Strategy


class CostMetric(str, Enum):
    PARAMS = "params"  # parameters of the derived network
    FLOPS = "flops"    # forward FLOPs of one image (FlopCounterMode, 2 per multiply-add)


class WeightOptimConfig(Section):
    """The network weights: SGD on the weight half of the data."""

    lr: float = Field(0.025, gt=0, description="initial learning rate (cosine schedule)")
    lr_min: float = Field(0.01, ge=0, description="learning rate at the last epoch")
    momentum: float = Field(0.95, ge=0, lt=1)
    weight_decay: float = Field(3e-4, ge=0)
    grad_clip: float | None = Field(5.0, gt=0, description="max grad norm; null disables")


class AlphaOptimConfig(Section):
    """The architecture weights: Adam on the alpha half of the data."""

    lr: float = Field(3e-4, gt=0)
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = Field(1e-4, ge=0)
    init_std: float = Field(1e-3, ge=0, description="alphas start as init_std · N(0, 1)")


class CostConfig(Section):
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


class SearchConfig(Section):
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
    weights: WeightOptimConfig = WeightOptimConfig()
    alphas: AlphaOptimConfig = AlphaOptimConfig()
    cost: CostConfig = CostConfig()
    # -- outputs that do not change the result ------------------------------------------------
    tensorboard: bool = resumable(False, description="also write TensorBoard scalars")
    plots: bool = resumable(True, description="alpha evolution PNGs and cell renders at the end")


def config_hash(search: SearchConfig, runtime: RuntimeConfig,
                extra: dict[str, Any] | None = None) -> str:
    """A short hash of everything that decides a run's result (resumable fields left out)."""
    blob = json.dumps({"search": outcome(search), "runtime": outcome(runtime), **(extra or {})},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
