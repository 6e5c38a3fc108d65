"""The mixed op: one search edge over its candidates, run as a weighted sum or a sampled path.

``MixedOp.forward(x, w)`` accepts either

* a tensor ``w`` of shape ``[candidates]`` (DARTS): ``Σ_i w_i · op_i(x)``, accumulated into
  one output tensor (no stacked copy of every candidate's output); the ``none`` candidates are
  skipped, since ``w_none · 0`` adds nothing and has no gradient;
* a :class:`PathSample` (ProxylessNAS binary gates): only ``active`` runs with a graph; in an
  alpha step a second sampled path ``other`` runs without one, and the output is
  ``g_active · op_active(x) + g_other · op_other(x)`` with binary gates ``g`` = (1, 0) whose
  gradient flows straight through to the alphas of the two paths.

``recompute`` (set by :func:`genodsl.compile.recompute.set_recompute`): the candidates'
outputs are not kept for backward; backward runs them again, one at a time, from the saved
input (ProxylessNAS' memory trick), so a weighted step keeps one tensor per edge instead of
one per candidate.  Same values and gradients (the ops are deterministic), double backward
included.

``aux_skip`` (DARTS-, set by a search that asks for it; 0 otherwise) adds ``aux_skip · x`` to
the output of a normal edge in both modes: an auxiliary skip outside the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..lang.ir import OpCall
from ..ops.builders import build_op
from ..ops.registry import OpKind, get_op


@dataclass(frozen=True)
class PathSample:
    """The sampled path(s) of one alpha row for one step."""

    active: int                       # runs forward and backward
    other: int | None = None          # alpha step only: the second sampled path (no graph)
    gates: torch.Tensor | None = None  # [2]: value (1, 0), gradient to (active, other) alphas


def accumulate(out: torch.Tensor | None, w: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
    """``out + w · term`` (``w · term`` when ``out`` is None), in place where it may be.

    ``out`` must be a tensor this sum made itself (no one else reads it): autograd saves
    ``w`` and ``term`` for the product, never ``out``, so adding into it is safe.
    """
    if out is None:
        return term * w
    if out.dtype == term.dtype and out.shape == term.shape:
        return out.addcmul_(w, term)
    return torch.addcmul(out, w, term)  # mixed dtypes under autocast: promote as `+` would


class MixedOp(nn.Module):
    """All candidates of one edge; which of them run is decided per call by ``w``."""

    def __init__(self, candidates: tuple[OpCall, ...], role: OpKind, channels: int,
                 stride: tuple[int, ...] = (2, 2)):
        super().__init__()
        self.labels = tuple(op.label() for op in candidates)
        # stride: per axis (its length is the network's dims), as the stage plan gives it
        self.ops = nn.ModuleList(build_op(op.name, channels, role, op.arg_dict,
                                          dims=len(stride), stride=stride)
                                 for op in candidates)
        self.is_zero = tuple(get_op(op.name).name == "none" for op in candidates)
        self.live = tuple(i for i, zero in enumerate(self.is_zero) if not zero)
        self.role = role
        self.aux_skip = 0.0
        self.recompute = False

    def forward(self, x: torch.Tensor, w: torch.Tensor | PathSample | None = None
                ) -> torch.Tensor:
        out = self._mix(x, w)
        return out + self.aux_skip * x if self.aux_skip else out

    def _mix(self, x: torch.Tensor, w: torch.Tensor | PathSample | None) -> torch.Tensor:
        if isinstance(w, PathSample):
            return self._sampled(x, w)
        if w is None:
            raise TypeError("a mixed op needs mixing weights or a sampled path")
        if w.shape != (len(self.ops),):
            raise ValueError(f"expected {len(self.ops)} mixing weights, got {tuple(w.shape)}")
        if not self.live:  # only `none`: zeros of the output shape
            return w[0] * self.ops[0](x)
        if self._recomputing():
            picks = tuple(self.live)
            return _Recomputed.apply(x, w[list(picks)], self, picks, (True,) * len(picks),
                                     *self._params(picks))
        ws = w.unbind(0)
        return self.weighted(x, tuple(ws[i] for i in self.live), self.live)

    def weighted(self, x: torch.Tensor, ws: tuple[torch.Tensor, ...],
                 picks: tuple[int, ...]) -> torch.Tensor:
        """``Σ_k ws[k] · op_{picks[k]}(x)``: one weight per pick."""
        out = None
        for wk, i in zip(ws, picks):
            out = accumulate(out, wk, self.ops[i](x))
        assert out is not None
        return out

    def _sampled(self, x: torch.Tensor, s: PathSample) -> torch.Tensor:
        op = self.ops[s.active]
        if s.other is None or s.gates is None:
            if self._recomputing() and any(True for _ in op.parameters()):
                return checkpoint(op, x, use_reentrant=False)
            return op(x)
        if self._recomputing():
            picks = (s.active, s.other)
            return _Recomputed.apply(x, s.gates, self, picks, (True, False),
                                     *self._params((s.active,)))
        out = op(x)
        with torch.no_grad():
            other = self.ops[s.other](x)
        return s.gates[0] * out + s.gates[1] * other

    def _recomputing(self) -> bool:
        return self.recompute and torch.is_grad_enabled()

    def _params(self, picks: tuple[int, ...]) -> list[nn.Parameter]:
        return [p for i in picks for p in self.ops[i].parameters()]

    def extra_repr(self) -> str:
        return "candidates=[" + ", ".join(self.labels) + "]"


class _Recomputed(torch.autograd.Function):
    """``Σ_k w[k] · op_{picks[k]}(x)`` keeping only ``x`` and ``w`` for backward.

    Backward runs each candidate again from ``x`` (under the forward's autocast state) and
    back-propagates through it alone, so at most one candidate's activations exist at a time.
    A pick with ``graphs[k]`` False contributes to ``w``'s gradient only (ProxylessNAS' other
    path).  ``params`` are the parameters of the picks with a graph, in pick order; they are
    inputs so that ``torch.autograd.grad`` sees their gradients like any other.  Under
    ``create_graph`` the recomputation is itself recorded, so double backward works too.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, mixed: MixedOp,
                picks: tuple[int, ...], graphs: tuple[bool, ...],
                *params: nn.Parameter) -> torch.Tensor:
        ctx.mixed, ctx.picks, ctx.graphs = mixed, picks, graphs
        device = x.device.type
        ctx.autocast = (device, torch.get_autocast_dtype(device),
                        torch.is_autocast_enabled(device))
        ctx.save_for_backward(x, w)
        return mixed.weighted(x, w.unbind(0), picks)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w = ctx.saved_tensors
        mixed: MixedOp = ctx.mixed
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_p = ctx.needs_input_grad[5:]
        create = torch.is_grad_enabled()  # double backward: record the recomputation
        device, dtype, enabled = ctx.autocast
        gx: torch.Tensor | None = None
        gw: list[torch.Tensor] = []
        gp: list[torch.Tensor | None] = []
        ws = w.unbind(0)
        for k, (i, graph) in enumerate(zip(ctx.picks, ctx.graphs)):
            op = mixed.ops[i]
            params = list(op.parameters()) if graph else []
            wanted = [p for p, need in zip(params, need_p[len(gp):]) if need]
            run_graph = graph and (need_x or bool(wanted))
            with torch.enable_grad() if run_graph else torch.no_grad(), \
                    torch.autocast(device, dtype=dtype, enabled=enabled):
                if create:
                    xi = x
                elif run_graph and need_x:
                    xi = x.detach().requires_grad_()
                else:
                    xi = x.detach()
                out = op(xi)
            if need_w:
                gw.append((grad * out).sum().to(w.dtype))
            found: dict[int, torch.Tensor | None] = {}
            if run_graph and out.requires_grad:  # `none` has no graph
                inputs = ([xi] if need_x else []) + wanted
                grads = torch.autograd.grad(out, inputs, grad * ws[k], allow_unused=True,
                                            create_graph=create)
                if need_x:
                    g, grads = grads[0], grads[1:]
                    if g is not None:
                        gx = g if gx is None else gx + g
                found = {id(p): g for p, g in zip(wanted, grads)}
            gp += [found.get(id(p)) for p in params]
        return (gx, torch.stack(gw) if need_w else None, None, None, None, *gp)
