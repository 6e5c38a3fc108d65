"""Two genotypes side by side: per cell type, A's cell beside B's, the differences coloured.

Pure like the rest of render: :func:`render_diff` returns a ``graphviz.Digraph`` and the
caller writes it with :func:`genodsl.render.write` (which falls back to DOT text without
Graphviz's ``dot``).  Cells flow top to bottom (inputs → nodes → concat) so that A and B
sit next to each other.  Colours: added (only in B) green and bold, removed (only in A)
red and dashed, changed (another op, arguments or source) orange, unchanged grey.
"""

from __future__ import annotations

import graphviz

from ..lang.diff import Change, Edge, GenotypeDiff, diff_genotypes
from ..lang.ir import Cell, CellType, Genotype
from .common import GREY, legend_label, new_graph

COLORS = {Change.ADDED: "#2CA02C", Change.REMOVED: "#D62728", Change.CHANGED: "#FF7F0E",
          Change.UNCHANGED: "#9A9A9A"}
_EDGE_STYLE = {Change.ADDED: dict(penwidth="2.6"),
               Change.REMOVED: dict(penwidth="2.2", style="dashed"),
               Change.CHANGED: dict(penwidth="2.2"),
               Change.UNCHANGED: dict(penwidth="1.0")}
_NODE_FILL = {Change.ADDED: "#DFF2DF", Change.REMOVED: "#F8DADA", Change.CHANGED: "#FFE9D4",
              Change.UNCHANGED: "#F4F1DE"}
_LEGEND = [("unchanged", Change.UNCHANGED), ("changed", Change.CHANGED),
           ("added (only in B)", Change.ADDED), ("removed (only in A)", Change.REMOVED)]
_INPUTS, _CONCAT = "<inputs>", "<concat>"  # rows besides the node names (never a name)


def _draw_cell(g: graphviz.Digraph, cell: Cell, side: str, title: str,
               edge_change: dict[tuple[str, Edge], Change], node_change: dict[str, Change],
               names: dict[str, str], concat_change: dict[str, Change],
               rows: dict[str, list[str]]) -> None:
    """One cell in a cluster; ``names`` maps its states to A's (the keys of the changes).

    Its node ids join ``rows`` (the inputs, one row per node name by A's names, the
    concats), which the caller lays out on one level each: A's n3 beside B's n3.
    """
    prefix = f"{cell.type.value}_{side}_"
    with g.subgraph(name=f"cluster_{prefix}") as c:
        c.attr(label=title, style="rounded", color="#C8C8C8", fontsize="13")
        for name in cell.inputs:
            c.node(prefix + name, name, shape="box", style="rounded,filled",
                   fillcolor="#E8E8E8", color=GREY)
            rows[_INPUTS].append(prefix + name)
        for first, second in zip(cell.inputs, cell.inputs[1:]):  # s0 left of s1
            c.edge(prefix + first, prefix + second, style="invis")
        for first, second in zip(cell.nodes, cell.nodes[1:]):  # one level per node
            c.edge(prefix + first, prefix + second, style="invis", weight="0")
        for name in cell.nodes:
            change = node_change.get(names.get(name, name), Change.UNCHANGED)
            c.node(prefix + name, name, shape="circle", style="filled", width="0.6",
                   fixedsize="true", fillcolor=_NODE_FILL[change],
                   color=COLORS[change] if change is not Change.UNCHANGED else GREY,
                   penwidth="2" if change is not Change.UNCHANGED else "1")
            rows.setdefault(names.get(name, name), []).append(prefix + name)
        for node in cell.nodes:
            for src, e in cell.in_edges(node):
                key = (names.get(node, node),
                       Edge(names.get(src, src), e.op.name, e.op.args))
                change = edge_change.get(key, Change.UNCHANGED)
                color = COLORS[change]
                c.edge(prefix + src, prefix + node, label=e.op.label(), color=color,
                       fontcolor=color if change is not Change.UNCHANGED else GREY,
                       **_EDGE_STYLE[change])
        c.node(prefix + "concat", "concat", shape="box", style="rounded,filled",
               fillcolor="#E8E8E8", color=GREY)
        rows[_CONCAT].append(prefix + "concat")
        for src in cell.outputs:
            change = concat_change.get(names.get(src, src), Change.UNCHANGED)
            c.edge(prefix + src, prefix + "concat", color=COLORS[change], arrowsize="0.6",
                   style="dashed" if change is not Change.ADDED else "bold")


def _title(side: str, label: str) -> str:
    """``A: NAME`` over the file it came from (labels read ``FILE:NAME``)."""
    file, colon, name = label.rpartition(":")
    return f"{side}: {name}\\n{file}" if colon else f"{side}: {label}"


def render_diff(a: Genotype, b: Genotype, diff: GenotypeDiff | None = None) -> graphviz.Digraph:
    """Per cell type, a cluster with A's cell on the left and B's on the right."""
    diff = diff or diff_genotypes(a, b)
    g = new_graph("genotype_diff", "TB")
    g.attr(nodesep="0.3", ranksep="0.55", newrank="true",
           remincross="false")  # a second crossing pass would swap s0 and s1
    g.attr("node", fontsize="13")
    g.attr("edge", fontsize="11")
    rows: dict[str, list[str]] = {_INPUTS: [], _CONCAT: []}
    for cd in diff.cells:
        before: dict[tuple[str, Edge], Change] = {}
        after: dict[tuple[str, Edge], Change] = {}
        nodes_a: dict[str, Change] = {}
        nodes_b: dict[str, Change] = {}
        for n in cd.changed_nodes:
            for e in n.edges:
                if e.before is not None:
                    before[(n.name, e.before)] = e.change
                if e.after is not None:
                    after[(n.name, e.after)] = e.change
            if n.change is not Change.ADDED:
                nodes_a[n.name] = n.change
            if n.change is not Change.REMOVED:
                nodes_b[n.name] = n.change
        out_a = {s: Change.REMOVED for s in cd.output_before if s not in cd.output_after}
        out_b = {s: Change.ADDED for s in cd.output_after if s not in cd.output_before}
        names_b = dict(cd.renamed)
        t: CellType = cd.type
        with g.subgraph(name=f"cluster_{t.value}") as pair:  # B first: dot puts it right
            state = "unchanged" if cd.is_empty else "differs"
            pair.attr(label=f"{t.value} cell: {state}", fontsize="15", peripheries="0")
            _draw_cell(pair, b.cells[t], "b", _title("B", diff.b), after, nodes_b, names_b,
                       out_b, rows)
            _draw_cell(pair, a.cells[t], "a", _title("A", diff.a), before, nodes_a, {}, out_a,
                       rows)
    for ids in rows.values():  # one level per row
        with g.subgraph() as level:
            level.attr(rank="same")
            for node in ids:
                level.node(node)
    g.attr(label=legend_label(f"genotype diff: {a.name} → {b.name}",
                              [(name, COLORS[c]) for name, c in _LEGEND],
                              "same genotype" if diff.is_empty else "A left, B right of each cell"))
    return g


__all__ = ["render_diff", "COLORS"]
