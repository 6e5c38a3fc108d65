"""One cell as a graph (paper Figure 3): inputs → intermediate nodes → concat output.

Edge colours come from the op registry (``KIND_COLORS``): down, up and normal ops.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import graphviz

from ..lang.ir import Cell, CellType, OpEdge, edge_key
from ..ops.registry import KIND_COLORS, OpKind, get_op
from .common import FILL, GREY, legend_label, new_graph, softmax

TOP_CANDIDATES = 3  # candidates shown on a weighted search edge
OUTPUT_ID = "concat"  # DOT id of a cell's output node ('concat' is a reserved word in .geno)

_INPUT_ROLES = {CellType.DOWN: ("c_{k-2}", "c_{k-1}"), CellType.UP: ("skip", "previous"),
                CellType.NORMAL: ("c_{k-2} or skip", "previous")}
_KIND_NAMES = {OpKind.DOWN: "down op", OpKind.UP: "up op", OpKind.NORMAL: "normal op",
               OpKind.ANY: "none (zero)"}


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
    g = new_graph(f"{cell.type.value}_cell", "LR")
    if not cell.search:  # nodes top to bottom as written (search cells lay out better free)
        g.attr(ordering="out")
    kinds: set[OpKind] = set()
    roles = _INPUT_ROLES[cell.type]
    with g.subgraph(name="inputs") as s:
        s.attr(rank="source")
        for i, name in enumerate(cell.inputs):
            s.node(name, f"{name} ({roles[i]})" if i < 2 else name, shape="box",
                   style="rounded,filled", fillcolor=FILL, color=GREY)
        for a, b in zip(cell.inputs, cell.inputs[1:]):
            s.edge(a, b, style="invis")  # s0 above s1
    for name in cell.nodes:
        g.node(name, name, shape="circle", style="filled", fillcolor="#F4F1DE", color=GREY,
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
                   fillcolor=FILL, color=GREY)
        for src in cell.outputs:
            g.edge(src, OUTPUT_ID, color="#9A9A9A", style="dashed", arrowsize="0.6")
    items = [(_KIND_NAMES[k], KIND_COLORS[k]) for k in _KIND_NAMES if k in kinds]
    g.attr(label=legend_label(title, items))
    return g
