"""The NAS-Unet backbone (paper Figure 2b), shared by the discrete net and the supernet.

Every width, stride and skip comes from the stage plan (:func:`genodsl.lang.plan.stage_plan`):
two stems, ``depth`` down cells, each on the two previous outputs; ``depth + 1`` up cells,
each on the encoder output at its own output size (the last takes stem0) and the previous
cell; a bias-free 1×1 conv head.  Output size = input size.  The plan's ``dims`` makes every
conv 2D (N×C×H×W) or 3D (N×C×D×H×W).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from ..lang.ir import CellType, Genotype, NetworkSettings, SearchSpace
from ..lang.plan import StemPlan, stage_plan
from ..ops.primitives import conv, group_norm
from .cell import CellModule, EdgeFactory


def _stem(stem: StemPlan) -> nn.Sequential:
    return nn.Sequential(conv(stem.in_channels, stem.out_channels, stem.kernel, stem.strides,
                              stem.dims), group_norm(stem.out_channels))


class NasUnet(nn.Module):
    """The backbone around ``cells`` (a genotype, or a search space with mixed edges)."""

    def __init__(self, settings: NetworkSettings, cells: Genotype | SearchSpace,
                 make_edge: EdgeFactory):
        super().__init__()
        self.plan = stage_plan(settings, cells)
        self.size_divisor = self.plan.divisor  # input H and W must be multiples of it
        self.size_divisors = self.plan.divisors  # per axis ((D,) H, W)
        self.dims = self.plan.dims
        self.stem0, self.stem1 = (_stem(s) for s in self.plan.stems)
        self.down_cells = nn.ModuleList()
        self.up_cells = nn.ModuleList()
        for cell in self.plan.cells:
            module = CellModule(cells.cells[cell.type], cell, make_edge)
            (self.down_cells if cell.type is CellType.DOWN else self.up_cells).append(module)
        self.head = conv(self.plan.head.in_channels, self.plan.head.out_channels, 1, 1,
                         self.plan.dims)
        # stages by position (stem0, stem1, then the cells in order): what each cell reads,
        # and which stages are no longer needed once it ran (so forward frees them)
        order = {s.name: i for i, s in enumerate((*self.plan.stems, *self.plan.cells))}
        self._reads = tuple((order[c.s0], order[c.s1]) for c in self.plan.cells)
        last = {i: k for k, reads in enumerate(self._reads) for i in reads}
        self._frees = tuple(tuple(i for i, k2 in last.items() if k2 == k)
                            for k in range(len(self._reads)))

    def forward(self, x: torch.Tensor, down_weights: Mapping[str, object] | None = None,
                up_weights: Mapping[str, object] | None = None) -> torch.Tensor:
        # [B, M·C, (D,) H, W], [B, M·C, (D/2,) H/2, W/2]; then one entry per cell,
        # None once unused
        states: list[torch.Tensor | None] = [self.stem0(x), self.stem1(x)]
        cells = (*self.down_cells, *self.up_cells)
        for cell, (i0, i1), frees in zip(cells, self._reads, self._frees):
            weights = down_weights if cell.cell_type is CellType.DOWN else up_weights
            out = cell(states[i0], states[i1], weights)  # a down cell halves, an up cell doubles
            for i in frees:
                states[i] = None
            states.append(out)
        return self.head(states[-1])  # [B, classes, (D,) H, W]
