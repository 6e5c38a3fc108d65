"""The mixed op: one search edge over its candidates, run as a weighted sum or a sampled path.

``MixedOp.forward(x, w)`` accepts either

* a tensor ``w`` of shape ``[candidates]`` (DARTS): ``Σ_i w_i · op_i(x)``; the ``none``
  candidates are skipped, since ``w_none · 0`` adds nothing and has no gradient;
* a :class:`PathSample` (ProxylessNAS binary gates): only ``active`` runs with a graph; in an
  alpha step a second sampled path ``other`` runs without one, and the output is
  ``g_active · op_active(x) + g_other · op_other(x)`` with binary gates ``g`` = (1, 0) whose
  gradient flows straight through to the alphas of the two paths.

``aux_skip`` (DARTS-, set by a search that asks for it; 0 otherwise) adds ``aux_skip · x`` to
the output of a normal edge in both modes: an auxiliary skip outside the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..lang.ir import OpCall
from ..ops.builders import build_op
from ..ops.registry import OpKind, get_op


@dataclass(frozen=True)
class PathSample:
    """The sampled path(s) of one alpha row for one step."""

    active: int                       # runs forward and backward
    other: int | None = None          # alpha step only: the second sampled path (no graph)
    gates: torch.Tensor | None = None  # [2]: value (1, 0), gradient to (active, other) alphas


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
        self.role = role
        self.aux_skip = 0.0

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
        outs = [w[i] * op(x) for i, op in enumerate(self.ops) if not self.is_zero[i]]
        return torch.stack(outs).sum(0) if len(outs) > 1 else outs[0]

    def _sampled(self, x: torch.Tensor, s: PathSample) -> torch.Tensor:
        out = self.ops[s.active](x)
        if s.other is None or s.gates is None:
            return out
        with torch.no_grad():
            other = self.ops[s.other](x)
        return s.gates[0] * out + s.gates[1] * other

    def extra_repr(self) -> str:
        return "candidates=[" + ", ".join(self.labels) + "]"
