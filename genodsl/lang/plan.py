"""The NAS-Unet backbone's stage plan: every channel count, resolution and skip, torch-free.

The one place that knows the U shape (paper Figure 2b).  Compile builds its modules from
the plan, the cost model sizes its ops with it, render draws it and validate checks input
sizes against it (d = depth)::

    stage   what                         channels               output size
    stem0   1×1 conv → GN                in_channels → M·C      input
    stem1   3×3 conv, stride 2 → GN      in_channels → M·C      input / 2
    down j  s0 = two stages back,        C_j per node           input / 2^(j+1)
    (1…d)   s1 = the previous stage
    up i    s0 = the encoder stage at    C_i per node           input / 2^(d+1-i)
    (1…d+1) its output size (the skip;
            up d+1 takes stem0),
            s1 = the previous stage
    head    1×1 conv                     last up → classes      input

M (the stem multiplier) is ``stem_multiplier`` when the network sets it, else 4 for a genotype
and the number of nodes of the down cell for a search space (the reference's supernet).
Every cell's nodes have C channels (doubled at each down cell and halved at each up cell with
``double_down_channel``); a cell outputs C × (number of concatenated nodes).

Sizes are per axis: (H, W) for ``dims = 2``, (D, H, W) for ``dims = 3``.  Each of the
``depth + 1`` halvings (stem1, down1 … down d) has a per-axis factor (:func:`halvings`): 2 on
every axis, except that with ``inplane_stages = N`` the first N halvings of a volume keep D
(factor 1) and halve H and W only; up cell *i* undoes halving ``d + 1 − i``.  ``scale``
(an int) is the in-plane (H, W) scale; ``scales`` is the per-axis one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..ops.registry import OpKind
from .ir import CellType, Genotype, NetworkSettings, SearchSpace

GENOTYPE_STEM_MULTIPLIER = 4  # a discrete network's stems are 4·C wide (the paper's)

# the op kind that changes a cell's resolution: edges of that kind read s1's size
_RESIZE_ROLE = {CellType.DOWN: OpKind.DOWN, CellType.UP: OpKind.UP}

Size = tuple[int, ...]  # (H, W) or (D, H, W)
Scales = tuple[int, ...]  # per axis: output size = input size / scales
AXES = {2: ("height", "width"), 3: ("depth (D)", "height", "width")}


@dataclass(frozen=True)
class StemPlan:
    """One stem: a ``kernel``×``kernel`` conv of the input (stride ``stride``) → GroupNorm."""

    name: str  # "stem0" | "stem1"
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    scale: int  # output size = input size / scale (in plane)
    size: Size | None  # output size per axis, when the plan has an input size
    scales: Scales = (1, 1)  # per axis
    strides: Scales = (1, 1)  # the conv's stride per axis

    @property
    def dims(self) -> int:
        return len(self.scales)


@dataclass(frozen=True)
class CellPlan:
    """One cell of the backbone, in the order the network runs them."""

    index: int  # 0 … 2·depth
    type: CellType
    number: int  # 1-based among the cells of its type: down1 …, up1 …
    C: int  # channels of each intermediate node
    c_prev_prev: int  # channels of the stage feeding s0
    c_prev: int  # channels of the stage feeding s1
    out_channels: int  # C × number of concatenated nodes
    scale: int  # output size = input size / scale (in plane)
    s0: str  # the stage feeding s0: two back (down cell) or the encoder skip (up cell)
    s1: str  # the stage feeding s1: the previous one
    size: Size | None  # output size per axis, when the plan has an input size
    scales: Scales = (1, 1)  # output size = input size / scales, per axis
    stride: Scales = (2, 2)  # per axis: what the cell's down (up) ops divide (multiply) by
    s0_strides: Scales = (1, 1)  # per axis: the preprocessing stride of s0

    @property
    def name(self) -> str:
        return f"{self.type.value}{self.number}"

    @property
    def dims(self) -> int:
        return len(self.scales)

    @property
    def s0_stride(self) -> int:
        """The in-plane stride that brings s0 to s1's size: a down cell's s0 is two stages
        back, at twice s1's size; an up cell's s0 (the skip) stays at the output size."""
        return self.s0_strides[-1]

    @property
    def s1_scale(self) -> int:
        """s1's size (after preprocessing, as every input of the cell): input size / this."""
        return self.s1_scales[-1]

    @property
    def s1_scales(self) -> Scales:
        """s1's size per axis (input size / this)."""
        if self.type is CellType.DOWN:
            return tuple(a // s for a, s in zip(self.scales, self.stride))
        return tuple(a * s for a, s in zip(self.scales, self.stride))

    def edge_stride(self, role: OpKind) -> Scales:
        """The per-axis stride of an op on an edge of ``role`` in this cell (1 on every axis
        for an edge that keeps the size); its length is the network's dims."""
        return self.stride if role is _RESIZE_ROLE[self.type] else (1,) * self.dims

    def edge_scale(self, role: OpKind) -> int:
        """The size an edge of ``role`` reads inside this cell, as input size / this.

        Edges of the resizing kind (down ops in a down cell, up ops in an up cell) read the
        inputs at s1's size; every other edge reads a map already at the output size (a down
        cell's nodes; an up cell's nodes and its skip).
        """
        return self.s1_scale if role is _RESIZE_ROLE[self.type] else self.scale

    def edge_scales(self, role: OpKind) -> Scales:
        """Per axis, as :meth:`edge_scale`."""
        return self.s1_scales if role is _RESIZE_ROLE[self.type] else self.scales

    def edge_input_size(self, role: OpKind) -> Size:
        """The size per axis an edge of ``role`` reads (the plan needs an input size)."""
        if self.size is None:
            raise ValueError("the plan has no input size: pass input_size to stage_plan")
        return tuple(n * own // read
                     for n, own, read in zip(self.size, self.scales, self.edge_scales(role)))


@dataclass(frozen=True)
class HeadPlan:
    """The bias-free 1×1 conv from the last up cell to the classes."""

    in_channels: int
    out_channels: int


@dataclass(frozen=True)
class NetworkPlan:
    settings: NetworkSettings
    stem_multiplier: int
    stems: tuple[StemPlan, StemPlan]
    cells: tuple[CellPlan, ...]
    head: HeadPlan
    input_size: Size | None = None

    @property
    def stem_channels(self) -> int:
        return self.stems[0].out_channels

    @property
    def down_cells(self) -> tuple[CellPlan, ...]:
        return tuple(c for c in self.cells if c.type is CellType.DOWN)

    @property
    def up_cells(self) -> tuple[CellPlan, ...]:
        return tuple(c for c in self.cells if c.type is CellType.UP)

    @property
    def divisor(self) -> int:
        return size_divisor(self.settings)

    @property
    def divisors(self) -> Scales:
        return size_divisors(self.settings)

    @property
    def dims(self) -> int:
        return self.settings.dims

    def stage(self, name: str) -> StemPlan | CellPlan:
        """The stem or cell called ``name`` ("stem0", "down2", "up1", ...)."""
        for s in (*self.stems, *self.cells):
            if s.name == name:
                return s
        raise KeyError(name)


def size_divisor(settings: NetworkSettings) -> int:
    """Input height and width must be multiples of this: the deepest map is input / it."""
    return 2 ** (settings.depth + 1)


def halvings(settings: NetworkSettings) -> tuple[Scales, ...]:
    """The per-axis factor of each of the ``depth + 1`` halvings (stem1, down1, …): 2, or 1
    on D for the first ``inplane_stages`` halvings of a volume."""
    dims, flat = settings.dims, settings.inplane_stages if settings.dims == 3 else 0
    return tuple(((1,) if i < flat else (2,)) + (2,) * (dims - 1)
                 for i in range(settings.depth + 1))


def _product(factors) -> Scales:
    out = None
    for f in factors:
        out = f if out is None else tuple(a * b for a, b in zip(out, f))
    return out


def size_divisors(settings: NetworkSettings) -> Scales:
    """Per axis, what the input size must be a multiple of (the deepest map is input / it)."""
    return _product(halvings(settings))

def stem_multiplier(settings: NetworkSettings, cells: Genotype | SearchSpace) -> int:
    if settings.stem_multiplier is not None:
        return settings.stem_multiplier
    if isinstance(cells, SearchSpace):  # the supernet's stems are M·C wide
        return len(cells.cells[CellType.DOWN].nodes)
    return GENOTYPE_STEM_MULTIPLIER


def _check_size(settings: NetworkSettings, size: Size) -> None:
    if len(size) != settings.dims:
        raise ConfigError(f"input size {'×'.join(map(str, size))} has {len(size)} axes but the "
                          f"network is {settings.dims}D",
                          hint=f"give {'D, H, W' if settings.dims == 3 else 'H, W'}")
    for axis, value, step in zip(AXES[settings.dims], size, size_divisors(settings)):
        if value >= 1 and value % step == 0:
            continue
        if settings.dims == 2:
            shown = str(size[0]) if size[0] == size[1] else f"{size[0]}×{size[1]}"
        else:
            shown = f"{'×'.join(map(str, size))} ({axis} {value})"
        near = max(step, value // step * step)
        raise ConfigError(f"input size {shown} does not fit depth {settings.depth}",
                          hint=f"use a multiple of {step}, e.g. {near}")


def stage_plan(settings: NetworkSettings, cells: Genotype | SearchSpace,
               input_size: Size | None = None) -> NetworkPlan:
    """The stages of ``settings``' backbone around ``cells``; with ``input_size`` = (H, W)
    or (D, H, W) also every stage's size (a :class:`ConfigError` if it does not fit)."""
    if input_size is not None:
        input_size = tuple(input_size)
        _check_size(settings, input_size)
    factors = halvings(settings)
    ones = (1,) * settings.dims
    # cumulative[j + 1] = per-axis scale after halving j (cumulative[0]: the input's)
    cumulative = [ones] + [_product(factors[:j + 1]) for j in range(len(factors))]

    def size(scales: Scales) -> Size | None:
        return None if input_size is None else tuple(n // s for n, s in zip(input_size, scales))

    multiplier = stem_multiplier(settings, cells)
    c_stem = multiplier * settings.C
    stems = (StemPlan("stem0", 1, 1, settings.in_channels, c_stem, 1, size(ones), ones, ones),
             StemPlan("stem1", 3, 2, settings.in_channels, c_stem, 2, size(cumulative[1]),
                      cumulative[1], factors[0]))
    concat = {t: len(cells.cells[t].outputs) for t in CellType}
    encoder: list[tuple[str, int]] = [(s.name, s.out_channels) for s in stems]  # (stage, channels)
    plan: list[CellPlan] = []
    (pp_name, c_pp), (p_name, c_p) = encoder
    c = settings.C
    for j in range(1, settings.depth + 1):
        if settings.double_down_channel:
            c *= 2
        scales = cumulative[j + 1]
        cell = CellPlan(len(plan), CellType.DOWN, j, c, c_pp, c_p, concat[CellType.DOWN] * c,
                        scales[-1], pp_name, p_name, size(scales), scales, factors[j],
                        factors[j - 1])
        plan.append(cell)
        encoder.append((cell.name, cell.out_channels))
        (pp_name, c_pp), (p_name, c_p) = encoder[-2:]
    for i in range(1, settings.depth + 2):
        if settings.double_down_channel:
            c //= 2
        skip_name, c_skip = encoder[settings.depth + 1 - i]  # the encoder stage at this size
        scales = cumulative[settings.depth + 1 - i]
        cell = CellPlan(len(plan), CellType.UP, i, c, c_skip, c_p, concat[CellType.UP] * c,
                        scales[-1], skip_name, p_name, size(scales), scales,
                        factors[settings.depth + 1 - i], ones)
        plan.append(cell)
        p_name, c_p = cell.name, cell.out_channels
    return NetworkPlan(settings, multiplier, stems, tuple(plan),
                       HeadPlan(c_p, settings.classes), input_size)


__all__ = ["AXES", "CellPlan", "HeadPlan", "NetworkPlan", "StemPlan", "GENOTYPE_STEM_MULTIPLIER",
           "halvings", "size_divisor", "size_divisors", "stage_plan", "stem_multiplier"]
