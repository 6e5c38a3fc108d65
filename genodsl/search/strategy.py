"""The strategy protocol and what every strategy shares: optimizers, loss, cost penalty.

A strategy owns two optimizers over two disjoint parameter groups:

* weights (:meth:`Supernet.weight_parameters`): SGD, stepped only in :meth:`weight_step`,
  on a batch of the weight half; the alphas are detached there, so they never move;
* alphas (:meth:`Supernet.alpha_parameters`): Adam, stepped only in :meth:`alpha_step`, on a
  batch of the alpha half; its gradients come from ``torch.autograd.grad`` with respect to
  the alphas alone, so an alpha step never leaves gradients on the weights.

The runner calls ``alpha_step`` then ``weight_step`` on each pair of batches (the reference's
order), and ``alpha_step`` only once the warm-up is over.

In a distributed run each rank holds a slice of the step's batch; every gradient a step uses
(weights, alphas, darts2's unrolled step and Hessian terms) and its loss are averaged over the
ranks, weighted by slice size, before anything moves (:func:`genodsl.runtime.distributed.weighted_mean_`),
so every rank takes the same step as one process on the whole batch and the ranks stay
identical. The forward pass runs under the run's autocast (``runtime.amp``); with fp16 both
optimizers step through a ``GradScaler``.

``search.recompute`` turns on the mixed edges' recomputation; ``search.compile`` compiles the
supernet (:mod:`genodsl.runtime.compiling`): whole for DARTS (its graph is the same at every
step: the mixing weights are tensors), in parts between the mixed edges for ProxylessNAS
(:attr:`BaseStrategy.compile_parts`; a whole graph would be traced again for each sampled
path) and for any strategy with ``search.recompute`` (a recomputing edge reruns its
candidates one by one in backward, which a whole graph cannot trace). The steps call :attr:`BaseStrategy.forward_net`; :attr:`BaseStrategy.net` stays the
module that is saved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ..compile.mixed import MixedOp
from ..compile.supernet import EdgeWeights, Supernet
from ..config import RuntimeConfig
from ..runtime.compiling import Say, prepare
from ..runtime.device import amp_dtype, autocast
from ..runtime.distributed import weighted_mean_
from .config import SearchConfig
from .costs import CostModel, cost_penalty
from .remedies import Remedies


@dataclass(frozen=True)
class Batch:
    image: torch.Tensor  # [B, C, H, W] float
    mask: torch.Tensor   # [B, H, W] int64

    def __len__(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True)
class StepResult:
    loss: float                    # the data loss of the step's batch
    logits: torch.Tensor           # [B, K, H, W], detached (for metrics)
    penalty: float | None = None   # the cost penalty (alpha steps with a cost model)
    expected_cost: float | None = None
    regularizer: float | None = None  # the remedies' alpha loss term (β-DARTS), when on


class Strategy(Protocol):
    name: str

    def weight_step(self, batch: Batch) -> StepResult: ...

    def alpha_step(self, val: Batch, train: Batch) -> StepResult: ...

    def end_epoch(self) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class BaseStrategy:
    """Optimizers, lr schedule, loss and penalty; subclasses define the two steps."""

    name = "base"
    compile_parts = False  # True: compile between the mixed edges, not the whole supernet

    def __init__(self, net: Supernet, cfg: SearchConfig, loss_fn: nn.Module,
                 cost: CostModel | None = None, *, runtime: RuntimeConfig = RuntimeConfig(),
                 say: Say | None = None):
        """``say``: where the note on compiling goes (``search.compile``)."""
        self.net = net
        self.cfg = cfg
        self.runtime = runtime
        self.loss_fn = loss_fn
        self.cost = cost
        self.remedies = Remedies(cfg, net)
        w, a = cfg.weights, cfg.alphas
        self.weights = net.weight_parameters()
        self.alphas = net.alpha_parameters()
        self.w_opt = torch.optim.SGD(self.weights, lr=w.lr, momentum=w.momentum,
                                     weight_decay=w.weight_decay)
        self.a_opt = torch.optim.Adam(self.alphas, lr=a.lr, betas=a.betas,
                                      weight_decay=a.weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, T_max=cfg.epochs,
                                                                eta_min=w.lr_min)
        self.device = next(net.parameters()).device
        self.amp = amp_dtype(runtime.amp, self.device)
        fp16 = self.amp is torch.float16
        self.w_scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.a_scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
        # recomputing mixed edges run their candidates one by one in backward: compile those
        parts = self.compile_parts or cfg.recompute
        self.forward_net = prepare(net, compile=cfg.compile, recompute=cfg.recompute,
                                   parts_between=MixedOp if parts else None, say=say)

    @property
    def lr(self) -> float:
        return float(self.w_opt.param_groups[0]["lr"])

    def loss(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(logits, mask)

    def run(self, image: torch.Tensor, down: EdgeWeights, up: EdgeWeights) -> torch.Tensor:
        """The supernet's logits ``[B, K, H, W]`` under the run's autocast, in float32."""
        with autocast(self.device, self.amp):
            return self.forward_net(image, down, up).float()

    def run_for_alphas(self, image: torch.Tensor, down: EdgeWeights, up: EdgeWeights
                       ) -> torch.Tensor:
        """:meth:`run` with the weights frozen: the graph leads to the alphas (and the input)
        only, so its backward computes no weight gradient (eager autograd skips them anyway;
        a compiled graph computes every gradient its inputs need)."""
        flags = [p.requires_grad for p in self.weights]
        for p in self.weights:
            p.requires_grad_(False)
        try:
            return self.run(image, down, up)
        finally:
            for p, flag in zip(self.weights, flags):
                p.requires_grad_(flag)

    def penalty(self) -> tuple[torch.Tensor | None, float | None]:
        """(penalty on the alphas, expected cost), or (None, None) without a cost model."""
        if self.cost is None:
            return None, None
        return cost_penalty(self.cost, self.cfg.cost, self.net.alphas.probs())

    def alpha_extra(self, penalty: torch.Tensor | None
                    ) -> tuple[torch.Tensor | None, float | None]:
        """(cost penalty + the remedies' alpha loss, or None; that alpha loss as a float)."""
        reg = self.remedies.alpha_loss()
        if reg is None:
            return penalty, None
        return (reg if penalty is None else penalty + reg), float(reg.detach())

    def set_alpha_grads(self, grads: list[torch.Tensor | None]) -> None:
        for p, g in zip(self.alphas, grads):
            p.grad = torch.zeros_like(p) if g is None else g.detach()

    def step_alphas(self, grads: list[torch.Tensor | None]) -> None:
        """Adam step on (rank-averaged, loss-scaled under fp16) alpha gradients."""
        self.set_alpha_grads(grads)
        self.a_scaler.step(self.a_opt)
        self.a_scaler.update()

    def alpha_grad(self, loss: torch.Tensor) -> list[torch.Tensor]:
        """∂(scaled) loss / ∂ alphas, zeros where an alpha has no gradient."""
        grads = torch.autograd.grad(self.a_scaler.scale(loss), self.alphas, allow_unused=True)
        return [torch.zeros_like(a) if g is None else g for a, g in zip(self.alphas, grads)]

    def step_weights(self, loss: torch.Tensor, count: int) -> float:
        """Backward into the weights only, average over the ranks, clip, SGD step.

        ``count`` is the number of images ``loss`` is the mean over; returns the step's mean
        loss over all ranks (the same on every rank, so they all raise or none does).
        """
        self.w_opt.zero_grad(set_to_none=True)
        self.w_scaler.scale(loss).backward()
        (mean,) = weighted_mean_([p.grad for p in self.weights], count, [loss.detach()])
        self.check_finite(mean, "weight")
        if self.cfg.weights.grad_clip is not None:
            self.w_scaler.unscale_(self.w_opt)
            nn.utils.clip_grad_norm_(self.weights, self.cfg.weights.grad_clip)
        self.w_scaler.step(self.w_opt)
        self.w_scaler.update()
        return mean

    def check_finite(self, loss: torch.Tensor | float, what: str) -> None:
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        if not math.isfinite(value):
            raise FloatingPointError(f"the {what} loss is not finite ({value}); "
                                     "lower the learning rates")

    def end_epoch(self) -> None:
        self.sched.step()

    def state_dict(self) -> dict[str, Any]:
        state = {"w_opt": self.w_opt.state_dict(), "a_opt": self.a_opt.state_dict(),
                 "sched": self.sched.state_dict()}
        if self.w_scaler.is_enabled():
            state.update(w_scaler=self.w_scaler.state_dict(),
                         a_scaler=self.a_scaler.state_dict())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.w_opt.load_state_dict(state["w_opt"])
        self.a_opt.load_state_dict(state["a_opt"])
        self.sched.load_state_dict(state["sched"])
        if self.w_scaler.is_enabled() and "w_scaler" in state:
            self.w_scaler.load_state_dict(state["w_scaler"])
            self.a_scaler.load_state_dict(state["a_scaler"])
