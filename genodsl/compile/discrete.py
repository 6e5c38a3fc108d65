"""A genotype bound to the backbone → the discrete NAS-Unet ``nn.Module``."""

from __future__ import annotations

from torch import nn

from ..lang.ir import NetworkSettings, Genotype, OpEdge
from ..ops.builders import build_op
from .network import NasUnet


def discrete_edge(src: str, dst: str, edge: OpEdge, channels: int,
                  stride: tuple[int, ...]) -> nn.Module:
    op = edge.op
    return build_op(op.name, channels, edge.role, op.arg_dict, dims=len(stride), stride=stride)


def build_discrete(settings: NetworkSettings, genotype: Genotype) -> NasUnet:
    return NasUnet(settings, genotype, discrete_edge)
