"""A whole network as a graph (paper Figure 2b), drawn from the stage plan.

Ranks are resolutions: each up cell sits beside the encoder stage that feeds its skip.
Every width, size and skip comes from :func:`genodsl.lang.plan.stage_plan`.
"""

from __future__ import annotations

import graphviz

from ..errors import GenoError
from ..lang.ir import CellType, Network, Program
from ..lang.plan import CellPlan, StemPlan, stage_plan
from ..ops.registry import KIND_COLORS, OpKind
from .common import FILL, GREY, legend_label, new_graph, tint

SKIP_COLOR = "#8172B3"
TWO_BACK_COLOR = "#A0A0A0"


def _size(scales: tuple[int, ...], size: tuple[int, ...] | None) -> str:
    """A stage's H×W (D×H×W in 3D): symbolic (``H/4×W/4``) or, with an input size, in
    pixels (voxels)."""
    if size is not None:
        return "×".join(map(str, size))
    axes = "DHW" if len(scales) == 3 else "HW"
    return "×".join(a if s == 1 else f"{a}/{s}" for a, s in zip(axes, scales))


def _label(stage: StemPlan | CellPlan) -> str:
    if isinstance(stage, StemPlan):
        strides = set(stage.strides)
        stride = "" if strides == {1} else (f", stride {stage.strides[0]}" if len(strides) == 1
                                            else f", stride {'×'.join(map(str, stage.strides))}")
        kernel = "×".join([str(stage.kernel)] * stage.dims)
        return f"{stage.name} ({kernel} conv{stride})"
    return f"{stage.type.value} cell {stage.number}"


def render_network(network: Network, program: Program,
                   input_size: int | tuple[int, ...] | None = None) -> graphviz.Digraph:
    """The U-shaped net: input, stems, ``depth`` down cells, ``depth + 1`` up cells, the
    normal cells the network places (beside the encoder or decoder cells of their size), head.

    Each up cell sits beside the encoder output it takes as its skip (the encoder output at
    the up cell's own output size; the last up cell takes stem0).  Sizes read ``H/4×W/4``
    (``D/2×H/4×W/4`` for a 3D network) or, given ``input_size`` (one size for every axis, or
    one per axis), pixels or voxels (divisible as the network needs, see ``size_divisors``).
    """
    settings = network.settings
    if settings is None:
        raise GenoError(f"network '{network.name}' has invalid entries", code="E060")
    cells = program.cells_of(settings.cells)
    if cells is None:
        raise GenoError(f"network '{network.name}' names unknown cells '{settings.cells}'",
                        code="E016")
    size = (None if input_size is None else (input_size,) * settings.dims
            if isinstance(input_size, int) else tuple(input_size))
    plan = stage_plan(settings, cells, size)
    ones = (1,) * settings.dims

    g = new_graph(network.name, "TB")
    g.attr(nodesep="0.6", ranksep="0.45")
    g.attr("node", shape="box", style="rounded,filled", fillcolor=FILL, color=GREY,
           margin="0.15,0.06")
    look = {t: (tint(KIND_COLORS[k]), KIND_COLORS[k])
            for t, k in ((CellType.DOWN, OpKind.DOWN), (CellType.UP, OpKind.UP),
                         (CellType.NORMAL, OpKind.NORMAL))}

    g.node("input", f"input\\n{_size(ones, size)} · {settings.in_channels} ch")
    g.node("head", f"head ({'×'.join('1' * settings.dims)} conv)\\n{_size(ones, size)} · "
           f"{plan.head.out_channels} ch")
    g.node("output", f"output\\n{settings.classes} classes", shape="box", style="filled")
    for stage in (*plan.stems, *plan.cells):
        fill, border = look[stage.type] if isinstance(stage, CellPlan) else (FILL, GREY)
        g.node(stage.name, f"{_label(stage)}\\n{_size(stage.scales, stage.size)} · "
               f"{stage.out_channels} ch", fillcolor=fill, color=border)

    main = dict(color="#333333", penwidth="1.6", weight="8")  # heavy: straight columns
    two_back = dict(color=TWO_BACK_COLOR, style="dashed", arrowsize="0.6", weight="0")
    skip = dict(color=SKIP_COLOR, style="dashed", penwidth="1.6", constraint="false")
    for stem in plan.stems:
        g.edge("input", stem.name, **main)
    for cell in (c for c in plan.cells if not c.decoder):  # down and encoder normal cells
        g.edge(cell.s1, cell.name, **main)
        if cell.s0 != cell.s1:  # the first full-size normal cell takes stem0 twice
            g.edge(cell.s0, cell.name, **two_back)
    for cell in (c for c in plan.cells if c.decoder):  # up and decoder normal cells
        g.edge(cell.s0, cell.name, **skip)
        g.edge(cell.name, cell.s1, dir="back", **main)  # drawn upward: previous → cell
        with g.subgraph() as row:
            row.attr(rank="same")
            row.node(cell.s0)
            row.node(cell.name)
    g.edge("head", plan.cells[-1].name, dir="back", **main)
    g.edge("head", "output", **main)
    with g.subgraph() as row:
        row.attr(rank="same")
        for n in ("input", "head", "output"):
            row.node(n)

    subtitle = (f"cells {settings.cells} · C={settings.C} · depth {settings.depth} · stems "
                f"{plan.stem_channels} ch"
                + (" · channels double per down cell" if settings.double_down_channel else "")
                + (f" · channels ×{settings.growth} per level" if settings.growth else "")
                + (" · widths " + "/".join(map(str, settings.widths)) if settings.widths
                   else "")
                + (f" · {len(plan.normal_cells)} normal cell"
                   + "s" * (len(plan.normal_cells) > 1) if plan.normal_cells else "")
                + (f" · 3D (D×H×W), D kept by the first {settings.inplane_stages} halvings"
                   if settings.inplane_stages else " · 3D (D×H×W)" if settings.dims == 3
                   else ""))
    legend = [("down cell", KIND_COLORS[OpKind.DOWN]), ("up cell", KIND_COLORS[OpKind.UP]),
              ("skip: encoder → up cell (s0)", SKIP_COLOR),
              ("two back → down cell (s0)", TWO_BACK_COLOR)]
    if plan.normal_cells:
        legend.insert(2, ("normal cell (stride 1)", KIND_COLORS[OpKind.NORMAL]))
    g.attr(label=legend_label(network.name, legend, subtitle))
    return g
