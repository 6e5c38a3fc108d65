"""IR → list of diagnostics, before any tensor exists.  Every problem is reported at once.

The checks: names resolve (ops, op sets, states, genotypes), op arguments, edges point
backwards (no edge from a later node or from the node itself), every node has inputs and
reaches the output, each edge's op has the kind its place needs, discrete nodes keep
exactly k edges, and static shape inference through each cell's DAG agrees with the
backbone (all maps added or concatenated have one size; the input fits the depth).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable

import networkx as nx

from ..errors import Diagnostic, Span, did_you_mean
from .limits import check_program
from .plan import AXES, needs_normal_cell, shape_problems, size_divisors
from .ir import (OUTPUT, Cell, CellType, Network, NodeKind, OpCall, OpEdge, Program,
                 SearchSpace)
from ..ops.registry import REGISTRY, ALIASES, OpKind, OpSpec, Param, check_args


class _Report:
    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self._seen: set[tuple] = set()

    def add(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        key = (code, message, span)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(Diagnostic(code, message, span=span, hint=hint))


def _size(f: Fraction) -> str:
    if f == 1:
        return "H"
    if f.denominator == 1:
        return f"{f.numerator}H"
    if f.numerator == 1:
        return f"H/{f.denominator}"
    return f"{f}H"


def _check_op(op: OpCall, rep: _Report, *, discrete: bool) -> OpKind | None:
    spec = REGISTRY.get(op.name)
    if spec is None:
        rep.add("E010", f"unknown op '{op.written or op.name}'", op.span,
                did_you_mean(op.written or op.name, list(REGISTRY) + list(ALIASES)))
        return None
    for key, message, hint in check_args(spec, op.arg_dict):
        param = spec.param(key)
        if param is None:
            rep.add("E014", message, op.arg_span(key), _unknown_arg_hint(spec, key, hint))
        else:
            rep.add("E015", message, op.arg_span(key), _bad_value_hint(param, op.arg_dict[key]))
    if discrete and spec.search_only:
        rep.add("E055", f"'{op.name}' is a search candidate only; a discrete cell cannot use it",
                op.span, "drop the edge or pick a real op")
    return spec.kind


def _unknown_arg_hint(spec: OpSpec, key: str, hint: str | None) -> str | None:
    if not spec.params or (hint or "").startswith("did you mean"):
        return hint
    return f"'{spec.name}' takes " + "; ".join(f"{p.name} = {p.doc}, default {p.default}"
                                               for p in spec.params)


def _bad_value_hint(param: Param, value: object) -> str:
    if param.odd and isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return f"use an odd value, e.g. {param.name}={value - 1} or {param.name}={value + 1}"
    return f"{param.name} is the {param.doc}, a whole number ≥ {param.minimum} " \
           f"(default {param.default})"


def _article(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _role_name(cell: Cell, src: str) -> str:
    state = cell.state(src)
    if state.kind is NodeKind.NODE:
        return "between nodes"
    return f"on input {src}"


def _check_kind(cell: Cell, src: str, edge: OpEdge, op: OpCall, kind: OpKind | None,
                rep: _Report, where: str = "") -> bool:
    if kind is None or kind is OpKind.ANY or kind is edge.role:
        return True
    span = edge.opset_span or edge.span if edge.opset else op.span
    rep.add("E044", f"{kind.value} op '{op.name}' {_role_name(cell, src)} of "
            f"{_article(cell.type.value)} cell{where}", span,
            f"{_why(cell, src)}, so this edge needs a {edge.role.value} op: "
            + ", ".join(s.name for s in REGISTRY.values() if s.kind is edge.role))
    return False


def _why(cell: Cell, src: str) -> str:
    """Why an edge from ``src`` needs the op kind it does (paper Figure 2)."""
    index = cell.state(src).index
    if index >= 2:
        return "nodes of a cell all have the cell's output size"
    if cell.type is CellType.NORMAL:
        return "a normal cell keeps the size of its inputs"
    if cell.type is CellType.DOWN:
        return "a down cell halves its inputs"
    if index == 0:
        return "s0 of an up cell is the encoder skip, already at the output size"
    return "s1 of an up cell is the previous cell, at half the output size"


def _input_scale(cell: Cell, src: str) -> Fraction:
    """Sizes relative to s1's size H, after the cell's preprocessing."""
    if cell.type is CellType.UP and cell.state(src).index == 0:
        return Fraction(2)
    return Fraction(1)


def _check_cell(cell: Cell, keep: int, rep: _Report, owner: str,
                keep_span: Span | None = None) -> None:
    g = cell.graph
    # undefined states
    defined = [n for n, d in g.nodes(data=True)
               if d["data"].kind in (NodeKind.INPUT, NodeKind.NODE)]
    for n, d in g.nodes(data=True):
        if d["data"].kind is NodeKind.UNDEFINED:
            rep.add("E013", f"unknown state '{n}' in the {cell.type.value} cell of '{owner}'",
                    d["data"].span, did_you_mean(n, defined))
    ok_edge: dict[tuple[str, str], OpKind] = {}
    for src, dst, edge in cell.op_edges():
        s, t = cell.state(src), cell.state(dst)
        if s.kind is NodeKind.UNDEFINED:
            continue
        if src == dst:
            rep.add("E041", f"node '{dst}' takes itself as input", edge.span,
                    "a node can take the inputs and earlier nodes only")
            continue
        if s.kind is NodeKind.NODE and s.index > t.index:
            rep.add("E040", f"node '{dst}' takes '{src}', which is declared after it",
                    edge.span, "a node can take the inputs and earlier nodes only; reorder them")
            continue
        if not edge.ops:
            continue  # an unknown op set, reported with the space
        kinds = [_check_op(op, rep, discrete=not cell.search) for op in edge.ops]
        good = True
        if cell.search and not any(k is edge.role for k in kinds):
            # one message for the whole candidate list, not one per candidate
            where = f"op set '{edge.opset}'" if edge.opset else "the candidate list"
            rep.add("E054", f"{where} has no {edge.role.value} op, but edges "
                    f"{_role_name(cell, src)} of {_article(cell.type.value)} cell need one",
                    edge.opset_span or edge.span, f"{edge.role.value} ops: "
                    + ", ".join(s.name for s in REGISTRY.values() if s.kind is edge.role))
            good = False
        else:
            where = ""
            if cell.search:
                where = f" (op set '{edge.opset}')" if edge.opset else " (inline candidates)"
            for op, kind in zip(edge.ops, kinds):
                good &= _check_kind(cell, src, edge, op, kind, rep, where)
        if good and kinds and kinds[0] is not None:
            ok_edge[(src, dst)] = edge.role
    # node in-degree and keep
    for node in cell.nodes:
        n_in = len(cell.in_edges(node))
        span = cell.state(node).span
        if n_in == 0:
            rep.add("E042", f"node '{node}' has no inputs", span,
                    "a search node gets edges only from sources with a 'from SOURCE use ...' "
                    "line" if cell.search else
                    "a node sums its incoming edges: give it at least one")
            continue
        n_in = cell.state(node).written_edges or n_in  # a duplicate edge is reported alone
        if not cell.search and n_in != keep:
            rep.add("E045", f"node '{node}' has {n_in} edge{'s' if n_in != 1 else ''}; a "
                    f"discrete node keeps exactly {keep}", span,
                    "set 'keep N' in the genotype if you mean another number")
    if cell.search and cell.nodes and keep > len(cell.inputs):
        # the first node can only take the inputs, whatever 'from ... use' lines exist
        rep.add("E045", f"keep {keep} is more than the {len(cell.inputs)} edges the first "
                f"node ('{cell.nodes[0]}') can have", keep_span or cell.span,
                f"the first node takes only the inputs: use keep {len(cell.inputs)} or less")
    # reachability
    if OUTPUT in g:
        reaching = nx.ancestors(g, OUTPUT)
        for node in cell.nodes:
            if node not in reaching:
                rep.add("E043", f"node '{node}' reaches no output", cell.state(node).span,
                        "add it to the output concat, or use it in a later node")
    # static shape inference (relative to s1's size H)
    if not nx.is_directed_acyclic_graph(g):
        return
    size: dict[str, Fraction] = {n: _input_scale(cell, n) for n in cell.inputs}
    for node in nx.topological_sort(g):
        if cell.state(node).kind is not NodeKind.NODE:
            continue
        got = {}
        for src, edge in cell.in_edges(node):
            if (src, node) in ok_edge and src in size:
                got[f"{edge.op.label() if not cell.search else edge.role.value}({src})"] = \
                    size[src] * Fraction(edge.role.scale).limit_denominator()
        if not got:
            continue
        if len(set(got.values())) > 1:
            detail = ", ".join(f"{k} gives {_size(v)}" for k, v in got.items())
            rep.add("E046", f"node '{node}' adds maps of different sizes: {detail}",
                    cell.state(node).span, "every edge into a node must give one size")
            continue
        size[node] = next(iter(got.values()))
    expected = {CellType.DOWN: Fraction(1, 2), CellType.UP: Fraction(2)}.get(cell.type,
                                                                            Fraction(1))
    for n in cell.outputs:
        if n not in size or size[n] == expected:
            continue
        concat = g.edges[n, OUTPUT]["data"]
        if cell.state(n).kind is NodeKind.INPUT:
            hint = (f"'{n}' is an input, still at its input size: the output concatenates "
                    "intermediate nodes")
        else:
            hint = "a down cell halves the size, an up cell doubles it, a normal cell keeps it"
        rep.add("E046", f"the {cell.type.value} cell's output must be {_size(expected)} "
                f"(s1 is H), but '{n}' is {_size(size[n])}",
                concat.span or cell.state(OUTPUT).span, hint)


def _check_opsets(program: Program, rep: _Report) -> None:
    for opset in program.opsets.values():
        if not opset.ops:
            rep.add("E056", f"op set '{opset.name}' is empty", opset.span)
        seen: set[str] = set()
        for op in opset.ops:
            if op.label() in seen:
                rep.add("E025", f"op set '{opset.name}' lists '{op.label()}' twice", op.span,
                        "a duplicate candidate only splits its weight")
            seen.add(op.label())
            _check_op(op, rep, discrete=False)


def _check_space(space: SearchSpace, program: Program, rep: _Report) -> None:
    for cell in space.cells.values():
        for _, _, edge in cell.op_edges():
            if edge.opset is not None and edge.opset not in program.opsets:
                rep.add("E011", f"unknown op set '{edge.opset}'", edge.opset_span or edge.span,
                        did_you_mean(edge.opset, program.opsets))
        _check_cell(cell, space.keep, rep, space.name, space.keep_span)


def _check_network(net: Network, program: Program, rep: _Report) -> None:
    settings = net.settings
    if settings is None:
        return
    if program.cells_of(settings.cells) is None:
        rep.add("E012", f"unknown genotype or search space '{settings.cells}'", net.entry_span("cells"),
                did_you_mean(settings.cells, list(program.genotypes) + list(program.spaces)))
    for key, message, hint in shape_problems(settings):
        rep.add("E064", message, net.entry_span(key), hint)
    cells = program.cells_of(settings.cells)
    if cells is not None and needs_normal_cell(settings) and CellType.NORMAL not in cells.cells:
        key = "full_res_cells" if settings.full_res_cells else "cells_per_level"
        what = "genotype" if cells.name in program.genotypes else "search space"
        rep.add("E065", f"network '{net.name}' places normal cells ({key}), but {what} "
                f"'{cells.name}' has no normal cell", net.entry_span(key),
                f"add to '{cells.name}': cell normal {{ input s0, s1 ... }} (every edge a "
                "normal op), or drop " + key)
    if settings.double_down_channel and settings.C % 2:
        rep.add("E047", f"double_down_channel halves C down to C/2 in the last up cell, so C "
                f"must be even (got {settings.C})", net.entry_span("C"))
    if settings.inplane_stages and settings.dims == 2:
        rep.add("E063", "inplane_stages keeps a volume's depth axis, but this network is 2D",
                net.entry_span("inplane_stages"), "set dims = 3, or drop inplane_stages")
    elif settings.inplane_stages > settings.depth + 1:
        rep.add("E063", f"inplane_stages = {settings.inplane_stages}, but a network of depth "
                f"{settings.depth} halves only {settings.depth + 1} times (stem1 and "
                f"{settings.depth} down cells)", net.entry_span("inplane_stages"),
                f"use at most {settings.depth + 1}")


def _axis_hint(settings, axis: int, value: int, factor: int) -> str:
    lo = max(factor, value // factor * factor)
    hint = f"use {lo} or {lo + factor}, or a smaller depth"
    if settings.dims == 3 and axis == 0:  # a thick-slice volume: keep D for the first stages
        halvings = settings.depth + 1
        fits = next((n for n in range(settings.inplane_stages, halvings + 1)
                     if value % 2 ** (halvings - n) == 0), None)
        if fits is not None and value >= 1:
            times = {1: "once", 2: "twice"}.get(halvings - fits, f"{halvings - fits} times")
            hint += f", or inplane_stages = {fits} (halve D {times} only)"
    return hint


def check_input(net: Network, shape: tuple[int, ...]) -> list[Diagnostic]:
    """Problems with running ``net`` on an input of ``shape`` = (N, C, H, W), or
    (N, C, D, H, W) for a 3D network."""
    rep = _Report()
    settings = net.settings
    if settings is None:
        return []
    layout = "N×C×H×W" if settings.dims == 2 else "N×C×D×H×W"
    if len(shape) != 2 + settings.dims:
        what = " (a 3D network)" if settings.dims == 3 else ""
        rep.add("E048", f"the input must be {layout}{what}, got {'×'.join(map(str, shape))}",
                net.entry_span("dims") if settings.dims == 3 else None,
                "a volume needs dims = 3 in the network" if len(shape) == 5 else None)
        return rep.items
    c = shape[1]
    if c != settings.in_channels:
        rep.add("E047", f"channel mismatch: the input has {c} channel{'s' if c != 1 else ''} but "
                f"network '{net.name}' takes in_channels = {settings.in_channels}",
                net.entry_span("in_channels"), f"use an input of {settings.in_channels} channel"
                f"{'s' if settings.in_channels != 1 else ''} or change in_channels")
    # the deepest map of the stage plan is input / factor, per axis
    for axis, (name, value, factor) in enumerate(zip(AXES[settings.dims], shape[2:],
                                                     size_divisors(settings))):
        if value % factor or value < 1:
            flat = settings.dims == 3 and axis == 0 and settings.inplane_stages
            power = "2^(depth+1-inplane_stages)" if flat else "2^(depth+1)"
            extra = f", inplane_stages {settings.inplane_stages}" if flat else ""
            rep.add("E048", f"spatial mismatch: input {name} {value} is not divisible by "
                    f"{power} = {factor} (depth {settings.depth}{extra})",
                    net.entry_span("depth"), _axis_hint(settings, axis, value, factor))
    return rep.items


def validate(program: Program) -> list[Diagnostic]:
    rep = _Report()
    _check_opsets(program, rep)
    for geno in program.genotypes.values():
        for cell in geno.cells.values():
            _check_cell(cell, geno.keep, rep, geno.name, geno.keep_span)
    for space in program.spaces.values():
        _check_space(space, program, rep)
    for net in program.networks.values():
        _check_network(net, program, rep)
    return rep.items + check_program(program)  # the documented limits (lang/limits.py)


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    def key(d: Diagnostic):
        s = d.span
        return (s.file, s.line, s.col, d.code) if s else (d.file or "", 0, 0, d.code)
    return sorted(diags, key=key)
