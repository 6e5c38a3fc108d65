"""A search space bound to the backbone → the supernet: mixed-op edges plus the alphas.

The supernet is compiled from the same IR and the same :class:`NasUnet` / :class:`CellModule`
as the discrete network; only the edge factory differs (a :class:`MixedOp` per edge).  The
alphas live in :attr:`Supernet.alphas` (an :class:`AlphaSet`), apart from the weights in
:attr:`Supernet.net`: :meth:`weight_parameters` and :meth:`alpha_parameters` are the two
parameter groups, each with its own optimizer in a search.

A space's ``cell normal`` (optional) is searched like the others, with its own alpha table;
the network places it where ``full_res_cells`` and ``cells_per_level`` say.

Stems are M·C wide by default (the reference's search supernet), M = nodes per cell: the
stage plan (:func:`genodsl.lang.plan.stage_plan`) says so.
"""

from __future__ import annotations

from typing import Iterator, Mapping

import torch
from torch import nn

from ..lang.ir import NetworkSettings, CellType, OpEdge, SearchSpace
from ..lang.plan import placed_cells
from .alphas import AlphaSet
from .mixed import MixedOp, PathSample
from .network import NasUnet

EdgeWeights = Mapping[str, "torch.Tensor | PathSample"]


def mixed_edge(src: str, dst: str, edge: OpEdge, channels: int,
               stride: tuple[int, ...]) -> nn.Module:
    return MixedOp(edge.ops, edge.role, channels, stride)


class Supernet(nn.Module):
    """``forward(x)`` mixes every edge by softmax(alphas); strategies pass their own weights."""

    def __init__(self, settings: NetworkSettings, space: SearchSpace,
                 share_normal_alphas: bool = True, alpha_init_std: float = 1e-3,
                 affine_norm: bool = True):
        super().__init__()
        self.settings = settings
        self.space = space = placed_cells(settings, space)  # a normal cell only if placed
        self.net = NasUnet(settings, space, mixed_edge)
        if not affine_norm:  # the cells' norms; the stems' and the head's stay affine
            for cells in (self.net.down_cells, self.net.up_cells,
                          getattr(self.net, "normal_cells", ())):
                for cell in cells:
                    drop_norm_affine(cell)
        self.alphas = AlphaSet(space, share_normal_alphas, alpha_init_std)

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

    def alpha_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas.parameters())

    def mixed_ops(self) -> Iterator[tuple[CellType, str, MixedOp]]:
        """Every mixed op of every cell, with its cell type and edge key."""
        for cells, ctype in ((self.net.down_cells, CellType.DOWN),
                             (self.net.up_cells, CellType.UP),
                             (getattr(self.net, "normal_cells", ()), CellType.NORMAL)):
            for cell in cells:
                for key, op in cell.edges.items():
                    yield ctype, key, op

    def forward(self, x: torch.Tensor, down: EdgeWeights | None = None,
                up: EdgeWeights | None = None) -> torch.Tensor:
        if down is None or up is None:
            down, up = self.alphas.edge_weights()
        return self.net(x, down, up)  # [B, classes, (D,) H, W]


def drop_norm_affine(module: nn.Module) -> None:
    """Every GroupNorm in ``module`` normalises only: no learned scale and shift (in place)."""
    for m in module.modules():
        if isinstance(m, nn.GroupNorm) and m.affine:
            m.affine = False
            m.register_parameter("weight", None)
            m.register_parameter("bias", None)


def build_supernet(settings: NetworkSettings, space: SearchSpace, *,
                   share_normal_alphas: bool = True, alpha_init_std: float = 1e-3,
                   affine_norm: bool = True) -> Supernet:
    """The supernet of ``space`` in the backbone ``settings`` (see :class:`Supernet`).

    ``affine_norm=False`` builds the cells' GroupNorms without scale and shift, as the reference
    and DARTS search (a candidate cannot rescale itself; only its alpha weighs it); the stems
    and the head keep theirs.  The derived network is built affine either way.
    """
    return Supernet(settings, space, share_normal_alphas, alpha_init_std, affine_norm)
