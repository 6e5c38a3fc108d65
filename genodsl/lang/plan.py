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
    normal  (only when the network asks  C of its level         its level's size
            for them, see below)
    head    1×1 conv                     last up → classes      input

M (the stem multiplier) is ``stem_multiplier`` when the network sets it, else 4 for a genotype
and the number of nodes of the down cell for a search space (the reference's supernet).
A cell outputs C_cell × (number of concatenated nodes).

Levels and widths: level 0 is the stems' (H and H/2), level j the output size of down cell j
(H/2^(j+1)); an up cell works at the level of its output.  Every cell's nodes have C channels,
unless the network sets ``widths`` (one per level), ``growth`` (C · growth^level) or
``double_down_channel`` (C · 2^j at level j, C/2 in the last up cell): :func:`resolution_widths`.

Normal cells (stride 1, the genotype's or space's ``cell normal``) extend the U: with
``full_res_cells = N`` N of them run at full size on stem0 before the first down cell (their
last output is the last up cell's skip); with ``cells_per_level = K`` (one number, or one per
down cell) each down cell j is followed by K_j − 1 of them at its size, and so is the up cell
at that size (not at the deepest level).  An encoder cell (down, or a normal cell before the
up cells) takes s0 = the stage two back, brought to s1's size by its stride-2 1×1
preprocessing, and s1 = the previous stage (the first full-size normal cell takes stem0 as
both); a decoder cell (up, or a normal cell after one) takes s0 = the skip, the last encoder
stage at its output size, and s1 = the previous stage.

Sizes are per axis: (H, W) for ``dims = 2``, (D, H, W) for ``dims = 3``.  Each of the
``depth + 1`` halvings (stem1, down1 … down d) has a per-axis factor (:func:`halvings`): 2 on
every axis, except that with ``inplane_stages = N`` the first N halvings of a volume keep D
(factor 1) and halve H and W only; up cell *i* undoes halving ``d + 1 − i``.  ``scale``
(an int) is the in-plane (H, W) scale; ``scales`` is the per-axis one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import ConfigError, GenoError
from ..ops.registry import OpKind
from .ir import CellPair, CellType, Genotype, NetworkSettings, SearchSpace

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
    decoder: bool = False  # an up cell, or a normal cell after one (s0 is the skip)

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
        if self.type is CellType.UP:
            return tuple(a * s for a, s in zip(self.scales, self.stride))
        return self.scales  # a normal cell keeps the size

    def edge_stride(self, role: OpKind) -> Scales:
        """The per-axis stride of an op on an edge of ``role`` in this cell (1 on every axis
        for an edge that keeps the size); its length is the network's dims."""
        return self.stride if role is _RESIZE_ROLE.get(self.type) else (1,) * self.dims

    def edge_scale(self, role: OpKind) -> int:
        """The size an edge of ``role`` reads inside this cell, as input size / this.

        Edges of the resizing kind (down ops in a down cell, up ops in an up cell) read the
        inputs at s1's size; every other edge reads a map already at the output size (a down
        cell's nodes; an up cell's nodes and its skip).
        """
        return self.s1_scale if role is _RESIZE_ROLE.get(self.type) else self.scale

    def edge_scales(self, role: OpKind) -> Scales:
        """Per axis, as :meth:`edge_scale`."""
        return self.s1_scales if role is _RESIZE_ROLE.get(self.type) else self.scales

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
    def normal_cells(self) -> tuple[CellPlan, ...]:
        return tuple(c for c in self.cells if c.type is CellType.NORMAL)

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


def resolution_widths(settings: NetworkSettings) -> tuple[int, ...]:
    """Node channels at each output size H/2^r, r = 0 … depth + 1 (r = 0, 1: level 0, the
    stems' sizes; r = j + 1: level j, down cell j's).  Lengths are checked by validate."""
    c, d = settings.C, settings.depth
    if settings.widths is not None:
        return (settings.widths[0], *settings.widths)
    if settings.growth is not None:
        return (c, *(c * settings.growth ** level for level in range(d + 1)))
    if settings.double_down_channel:  # halved again by the last up cell
        return (c // 2, *(c * 2 ** level for level in range(d + 1)))
    return (c,) * (d + 2)


def level_cells(settings: NetworkSettings) -> tuple[int, ...]:
    """Cells at level j = 1 … depth (the down cell and its normal cells), one per level."""
    k = settings.cells_per_level
    return tuple(k) if isinstance(k, tuple) else (k,) * settings.depth


def needs_normal_cell(settings: NetworkSettings) -> bool:
    """Whether the network places normal cells (so its cells must declare one)."""
    k = settings.cells_per_level  # (never builds a tuple of depth values: depth is unchecked)
    return settings.full_res_cells > 0 or (max(k, default=1) if isinstance(k, tuple) else k) > 1


def placed_cells(settings: NetworkSettings, cells: CellPair) -> CellPair:
    """``cells`` without a normal cell that the network does not place (a supernet would give
    it alphas that nothing trains, and derive it for nothing)."""
    if CellType.NORMAL not in cells.cells or needs_normal_cell(settings):
        return cells
    return replace(cells, cells={t: c for t, c in cells.cells.items() if t is not CellType.NORMAL})


def shape_problems(settings: NetworkSettings) -> list[tuple[str, str, str]]:
    """(entry, message, hint) for each U-shape entry that does not fit the others (E064)."""
    out = []
    d = settings.depth
    rules = [k for k in ("widths", "growth", "double_down_channel")
             if getattr(settings, k) not in (None, False)]
    if len(rules) > 1:
        out.append((rules[1], f"{' and '.join(rules)} each set the widths of the levels",
                    "keep one: widths = [...] (one per level), growth = N, or "
                    "double_down_channel = true"))
    if settings.widths is not None and len(settings.widths) != d + 1:
        n = len(settings.widths)
        example = ", ".join(str(settings.C * 2 ** j) for j in range(min(d, 5) + 1))
        example = f", e.g. widths = [{example}]" if d <= 5 else ""
        out.append(("widths", f"widths has {n} value{'s' if n != 1 else ''}, but a network of "
                    f"depth {d} has {d + 1} levels (level 0: the stems' sizes, then one per "
                    "down cell)", f"give {d + 1} values{example}"))
    if isinstance(settings.cells_per_level, tuple) and len(settings.cells_per_level) != d:
        n = len(settings.cells_per_level)
        out.append(("cells_per_level", f"cells_per_level has {n} value{'s' if n != 1 else ''}, "
                    f"but a network of depth {d} has {d} levels below the stems",
                    f"give one count per down cell ({d} values), or one number for all"))
    return out


def stage_plan(settings: NetworkSettings, cells: Genotype | SearchSpace,
               input_size: Size | None = None) -> NetworkPlan:
    """The stages of ``settings``' backbone around ``cells``; with ``input_size`` = (H, W)
    or (D, H, W) also every stage's size (a :class:`ConfigError` if it does not fit)."""
    if input_size is not None:
        input_size = tuple(input_size)
        _check_size(settings, input_size)
    problems = shape_problems(settings)
    if problems:  # validate reports these with their places; a Program made by hand may not
        raise GenoError(problems[0][1], code="E064", hint=problems[0][2])
    if needs_normal_cell(settings) and CellType.NORMAL not in cells.cells:
        raise GenoError(f"the network places normal cells, but '{cells.name}' has no normal "
                        "cell", code="E065", hint="add: cell normal { ... }")
    factors = halvings(settings)
    ones = (1,) * settings.dims
    # cumulative[r] = per-axis scale after r halvings (cumulative[0]: the input's)
    cumulative = [ones] + [_product(factors[:j + 1]) for j in range(len(factors))]

    def size(scales: Scales) -> Size | None:
        return None if input_size is None else tuple(n // s for n, s in zip(input_size, scales))

    multiplier = stem_multiplier(settings, cells)
    c_stem = multiplier * settings.C
    stems = (StemPlan("stem0", 1, 1, settings.in_channels, c_stem, 1, size(ones), ones, ones),
             StemPlan("stem1", 3, 2, settings.in_channels, c_stem, 2, size(cumulative[1]),
                      cumulative[1], factors[0]))
    concat = {t: len(c.outputs) for t, c in cells.cells.items()}
    widths = resolution_widths(settings)
    plan: list[CellPlan] = []
    numbers = {t: 0 for t in CellType}
    Stage = tuple[str, int, int]  # (name, channels, r: the halvings of its output size)

    def add(ctype: CellType, r: int, s0: Stage, s1: Stage, stride: Scales,
            decoder: bool = False) -> Stage:
        numbers[ctype] += 1
        c, scales = widths[r], cumulative[r]
        # s0 comes to s1's size (a decoder cell's skip is there already)
        s0_strides = ones if decoder else tuple(
            a // b for a, b in zip(cumulative[s1[2]], cumulative[s0[2]]))
        cell = CellPlan(len(plan), ctype, numbers[ctype], c, s0[1], s1[1], concat[ctype] * c,
                        scales[-1], s0[0], s1[0], size(scales), scales, stride, s0_strides,
                        decoder)
        plan.append(cell)
        return cell.name, cell.out_channels, r

    stem0: Stage = ("stem0", c_stem, 0)
    chain: list[Stage] = [stem0]  # the encoder stages in order
    for _ in range(settings.full_res_cells):
        chain.append(add(CellType.NORMAL, 0, chain[-2] if len(chain) > 1 else stem0,
                         chain[-1], ones))
    skips = {0: chain[-1], 1: ("stem1", c_stem, 1)}  # the last encoder stage at each size
    chain.append(skips[1])
    per_level = level_cells(settings)
    for j in range(1, settings.depth + 1):
        chain.append(add(CellType.DOWN, j + 1, chain[-2], chain[-1], factors[j]))
        for _ in range(per_level[j - 1] - 1):
            chain.append(add(CellType.NORMAL, j + 1, chain[-2], chain[-1], ones))
        skips[j + 1] = chain[-1]
    previous = chain[-1]
    for i in range(1, settings.depth + 2):
        r = settings.depth + 1 - i  # the up cell's output size: H/2^r, undoing halving r
        previous = add(CellType.UP, r, skips[r], previous, factors[r], decoder=True)
        for _ in range(per_level[r - 2] - 1 if 2 <= r <= settings.depth else 0):
            previous = add(CellType.NORMAL, r, skips[r], previous, ones, decoder=True)
    return NetworkPlan(settings, multiplier, stems, tuple(plan),
                       HeadPlan(previous[1], settings.classes), input_size)


__all__ = ["AXES", "CellPlan", "HeadPlan", "NetworkPlan", "StemPlan", "GENOTYPE_STEM_MULTIPLIER",
           "halvings", "level_cells", "needs_normal_cell", "placed_cells", "resolution_widths", "shape_problems",
           "size_divisor", "size_divisors", "stage_plan", "stem_multiplier"]
