"""IR → ``graphviz.Digraph``: a cell (paper Figure 3) or a whole network (Figure 2b).

The builders are pure: they return a :class:`graphviz.Digraph` and touch no file.  The
caller writes it with :func:`write`, whose format follows the file's suffix.  Pictures
(.svg .png .pdf) need Graphviz's ``dot`` program; without it :func:`write` falls back to
the DOT text beside the requested file and says so in its :class:`RenderResult`.

Edge colours come from the op registry (``KIND_COLORS``): down, up and normal ops.
"""

from __future__ import annotations

import html
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import graphviz

from ..errors import ConfigError, GenoError
from ..lang.ir import NetworkSettings, CellType, Cell, Genotype, Network, OpEdge, Program, SearchSpace, edge_key
from ..ops.registry import KIND_COLORS, OpKind, get_op
from ..files import atomic_path

PICTURE_FORMATS = ("svg", "png", "pdf")  # need `dot`
TEXT_FORMATS = ("dot", "gv")  # DOT source, always available
FONT = "Helvetica,Arial,sans-serif"
INSTALL_HINT = "install Graphviz: apt-get install graphviz (or brew install graphviz)"
TOP_CANDIDATES = 3  # candidates shown on a weighted search edge
OUTPUT_ID = "concat"  # DOT id of a cell's output node ('concat' is a reserved word in .geno)

_INPUT_ROLES = {CellType.DOWN: ("c_{k-2}", "c_{k-1}"), CellType.UP: ("skip", "previous")}
_KIND_NAMES = {OpKind.DOWN: "down op", OpKind.UP: "up op", OpKind.NORMAL: "normal op",
               OpKind.ANY: "none (zero)"}
_GREY = "#5A5A5A"
SKIP_COLOR = "#8172B3"
TWO_BACK_COLOR = "#A0A0A0"


# ---- small helpers ------------------------------------------------------------------------
def _tint(color: str, amount: float = 0.25) -> str:
    """``color`` mixed with white: ``amount`` of the colour (for fills behind text)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    mix = (round(255 - (255 - c) * amount) for c in (r, g, b))
    return "#" + "".join(f"{c:02X}" for c in mix)


def _legend_label(title: str, items: Sequence[tuple[str, str]], subtitle: str = "") -> str:
    """An HTML-like graph label: a bold title, an optional subtitle, a row of colour keys."""
    keys = "&#160;&#160;&#160;".join(
        f'<FONT COLOR="{color}" POINT-SIZE="16">&#9632;</FONT>&#160;{html.escape(name)}'
        for name, color in items)
    rows = [f"<TR><TD><B>{html.escape(title)}</B></TD></TR>"]
    if subtitle:
        rows.append(f'<TR><TD><FONT POINT-SIZE="11">{html.escape(subtitle)}</FONT></TD></TR>')
    if items:
        rows.append(f'<TR><TD><FONT POINT-SIZE="11">{keys}</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _new_graph(name: str, rankdir: str) -> graphviz.Digraph:
    g = graphviz.Digraph(name)
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="16", labelloc="t", bgcolor="white",
           nodesep="0.35", ranksep="0.7", pad="0.25")
    g.attr("node", fontname=FONT, fontsize="14")
    g.attr("edge", fontname=FONT, fontsize="12", arrowsize="0.8")
    return g


def softmax(values: Sequence[float]) -> list[float]:
    xs = [float(v) for v in values]
    top = max(xs)
    exps = [math.exp(x - top) for x in xs]
    total = sum(exps)
    return [e / total for e in exps]


# ---- one cell (Figure 3) ------------------------------------------------------------------
def _check_weights(cell: Cell, weights: Mapping[str, Sequence[float]]) -> None:
    """Weights are for search cells, one list per mixed edge, one value per candidate."""
    if not cell.search:
        raise ValueError("weights apply to search cells only")
    sizes = {edge_key(u, v): len(e.ops) for u, v, e in cell.op_edges()}
    unknown = sorted(set(weights) - set(sizes))
    missing = sorted(set(sizes) - set(weights))
    if unknown or missing:
        raise ValueError(f"weights do not match the cell's edges: unknown {unknown}, "
                         f"missing {missing}")
    for key, values in weights.items():
        if len(values) != sizes[key]:
            raise ValueError(f"edge {key}: {len(values)} weights for {sizes[key]} candidates")


def _search_label(edge: OpEdge) -> str:
    if edge.opset is not None:
        return edge.opset
    return "[" + ", ".join(op.label() for op in edge.ops) + "]"


def _weighted(edge: OpEdge, alphas: Sequence[float]) -> tuple[str, float]:
    """Label with the top candidates and their softmax weights; strength for the pen width.

    The strength is the largest weight of a candidate other than ``none`` (as DARTS ranks
    edges when it derives a genotype).
    """
    probs = softmax(alphas)
    ranked = sorted(zip(probs, (op.label() for op in edge.ops)), key=lambda t: -t[0])
    label = "\\n".join(f"{name} {p:.2f}" for p, name in ranked[:TOP_CANDIDATES])
    strength = max((p for p, op in zip(probs, edge.ops) if op.name != "none"), default=0.0)
    return label, strength


def render_cell(cell: Cell, title: str,
                weights: Mapping[str, Sequence[float]] | None = None) -> graphviz.Digraph:
    """A cell, left to right: inputs → intermediate nodes → concat output.

    Discrete edges are labelled with their op (``conv(k=5)``) and coloured by its kind.
    Search edges are labelled with their op set (or inline candidate list); with
    ``weights`` (raw alphas per edge, keyed ``"src__dst"`` like the compiled cell's
    edges) they show the top candidates' softmax weights and get thicker as the edge's
    strongest non-``none`` candidate gains weight.
    """
    if weights is not None:
        _check_weights(cell, weights)
    g = _new_graph(f"{cell.type.value}_cell", "LR")
    if not cell.search:  # nodes top to bottom as written (search cells lay out better free)
        g.attr(ordering="out")
    kinds: set[OpKind] = set()
    roles = _INPUT_ROLES[cell.type]
    with g.subgraph(name="inputs") as s:
        s.attr(rank="source")
        for i, name in enumerate(cell.inputs):
            s.node(name, f"{name} ({roles[i]})" if i < 2 else name, shape="box",
                   style="rounded,filled", fillcolor="#E8E8E8", color=_GREY)
        for a, b in zip(cell.inputs, cell.inputs[1:]):
            s.edge(a, b, style="invis")  # s0 above s1
    for name in cell.nodes:
        g.node(name, name, shape="circle", style="filled", fillcolor="#F4F1DE", color=_GREY,
               width="0.6", fixedsize="true")
    for src, dst, edge in cell.op_edges():
        attrs: dict[str, str] = {}
        if cell.search:
            kind = edge.role
            label = _search_label(edge)
            if weights is not None:
                label, strength = _weighted(edge, weights[edge_key(src, dst)])
                attrs["penwidth"] = f"{0.6 + 4.4 * strength:.2f}"
        else:
            kind = get_op(edge.op.name).kind
            label = edge.op.label()
        kinds.add(kind)
        color = KIND_COLORS[kind]
        g.edge(src, dst, label=label, color=color, fontcolor=color, **attrs)
    if cell.outputs:
        with g.subgraph(name="output") as s:
            s.attr(rank="sink")
            s.node(OUTPUT_ID, "concat\\n(c_{k})", shape="box", style="rounded,filled",
                   fillcolor="#E8E8E8", color=_GREY)
        for src in cell.outputs:
            g.edge(src, OUTPUT_ID, color="#9A9A9A", style="dashed", arrowsize="0.6")
    items = [(_KIND_NAMES[k], KIND_COLORS[k]) for k in _KIND_NAMES if k in kinds]
    g.attr(label=_legend_label(title, items))
    return g


# ---- the whole network (Figure 2b) ---------------------------------------------------------
@dataclass(frozen=True)
class _Stage:
    id: str
    label: str
    scale: int  # the feature map is the input size divided by this
    channels: int


def _size(scale: int, input_size: int | None) -> str:
    if input_size is None:
        return "H×W" if scale == 1 else f"H/{scale}×W/{scale}"
    return f"{input_size // scale}×{input_size // scale}"


def _stem_multiplier(settings: NetworkSettings, cells: Genotype | SearchSpace) -> int:
    if settings.stem_multiplier is not None:
        return settings.stem_multiplier
    if isinstance(cells, SearchSpace):  # the supernet's stems are M·C wide
        return len(cells.cells[CellType.DOWN].nodes)
    return 4


def render_network(network: Network, program: Program,
                   input_size: int | None = None) -> graphviz.Digraph:
    """The U-shaped net: input, stems, ``depth`` down cells, ``depth + 1`` up cells, head.

    Ranks are resolutions: each up cell sits beside the encoder output it takes as its
    skip (the encoder output at the up cell's own output size; the last up cell takes
    stem0).  Sizes read ``H/4×W/4`` or, given ``input_size``, pixels (it must be
    divisible by 2^(depth+1), as the network needs).
    """
    settings = network.settings
    if settings is None:
        raise GenoError(f"network '{network.name}' has invalid entries", code="E060")
    cells = program.cells_of(settings.cells)
    if cells is None:
        raise GenoError(f"network '{network.name}' names unknown cells '{settings.cells}'",
                        code="E016")
    step = 2 ** (settings.depth + 1)  # the deepest map is input / step
    if input_size is not None and (input_size < 1 or input_size % step):
        near = max(step, input_size // step * step)
        raise ConfigError(f"input size {input_size} does not fit depth {settings.depth}",
                          hint=f"use a multiple of {step}, e.g. {near}")
    down, up = cells.cells[CellType.DOWN], cells.cells[CellType.UP]
    c_stem = _stem_multiplier(settings, cells) * settings.C
    encoder = [_Stage("stem0", "stem0 (1×1 conv)", 1, c_stem),
               _Stage("stem1", "stem1 (3×3 conv, stride 2)", 2, c_stem)]
    c = settings.C
    for j in range(1, settings.depth + 1):
        c = c * 2 if settings.double_down_channel else c
        encoder.append(_Stage(f"down{j}", f"down cell {j}", 2 ** (j + 1), len(down.outputs) * c))
    decoder = []
    for i in range(1, settings.depth + 2):
        c = c // 2 if settings.double_down_channel else c
        decoder.append(_Stage(f"up{i}", f"up cell {i}", 2 ** (settings.depth + 1 - i),
                              len(up.outputs) * c))

    g = _new_graph(network.name, "TB")
    g.attr(nodesep="0.6", ranksep="0.45")
    g.attr("node", shape="box", style="rounded,filled", fillcolor="#E8E8E8", color=_GREY,
           margin="0.15,0.06")
    down_fill, up_fill = _tint(KIND_COLORS[OpKind.DOWN]), _tint(KIND_COLORS[OpKind.UP])

    def stage_node(s: _Stage, fill: str = "#E8E8E8", border: str = _GREY) -> None:
        g.node(s.id, f"{s.label}\\n{_size(s.scale, input_size)} · {s.channels} ch",
               fillcolor=fill, color=border)

    g.node("input", f"input\\n{_size(1, input_size)} · {settings.in_channels} ch")
    g.node("head", f"head (1×1 conv)\\n{_size(1, input_size)} · {settings.classes} ch")
    g.node("output", f"output\\n{settings.classes} classes", shape="box", style="filled")
    for s in encoder:
        is_cell = s.id.startswith("down")
        stage_node(s, down_fill if is_cell else "#E8E8E8",
                   KIND_COLORS[OpKind.DOWN] if is_cell else _GREY)
    for s in decoder:
        stage_node(s, up_fill, KIND_COLORS[OpKind.UP])

    main = dict(color="#333333", penwidth="1.6", weight="8")  # heavy: straight columns
    two_back = dict(color=TWO_BACK_COLOR, style="dashed", arrowsize="0.6", weight="0")
    skip = dict(color=SKIP_COLOR, style="dashed", penwidth="1.6", constraint="false")
    g.edge("input", "stem0", **main)
    g.edge("input", "stem1", **main)
    for j in range(2, len(encoder)):  # down cell j-1 takes s0 = E[j-2], s1 = E[j-1]
        g.edge(encoder[j - 1].id, encoder[j].id, **main)
        g.edge(encoder[j - 2].id, encoder[j].id, **two_back)
    previous = encoder[-1].id
    for i, s in enumerate(decoder):  # up cell i+1: skip = the encoder output at its size
        partner = encoder[settings.depth - i]
        g.edge(partner.id, s.id, **skip)
        g.edge(s.id, previous, dir="back", **main)  # drawn upward: previous → s
        with g.subgraph() as row:
            row.attr(rank="same")
            row.node(partner.id)
            row.node(s.id)
        previous = s.id
    g.edge("head", previous, dir="back", **main)
    g.edge("head", "output", **main)
    with g.subgraph() as row:
        row.attr(rank="same")
        for n in ("input", "head", "output"):
            row.node(n)

    subtitle = (f"cells {settings.cells} · C={settings.C} · depth {settings.depth} · stems {c_stem} ch"
                + (" · channels double per down cell" if settings.double_down_channel else ""))
    legend = [("down cell", KIND_COLORS[OpKind.DOWN]), ("up cell", KIND_COLORS[OpKind.UP]),
              ("skip: encoder → up cell (s0)", SKIP_COLOR),
              ("two back → down cell (s0)", TWO_BACK_COLOR)]
    g.attr(label=_legend_label(network.name, legend, subtitle))
    return g


# ---- writing ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RenderResult:
    """What :func:`write` wrote: ``path`` (its ``format``), asked for as ``requested``."""

    path: Path
    format: str
    requested: Path
    fallback: bool = False  # True: `dot` is missing and ``path`` holds the DOT text instead

    @property
    def warning(self) -> str | None:
        if not self.fallback:
            return None
        fmt = self.requested.suffix.lstrip(".").lower()
        return (f"Graphviz's 'dot' program was not found, so {self.path} holds the DOT text "
                f"instead of the picture {self.requested}; {INSTALL_HINT}, then run: "
                f"dot -T{fmt} {self.path} -o {self.requested}")


def write(graph: graphviz.Digraph, out: str | Path) -> RenderResult:
    """Write ``graph`` to ``out`` (atomically) in the format its suffix names.

    .svg .png .pdf need ``dot``; when it is missing the DOT text goes to ``out`` with a
    ``.dot`` suffix and the result says so (``fallback=True``).  .dot/.gv are the text.
    """
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in PICTURE_FORMATS + TEXT_FORMATS:
        shown = " ".join(f".{f}" for f in PICTURE_FORMATS + TEXT_FORMATS)
        raise ConfigError(f"cannot tell the picture format of '{out}' from its suffix",
                          hint=f"end the file name with one of: {shown}")
    if fmt in TEXT_FORMATS:
        return _write_text(graph, out, out)
    if shutil.which(graph.engine) is None:
        return _write_text(graph, out.with_suffix(".dot"), out)
    picture = graph
    if fmt == "png":  # a sharper bitmap; the caller's graph stays as it was
        picture = graph.copy()
        picture.attr(dpi="144")
    try:
        data = picture.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        return _write_text(graph, out.with_suffix(".dot"), out)
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return RenderResult(out, fmt, out)


def _write_text(graph: graphviz.Digraph, path: Path, requested: Path) -> RenderResult:
    with atomic_path(path) as tmp:
        tmp.write_text(graph.source, encoding="utf-8")
    return RenderResult(path, "dot", requested, fallback=path != requested)


__all__ = ["render_cell", "render_network", "write", "RenderResult", "softmax",
           "PICTURE_FORMATS", "TEXT_FORMATS"]
