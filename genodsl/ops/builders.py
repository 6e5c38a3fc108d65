"""The module of every registry op:
``build_op(name, channels, role, args, dims=2, stride=None) → nn.Module``.

One builder per name of :data:`genodsl.ops.registry.REGISTRY`, checked at import (a name
without a builder, or a builder without a name, is a programming error).  The same names
build 2D or 3D modules: the network chooses (``dims``), not the op's name.  ``stride`` is the
per-axis factor of a down or up edge (default 2 on every axis; a volume's in-plane stages
use (1, 2, 2)); ops that keep the size ignore it.  Only this module and :mod:`.primitives`
import torch; the registry itself stays metadata.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Mapping, Sequence

from torch import nn

from . import primitives as P
from .registry import REGISTRY, ArgValue, OpKind, get_op

Builder = Callable[..., nn.Module]  # (channels, role, dims, stride, **args) → module


def _conv(resize: bool = False, transposed: bool = False, depthwise: bool = False,
          dilated: bool = False) -> Builder:
    def build(c: int, role: OpKind, dims: int, stride: tuple[int, ...], k: int,
              dilation: int = 1) -> nn.Module:
        return P.ConvNorm(c, k=k, stride=stride if resize else 1,
                          dilation=dilation if dilated else 1, transposed=transposed,
                          depthwise=depthwise, dims=dims)
    return build


def _se_conv(transposed: bool) -> Builder:
    def build(c: int, role: OpKind, dims: int, stride: tuple[int, ...], reduction: int,
              k: int) -> nn.Module:
        return P.SqueezeExciteConv(c, reduction=reduction, k=k, transposed=transposed,
                                   stride=stride, dims=dims)
    return build


BUILDERS: dict[str, Builder] = {
    "none": lambda c, role, dims, stride: P.Zero(role.scale, stride),
    "identity": lambda c, role, dims, stride: P.Identity(),
    "cweight": lambda c, role, dims, stride, reduction: P.SqueezeExcite(c, reduction),
    "conv": _conv(),
    "dil_conv": _conv(dilated=True),
    "dep_conv": _conv(depthwise=True),
    "avg_pool": lambda c, role, dims, stride: P.pool("avg", stride, dims),
    "max_pool": lambda c, role, dims, stride: P.pool("max", stride, dims),
    "down_cweight": _se_conv(False),
    "down_conv": _conv(resize=True),
    "down_dil_conv": _conv(resize=True, dilated=True),
    "down_dep_conv": _conv(resize=True, depthwise=True),
    "up_cweight": _se_conv(True),
    "up_conv": _conv(resize=True, transposed=True),
    "up_dil_conv": _conv(resize=True, transposed=True, dilated=True),
    "up_dep_conv": _conv(resize=True, transposed=True, depthwise=True),
}

if set(BUILDERS) != set(REGISTRY):  # pragma: no cover (a programming error, caught by any test)
    raise RuntimeError(f"op builders and registry disagree: {sorted(set(BUILDERS) ^ set(REGISTRY))}")


def build_op(name: str, channels: int, role: OpKind,
             args: Mapping[str, ArgValue] | None = None, *, dims: int = 2,
             stride: Sequence[int] | None = None) -> nn.Module:
    """The ``dims``-D module of op ``name`` on an edge of ``role`` (role matters only for
    kind-ANY ops); ``stride``: per axis, what a down (up) edge divides (multiplies) by."""
    if dims not in P.CONV:
        raise ValueError(f"ops are 2D or 3D, not {dims}D")
    spec = get_op(name)
    strides = (2,) * dims if stride is None else P.per_axis(stride, dims)
    return BUILDERS[spec.name](channels, role, dims, strides, **spec.resolve(args))


@lru_cache(maxsize=None)
def param_count(name: str, channels: int, args: tuple[tuple[str, ArgValue], ...] = (),
                dims: int = 2) -> int:
    """Weights of one op at ``channels`` (built once and cached; used for cost-aware search)."""
    spec = get_op(name)
    role = OpKind.NORMAL if spec.kind is OpKind.ANY else spec.kind
    return sum(p.numel() for p in build_op(name, channels, role, dict(args),
                                           dims=dims).parameters())
