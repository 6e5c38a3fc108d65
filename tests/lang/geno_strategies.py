"""Hypothesis strategies for .geno programs: valid ASTs (with comments) and corrupted texts.

``programs()`` draws a whole valid :class:`genodsl.lang.ast.Module`: op sets, genotypes (random
M in 1..4, each node taking ``keep`` distinct earlier states through ops of the kind its
place needs, random op arguments), search spaces and networks, with comments placed the
way the parser attaches them, so ``parse(format_module(m)) == m`` must hold exactly.
"""

from __future__ import annotations

import dataclasses
import re

from hypothesis import strategies as st

from genodsl.lang import ast
from genodsl.lang.ir import CellType, edge_role
from genodsl.ops.registry import ALIASES, REGISTRY, OpKind
from genodsl.lang.grammar import grammar_text

KEYWORDS = frozenset(re.findall(r'"([a-z]+)"', grammar_text())) | {"nodes"}
ROLES = (OpKind.DOWN, OpKind.UP, OpKind.NORMAL)

_HEAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
names = st.builds(str.__add__, st.sampled_from(_HEAD),
                  st.text(_HEAD + "0123456789", max_size=6)).filter(lambda s: s not in KEYWORDS)
comment = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF,
                                blacklist_characters="\x7f"), max_size=16).map(
    lambda s: ("#" + s).rstrip())


# ---- comments, shaped the way the parser attaches them --------------------------------
@st.composite
def comment_groups(draw, max_groups: int = 2) -> tuple[str, ...]:
    """Comment lines, groups separated by one blank line ("")."""
    groups = draw(st.lists(st.lists(comment, min_size=1, max_size=2), max_size=max_groups))
    out: list[str] = []
    for i, g in enumerate(groups):
        if i:
            out.append("")
        out += g
    return tuple(out)


@st.composite
def leading(draw, *, gap_allowed: bool) -> tuple[str, ...]:
    lines = draw(comment_groups())
    if lines and draw(st.booleans()):
        lines += ("",)  # a blank line between the comments and the statement
    if gap_allowed and draw(st.booleans()):
        lines = ("",) + lines  # a blank line before, inside a block
    return lines


def decorate(draw, stmt, *, top: bool, first: bool):
    """``stmt`` with random leading / trailing comments (and end comments for blocks)."""
    if not draw(st.booleans()):
        return stmt
    changes = {"leading": draw(leading(gap_allowed=not top and not first)),
               "trailing": draw(st.none() | comment)}
    if hasattr(stmt, "end_comments"):
        ends = draw(comment_groups())
        if ends and stmt.body and draw(st.booleans()):
            ends = ("",) + ends
        changes["end_comments"] = ends
    return dataclasses.replace(stmt, **changes)


def decorate_body(draw, body: list) -> tuple:
    return tuple(decorate(draw, s, top=False, first=i == 0) for i, s in enumerate(body))


# ---- ops -------------------------------------------------------------------------------
ARG_VALUES = {"k": st.sampled_from([1, 3, 5, 7]), "dilation": st.integers(1, 4),
              "reduction": st.integers(1, 32)}


@st.composite
def op_ref(draw, kind: OpKind, *, discrete: bool, allow_none: bool = False) -> ast.OpRef:
    choices = [n for n, s in REGISTRY.items() if s.kind is kind and not s.search_only]
    if kind is OpKind.NORMAL and discrete:
        choices += [a for a, target in ALIASES.items() if REGISTRY[target].kind is kind]
    if allow_none:
        choices.append("none")
    name = draw(st.sampled_from(sorted(choices)))
    spec = REGISTRY.get(ALIASES.get(name, name))
    params = [p.name for p in spec.params]
    chosen = draw(st.lists(st.sampled_from(params), unique=True)) if params else []
    args = tuple(ast.Arg(p, draw(ARG_VALUES[p])) for p in chosen)
    return ast.OpRef(name, args)


@st.composite
def candidates(draw, kind: OpKind) -> tuple[ast.OpRef, ...]:
    """Distinct candidates for an edge needing ``kind`` (maybe with ``none``)."""
    ops = draw(st.lists(op_ref(kind, discrete=False), min_size=1, max_size=4,
                        unique_by=lambda o: (o.name, tuple(sorted((a.name, a.value)
                                                                  for a in o.args)))))
    if draw(st.booleans()):
        ops.insert(draw(st.integers(0, len(ops))), ast.OpRef("none"))
    return tuple(ops)


# ---- declarations ----------------------------------------------------------------------
@st.composite
def discrete_cell(draw, ctype: CellType, keep: int) -> ast.CellDecl:
    state_names = draw(st.lists(names, min_size=6, max_size=6, unique=True))
    inputs, nodes = state_names[:2], state_names[2:2 + draw(st.integers(1, 4))]
    used: set[str] = set()
    node_stmts = []
    for j, node in enumerate(nodes):
        sources = inputs + nodes[:j]
        chosen = draw(st.lists(st.sampled_from(sources), min_size=keep, max_size=keep,
                               unique=True))
        edges = []
        for src in chosen:
            index = sources.index(src)
            op = draw(op_ref(edge_role(ctype, index), discrete=True))
            edges.append(ast.Edge(op, ast.Name(src)))
            if index >= 2:
                used.add(src)
        node_stmts.append(ast.NodeStmt(ast.Name(node), tuple(edges)))
    # every node must reach the output: the unused ones are concatenated, others may be
    outputs = [n for n in nodes if n not in used]
    outputs += draw(st.lists(st.sampled_from(sorted(used)), unique=True)) if used else []
    outputs = draw(st.permutations(outputs))
    body: list[ast.Stmt] = list(node_stmts)
    body.insert(draw(st.integers(0, len(body))), ast.InputStmt(tuple(map(ast.Name, inputs))))
    body.insert(draw(st.integers(0, len(body))), ast.OutputStmt(tuple(map(ast.Name, outputs))))
    return ast.CellDecl(ast.Name(ctype.value), decorate_body(draw, body))


@st.composite
def genotype(draw, name: str) -> ast.GenotypeDecl:
    keep = draw(st.sampled_from([None, 1, 2]))
    body: list[ast.Stmt] = [draw(discrete_cell(t, keep or 2))
                            for t in draw(st.permutations(list(CellType)))]
    if keep is not None:
        body.insert(draw(st.integers(0, 2)), ast.KeepStmt(keep))
    return ast.GenotypeDecl(ast.Name(name), decorate_body(draw, body))


@st.composite
def search_cell(draw, ctype: CellType, opsets: dict[OpKind, list[str]]) -> ast.SpaceCellDecl:
    m = draw(st.integers(1, 4))
    auto = {f"n{i}" for i in range(2, m + 2)}  # a search cell's own node names
    inputs = draw(st.lists(names.filter(lambda s: s not in auto), min_size=2, max_size=2,
                           unique=True))
    body: list[ast.Stmt] = [ast.InputStmt(tuple(map(ast.Name, inputs))), ast.NodesStmt(m)]
    sources = [(inputs[0], 0), (inputs[1], 1)] + ([(ast.NODES_SOURCE, 2)] if m > 1 else [])
    for src, index in draw(st.permutations(sources)):
        role = edge_role(ctype, index)
        named = opsets.get(role, [])
        if named and draw(st.booleans()):
            use = ast.UseStmt(ast.Name(src), opset=ast.Name(draw(st.sampled_from(named))))
        else:
            use = ast.UseStmt(ast.Name(src), ops=draw(candidates(role)))
        body.append(use)
    return ast.SpaceCellDecl(ast.Name(ctype.value), decorate_body(draw, body))


@st.composite
def space(draw, name: str, opsets: dict[OpKind, list[str]]) -> ast.SpaceDecl:
    keep = draw(st.sampled_from([None, 1, 2]))
    body: list[ast.Stmt] = [draw(search_cell(t, opsets))
                            for t in draw(st.permutations(list(CellType)))]
    if keep is not None:
        body.insert(draw(st.integers(0, 2)), ast.KeepStmt(keep))
    return ast.SpaceDecl(ast.Name(name), decorate_body(draw, body))


@st.composite
def network(draw, name: str, targets: list[str]) -> ast.NetworkDecl:
    double = draw(st.booleans())
    optional = {
        "backbone": st.just(ast.Name("nasunet")),
        "in_channels": st.integers(1, 4),
        "classes": st.integers(1, 5),
        # doubling at every down cell: small C and depth keep it inside lang/limits.py
        "C": st.integers(1, 4).map(lambda c: 2 * c) if double else st.integers(1, 32),
        "depth": st.integers(1, 4 if double else 6),
        "stem_multiplier": st.integers(1, 4),
        "double_down_channel": st.just(double),
    }
    keys = draw(st.lists(st.sampled_from(sorted(optional)), unique=True))
    entries = [ast.Entry(ast.Name(k), draw(optional[k])) for k in keys]
    entries.insert(draw(st.integers(0, len(entries))),
                   ast.Entry(ast.Name("cells"), ast.Name(draw(st.sampled_from(targets)))))
    return ast.NetworkDecl(ast.Name(name), decorate_body(draw, entries))


@st.composite
def programs(draw) -> ast.Module:
    """A valid, self-contained module (no imports)."""
    n_geno, n_space = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    n_opset = draw(st.integers(0, 3))
    n_net = draw(st.integers(0, 2)) if n_geno + n_space else 0
    decl_names = draw(st.lists(names, min_size=n_geno + n_space + n_opset + n_net,
                               max_size=n_geno + n_space + n_opset + n_net, unique=True))
    it = iter(decl_names)
    items: list = []
    usable: dict[OpKind, list[str]] = {}
    for _ in range(n_opset):
        name = next(it)
        kind = draw(st.sampled_from(ROLES))
        items.append(ast.OpSetDecl(ast.Name(name), draw(candidates(kind))))
        usable.setdefault(kind, []).append(name)
    genos = [next(it) for _ in range(n_geno)]
    spaces = [next(it) for _ in range(n_space)]
    items += [draw(genotype(g)) for g in genos]
    items += [draw(space(s, usable)) for s in spaces]
    items += [draw(network(next(it), genos + spaces)) for _ in range(n_net)]
    items = draw(st.permutations(items))
    items = [decorate(draw, item, top=True, first=i == 0) for i, item in enumerate(items)]
    return ast.Module(tuple(items), draw(comment_groups()) if items else ())


# ---- corruptions -----------------------------------------------------------------------
VOCAB = sorted(KEYWORDS) + ["{", "}", "(", ")", "[", "]", ",", "=", "+", '"', "#", "\n", "0",
                            "-1", "2.5", "1e400", "conv", "up_conv", "none", "s0", "s1", "n2",
                            "k=4", "x", "é", "\t", "\\", ";", ":"]
_TOKEN = re.compile(r"\w+|[^\w\s]")


@st.composite
def corrupt(draw, text: str) -> str:
    """``text`` with 1-3 random edits: characters, tokens or whole lines."""
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["delete", "insert", "replace", "token", "swap", "dup"]))
        n = len(text)
        if how in ("delete", "insert", "replace") and n:
            i = draw(st.integers(0, n - 1))
            if how == "delete":
                text = text[:i] + text[i + draw(st.integers(1, 8)):]
            else:
                piece = draw(st.sampled_from(VOCAB) | st.characters(max_codepoint=0x24F))
                cut = i + (1 if how == "replace" else 0)
                text = text[:i] + piece + text[cut:]
        elif how == "token":
            tokens = list(_TOKEN.finditer(text))
            if tokens:
                m = draw(st.sampled_from(tokens))
                new = draw(st.sampled_from(VOCAB + ["", m.group(0) * 2]))
                text = text[:m.start()] + new + text[m.end():]
        else:
            lines = text.split("\n")
            if len(lines) > 1:
                a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                if how == "swap":
                    lines[a], lines[b] = lines[b], lines[a]
                else:
                    lines.insert(b, lines[a])
                text = "\n".join(lines)
    return text
