"""One cell of the IR → an ``nn.Module``; the edge modules come from a factory.

The discrete compiler passes a factory that builds one registry op per edge; the
supernet compiler passes one that builds a mixed op.  The cell module is the same.  A factory
gets the edge's per-axis stride (from the stage plan): its length is the network's dims.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn

from ..lang.ir import Cell, OpEdge, edge_key
from ..lang.plan import CellPlan
from torch.utils.checkpoint import checkpoint

from ..ops.primitives import Stride, conv, group_norm

# (source, node, edge, channels, per-axis stride of the edge) → the edge's module
EdgeFactory = Callable[[str, str, OpEdge, int, tuple[int, ...]], nn.Module]


class Preprocess(nn.Sequential):
    """ReLU → 1×1 conv (a down cell's s0: strided to s1's size) → GroupNorm."""

    def __init__(self, c_in: int, c_out: int, stride: Stride = 1, dims: int = 2):
        super().__init__(nn.ReLU(inplace=False), conv(c_in, c_out, 1, stride, dims),
                         group_norm(c_out))


class CellModule(nn.Module):
    """Inputs s0, s1 → intermediate nodes (each the sum of its edges) → channel concat.

    Its channels and s0's stride come from the cell's place in the backbone (``plan``).
    ``recompute`` (set by :func:`genodsl.compile.recompute.set_recompute`): while training
    with gradients the cell keeps only its inputs and runs its forward again in backward.
    """

    def __init__(self, cell: Cell, plan: CellPlan, make_edge: EdgeFactory):
        super().__init__()
        self.cell_type = cell.type
        channels = plan.C
        self.pre0 = Preprocess(plan.c_prev_prev, channels, plan.s0_strides, plan.dims)
        self.pre1 = Preprocess(plan.c_prev, channels, 1, plan.dims)
        self.input_names = tuple(cell.inputs)
        self.edges = nn.ModuleDict()
        steps: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        for node in cell.nodes:  # validated: declared order is a topological order
            keys = []
            for src, edge in cell.in_edges(node):
                key = edge_key(src, node)
                self.edges[key] = make_edge(src, node, edge, channels,
                                            plan.edge_stride(edge.role))
                keys.append((src, key))
            steps.append((node, tuple(keys)))
        self.steps = tuple(steps)
        self.outputs = tuple(cell.outputs)
        self.out_channels = channels * len(self.outputs)
        self.recompute = False

    def forward(self, s0: torch.Tensor, s1: torch.Tensor,
                weights: Mapping[str, object] | None = None) -> torch.Tensor:
        if self.recompute and self.training and torch.is_grad_enabled():
            return checkpoint(self._forward, s0, s1, weights, use_reentrant=False)
        return self._forward(s0, s1, weights)

    def _forward(self, s0: torch.Tensor, s1: torch.Tensor,
                 weights: Mapping[str, object] | None) -> torch.Tensor:
        states = {self.input_names[0]: self.pre0(s0), self.input_names[1]: self.pre1(s1)}
        for node, keys in self.steps:
            if weights is None:
                outs = [self.edges[key](states[src]) for src, key in keys]
            else:
                outs = [self.edges[key](states[src], weights[key]) for src, key in keys]
            states[node] = node_sum(outs)
        return torch.cat([states[n] for n in self.outputs], dim=1)  # [B, k·C, (D',) H', W']


def node_sum(outs: list[torch.Tensor]) -> torch.Tensor:
    """The sum of a node's edge outputs, without a stacked copy of them.

    The first add makes a new tensor, later ones add into it (an edge output itself, e.g. an
    identity edge's input, is never written to).
    """
    out = outs[0]
    for k, term in enumerate(outs[1:]):
        if k and out.dtype == term.dtype and out.shape == term.shape:
            out = out.add_(term)
        else:
            out = out + term
    return out
