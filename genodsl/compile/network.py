"""The NAS-Unet backbone (paper Figure 2b), shared by the discrete net and the supernet.

Every width, stride and skip comes from the stage plan (:func:`genodsl.lang.plan.stage_plan`):
two stems, ``depth`` down cells, each on the two previous outputs; ``depth + 1`` up cells,
each on the encoder output at its own output size (the last takes stem0) and the previous
cell; the normal cells the network asks for (``full_res_cells``, ``cells_per_level``); a
bias-free 1×1 conv head.  Output size = input size.  The plan's ``dims`` makes every conv 2D
(N×C×H×W) or 3D (N×C×D×H×W).

Modules: ``down_cells``, ``up_cells`` and, only when the plan has any, ``normal_cells`` (so a
network without normal cells has exactly the modules and state-dict keys it always had).
The normal cells' mixing weights travel in the down cells' map under ``normal.SRC__DST``
keys (:data:`genodsl.compile.alphas.NORMAL_KEY`), so a strategy passes two maps as before.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from ..lang.ir import CellType, Genotype, NetworkSettings, SearchSpace
from ..lang.plan import StemPlan, stage_plan
from ..ops.primitives import conv, group_norm
from .alphas import normal_weights
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
        groups = {CellType.DOWN: self.down_cells, CellType.UP: self.up_cells}
        if self.plan.normal_cells:
            self.normal_cells = groups[CellType.NORMAL] = nn.ModuleList()
        order: list[tuple[CellType, int]] = []
        for cell in self.plan.cells:
            order.append((cell.type, len(groups[cell.type])))
            groups[cell.type].append(CellModule(cells.cells[cell.type], cell, make_edge))
        self._order = tuple(order)  # the cells in the order they run: (type, index in group)
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
        groups = {CellType.DOWN: self.down_cells, CellType.UP: self.up_cells,
                  CellType.NORMAL: getattr(self, "normal_cells", None)}
        weights_of = {CellType.DOWN: down_weights, CellType.UP: up_weights,
                      CellType.NORMAL: normal_weights(down_weights)}
        for (ctype, k), (i0, i1), frees in zip(self._order, self._reads, self._frees):
            # a down cell halves, an up cell doubles, a normal cell keeps the size
            out = groups[ctype][k](states[i0], states[i1], weights_of[ctype])
            for i in frees:
                states[i] = None
            states.append(out)
        return self.head(states[-1])  # [B, classes, (D,) H, W]
