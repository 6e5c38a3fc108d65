"""A genotype bound to the backbone → the discrete NAS-Unet ``nn.Module``."""

from __future__ import annotations

from torch import nn

from ..ir import Backbone, CellType, Genotype, OpEdge
from ..ops.registry import get_op
from .backbone import NasUnet


def discrete_edge(src: str, dst: str, edge: OpEdge, channels: int) -> nn.Module:
    op = edge.op
    return get_op(op.name).build(channels, edge.role, op.arg_dict)


def build_discrete(bb: Backbone, genotype: Genotype) -> NasUnet:
    return NasUnet(bb, genotype.cells[CellType.DOWN], genotype.cells[CellType.UP], discrete_edge,
                   default_stem_multiplier=4)
