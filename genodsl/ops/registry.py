"""The ONE op registry: each primitive of the paper's Table 1 is declared here, once.

Every other stage reads this table: validation (names, kinds, arguments), the compilers,
search (candidate lists, costs), rendering (colours) and the docs.  The table is metadata
only and imports no torch, so the language tools stay fast; the module that builds each
op lives in :mod:`genodsl.ops.builders`, keyed by these names and checked against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping

from ..errors import GenoError, did_you_mean


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


@dataclass(frozen=True)
class OpSpec:
    name: str
    kind: OpKind
    has_weights: bool
    doc: str
    params: tuple[Param, ...] = ()
    search_only: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def resolve(self, args: Mapping[str, ArgValue] | None = None) -> dict[str, ArgValue]:
        """Defaults filled in; call :func:`check_args` first for user input."""
        out: dict[str, ArgValue] = {p.name: p.default for p in self.params}
        out.update(args or {})
        return out

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


# ---- the table -----------------------------------------------------------------------------
register(OpSpec("none", OpKind.ANY, False, "zeros of the edge's output shape (search only)",
                search_only=True))
register(OpSpec("identity", OpKind.NORMAL, False, "returns its input"))
register(OpSpec("cweight", OpKind.NORMAL, True,
                "squeeze-and-excitation channel weighting (no conv, no norm)", (RED,)))
register(OpSpec("conv", OpKind.NORMAL, True, "k×k conv → GN → ReLU", (K,)))
register(OpSpec("dil_conv", OpKind.NORMAL, True, "k×k dilated conv → GN → ReLU", (K, DIL)))
register(OpSpec("dep_conv", OpKind.NORMAL, True,
                "depthwise k×k → pointwise 1×1 → GN → ReLU", (K,)))

register(OpSpec("avg_pool", OpKind.DOWN, False, "2×2 average pool, stride 2"))
register(OpSpec("max_pool", OpKind.DOWN, False, "2×2 max pool, stride 2"))
register(OpSpec("down_cweight", OpKind.DOWN, True,
                "SE weighting → stride-2 k×k conv → GN (no ReLU)", (RED, K)))
register(OpSpec("down_conv", OpKind.DOWN, True, "stride-2 k×k conv → GN → ReLU", (K,)))
register(OpSpec("down_dil_conv", OpKind.DOWN, True, "stride-2 dilated k×k conv → GN → ReLU",
                (K, DIL)))
register(OpSpec("down_dep_conv", OpKind.DOWN, True,
                "stride-2 depthwise k×k → pointwise 1×1 → GN → ReLU", (K,)))

register(OpSpec("up_cweight", OpKind.UP, True,
                "SE weighting → stride-2 transposed k×k conv → GN (no ReLU)",
                (RED, K)))
register(OpSpec("up_conv", OpKind.UP, True, "stride-2 transposed k×k conv → GN → ReLU", (K,)))
register(OpSpec("up_dil_conv", OpKind.UP, True,
                "stride-2 transposed dilated k×k conv → GN → ReLU", (K, DIL)))
register(OpSpec("up_dep_conv", OpKind.UP, True,
                "stride-2 depthwise transposed k×k → pointwise 1×1 → GN → ReLU", (K,)))


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
