"""``SearchConfig``: the settings of an architecture search, with the paper's defaults.

One YAML section (``search:``) next to ``runtime:`` and ``data:``; every key can be
overridden from the command line (``--set search.epochs=50``).  A typo'd key is a
:class:`ConfigError`.  The seed, device, precision and workers are the shared ``runtime:``
section (:class:`genodsl.config.RuntimeConfig`).  Torch-free.

Defaults (NAS-Unet paper + reference search config, see ``shared/reference.md``):

* weights: SGD, momentum 0.95, weight decay 3e-4, cosine lr 0.025 → 0.01, grad clip 5;
* alphas: Adam lr 3e-4, weight decay 1e-4, betas (0.5, 0.999) as in DARTS;
* 300 epochs, stop when the derived genotype is unchanged for 40 epochs;
* warm-up: alphas stay frozen for the first ``min(10, epochs // 5)`` epochs (``warmup_epochs:
  null``): the reference's 10 for its 300-epoch search, a fifth of a short one, so the alphas
  always train for most of the epochs asked for (the paper says "from the start": set 0).  The
  supernet's weights are random at first, and alpha steps on random weights favour
  parameter-free ops (pools, identity), which is DARTS' best-known failure mode.
* collapse remedies (β-DARTS ``regularizer: beta``, DARTS- ``aux_skip``) and the eigenvalue
  monitor are off by default: with Adam on the alphas, β-DARTS' all-positive gradient
  dominates a short search's and the softmax barely moves (docs/search.md has the runs).
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


class Regularizer(str, Enum):
    NONE = "none"
    BETA = "beta"  # β-DARTS: λ(t) · mean over edges of logsumexp(α), λ rising linearly


class EigenStop(str, Enum):
    OFF = "off"
    STOP = "stop"  # RobustDARTS' DARTS-ES: stop, keep the alphas of k epochs before


class SearchConfig(Section):
    """Everything a search run needs besides the space, the network and the data."""

    strategy: Strategy = Strategy.DARTS
    epochs: int = Field(300, ge=1)
    steps_per_epoch: int | None = Field(
        None, ge=1, description="weight steps per epoch; null: one pass over the weight half")
    batch_size: int = Field(4, ge=1)
    warmup_epochs: int | None = Field(
        None, ge=0, description="epochs before the first alpha step; null: min(10, epochs // 5)")
    patience: int | None = Field(
        40, ge=1, description="stop when the genotype is unchanged this many epochs")
    share_normal_alphas: bool = Field(True, description="down and up cells share normal alphas")
    affine_norm: bool = Field(
        True, description="the supernet cells' GroupNorms learn a scale and shift; false: they "
                          "only normalise, as in the reference's and DARTS' search")
    loss: LossName = LossName.DICE
    weights: WeightOptimConfig = WeightOptimConfig()
    alphas: AlphaOptimConfig = AlphaOptimConfig()
    cost: CostConfig = CostConfig()
    # -- collapse remedies and monitors (docs/search.md) -----------------------------------------
    regularizer: Regularizer = Field(
        Regularizer.NONE, description="beta: β-DARTS regularisation; none: plain DARTS")
    beta_lambda: float = Field(
        50.0, ge=0, description="β-DARTS: λ rises linearly from 0 at the first epoch to this at "
                                "the 100th (the authors' ramp; it keeps rising on longer searches)")
    aux_skip: float = Field(
        0.0, ge=0, description="DARTS-: initial weight β0 of an auxiliary skip on every normal "
                               "edge, decaying linearly to 0 over the epochs; 0 disables")
    hessian_every: int = Field(
        0, ge=0, description="every N epochs, the dominant eigenvalue of the alpha Hessian of "
                             "the validation loss (power iteration); 0 disables")
    hessian_iters: int = Field(20, ge=1, description="power-iteration steps (at most)")
    eigen_stop: EigenStop = Field(
        EigenStop.OFF, description="stop: end when the eigenvalue jumps, keeping the alphas of "
                                   "eigen_k epochs before (needs hessian_every)")
    eigen_k: int = Field(5, ge=1, description="the epochs the eigenvalue jump is measured over")
    eigen_threshold: float = Field(
        0.75, gt=0, lt=1, description="stop when mean λ(i−k) / mean λ(i) falls below this")
    # -- outputs that do not change the result ------------------------------------------------
    compile: bool = resumable(
        False, description="torch.compile the supernet (the first steps compile; the compiled "
                           "graphs are cached for later runs)")
    recompute: bool = resumable(
        False, description="recompute each mixed edge's candidate outputs in backward instead "
                           "of keeping them (ProxylessNAS' memory trick; more time)")
    tensorboard: bool = resumable(False, description="also write TensorBoard scalars")
    plots: bool = resumable(True, description="alpha evolution PNGs and cell renders at the end")
    select_epochs: int = resumable(
        5, ge=1, description="genodsl search --seeds: training epochs of each derived genotype "
                             "(weight half) before the best by validation DSC (alpha half) is kept")
    min_alpha_shift: float = resumable(
        0.02, ge=0, description="warn at the end when no edge's distribution moved by this "
                                "much (total variation) from its start")

    @model_validator(mode="after")
    def _eigen_stop_needs_monitor(self) -> "SearchConfig":
        if self.eigen_stop is not EigenStop.OFF and self.hessian_every == 0:
            raise ValueError("search.eigen_stop needs search.hessian_every > 0")
        return self

    @property
    def warmup(self) -> int:
        """The warm-up in epochs: ``warmup_epochs``, or ``min(10, epochs // 5)`` when null."""
        return min(10, self.epochs // 5) if self.warmup_epochs is None else self.warmup_epochs


def config_hash(search: SearchConfig, runtime: RuntimeConfig,
                extra: dict[str, Any] | None = None) -> str:
    """A short hash of everything that decides a run's result (resumable fields left out)."""
    blob = json.dumps({"search": outcome(search), "runtime": outcome(runtime), **(extra or {})},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
