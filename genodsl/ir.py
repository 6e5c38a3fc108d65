"""AST → IR: one ``nx.DiGraph`` per cell, with one typed payload per node and edge.

Graph nodes are state names; ``G.nodes[n]["data"]`` is a :class:`StateNode`.
Graph edges carry ``G.edges[u, v]["data"]``: an :class:`OpEdge` (between states) or a
:class:`ConcatEdge` (a node into the cell's output).  Compile, render, stats, search and
the printer all read these graphs; nothing reads the AST after this stage.

Building is tolerant: references that do not resolve are kept (as UNDEFINED states or
unknown op names) so that :mod:`genodsl.validate` can report every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Iterator

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from . import ast
from .errors import Diagnostic, Severity, Span
from .ops.registry import ALIASES, ArgValue, OpKind, canonical_name

OUTPUT = "output"  # the output node's name (a keyword, so no user state can take it)
DEFAULT_KEEP = 2


class CellType(str, Enum):
    DOWN = "down"
    UP = "up"


class NodeKind(str, Enum):
    INPUT = "input"
    NODE = "node"
    OUTPUT = "output"
    UNDEFINED = "undefined"  # referenced but never declared (validate reports it)


@dataclass(frozen=True)
class StateNode:
    kind: NodeKind
    name: str
    index: int  # inputs 0, 1; intermediate nodes 2, 3, ... (the paper's numbering)
    span: Span | None = field(default=None, compare=False)
    written_edges: int = field(default=0, compare=False)  # edges as written (discrete nodes)


@dataclass(frozen=True)
class OpCall:
    """An op with the arguments the user wrote (defaults are filled in by the registry)."""

    name: str  # canonical (aliases resolved)
    args: tuple[tuple[str, ArgValue], ...] = ()
    span: Span | None = field(default=None, compare=False)
    written: str | None = field(default=None, compare=False)  # the name as written
    arg_spans: tuple[tuple[str, Span | None], ...] = field(default=(), compare=False)

    def arg_span(self, key: str) -> Span | None:
        """Where argument ``key`` was written (the op's own span if it was not)."""
        return dict(self.arg_spans).get(key) or self.span

    @property
    def arg_dict(self) -> dict[str, ArgValue]:
        return dict(self.args)

    def label(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={_fmt_value(v)}" for k, v in self.args) + ")"


def _fmt_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class OpEdge:
    """An edge between two states: one op (discrete) or several candidates (search)."""

    role: OpKind  # the kind of op this edge needs (down / up / normal)
    ops: tuple[OpCall, ...]
    slot: int  # the position of this edge among its node's inputs as written
    opset: str | None = None  # the named op set the candidates came from (search)
    span: Span | None = field(default=None, compare=False)
    opset_span: Span | None = field(default=None, compare=False)  # where the op set is named

    @property
    def op(self) -> OpCall:
        return self.ops[0]


@dataclass(frozen=True)
class ConcatEdge:
    position: int
    span: Span | None = field(default=None, compare=False)  # the name in output concat(...)


@dataclass(eq=False)
class Cell:
    """A cell: inputs s0, s1 → intermediate nodes → concat output, as a DiGraph."""

    type: CellType
    graph: nx.DiGraph
    search: bool
    span: Span | None = None

    def states(self, kind: NodeKind) -> list[str]:
        found = [(d["data"].index, n) for n, d in self.graph.nodes(data=True)
                 if d["data"].kind is kind]
        return [n for _, n in sorted(found)]

    @property
    def inputs(self) -> list[str]:
        return self.states(NodeKind.INPUT)

    @property
    def nodes(self) -> list[str]:
        return self.states(NodeKind.NODE)

    @property
    def outputs(self) -> list[str]:
        if OUTPUT not in self.graph:
            return []
        preds = [(self.graph.edges[u, OUTPUT]["data"].position, u)
                 for u in self.graph.predecessors(OUTPUT)]
        return [u for _, u in sorted(preds)]

    def state(self, name: str) -> StateNode:
        return self.graph.nodes[name]["data"]

    def in_edges(self, node: str) -> list[tuple[str, OpEdge]]:
        """The op edges into ``node`` in the order they were written."""
        found = [(d["data"].slot, u, d["data"]) for u, _, d in self.graph.in_edges(node, data=True)
                 if isinstance(d["data"], OpEdge)]
        return [(u, e) for _, u, e in sorted(found, key=lambda t: t[0])]

    def op_edges(self) -> Iterator[tuple[str, str, OpEdge]]:
        for node in self.nodes:
            for src, e in self.in_edges(node):
                yield src, node, e

    def signature(self) -> tuple:
        nodes = tuple(sorted(((n, d["data"]) for n, d in self.graph.nodes(data=True)),
                             key=lambda t: t[0]))
        edges = tuple(sorted((((u, v), d["data"]) for u, v, d in self.graph.edges(data=True)),
                             key=lambda t: t[0]))
        return (self.type, self.search, nodes, edges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cell) and self.signature() == other.signature()


@dataclass(eq=True)
class OpSet:
    name: str
    ops: tuple[OpCall, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(eq=True)
class CellPair:
    """A down cell and an up cell under one name, with ``keep`` edges per node."""

    name: str
    cells: dict[CellType, Cell]
    keep: int = DEFAULT_KEEP
    span: Span | None = field(default=None, compare=False)
    keep_given: bool = field(default=False, compare=False)
    keep_span: Span | None = field(default=None, compare=False)


@dataclass(eq=True)
class Genotype(CellPair):
    """A discrete genotype: each node keeps exactly ``keep`` edges."""


@dataclass(eq=True)
class SearchSpace(CellPair):
    """Search cells: every edge mixed over an op set; ``keep`` edges per node survive."""


class Backbone(BaseModel):
    """The NAS-Unet backbone's settings (a network's entries)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backbone: str = Field("nasunet", description="the backbone (only 'nasunet' for now)")
    cells: str = Field(description="the genotype or search space placed in the backbone")
    in_channels: int = Field(1, ge=1, description="image channels")
    classes: int = Field(2, ge=1, description="output classes")
    C: int = Field(16, ge=1, description="channels of every cell node")
    depth: int = Field(4, ge=1, description="number of down cells (up cells: depth + 1)")
    stem_multiplier: int | None = Field(
        None, ge=1, description="stem width = multiplier × C (default 4, or M for a search space)")
    double_down_channel: bool = Field(
        False, description="double C at each down cell and halve it at each up cell")


@dataclass(eq=True)
class Network:
    name: str
    backbone: Backbone | None  # None when its entries were invalid (validate reports why)
    entries: tuple[ast.Entry, ...] = field(default=(), compare=False)
    span: Span | None = field(default=None, compare=False)

    def entry_span(self, key: str) -> Span | None:
        for e in self.entries:
            if e.key.text == key:
                return e.value_span or e.span
        return self.span

    def key_span(self, key: str) -> Span | None:
        for e in self.entries:
            if e.key.text == key:
                return e.key.span or e.span
        return self.span


@dataclass
class Program:
    """Everything a set of .geno files declares (imports merged), as graphs."""

    opsets: dict[str, OpSet] = field(default_factory=dict)
    genotypes: dict[str, Genotype] = field(default_factory=dict)
    spaces: dict[str, SearchSpace] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    warnings: list[Diagnostic] = field(default_factory=list, compare=False)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Program) and self.opsets == other.opsets
                and self.genotypes == other.genotypes and self.spaces == other.spaces
                and self.networks == other.networks)

    def cells_of(self, name: str) -> Genotype | SearchSpace | None:
        return self.genotypes.get(name) or self.spaces.get(name)

    def all_names(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind, table in (("opset", self.opsets), ("genotype", self.genotypes),
                            ("space", self.spaces), ("network", self.networks)):
            for n in table:
                out[n] = kind
        return out


# ---- building ---------------------------------------------------------------------------
def edge_role(cell_type: CellType, source_index: int) -> OpKind:
    """The op kind an edge needs: down cell: inputs down, nodes normal; up cell: s1 up."""
    if source_index >= 2:
        return OpKind.NORMAL
    if cell_type is CellType.DOWN:
        return OpKind.DOWN
    return OpKind.UP if source_index == 1 else OpKind.NORMAL


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
                     "a cell is 'down' or 'up'")
            return None

    def add_inputs(self, g: nx.DiGraph, stmts: list[ast.InputStmt], span: Span | None) -> list[str]:
        if not stmts:
            self.err("E050", "the cell declares no inputs", span, "add: input s0, s1")
            names: list[ast.Name] = [ast.Name("s0", span), ast.Name("s1", span)]
        else:
            for extra in stmts[1:]:
                self.err("E026", "the cell declares its inputs twice", extra.span)
            names = list(stmts[0].names)
            if len(names) != 2:
                where = names[2].span if len(names) > 2 else stmts[0].span  # the first extra
                self.err("E050", f"a NAS-Unet cell has exactly two inputs (s0, s1), got "
                         f"{len(names)}", where,
                         "s0 is the cell two back (down) or the skip (up); s1 the previous cell")
        for i, n in enumerate(names[:2]):
            if n.text in g:
                self.err("E021", f"duplicate state name '{n.text}' in this cell", n.span,
                         "give each input its own name: input s0, s1")
                continue
            g.add_node(n.text, data=StateNode(NodeKind.INPUT, n.text, i, n.span))
        return [n.text for n in names[:2]]

    def ensure_state(self, g: nx.DiGraph, name: ast.Name) -> None:
        if name.text not in g:
            g.add_node(name.text, data=StateNode(NodeKind.UNDEFINED, name.text, 10**6, name.span))

    def discrete_cell(self, decl: ast.CellDecl) -> Cell | None:
        ctype = self.cell_type(decl.kind)
        g = nx.DiGraph()
        self.add_inputs(g, ast.body_of(decl, ast.InputStmt), decl.span)
        nodes = ast.body_of(decl, ast.NodeStmt)
        index = 2
        duplicates: set[int] = set()
        for stmt in nodes:
            existing = g.nodes.get(stmt.name.text)
            if existing is not None and existing["data"].kind is not NodeKind.UNDEFINED:
                first = existing["data"].span
                where = f"first declared at line {first.line}; " if first else ""
                self.err("E021", f"duplicate state name '{stmt.name.text}' in this cell",
                         stmt.name.span, f"'{stmt.name.text}' is {where}rename one of them")
                duplicates.add(id(stmt))  # its edges are not checked: they belong to no node
                continue
            g.add_node(stmt.name.text, data=StateNode(NodeKind.NODE, stmt.name.text, index,
                                                      stmt.name.span, len(stmt.edges)))
            index += 1
        for stmt in nodes:
            if id(stmt) in duplicates:
                continue
            for slot, edge in enumerate(stmt.edges):
                self.ensure_state(g, edge.source)
                src = g.nodes[edge.source.text]["data"]
                if g.has_edge(edge.source.text, stmt.name.text):
                    self.err("E022", f"node '{stmt.name.text}' takes '{edge.source.text}' twice",
                             edge.span, "each source feeds a node through one edge")
                    continue
                role = edge_role(ctype or CellType.DOWN, src.index)
                g.add_edge(edge.source.text, stmt.name.text,
                           data=OpEdge(role, (self.op_call(edge.op),), slot, None, edge.span))
        outs = ast.body_of(decl, ast.OutputStmt)
        for extra in outs[1:]:
            self.err("E026", "the cell declares its output twice", extra.span)
        if not outs:
            self.err("E051", f"the {decl.kind.text} cell has no output", decl.kind.span,
                     "add: output concat(n2, n3, ...)")
        else:
            g.add_node(OUTPUT, data=StateNode(NodeKind.OUTPUT, OUTPUT, 10**7, outs[0].span))
            for pos, n in enumerate(outs[0].names):
                self.ensure_state(g, n)
                if g.has_edge(n.text, OUTPUT):
                    self.err("E057", f"the output lists '{n.text}' twice", n.span)
                    continue
                g.add_edge(n.text, OUTPUT, data=ConcatEdge(pos, n.span))
        if ctype is None:
            return None
        return Cell(ctype, g, search=False, span=decl.span)

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
                         f"{where}", decl.kind.span,
                         "each genotype or space has one down cell and one up cell")
                continue
            out[cell.type] = cell
        for ctype in CellType:
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
        inputs = self.add_inputs(g, ast.body_of(decl, ast.InputStmt), decl.span)
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
        for i, n in enumerate(node_names):
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
        from pydantic import ValidationError

        values: dict[str, object] = {}
        for e in decl.body:
            if e.key.text in values:
                self.err("E026", f"entry '{e.key.text}' is given twice", e.key.span)
                continue
            values[e.key.text] = e.value.text if isinstance(e.value, ast.Name) else e.value
        backbone: Backbone | None = None
        net = Network(decl.name.text, None, decl.body, decl.name.span)
        try:
            backbone = Backbone.model_validate(values, strict=True)
        except ValidationError as exc:
            for problem in exc.errors():
                key = str(problem["loc"][0]) if problem["loc"] else ""
                if problem["type"] == "extra_forbidden":
                    from .errors import did_you_mean
                    self.err("E060", f"unknown network entry '{key}'", net.key_span(key),
                             did_you_mean(key, Backbone.model_fields))
                elif problem["type"] == "missing":
                    field_info = Backbone.model_fields.get(key)
                    doc = f" ({field_info.description})" if field_info is not None else ""
                    self.err("E061", f"network '{decl.name.text}' needs an entry '{key}'",
                             decl.name.span, f"add: {key} = ...{doc}")
                else:
                    field_info = Backbone.model_fields.get(key)
                    doc = field_info.description if field_info is not None else None
                    self.err("E060", f"bad value for '{key}': {problem['msg'].lower()}",
                             net.entry_span(key), f"{key}: {doc}" if doc else None)
        if backbone is not None and backbone.backbone != "nasunet":
            self.err("E060", f"unknown backbone '{backbone.backbone}'",
                     net.entry_span("backbone"), "available: nasunet")
            backbone = None
        net.backbone = backbone
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
