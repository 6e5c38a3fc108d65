"""DARTS (Liu et al. 2019): every edge a softmax(α)-weighted sum of all its candidates.

* first order (``darts``): the alpha gradient is ∇_α L_val(w, α) at the current weights;
* second order (``darts2``): the gradient at the one-step unrolled weights
  ``w' = w − ξ ∇_w L_train(w, α)`` (ξ = the current weight lr; the step includes SGD's
  momentum and weight decay, as in the DARTS code), corrected by the finite-difference
  Hessian-vector product::

      ∇_α L_val(w', α) − ξ · (∇_α L_train(w⁺, α) − ∇_α L_train(w⁻, α)) / (2ε),
      w± = w ± ε ∇_w' L_val(w', α),  ε = 0.01 / ‖∇_w' L_val(w', α)‖

  The weights are moved in place for these evaluations and restored exactly afterwards
  (GroupNorm keeps no running statistics, so nothing else changes).

Distributed: the three gradients darts2 combines are each averaged over the ranks (the
unrolled step and the Hessian terms over the weight half's slices, ∇L_val over the alpha
half's), so ``w'``, ``ε`` and the result are those of one process on the whole batch.
darts2 does not take ``runtime.amp: fp16`` (its finite differences need a wider range).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch

from ..runtime.distributed import weighted_mean_
from ..errors import ConfigError
from .strategy import BaseStrategy, Batch, StepResult


class Darts(BaseStrategy):
    """First-order DARTS."""

    name = "darts"

    def forward(self, image: torch.Tensor, detach_alphas: bool) -> torch.Tensor:
        down, up = self.net.alphas.edge_weights(detach=detach_alphas)
        return self.run(image, down, up)

    def weight_step(self, batch: Batch) -> StepResult:
        logits = self.forward(batch.image, detach_alphas=True)
        loss = self.step_weights(self.loss(logits, batch.mask), len(batch))
        return StepResult(loss, logits.detach())

    def alpha_grads(self, val: Batch, train: Batch) -> tuple[list[torch.Tensor | None],
                                                             torch.Tensor, torch.Tensor]:
        """(alpha gradients, data loss), both averaged over the ranks, and the logits."""
        logits = self.run_for_alphas(val.image, *self.net.alphas.edge_weights())
        loss = self.loss(logits, val.mask)
        grads = self.alpha_grad(loss)
        (mean,) = weighted_mean_(grads, len(val), [loss.detach()])
        return list(grads), loss.new_tensor(mean), logits.detach()

    def alpha_step(self, val: Batch, train: Batch) -> StepResult:
        self.a_opt.zero_grad(set_to_none=True)
        grads, loss, logits = self.alpha_grads(val, train)
        self.check_finite(loss, "alpha")
        penalty, expected = self.penalty()
        total, reg = self.alpha_extra(penalty)
        if total is not None and total.requires_grad:
            extra = torch.autograd.grad(self.a_scaler.scale(total), self.alphas,
                                        allow_unused=True)
            grads = [g if e is None else (e if g is None else g + e)
                     for g, e in zip(grads, extra)]
        self.step_alphas(grads)
        return StepResult(float(loss), logits,
                          None if penalty is None else float(penalty.detach()), expected, reg)


class Darts2(Darts):
    """Second-order DARTS (one-step unrolled weights, finite-difference Hessian)."""

    name = "darts2"
    fd_scale = 0.01  # ε = fd_scale / ‖∇_w' L_val‖, as in DARTS

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.amp is torch.float16:
            raise ConfigError("darts2 does not run under fp16 autocast",
                              hint="use runtime.amp: bf16, or strategy darts / proxyless")

    @contextmanager
    def moved_weights(self, deltas: list[torch.Tensor], scale: float) -> Iterator[None]:
        """Temporarily set w ← w + scale · delta (restored bit-exactly afterwards)."""
        backup = [p.detach().clone() for p in self.weights]
        with torch.no_grad():
            for p, d in zip(self.weights, deltas):
                p.add_(d, alpha=scale)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, b in zip(self.weights, backup):
                    p.copy_(b)

    def unrolled_step(self, train: Batch) -> list[torch.Tensor]:
        """−(the SGD update) the weight optimizer would make on ``train`` (lr included)."""
        logits = self.forward(train.image, detach_alphas=True)
        loss = self.loss(logits, train.mask)
        grads = torch.autograd.grad(loss, self.weights, allow_unused=True)
        weighted_mean_(grads, len(train))
        w = self.cfg.weights
        out = []
        for p, g in zip(self.weights, grads):
            if g is None:  # SGD leaves a weight without a gradient alone
                out.append(torch.zeros_like(p))
                continue
            d = g.detach().clone()
            d.add_(p.detach(), alpha=w.weight_decay)
            buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                d.add_(buf, alpha=w.momentum)
            out.append(-self.lr * d)
        return out

    def train_alpha_grad(self, train: Batch) -> list[torch.Tensor]:
        logits = self.forward(train.image, detach_alphas=False)
        grads = torch.autograd.grad(self.loss(logits, train.mask), self.alphas,
                                    allow_unused=True)
        return [torch.zeros_like(a) if g is None else g for a, g in zip(self.alphas, grads)]

    def alpha_grads(self, val: Batch, train: Batch) -> tuple[list[torch.Tensor | None],
                                                             torch.Tensor, torch.Tensor]:
        step = self.unrolled_step(train)
        with self.moved_weights(step, 1.0):  # w' = w − ξ(…)
            logits = self.forward(val.image, detach_alphas=False)
            loss = self.loss(logits, val.mask)
            grads = torch.autograd.grad(loss, self.alphas + self.weights, allow_unused=True)
        n = len(self.alphas)
        d_alpha = [torch.zeros_like(a) if g is None else g for a, g in zip(self.alphas, grads)]
        d_w = [torch.zeros_like(p) if g is None else g for p, g in zip(self.weights, grads[n:])]
        (mean,) = weighted_mean_(d_alpha + d_w, len(val), [loss.detach()])
        loss = loss.new_tensor(mean)
        norm = torch.sqrt(sum((g * g).sum() for g in d_w))
        eps = self.fd_scale / float(norm) if float(norm) > 0 else 0.0
        if eps == 0.0:
            return list(d_alpha), loss.detach(), logits.detach()
        with self.moved_weights(d_w, eps):
            g_plus = self.train_alpha_grad(train)
        with self.moved_weights(d_w, -eps):
            g_minus = self.train_alpha_grad(train)
        hessian = [(gp - gm) / (2 * eps) for gp, gm in zip(g_plus, g_minus)]
        weighted_mean_(hessian, len(train))
        out = [da - self.lr * h for da, h in zip(d_alpha, hessian)]
        return list(out), loss.detach(), logits.detach()
