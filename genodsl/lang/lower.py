"""AST → IR: the lowering of declarations into :class:`~genodsl.lang.ir.Program` graphs.

Lowering is tolerant: references that do not resolve are kept (as UNDEFINED states or
unknown op names) so that :mod:`genodsl.lang.validate` can report every problem at once.
It reports only what it must see while building (duplicates, missing parts, bad network
entries); every rule about a whole program lives in validate.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence, Union

import networkx as nx
from pydantic import ValidationError

from . import ast
from ..errors import Diagnostic, GenoError, Severity, Span, did_you_mean
from ..ops.registry import ALIASES, canonical_name
from .ir import (DEFAULT_KEEP, OUTPUT, REQUIRED_CELLS, Cell, CellType, ConcatEdge, Genotype,
                 Network, NetworkSettings, NodeKind, OpCall, OpEdge, OpSet, Program,
                 SearchSpace, StateNode, edge_role)


Named = Union[str, ast.Name]  # a state name; an ast.Name also says where it is written
Report = Callable[[str, str, Optional[Span], Optional[str]], None]  # (code, message, span, hint)


class SourceOp(NamedTuple):
    """One incoming edge of a discrete node, ``op(source)``; ``span``: where it is written."""

    source: Named
    op: OpCall
    span: Span | None = None


def _name(n: Named) -> ast.Name:
    return n if isinstance(n, ast.Name) else ast.Name(n)


def _raise(code: str, message: str, span: Span | None, hint: str | None = None) -> None:
    raise GenoError(message, code=code, span=span, hint=hint)


def _add_inputs(g: nx.DiGraph, names: Sequence[Named], report: Report) -> list[str]:
    """The cell's inputs s0, s1 (indices 0, 1) as graph states; their names."""
    names = [_name(n) for n in names]
    for i, n in enumerate(names[:2]):
        if n.text in g:
            report("E021", f"duplicate state name '{n.text}' in this cell", n.span,
                   "give each input its own name: input s0, s1")
            continue
        g.add_node(n.text, data=StateNode(NodeKind.INPUT, n.text, i, n.span))
    return [n.text for n in names[:2]]


def _ensure_state(g: nx.DiGraph, name: ast.Name) -> None:
    if name.text not in g:  # referenced, never declared: validate reports it (E013)
        g.add_node(name.text, data=StateNode(NodeKind.UNDEFINED, name.text, 10**6, name.span))


def lower_discrete_cell(ctype: CellType,
                        nodes: Sequence[tuple[Named, Sequence[SourceOp | tuple[Named, OpCall]]]],
                        outputs: Sequence[Named] | None, inputs: Sequence[Named] = ("s0", "s1"),
                        *, span: Span | None = None, output_span: Span | None = None,
                        report: Report | None = None) -> Cell:
    """The discrete cell whose nodes, in order, sum ``(source, op)`` edges; the output
    concatenates ``outputs`` (None: the cell has no output statement).

    The one way a discrete cell graph is built: from .geno text (names carry their place) and
    from a search's derivation.  Each edge gets the op kind its place needs and its position
    among the node's edges.  Problems (a duplicate state, edge or output) go to ``report``
    (default: raise a :class:`GenoError`) and the rest is still built; a source that is not
    declared becomes an UNDEFINED state, which validate reports.
    """
    report = report or _raise
    g = nx.DiGraph()
    _add_inputs(g, inputs, report)
    kept = []
    for name, edges in nodes:
        name = _name(name)
        existing = g.nodes.get(name.text)
        if existing is not None:
            first = existing["data"].span
            where = f"first declared at line {first.line}; " if first else ""
            report("E021", f"duplicate state name '{name.text}' in this cell", name.span,
                   f"'{name.text}' is {where}rename one of them")
            continue  # its edges are not checked: they belong to no node
        edges = [SourceOp(*e) for e in edges]
        index = 2 + len(kept)  # the paper's numbering: inputs 0, 1, then the nodes
        g.add_node(name.text, data=StateNode(NodeKind.NODE, name.text, index, name.span,
                                             len(edges)))
        kept.append((name, edges))
    for name, edges in kept:
        for slot, edge in enumerate(edges):
            source = _name(edge.source)
            _ensure_state(g, source)
            if g.has_edge(source.text, name.text):
                report("E022", f"node '{name.text}' takes '{source.text}' twice", edge.span,
                       "each source feeds a node through one edge")
                continue
            role = edge_role(ctype, g.nodes[source.text]["data"].index)
            g.add_edge(source.text, name.text,
                       data=OpEdge(role, (edge.op,), slot, None, edge.span))
    if outputs is not None:
        g.add_node(OUTPUT, data=StateNode(NodeKind.OUTPUT, OUTPUT, 10**7, output_span))
        for position, n in enumerate(outputs):
            n = _name(n)
            _ensure_state(g, n)
            if g.has_edge(n.text, OUTPUT):
                report("E057", f"the output lists '{n.text}' twice", n.span)
                continue
            g.add_edge(n.text, OUTPUT, data=ConcatEdge(position, n.span))
    return Cell(ctype, g, search=False, span=span)


def _plain(value: ast.Value) -> object:
    """An entry's value as the settings read it: names as text, lists as tuples of those."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value.text if isinstance(value, ast.Name) else value


class _Builder:
    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.program = Program()
        self.seen: dict[str, Span | None] = {}

    def err(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span=span, hint=hint))

    def op_call(self, ref: ast.OpRef) -> OpCall:
        name = canonical_name(ref.name)
        if ref.name in ALIASES:
            self.program.warnings.append(Diagnostic(
                "W001", f"'{ref.name}' is read as '{name}' (the same op in the reference)",
                span=ref.span, hint=f"write '{name}'", severity=Severity.WARNING))
        seen: set[str] = set()
        args = []
        spans = []
        for a in ref.args:
            if a.name in seen:
                self.err("E014", f"argument '{a.name}' given twice", a.span)
            seen.add(a.name)
            value = a.value.text if isinstance(a.value, ast.Name) else a.value
            args.append((a.name, value))
            spans.append((a.name, a.span))
        return OpCall(name, tuple(sorted(args)), ref.span, ref.name, tuple(spans))

    def declare(self, name: ast.Name, what: str) -> bool:
        if name.text in self.seen:
            first = self.seen[name.text]
            where = f" (first declared at {first})" if first else ""
            self.err("E020", f"duplicate name '{name.text}': {what} clashes with an earlier "
                     f"declaration{where}", name.span, "every op set, genotype, space and "
                     "network needs its own name")
            return False
        self.seen[name.text] = name.span
        return True

    # op sets
    def opset(self, decl: ast.OpSetDecl) -> None:
        ops = tuple(self.op_call(r) for r in decl.ops)
        if self.declare(decl.name, "op set"):
            self.program.opsets[decl.name.text] = OpSet(decl.name.text, ops, decl.name.span)

    # cells
    def cell_type(self, kind: ast.Name) -> CellType | None:
        try:
            return CellType(kind.text)
        except ValueError:
            self.err("E017", f"unknown cell type '{kind.text}'", kind.span,
                     "a cell is 'down', 'up' or 'normal'")
            return None

    def input_names(self, stmts: list[ast.InputStmt], span: Span | None) -> list[ast.Name]:
        """The names of a cell's ``input`` statement (s0, s1 when it has none)."""
        if not stmts:
            self.err("E050", "the cell declares no inputs", span, "add: input s0, s1")
            return [ast.Name("s0", span), ast.Name("s1", span)]
        for extra in stmts[1:]:
            self.err("E026", "the cell declares its inputs twice", extra.span)
        names = list(stmts[0].names)
        if len(names) != 2:
            where = names[2].span if len(names) > 2 else stmts[0].span  # the first extra
            self.err("E050", f"a NAS-Unet cell has exactly two inputs (s0, s1), got "
                     f"{len(names)}", where,
                     "s0 is the cell two back (down) or the skip (up); s1 the previous cell")
        return names

    def discrete_cell(self, decl: ast.CellDecl) -> Cell | None:
        ctype = self.cell_type(decl.kind)
        inputs = self.input_names(ast.body_of(decl, ast.InputStmt), decl.span)
        nodes = [(stmt.name, [SourceOp(e.source, self.op_call(e.op), e.span) for e in stmt.edges])
                 for stmt in ast.body_of(decl, ast.NodeStmt)]
        outs = ast.body_of(decl, ast.OutputStmt)
        for extra in outs[1:]:
            self.err("E026", "the cell declares its output twice", extra.span)
        if not outs:
            self.err("E051", f"the {decl.kind.text} cell has no output", decl.kind.span,
                     "add: output concat(n2, n3, ...)")
        cell = lower_discrete_cell(ctype or CellType.DOWN, nodes,
                                   outs[0].names if outs else None, inputs, span=decl.span,
                                   output_span=outs[0].span if outs else None, report=self.err)
        return cell if ctype is not None else None

    def cells(self, decls: list, build, owner: ast.Name) -> dict[CellType, Cell]:
        out: dict[CellType, Cell] = {}
        for decl in decls:
            cell = build(decl)
            if cell is None:
                continue
            if cell.type in out:
                first = out[cell.type].span
                where = f" (first at line {first.line})" if first else ""
                self.err("E023", f"'{owner.text}' declares its {cell.type.value} cell twice"
                         f"{where}", decl.kind.span, "each genotype or space has one down "
                         "cell, one up cell and at most one normal cell")
                continue
            out[cell.type] = cell
        for ctype in REQUIRED_CELLS:
            if ctype not in out and not any(d.kind.text not in {c.value for c in CellType}
                                            for d in decls):
                self.err("E049", f"'{owner.text}' has no {ctype.value} cell", owner.span,
                         f"add: cell {ctype.value} {{ ... }}")
        return out

    def keep(self, decl: ast.GenotypeDecl | ast.SpaceDecl) -> tuple[int, bool, Span | None]:
        keeps = ast.body_of(decl, ast.KeepStmt)
        for extra in keeps[1:]:
            self.err("E026", "'keep' is given twice", extra.span)
        return (keeps[0].k, True, keeps[0].span) if keeps else (DEFAULT_KEEP, False, None)

    def genotype(self, decl: ast.GenotypeDecl) -> None:
        cells = self.cells(ast.body_of(decl, ast.CellDecl), self.discrete_cell, decl.name)
        keep, given, keep_span = self.keep(decl)
        if self.declare(decl.name, "genotype"):
            self.program.genotypes[decl.name.text] = Genotype(decl.name.text, cells, keep,
                                                              decl.name.span, given, keep_span)

    def search_cell(self, decl: ast.SpaceCellDecl) -> Cell | None:
        ctype = self.cell_type(decl.kind)
        g = nx.DiGraph()
        inputs = _add_inputs(g, self.input_names(ast.body_of(decl, ast.InputStmt), decl.span),
                             self.err)
        counts = ast.body_of(decl, ast.NodesStmt)
        for extra in counts[1:]:
            self.err("E026", "'nodes' is given twice", extra.span)
        if not counts:
            self.err("E052", "a search cell needs its number of intermediate nodes",
                     decl.kind.span, "add: nodes 3")
            return None
        m = counts[0].count
        uses: dict[str, ast.UseStmt] = {}
        for use in ast.body_of(decl, ast.UseStmt):
            src = use.source.text
            if src in uses:
                self.err("E024", f"edges from '{src}' are given candidates twice", use.span)
                continue
            if src != ast.NODES_SOURCE and src not in inputs:
                self.err("E013", f"unknown source '{src}': not an input of this cell",
                         use.source.span, f"sources are the inputs ({', '.join(inputs)}) or "
                         "'nodes'")
                continue
            uses[src] = use
        node_names = [f"n{i}" for i in range(2, m + 2)]
        for name in set(inputs) & set(node_names):  # an input would be silently replaced
            self.err("E021", f"input '{name}' has the name of this search cell's node {name}",
                     g.nodes[name]["data"].span, "a search cell names its nodes n2, n3, ...; "
                     "rename the input (e.g. s0, s1)")
        for i, n in enumerate(node_names):
            if n not in g:
                g.add_node(n, data=StateNode(NodeKind.NODE, n, i + 2, counts[0].span))
        missing = [s for s in inputs + ([ast.NODES_SOURCE] if m > 1 else []) if s not in uses]
        for s in missing:
            self.err("E053", f"no candidates for the edges from '{s}'", decl.kind.span,
                     f"add: from {s} use OPSET")
        for j, node in enumerate(node_names):
            sources = inputs + node_names[:j]
            for slot, src in enumerate(sources):
                key = src if src in inputs else ast.NODES_SOURCE
                use = uses.get(key)
                if use is None:
                    continue
                src_index = g.nodes[src]["data"].index
                role = edge_role(ctype or CellType.DOWN, src_index)
                if use.opset is not None:
                    ops = ()  # resolved against the op sets after all files are read
                    opset, opset_span = use.opset.text, use.opset.span
                else:
                    ops = tuple(self.op_call(r) for r in use.ops or ())
                    opset, opset_span = None, None
                g.add_edge(src, node, data=OpEdge(role, ops, slot, opset, use.span, opset_span))
        g.add_node(OUTPUT, data=StateNode(NodeKind.OUTPUT, OUTPUT, 10**7, decl.span))
        for pos, n in enumerate(node_names):
            g.add_edge(n, OUTPUT, data=ConcatEdge(pos))
        if ctype is None:
            return None
        return Cell(ctype, g, search=True, span=decl.span)

    def space(self, decl: ast.SpaceDecl) -> None:
        cells = self.cells(ast.body_of(decl, ast.SpaceCellDecl), self.search_cell, decl.name)
        keep, given, keep_span = self.keep(decl)
        if self.declare(decl.name, "search space"):
            self.program.spaces[decl.name.text] = SearchSpace(decl.name.text, cells, keep,
                                                              decl.name.span, given, keep_span)

    def network(self, decl: ast.NetworkDecl) -> None:
        values: dict[str, object] = {}
        for e in decl.body:
            if e.key.text in values:
                self.err("E026", f"entry '{e.key.text}' is given twice", e.key.span)
                continue
            values[e.key.text] = _plain(e.value)
        backbone: NetworkSettings | None = None
        net = Network(decl.name.text, None, decl.body, decl.name.span)
        try:
            backbone = NetworkSettings.model_validate(values, strict=True)
        except ValidationError as exc:
            reported: set[str] = set()
            for problem in exc.errors():
                key = str(problem["loc"][0]) if problem["loc"] else ""
                if key in reported:  # one message per entry (a union reports each branch)
                    continue
                reported.add(key)
                if problem["type"] == "extra_forbidden":
                    self.err("E060", f"unknown network entry '{key}'", net.key_span(key),
                             did_you_mean(key, NetworkSettings.model_fields))
                elif problem["type"] == "missing":
                    field_info = NetworkSettings.model_fields.get(key)
                    doc = f" ({field_info.description})" if field_info is not None else ""
                    self.err("E061", f"network '{decl.name.text}' needs an entry '{key}'",
                             decl.name.span, f"add: {key} = ...{doc}")
                else:
                    field_info = NetworkSettings.model_fields.get(key)
                    doc = field_info.description if field_info is not None else None
                    item = problem["loc"][1] if len(problem["loc"]) > 1 else None
                    where = f" (value {item + 1} of the list)" if isinstance(item, int) else ""
                    msg = problem["msg"].lower().replace("valid tuple", "list: [a, b, ...]")
                    self.err("E060", f"bad value for '{key}'{where}: {msg}",
                             net.entry_span(key), f"{key}: {doc}" if doc else None)
        if backbone is not None and backbone.backbone != "nasunet":
            self.err("E060", f"unknown backbone '{backbone.backbone}'",
                     net.entry_span("backbone"), "available: nasunet")
            backbone = None
        net.settings = backbone
        if self.declare(decl.name, "network"):
            self.program.networks[decl.name.text] = net

    def resolve_opsets(self) -> None:
        """Fill the candidates of search edges that name an op set."""
        for space in self.program.spaces.values():
            for cell in space.cells.values():
                for u, v, d in cell.graph.edges(data=True):
                    e = d["data"]
                    if isinstance(e, OpEdge) and e.opset is not None:
                        opset = self.program.opsets.get(e.opset)
                        if opset is not None:
                            d["data"] = OpEdge(e.role, opset.ops, e.slot, e.opset, e.span,
                                               e.opset_span)


def build_program(modules: list[ast.Module]) -> tuple[Program, list[Diagnostic]]:
    """All declarations of ``modules`` (a file and its imports) → a Program + problems found."""
    b = _Builder()
    handlers = {ast.OpSetDecl: b.opset, ast.GenotypeDecl: b.genotype, ast.SpaceDecl: b.space,
                ast.NetworkDecl: b.network}
    for module in modules:
        for item in module.items:
            handler = handlers.get(type(item))
            if handler is not None:
                handler(item)
    b.resolve_opsets()
    b.program.files = tuple(m.file for m in modules)
    return b.program, b.diags
