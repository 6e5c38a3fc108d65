"""The ONE op registry: each primitive of the paper's Table 1 is defined here, once.

Every other stage reads this table: validation (names, kinds, arguments), the compilers
(builders), search (candidate lists, costs), rendering (colours) and the docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Callable, Mapping

from torch import nn

from ..errors import GenoError, did_you_mean
from . import primitives as P


class OpKind(str, Enum):
    """What an op does to the spatial size: the edge roles of a cell use the same names."""

    NORMAL = "normal"  # same size
    DOWN = "down"      # H/2, W/2
    UP = "up"          # 2H, 2W
    ANY = "any"        # fits any edge (only `none`)

    @property
    def scale(self) -> float:
        return {OpKind.NORMAL: 1.0, OpKind.DOWN: 0.5, OpKind.UP: 2.0, OpKind.ANY: 1.0}[self]


ArgValue = int | float | bool


@dataclass(frozen=True)
class Param:
    """One argument an op accepts, with its type, default and admissible values."""

    name: str
    default: int
    doc: str
    minimum: int = 1
    odd: bool = False

    def check(self, value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"'{self.name}' takes a whole number, got {value!r}"
        if value < self.minimum:
            return f"'{self.name}' must be ≥ {self.minimum}, got {value}"
        if self.odd and value % 2 == 0:
            return f"'{self.name}' must be odd (so the op keeps the documented size), got {value}"
        return None


Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class OpSpec:
    name: str
    kind: OpKind
    has_weights: bool
    doc: str
    builder: Builder = field(repr=False)
    params: tuple[Param, ...] = ()
    search_only: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def resolve(self, args: Mapping[str, ArgValue] | None = None) -> dict[str, ArgValue]:
        """Defaults filled in; call :func:`check_args` first for user input."""
        out: dict[str, ArgValue] = {p.name: p.default for p in self.params}
        out.update(args or {})
        return out

    def build(self, channels: int, role: OpKind, args: Mapping[str, ArgValue] | None = None
              ) -> nn.Module:
        """An op module for an edge of ``role`` (role matters only for kind-ANY ops)."""
        return self.builder(channels, role, **self.resolve(args))

    @property
    def color(self) -> str:
        return KIND_COLORS[self.kind]


KIND_COLORS = {OpKind.DOWN: "#4C72B0", OpKind.UP: "#DD8452", OpKind.NORMAL: "#55A868",
               OpKind.ANY: "#8C8C8C"}

K = Param("k", 3, "kernel size (odd)", odd=True)
DIL = Param("dilation", 2, "dilation of the kernel")
RED = Param("reduction", 16, "squeeze-and-excitation reduction: bottleneck = max(1, C // r)")

REGISTRY: dict[str, OpSpec] = {}
ALIASES: dict[str, str] = {"shuffle_conv": "conv"}  # the reference's duplicate of `conv`


def register(spec: OpSpec) -> OpSpec:
    if spec.name in REGISTRY or spec.name in ALIASES:
        raise ValueError(f"op {spec.name!r} registered twice")
    REGISTRY[spec.name] = spec
    return spec


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


# ---- the table -----------------------------------------------------------------------------
register(OpSpec("none", OpKind.ANY, False, "zeros of the edge's output shape (search only)",
                lambda c, role: P.Zero(role.scale), search_only=True))
register(OpSpec("identity", OpKind.NORMAL, False, "returns its input",
                lambda c, role: P.Identity()))
register(OpSpec("cweight", OpKind.NORMAL, True,
                "squeeze-and-excitation channel weighting (no conv, no norm)",
                lambda c, role, reduction: P.SqueezeExcite(c, reduction), (RED,)))
register(OpSpec("conv", OpKind.NORMAL, True, "k×k conv → GN → ReLU", _conv(), (K,)))
register(OpSpec("dil_conv", OpKind.NORMAL, True, "k×k dilated conv → GN → ReLU",
                _conv(dilated=True), (K, DIL)))
register(OpSpec("dep_conv", OpKind.NORMAL, True,
                "depthwise k×k → pointwise 1×1 → GN → ReLU", _conv(depthwise=True), (K,)))

register(OpSpec("avg_pool", OpKind.DOWN, False, "2×2 average pool, stride 2",
                lambda c, role: nn.AvgPool2d(2, 2, count_include_pad=False)))
register(OpSpec("max_pool", OpKind.DOWN, False, "2×2 max pool, stride 2",
                lambda c, role: nn.MaxPool2d(2, 2)))
register(OpSpec("down_cweight", OpKind.DOWN, True,
                "SE weighting → stride-2 k×k conv → GN (no ReLU)", _se_conv(False), (RED, K)))
register(OpSpec("down_conv", OpKind.DOWN, True, "stride-2 k×k conv → GN → ReLU",
                _conv(stride=2), (K,)))
register(OpSpec("down_dil_conv", OpKind.DOWN, True, "stride-2 dilated k×k conv → GN → ReLU",
                _conv(stride=2, dilated=True), (K, DIL)))
register(OpSpec("down_dep_conv", OpKind.DOWN, True,
                "stride-2 depthwise k×k → pointwise 1×1 → GN → ReLU",
                _conv(stride=2, depthwise=True), (K,)))

register(OpSpec("up_cweight", OpKind.UP, True,
                "SE weighting → stride-2 transposed k×k conv → GN (no ReLU)", _se_conv(True),
                (RED, K)))
register(OpSpec("up_conv", OpKind.UP, True, "stride-2 transposed k×k conv → GN → ReLU",
                _conv(transposed=True), (K,)))
register(OpSpec("up_dil_conv", OpKind.UP, True,
                "stride-2 transposed dilated k×k conv → GN → ReLU",
                _conv(transposed=True, dilated=True), (K, DIL)))
register(OpSpec("up_dep_conv", OpKind.UP, True,
                "stride-2 depthwise transposed k×k → pointwise 1×1 → GN → ReLU",
                _conv(transposed=True, depthwise=True), (K,)))


# ---- lookups -----------------------------------------------------------------------------
def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)


def get_op(name: str) -> OpSpec:
    """The op called ``name`` (aliases resolved); unknown names raise with suggestions."""
    spec = REGISTRY.get(canonical_name(name))
    if spec is None:
        raise GenoError(f"unknown op '{name}'", code="E010",
                        hint=did_you_mean(name, list(REGISTRY) + list(ALIASES)))
    return spec


def ops_of_kind(kind: OpKind) -> list[OpSpec]:
    return [s for s in REGISTRY.values() if s.kind is kind]


def check_args(spec: OpSpec, args: Mapping[str, object]) -> list[tuple[str, str, str | None]]:
    """Problems with ``args`` as (argument name, message, hint) triples."""
    problems = []
    for key, value in args.items():
        param = spec.param(key)
        if param is None:
            names = [p.name for p in spec.params]
            hint = did_you_mean(key, names) if names else f"'{spec.name}' takes no arguments"
            problems.append((key, f"op '{spec.name}' has no argument '{key}'", hint))
            continue
        msg = param.check(value)
        if msg:
            problems.append((key, msg, None))
    return problems


@lru_cache(maxsize=None)
def param_count(name: str, channels: int, args: tuple[tuple[str, ArgValue], ...] = ()) -> int:
    """Weights of one op at ``channels`` (built once and cached; used for cost-aware search)."""
    spec = get_op(name)
    role = OpKind.NORMAL if spec.kind is OpKind.ANY else spec.kind
    module = spec.build(channels, role, dict(args))
    return sum(p.numel() for p in module.parameters())
