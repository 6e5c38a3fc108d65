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


def _size(scale: int, size: tuple[int, int] | None) -> str:
    """A stage's H×W: symbolic (``H/4×W/4``) or, with an input size, in pixels."""
    if size is None:
        return "H×W" if scale == 1 else f"H/{scale}×W/{scale}"
    return f"{size[0]}×{size[1]}"


def _label(stage: StemPlan | CellPlan) -> str:
    if isinstance(stage, StemPlan):
        stride = f", stride {stage.stride}" if stage.stride > 1 else ""
        return f"{stage.name} ({stage.kernel}×{stage.kernel} conv{stride})"
    return f"{stage.type.value} cell {stage.number}"


def render_network(network: Network, program: Program,
                   input_size: int | None = None) -> graphviz.Digraph:
    """The U-shaped net: input, stems, ``depth`` down cells, ``depth + 1`` up cells, head.

    Each up cell sits beside the encoder output it takes as its skip (the encoder output at
    the up cell's own output size; the last up cell takes stem0).  Sizes read ``H/4×W/4``
    or, given ``input_size``, pixels (it must be divisible by 2^(depth+1), as the network
    needs).
    """
    settings = network.settings
    if settings is None:
        raise GenoError(f"network '{network.name}' has invalid entries", code="E060")
    cells = program.cells_of(settings.cells)
    if cells is None:
        raise GenoError(f"network '{network.name}' names unknown cells '{settings.cells}'",
                        code="E016")
    size = None if input_size is None else (input_size, input_size)
    plan = stage_plan(settings, cells, size)

    g = new_graph(network.name, "TB")
    g.attr(nodesep="0.6", ranksep="0.45")
    g.attr("node", shape="box", style="rounded,filled", fillcolor=FILL, color=GREY,
           margin="0.15,0.06")
    look = {CellType.DOWN: (tint(KIND_COLORS[OpKind.DOWN]), KIND_COLORS[OpKind.DOWN]),
            CellType.UP: (tint(KIND_COLORS[OpKind.UP]), KIND_COLORS[OpKind.UP])}

    g.node("input", f"input\\n{_size(1, size)} · {settings.in_channels} ch")
    g.node("head", f"head (1×1 conv)\\n{_size(1, size)} · {plan.head.out_channels} ch")
    g.node("output", f"output\\n{settings.classes} classes", shape="box", style="filled")
    for stage in (*plan.stems, *plan.cells):
        fill, border = look[stage.type] if isinstance(stage, CellPlan) else (FILL, GREY)
        g.node(stage.name, f"{_label(stage)}\\n{_size(stage.scale, stage.size)} · "
               f"{stage.out_channels} ch", fillcolor=fill, color=border)

    main = dict(color="#333333", penwidth="1.6", weight="8")  # heavy: straight columns
    two_back = dict(color=TWO_BACK_COLOR, style="dashed", arrowsize="0.6", weight="0")
    skip = dict(color=SKIP_COLOR, style="dashed", penwidth="1.6", constraint="false")
    for stem in plan.stems:
        g.edge("input", stem.name, **main)
    for cell in plan.down_cells:
        g.edge(cell.s1, cell.name, **main)
        g.edge(cell.s0, cell.name, **two_back)
    for cell in plan.up_cells:
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
                + (" · channels double per down cell" if settings.double_down_channel else ""))
    legend = [("down cell", KIND_COLORS[OpKind.DOWN]), ("up cell", KIND_COLORS[OpKind.UP]),
              ("skip: encoder → up cell (s0)", SKIP_COLOR),
              ("two back → down cell (s0)", TWO_BACK_COLOR)]
    g.attr(label=legend_label(network.name, legend, subtitle))
    return g
