"""The module of every registry op: ``build_op(name, channels, role, args) → nn.Module``.

One builder per name of :data:`genodsl.ops.registry.REGISTRY`, checked at import (a name
without a builder, or a builder without a name, is a programming error).  Only this module
and :mod:`.primitives` import torch; the registry itself stays metadata.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Mapping

from torch import nn

from . import primitives as P
from .registry import REGISTRY, ArgValue, OpKind, get_op

Builder = Callable[..., nn.Module]


def _conv(stride: int = 1, transposed: bool = False, depthwise: bool = False,
          dilated: bool = False) -> Builder:
    def build(c: int, role: OpKind, k: int, dilation: int = 1) -> nn.Module:
        return P.ConvNorm(c, k=k, stride=stride, dilation=dilation if dilated else 1,
                          transposed=transposed, depthwise=depthwise)
    return build


def _se_conv(transposed: bool) -> Builder:
    def build(c: int, role: OpKind, reduction: int, k: int) -> nn.Module:
        return P.SqueezeExciteConv(c, reduction=reduction, k=k, transposed=transposed)
    return build


BUILDERS: dict[str, Builder] = {
    "none": lambda c, role: P.Zero(role.scale),
    "identity": lambda c, role: P.Identity(),
    "cweight": lambda c, role, reduction: P.SqueezeExcite(c, reduction),
    "conv": _conv(),
    "dil_conv": _conv(dilated=True),
    "dep_conv": _conv(depthwise=True),
    "avg_pool": lambda c, role: nn.AvgPool2d(2, 2, count_include_pad=False),
    "max_pool": lambda c, role: nn.MaxPool2d(2, 2),
    "down_cweight": _se_conv(False),
    "down_conv": _conv(stride=2),
    "down_dil_conv": _conv(stride=2, dilated=True),
    "down_dep_conv": _conv(stride=2, depthwise=True),
    "up_cweight": _se_conv(True),
    "up_conv": _conv(transposed=True),
    "up_dil_conv": _conv(transposed=True, dilated=True),
    "up_dep_conv": _conv(transposed=True, depthwise=True),
}

if set(BUILDERS) != set(REGISTRY):  # pragma: no cover (a programming error, caught by any test)
    raise RuntimeError(f"op builders and registry disagree: {sorted(set(BUILDERS) ^ set(REGISTRY))}")


def build_op(name: str, channels: int, role: OpKind,
             args: Mapping[str, ArgValue] | None = None) -> nn.Module:
    """The module of op ``name`` on an edge of ``role`` (role matters only for kind-ANY ops)."""
    spec = get_op(name)
    return BUILDERS[spec.name](channels, role, **spec.resolve(args))


@lru_cache(maxsize=None)
def param_count(name: str, channels: int, args: tuple[tuple[str, ArgValue], ...] = ()) -> int:
    """Weights of one op at ``channels`` (built once and cached; used for cost-aware search)."""
    spec = get_op(name)
    role = OpKind.NORMAL if spec.kind is OpKind.ANY else spec.kind
    return sum(p.numel() for p in build_op(name, channels, role, dict(args)).parameters())
