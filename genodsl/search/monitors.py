"""Watching a search collapse as it happens: op shares, edge entropies, the Hessian eigenvalue.

DARTS' best-known failure is a cell of parameter-free ops (pools, identity): they win while
the weights are still untrained, and the dominant eigenvalue of the validation loss' Hessian
with respect to the alphas grows as the search degrades (RobustDARTS, Zela et al., ICLR 2020).
Per epoch the runner logs:

* ``param_free_share``: per derived cell, the share of its ops without weights (the op
  registry's ``has_weights``); 1.0 is a collapsed cell;
* ``entropy``: per alpha table, the mean over its rows (edges) of the normalised entropy
  ``H(softmax(α)) / log(candidates)`` (1 = uniform, still undecided; 0 = one-hot), and
  ``edge_entropy``: each row's value;
* ``hessian_eig`` (every ``search.hessian_every`` epochs): the dominant eigenvalue of
  ``∇²_α L_val`` by power iteration on Hessian-vector products (double backward), on a small
  fixed batch of the alpha half;

and :class:`EigenStop` applies RobustDARTS' early-stop rule (DARTS-ES) to the eigenvalues.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch

from ..lang.ir import CellType, Genotype
from ..ops.registry import get_op


def param_free_share(genotype: Genotype) -> dict[str, float]:
    """Per derived cell (``down``, ``up`` and ``normal`` when the genotype has one): the share
    of its edges whose op has no weights."""
    out: dict[str, float] = {}
    for ctype in CellType:
        if ctype not in genotype.cells:
            continue
        ops = [op for _, _, edge in genotype.cells[ctype].op_edges() for op in edge.ops]
        free = sum(not get_op(op.name).has_weights for op in ops)
        out[ctype.value] = free / len(ops) if ops else 0.0
    return out


def edge_entropy(probs: Mapping[str, torch.Tensor]) -> dict[str, list[float]]:
    """Per table, each row's entropy divided by log(candidates): 1 uniform, 0 one-hot."""
    out: dict[str, list[float]] = {}
    for name, p in probs.items():
        p = p.detach().double().cpu()
        n = p.shape[-1]
        h = -(p * p.clamp_min(1e-30).log()).sum(-1)
        out[name] = (h / math.log(n)).tolist() if n > 1 else [0.0] * p.shape[0]
    return out


def mean_entropy(per_edge: Mapping[str, Sequence[float]]) -> dict[str, float]:
    return {name: sum(v) / len(v) for name, v in per_edge.items() if v}


def alpha_shift(start: Mapping[str, torch.Tensor], now: Mapping[str, torch.Tensor]) -> float:
    """The largest total-variation distance ½Σ|p − p₀| between a row's start and now."""
    return max((0.5 * (now[k].double() - start[k].double()).abs().sum(-1)).max().item()
               for k in start)


def dominant_eigenvalue(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
                        iters: int = 20, tol: float = 1e-4,
                        generator: torch.Generator | None = None) -> float:
    """The eigenvalue of largest magnitude of ∇²_params loss_fn(), by power iteration.

    Each step is one Hessian-vector product (the gradient of ⟨∇loss, v⟩); the estimate is the
    Rayleigh quotient vᵀHv of the unit vector v.  It stops after ``iters`` steps or when the
    estimate changes by less than ``tol`` (relative).  The start vector is drawn from
    ``generator`` (the global RNG is never touched).
    """
    used = [p for p in params if p.requires_grad]
    loss = loss_fn()
    grads = torch.autograd.grad(loss, used, create_graph=True, allow_unused=True)
    pairs = [(p, g) for p, g in zip(used, grads) if g is not None and g.requires_grad]
    if not pairs:
        return 0.0
    ps, gs = [p for p, _ in pairs], [g for _, g in pairs]
    v = [torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p) for p in ps]
    v = _unit(v)
    estimate = 0.0
    for i in range(iters):
        hv = torch.autograd.grad(gs, ps, grad_outputs=v, retain_graph=i < iters - 1)
        new = float(sum((h * x).sum() for h, x in zip(hv, v)))
        norm = math.sqrt(sum(float((h * h).sum()) for h in hv))
        if norm == 0.0:
            return 0.0
        v = [h.detach() / norm for h in hv]
        done = i > 0 and abs(new - estimate) <= tol * abs(new)
        estimate = new
        if done:
            break
    return estimate


def _unit(v: list[torch.Tensor]) -> list[torch.Tensor]:
    norm = math.sqrt(sum(float((x * x).sum()) for x in v))
    return [x / norm for x in v]


class EigenStop:
    """RobustDARTS' early stop (DARTS-ES) on the eigenvalues measured so far.

    λ̄(i) is the mean of the eigenvalues measured in epochs (i − k, i].  At epoch i the search
    stops when λ̄(i − k) / λ̄(i) < ``threshold`` (the paper: k = 5, threshold 0.75, i.e. the
    eigenvalue grew by a third within k epochs), and the result is the architecture of epoch
    i − k, before the jump.
    """

    def __init__(self, k: int = 5, threshold: float = 0.75):
        self.k = k
        self.threshold = threshold

    def mean(self, values: Mapping[int, float], epoch: int) -> float | None:
        window = [v for e, v in values.items() if epoch - self.k < e <= epoch]
        return sum(window) / len(window) if window else None

    def check(self, values: Mapping[int, float], epoch: int) -> int | None:
        """The epoch to go back to when the search must stop at ``epoch``, else None."""
        now, before = self.mean(values, epoch), self.mean(values, epoch - self.k)
        if epoch - self.k < 1 or now is None or before is None or now <= 0:
            return None
        return epoch - self.k if before / now < self.threshold else None
