"""The NAS-Unet backbone (paper Figure 2b), shared by the discrete net and the supernet.

stem0: 1×1 conv → GN (full size); stem1: 3×3 stride-2 conv → GN (half size); ``depth``
down cells, each on the two previous outputs; ``depth + 1`` up cells, each on the encoder
output at its own output size (the last takes stem0) and the previous cell; a bias-free
1×1 conv head.  Output size = input size.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from ..lang.ir import NetworkSettings, Cell
from ..ops.primitives import group_norm
from .cell import CellModule, EdgeFactory


def stem_multiplier(settings: NetworkSettings, default: int) -> int:
    return settings.stem_multiplier if settings.stem_multiplier is not None else default


class NasUnet(nn.Module):
    def __init__(self, settings: NetworkSettings, down: Cell, up: Cell, make_edge: EdgeFactory,
                 default_stem_multiplier: int = 4):
        super().__init__()
        self.depth = settings.depth
        c_stem = stem_multiplier(settings, default_stem_multiplier) * settings.C
        self.stem0 = nn.Sequential(nn.Conv2d(settings.in_channels, c_stem, 1, bias=False),
                                   group_norm(c_stem))
        self.stem1 = nn.Sequential(nn.Conv2d(settings.in_channels, c_stem, 3, stride=2, padding=1,
                                             bias=False), group_norm(c_stem))
        encoder_channels = [c_stem, c_stem]
        c_pp, c_p, c = c_stem, c_stem, settings.C
        self.down_cells = nn.ModuleList()
        for _ in range(settings.depth):
            if settings.double_down_channel:
                c *= 2
            cell = CellModule(down, c_pp, c_p, c, make_edge)
            self.down_cells.append(cell)
            c_pp, c_p = c_p, cell.out_channels
            encoder_channels.append(c_p)
        self.up_cells = nn.ModuleList()
        for i in range(settings.depth + 1):
            if settings.double_down_channel:
                c //= 2
            cell = CellModule(up, encoder_channels[settings.depth - i], c_p, c, make_edge)
            self.up_cells.append(cell)
            c_p = cell.out_channels
        self.head = nn.Conv2d(c_p, settings.classes, 1, bias=False)

    def forward(self, x: torch.Tensor, down_weights: Mapping[str, object] | None = None,
                up_weights: Mapping[str, object] | None = None) -> torch.Tensor:
        s0, s1 = self.stem0(x), self.stem1(x)  # [B, 4C, H, W], [B, 4C, H/2, W/2]
        encoder = [s0, s1]
        for cell in self.down_cells:
            s0, s1 = s1, cell(s0, s1, down_weights)  # halves the size
            encoder.append(s1)
        h = s1
        for i, cell in enumerate(self.up_cells):
            h = cell(encoder[self.depth - i], h, up_weights)  # doubles the size
        return self.head(h)  # [B, classes, H, W]
