"""AST → IR: one ``nx.DiGraph`` per cell, with one typed payload per node and edge.

Graph nodes are state names; ``G.nodes[n]["data"]`` is a :class:`StateNode`.
Graph edges carry ``G.edges[u, v]["data"]``: an :class:`OpEdge` (between states) or a
:class:`ConcatEdge` (a node into the cell's output).  Compile, render, stats, search and
the printer all read these graphs; nothing reads the AST after this stage.

Building is tolerant: references that do not resolve are kept (as UNDEFINED states or
unknown op names) so that :mod:`genodsl.lang.validate` can report every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Iterator, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from . import ast
from ..errors import Diagnostic, GenoError, Span, did_you_mean
from ..ops.registry import ArgValue, OpKind

OUTPUT = "output"  # the output node's name (a keyword, so no user state can take it)
DEFAULT_KEEP = 2


class CellType(str, Enum):
    DOWN = "down"
    UP = "up"
    NORMAL = "normal"  # optional: stride-1 cells a network places with full_res_cells / cells_per_level


REQUIRED_CELLS = (CellType.DOWN, CellType.UP)  # every genotype and space has these two


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


class NetworkSettings(BaseModel):
    """A network's settings (its entries): the backbone, the cells it places, its sizes."""

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
    dims: Literal[2, 3] = Field(
        2, description="spatial dimensions: 2 (H×W images) or 3 (D×H×W volumes)")
    inplane_stages: int = Field(
        0, ge=0, description="3D only: the first N of the depth + 1 halvings (stem1, down1, …) "
        "halve H and W but keep D (thick slices); the up cells mirror them")
    widths: tuple[Annotated[int, Field(ge=1)], ...] | None = Field(
        None, description="node channels per level, depth + 1 values: level 0 (the stems' "
        "resolutions, H and H/2), then down cell 1 … depth's; the up cells mirror them")
    growth: int | None = Field(
        None, ge=1, description="node channels = C × growth^level (level 0: the stems' "
        "resolutions; level j: down cell j's); growth = 2 doubles them at each down cell")
    full_res_cells: int = Field(
        0, ge=0, description="normal cells at full resolution after stem0, before the first "
        "down cell (the last up cell's skip); needs a normal cell")
    cells_per_level: Annotated[int, Field(ge=1)] | tuple[Annotated[int, Field(ge=1)], ...] = Field(
        1, description="cells per level below the stems, one number or depth values: the "
        "down cell then N − 1 normal cells, mirrored after the up cell (the deepest level: "
        "encoder only); N > 1 needs a normal cell")


@dataclass(eq=True)
class Network:
    name: str
    settings: NetworkSettings | None  # None when its entries were invalid (validate reports why)
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
        """The genotype or search space called ``name`` (None if neither)."""
        return self.genotypes.get(name) or self.spaces.get(name)

    # ---- lookups every stage uses (the one place that answers these questions) ----------
    def network(self, name: str | None = None) -> Network:
        """The network called ``name``; with no name, the program's only network."""
        if not self.networks:
            raise GenoError("this file declares no network", code="E016",
                            hint="add a block: network NAME { cells = GENOTYPE  C = 16  depth = 4 }")
        if name is None:
            own = [n for n in self.networks.values()  # the top file's, not its imports'
                   if self.files and n.span is not None and n.span.file == self.files[-1]]
            if len(own) == 1 or len(self.networks) == 1:
                return own[0] if len(own) == 1 else next(iter(self.networks.values()))
            raise GenoError(f"this file declares {len(own) or len(self.networks)} networks; "
                            "name one with --network", code="E016",
                            hint=did_you_mean("", [n.name for n in own] or self.networks))
        net = self.networks.get(name)
        if net is None:
            raise GenoError(f"unknown network '{name}'", code="E016",
                            hint=did_you_mean(name, self.networks))
        return net

    def cells_for(self, network: str | None = None) -> Genotype | SearchSpace:
        """The genotype or search space that ``network`` places in its backbone."""
        net = self.network(network)
        if net.settings is None:  # only an unvalidated program has one
            raise GenoError(f"network '{net.name}' has invalid entries", code="E060")
        cells = self.cells_of(net.settings.cells)
        if cells is None:
            raise GenoError(f"network '{net.name}' places unknown cells "
                            f"'{net.settings.cells}'", code="E015",
                            hint=did_you_mean(net.settings.cells,
                                              [*self.genotypes, *self.spaces]))
        return cells

    def is_search(self, network: str | None = None) -> bool:
        """Whether ``network`` places a search space (a supernet) rather than a genotype."""
        return isinstance(self.cells_for(network), SearchSpace)

    def subprogram(self, network: str | None = None) -> "Program":
        """Only what ``network`` needs: itself, its cells and the op sets they name.

        ``genodsl.dumps(program.subprogram(net))`` is the self-contained text that a run
        or a saved model stores.
        """
        net = self.network(network)
        cells = self.cells_for(net.name)
        part = Program(networks={net.name: net}, files=self.files)
        if isinstance(cells, SearchSpace):
            part.spaces[cells.name] = cells
            used = {e.opset for c in cells.cells.values() for _, _, e in c.op_edges() if e.opset}
            part.opsets = {k: v for k, v in self.opsets.items() if k in used}
        else:
            part.genotypes[cells.name] = cells
        return part

    def all_names(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kind, table in (("opset", self.opsets), ("genotype", self.genotypes),
                            ("space", self.spaces), ("network", self.networks)):
            for n in table:
                out[n] = kind
        return out


def edge_role(cell_type: CellType, source_index: int) -> OpKind:
    """The op kind an edge needs: down cell: inputs down, nodes normal; up cell: s1 up;
    normal cell: every edge normal."""
    if source_index >= 2 or cell_type is CellType.NORMAL:
        return OpKind.NORMAL
    if cell_type is CellType.DOWN:
        return OpKind.DOWN
    return OpKind.UP if source_index == 1 else OpKind.NORMAL


def edge_key(src: str, dst: str) -> str:
    """The name of the edge ``src → dst`` (module keys, alpha rows, render ids)."""
    return f"{src}__{dst}"
