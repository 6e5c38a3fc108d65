"""Genotype A vs genotype B: per cell and node, the edges added, removed or changed.

How things are matched (the rules ``genodsl diff`` documents):

- **Cells** by type (down with down, up with up); ``keep`` is compared too.
- **Inputs** by position (the first is s0, the second s1, whatever their names).
- **Nodes** by name (``n2``, ``n3``, ... as the searcher and the shipped files write them).
  When the two cells share no node name at all (``a, b, c`` against ``n2, n3, n4``) they are
  matched by position instead, and the diff says so; B's states are then shown by A's names.
- **Edges** of a matched node by source: the same source with another op or other arguments
  is *changed*.  Of what is left, an edge of A and one of B with the same op are one edge whose
  source *changed*; the rest are *removed* (only in A) or *added* (only in B).  Arguments are
  compared with their defaults filled in (``conv(s0, k=3)`` is ``conv(s0)``), and the order
  in which a node's edges are written does not count (a node is their sum).
- **Outputs**: the ``concat(...)`` lists, in order.

Torch-free: the language tools import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ..errors import GenoError, did_you_mean
from ..ops.registry import ArgValue, get_op
from .ir import Cell, CellType, Genotype
from .loader import find_source, load, shipped_names
from .printer import format_value


class Change(str, Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Edge:
    """One edge into a node: ``op(source, args)``; the source by A's names."""

    source: str
    op: str
    args: tuple[tuple[str, ArgValue], ...] = ()

    def text(self) -> str:
        args = "".join(f", {k}={format_value(v)}" for k, v in self.args)
        return f"{self.op}({self.source}{args})"

    def resolved(self) -> dict[str, ArgValue]:
        return get_op(self.op).resolve(dict(self.args))


@dataclass(frozen=True)
class EdgeDiff:
    change: Change  # ADDED (only ``after``), REMOVED (only ``before``) or CHANGED (both)
    before: Edge | None
    after: Edge | None

    @property
    def what(self) -> tuple[str, ...]:
        """What a changed edge changed: some of ``op``, ``args``, ``source``."""
        if self.before is None or self.after is None:
            return ()
        out = []
        if self.before.op != self.after.op:
            out.append("op")
        elif self.before.resolved() != self.after.resolved():
            out.append("args")
        if self.before.source != self.after.source:
            out.append("source")
        return tuple(out)


@dataclass(frozen=True)
class NodeDiff:
    name: str  # A's name (B's for an added node)
    change: Change
    edges: tuple[EdgeDiff, ...] = ()


@dataclass(frozen=True)
class CellDiff:
    type: CellType
    nodes: tuple[NodeDiff, ...]  # every node of A, then the nodes only B has
    output_before: tuple[str, ...]
    output_after: tuple[str, ...]  # by A's names
    by_position: bool = False  # nodes matched by position (the cells share no node name)
    renamed: tuple[tuple[str, str], ...] = ()  # (B's name, A's name) of states matched by position

    @property
    def changed_nodes(self) -> tuple[NodeDiff, ...]:
        return tuple(n for n in self.nodes if n.change is not Change.UNCHANGED)

    @property
    def unchanged(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.change is Change.UNCHANGED)

    @property
    def output_changed(self) -> bool:
        return self.output_before != self.output_after

    @property
    def is_empty(self) -> bool:
        return not self.changed_nodes and not self.output_changed


@dataclass(frozen=True)
class GenotypeDiff:
    a: str  # how A and B are shown (a genotype name, or FILE:NAME)
    b: str
    keep: tuple[int, int]
    cells: tuple[CellDiff, ...]

    @property
    def is_empty(self) -> bool:
        return self.keep[0] == self.keep[1] and all(c.is_empty for c in self.cells)


def is_empty(diff: GenotypeDiff) -> bool:
    """Whether A and B are the same genotype (by the matching rules above)."""
    return diff.is_empty


# ---- computing ----------------------------------------------------------------------------
def _states_of_b(a: Cell, b: Cell) -> tuple[dict[str, str], bool]:
    """B's state names → A's names, and whether nodes were matched by position."""
    names = dict(zip(b.inputs, a.inputs))
    by_position = bool(a.nodes and b.nodes and not set(a.nodes) & set(b.nodes))
    for i, node in enumerate(b.nodes):
        names[node] = a.nodes[i] if by_position and i < len(a.nodes) else node
    return names, by_position


def _edges(cell: Cell, node: str, names: dict[str, str] | None = None) -> list[Edge]:
    names = names or {}
    return [Edge(names.get(src, src), e.op.name, e.op.args) for src, e in cell.in_edges(node)]


def _match_edges(before: list[Edge], after: list[Edge]) -> tuple[EdgeDiff, ...]:
    out: dict[int, EdgeDiff] = {}  # changed edges, keyed by A's position
    left = list(range(len(after)))
    removed: list[int] = []
    for i, e in enumerate(before):  # 1. the same source
        j = next((j for j in left if after[j].source == e.source), None)
        if j is None:
            removed.append(i)
            continue
        left.remove(j)
        if e.op != after[j].op or e.resolved() != after[j].resolved():
            out[i] = EdgeDiff(Change.CHANGED, e, after[j])
    for i in list(removed):  # 2. the same op from another source
        j = next((j for j in left if after[j].op == before[i].op), None)
        if j is not None:
            left.remove(j)
            removed.remove(i)
            out[i] = EdgeDiff(Change.CHANGED, before[i], after[j])
    changed = tuple(out[i] for i in sorted(out))  # 3. the rest: removed, then added
    return (changed + tuple(EdgeDiff(Change.REMOVED, before[i], None) for i in removed)
            + tuple(EdgeDiff(Change.ADDED, None, after[j]) for j in left))


def diff_cells(a: Cell, b: Cell) -> CellDiff:
    names, by_position = _states_of_b(a, b)
    b_by_a_name = {names[n]: n for n in b.nodes}
    nodes = []
    for node in a.nodes:
        if node not in b_by_a_name:
            edges = tuple(EdgeDiff(Change.REMOVED, e, None) for e in _edges(a, node))
            nodes.append(NodeDiff(node, Change.REMOVED, edges))
            continue
        edges = _match_edges(_edges(a, node), _edges(b, b_by_a_name[node], names))
        nodes.append(NodeDiff(node, Change.CHANGED if edges else Change.UNCHANGED, edges))
    for node in b.nodes:
        if names[node] not in a.nodes:
            edges = tuple(EdgeDiff(Change.ADDED, None, e) for e in _edges(b, node, names))
            nodes.append(NodeDiff(names[node], Change.ADDED, edges))
    renamed = tuple((n, names[n]) for n in b.inputs + b.nodes if names[n] != n)
    return CellDiff(a.type, tuple(nodes), tuple(a.outputs),
                    tuple(names.get(n, n) for n in b.outputs), by_position, renamed)


def diff_genotypes(a: Genotype, b: Genotype, *, a_label: str | None = None,
                   b_label: str | None = None) -> GenotypeDiff:
    """What changes from ``a`` to ``b``; ``a_label``/``b_label`` name them (default: names)."""
    cells = tuple(diff_cells(a.cells[t], b.cells[t]) for t in CellType
                  if t in a.cells and t in b.cells)
    return GenotypeDiff(a_label or a.name, b_label or b.name, (a.keep, b.keep), cells)


# ---- showing ------------------------------------------------------------------------------
def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cell_summary(cell: CellDiff) -> str:
    if cell.is_empty:
        return f"{cell.type.value}: unchanged"
    parts = []
    for n in cell.changed_nodes:
        if n.change is Change.CHANGED:
            parts.append(f"{n.name} changed ({_plural(len(n.edges), 'edge')})")
        else:
            parts.append(f"{n.name} {n.change.value}")
    if cell.output_changed:
        parts.append("output changed")
    return f"{cell.type.value}: " + ", ".join(parts)


def summary(diff: GenotypeDiff) -> str:
    """One line, e.g. ``down: n3 changed (1 edge); up: unchanged`` (for search logs)."""
    parts = [] if diff.keep[0] == diff.keep[1] else [f"keep {diff.keep[0]} → {diff.keep[1]}"]
    return "; ".join(parts + [_cell_summary(c) for c in diff.cells])


_MARKS = {Change.CHANGED: "~", Change.REMOVED: "-", Change.ADDED: "+", Change.UNCHANGED: "="}


def _node_text(edges: tuple[EdgeDiff, ...], side: str) -> str:
    return " + ".join(getattr(e, side).text() for e in edges)


def _rows(cell: CellDiff) -> list[tuple[str, str, str, str]]:
    """(where, mark, before, after) rows of one cell."""
    t = cell.type.value
    rows = []
    if cell.renamed:
        pairs = ", ".join(f"{b}={a}" for b, a in cell.renamed)
        rows.append((f"{t}:", "=", f"matched by position: {pairs} (B shown by A's names)", ""))
    for n in cell.changed_nodes:
        where = f"{t} {n.name}:"
        if n.change is Change.ADDED:
            rows.append((where, "+", "new node = " + _node_text(n.edges, "after"), ""))
            continue
        if n.change is Change.REMOVED:
            rows.append((where, "-", "removed node = " + _node_text(n.edges, "before"), ""))
            continue
        for e in n.edges:
            first = e.before if e.before is not None else e.after
            second = e.after.text() if e.before is not None and e.after is not None else ""
            rows.append((where, _MARKS[e.change], first.text() if first else "", second))
    if cell.output_changed:
        rows.append((f"{t} output:", "~", f"concat({', '.join(cell.output_before)})",
                     f"concat({', '.join(cell.output_after)})"))
    if cell.is_empty:
        rows.append((f"{t}:", "=", f"unchanged ({_plural(len(cell.nodes), 'node')})", ""))
    elif cell.unchanged:
        rows.append((f"{t}:", "=", "unchanged " + ", ".join(cell.unchanged), ""))
    return rows


def render_text(diff: GenotypeDiff) -> str:
    """A readable, aligned summary, like a unified diff's::

        --- a.geno:G
        +++ b.geno:G
        down n3:  ~ down_cweight(s1) → down_conv(s1)
        down n4:  + conv(n3)
        up:       = unchanged (3 nodes)
    """
    rows: list[tuple[str, str, str, str]] = []
    if diff.keep[0] != diff.keep[1]:
        rows.append(("keep:", "~", str(diff.keep[0]), str(diff.keep[1])))
    for cell in diff.cells:
        rows += _rows(cell)
    w_where = max(len(r[0]) for r in rows)
    w_before = max((len(r[2]) for r in rows if r[3]), default=0)
    lines = [f"--- {diff.a}", f"+++ {diff.b}"]
    for where, mark, before, after in rows:
        text = f"{before:<{w_before}} → {after}" if after else before
        lines.append(f"{where:<{w_where}} {mark} {text}".rstrip())
    lines.append("same genotype" if diff.is_empty else f"differs: {summary(diff)}")
    return "\n".join(lines) + "\n"


def _edge_json(e: Edge | None) -> dict[str, object] | None:
    return None if e is None else {"source": e.source, "op": e.op, "args": dict(e.args)}


def to_json(diff: GenotypeDiff) -> dict[str, object]:
    """The diff as plain JSON data (``genodsl diff --format json``)."""
    cells = []
    for c in diff.cells:
        nodes = [{"node": n.name, "change": n.change.value,
                  "edges": [{"change": e.change.value, "what": list(e.what),
                             "a": _edge_json(e.before), "b": _edge_json(e.after)}
                            for e in n.edges]} for n in c.changed_nodes]
        cells.append({"cell": c.type.value, "equal": c.is_empty,
                      "matched_by": "position" if c.by_position else "name",
                      "renamed": dict(c.renamed), "nodes": nodes, "unchanged": list(c.unchanged),
                      "output": ({"a": list(c.output_before), "b": list(c.output_after)}
                                 if c.output_changed else None)})
    return {"a": diff.a, "b": diff.b, "equal": diff.is_empty,
            "keep": {"a": diff.keep[0], "b": diff.keep[1]}, "cells": cells,
            "summary": summary(diff)}


# ---- choosing A and B ---------------------------------------------------------------------
def _find_file(text: str) -> Path | None:
    found = find_source(text)
    return found if found is not None and found.is_file() else None


def select_genotype(spec: str) -> tuple[Genotype, str]:
    """``FILE`` or ``FILE:GENOTYPE`` (FILE may be a shipped file, e.g. ``nasunet.geno``) →
    the genotype and its label ``FILE:GENOTYPE``.

    A file with one genotype of its own needs no name; one with several (or none) is an
    error that lists them.
    """
    path, name = _find_file(spec), None
    if path is None and ":" in spec:
        file, _, name = spec.rpartition(":")
        path = _find_file(file)
    shown = spec if name is None else spec.rpartition(":")[0]
    if path is None:
        if Path(shown).is_dir():
            raise GenoError("a folder, not a .geno file", code="E031", file=shown,
                            hint="a search run's result is FOLDER/genotype.geno, each epoch's "
                                 "FOLDER/history/epoch_NNNN.geno")
        raise GenoError("no such file", code="E031", file=shown,
                        hint=f"name a .geno file (or a shipped one: {', '.join(shipped_names())}), "
                             "optionally as FILE:GENOTYPE")
    program = load(path)
    if name is None:
        own = [g for g in program.genotypes.values()
               if g.span is not None and Path(g.span.file).resolve() == path.resolve()]
        found = own or list(program.genotypes.values())
        if not found:
            raise GenoError("the file declares no genotype", code="E016", file=shown,
                            hint="diff compares genotypes: genotype NAME { cell down {...} "
                                 "cell up {...} }")
        if len(found) > 1:
            raise GenoError(f"the file declares {len(found)} genotypes; name one as "
                            f"{shown}:GENOTYPE", code="E016", file=shown,
                            hint=did_you_mean("", [g.name for g in found]))
        genotype = found[0]
    else:
        if name not in program.genotypes:
            space = name in program.spaces
            msg = f"'{name}' is a search space, not a genotype" if space else \
                f"no genotype '{name}' in this file"
            hint = ("diff compares genotypes; a search derives one into RUN/genotype.geno"
                    if space else did_you_mean(name, program.genotypes))
            raise GenoError(msg, code="E016", file=shown, hint=hint)
        genotype = program.genotypes[name]
    return genotype, f"{shown}:{genotype.name}"


__all__ = ["diff_genotypes", "diff_cells", "GenotypeDiff", "CellDiff", "NodeDiff", "EdgeDiff",
           "Edge", "Change", "is_empty", "summary", "render_text", "to_json", "select_genotype"]
