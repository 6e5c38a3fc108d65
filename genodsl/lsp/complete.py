"""Completion: op names filtered by the role of the edge being written, names, keywords, files.

The context (which block, which statement) is read from the tokens before the cursor,
since the text being typed rarely parses.  The role of an edge follows the language's
rule (:func:`genodsl.lang.ir.edge_role`): in a down cell edges from the inputs are down
ops and edges between nodes normal; in an up cell edges from s1 are up ops, from s0 and
between nodes normal.  The edge's source comes from the AST when the text parses, else
from the ``op(source`` written after the cursor.
"""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp

from ..lang import ast
from ..lang.ir import CellType, NetworkSettings, edge_role
from ..lang.loader import shipped_names
from ..ops.registry import REGISTRY, OpKind
from . import lexical
from .analysis import Analysis
from .hover import key_markdown, op_markdown
from .index import Role, cell_inputs, occurrence_at

TOP_KEYWORDS = ["import", "opset", "genotype", "space", "network"]
BLOCK_STATEMENTS = {"genotype": ["keep", "cell"], "space": ["keep", "cell"]}
CELL_STATEMENTS = {"genotype": ["input", "node", "output"], "space": ["input", "nodes", "from"]}
NAME_KINDS = {"opset": lsp.CompletionItemKind.Enum, "genotype": lsp.CompletionItemKind.Class,
              "space": lsp.CompletionItemKind.Class, "network": lsp.CompletionItemKind.Module}
_NAME = r"[A-Za-z_]\w*"


def ops_for(cell_kind: str | None, role: OpKind | None, search: bool) -> list[str]:
    """The ops that fit an edge of ``role`` (any edge of the cell when the role is unknown)."""
    if role is not None:
        kinds = {role}
    elif cell_kind == "down":
        kinds = {OpKind.DOWN, OpKind.NORMAL}
    elif cell_kind == "up":
        kinds = {OpKind.UP, OpKind.NORMAL}
    elif cell_kind == "normal":
        kinds = {OpKind.NORMAL}
    else:
        kinds = set(OpKind)
    if search:
        kinds.add(OpKind.ANY)
    return [s.name for s in REGISTRY.values() if s.kind in kinds and (search or not s.search_only)]


def role_of(cell_kind: str | None, inputs: list[str], source: str | None) -> OpKind | None:
    """The op kind an edge from ``source`` needs in a ``cell_kind`` cell (None if unknown)."""
    if cell_kind == "normal":
        return OpKind.NORMAL  # every edge, whatever its source
    if source is None or cell_kind not in ("down", "up"):
        return None
    index = inputs.index(source) if source in inputs else 2
    return edge_role(CellType(cell_kind), index)


def _items(labels: list[str], kind: lsp.CompletionItemKind, detail: str | None = None
           ) -> list[lsp.CompletionItem]:
    return [lsp.CompletionItem(label=x, kind=kind, detail=detail) for x in labels]


def _op_items(names: list[str], role: OpKind | None) -> list[lsp.CompletionItem]:
    out = []
    for name in names:
        spec = REGISTRY[name]
        out.append(lsp.CompletionItem(
            label=name, kind=lsp.CompletionItemKind.Function,
            detail=f"{spec.kind.value} op" + (f" (this edge needs a {role.value} op)"
                                              if role else ""),
            documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown, op_markdown(name) or "")))
    return out


def _name_items(analysis: Analysis, kinds: tuple[str, ...]) -> list[lsp.CompletionItem]:
    out = []
    for d in analysis.decls.values():
        if d.kind in kinds:
            where = Path(d.span.file).name if d.span and d.span.file != analysis.file else None
            detail = d.kind + (f" ({where})" if where else "")
            out.append(lsp.CompletionItem(label=d.name, kind=NAME_KINDS[d.kind], detail=detail))
    return out


def _file_items(analysis: Analysis) -> list[lsp.CompletionItem]:
    here = Path(analysis.file).name
    beside = [p.name for p in analysis.base.glob("*.geno") if p.name != here] \
        if analysis.base.is_dir() else []
    shipped = shipped_names()
    return _items(sorted(set(beside)) + sorted(set(shipped) - set(beside)),
                  lsp.CompletionItemKind.File)


def _edge_source(analysis: Analysis, line: int, col: int, rest: str) -> str | None:
    """The source of the edge whose op is at the cursor: from the AST, else from ``op(src``."""
    if analysis.module is not None:
        occ = occurrence_at(analysis.module, line, col)
        if occ is not None and occ.role is Role.OP and isinstance(occ.owner, ast.Edge):
            return occ.owner.source.text
    m = re.match(rf"\w*\s*\(\s*({_NAME})", rest)
    return m.group(1) if m else None


def _cell_items(analysis: Analysis, line: int, col: int, code: str, rest: str,
                block: lexical.Block, parent: str) -> list[lsp.CompletionItem]:
    """Completion inside a ``cell down|up|normal { ... }`` block of a genotype or a space."""
    text, offset = analysis.text, lexical.offset_of(analysis.text, line, col)
    inputs = lexical.cell_inputs(text, block)
    if analysis.module is not None:  # the parsed cell knows its inputs exactly
        occ = occurrence_at(analysis.module, line, col)
        if occ is not None and occ.cell is not None:
            inputs = cell_inputs(occ.cell)
    states = inputs + lexical.cell_nodes(text, block, offset)
    stmt = code.rsplit("\n", 1)[-1]
    search = parent == "space"
    if re.search(r"\boutput\s+concat\s*\([^)]*$", stmt):
        return _items(states, lsp.CompletionItemKind.Variable)
    if re.search(r"\boutput\s+\w*$", stmt):
        return _items(["concat"], lsp.CompletionItemKind.Keyword)
    m = re.search(rf"\bfrom\s+({_NAME})\s+use\s*\[(?:[^\]]*,)?\s*\w*$", code)
    if m:
        source = None if m.group(1) == ast.NODES_SOURCE else m.group(1)
        role = role_of(block.name, inputs, source) if source else OpKind.NORMAL
        return _op_items(ops_for(block.name, role, True), role)
    if re.search(rf"\bfrom\s+{_NAME}\s+use\s+\w*$", stmt):
        return _name_items(analysis, ("opset",))
    if re.search(r"\bfrom\s+\w*$", stmt):
        return _items(inputs + ["nodes"], lsp.CompletionItemKind.Variable)
    m = re.search(rf"\b({_NAME})\s*\(\s*{_NAME}\s*(?:,\s*\w+\s*=\s*[^,()]*)*,\s*\w*$", stmt)
    if m and m.group(1) in REGISTRY:
        return [lsp.CompletionItem(label=f"{p.name}=", kind=lsp.CompletionItemKind.Field,
                                   detail=f"default {p.default}", documentation=p.doc)
                for p in REGISTRY[m.group(1)].params]
    if re.search(rf"\bnode\s+{_NAME}\s*=.*{_NAME}\s*\(\s*\w*$", stmt):
        mine = re.search(rf"\bnode\s+({_NAME})", stmt)
        nodes = lexical.cell_nodes(text, block, offset)
        earlier = [n for n in nodes if not mine or n != mine.group(1)]
        return _items(inputs + earlier, lsp.CompletionItemKind.Variable)
    if re.search(rf"\bnode\s+{_NAME}\s*=(?:.*\+)?\s*\w*$", stmt):
        source = _edge_source(analysis, line, col, rest)
        role = role_of(block.name, inputs, source)
        return _op_items(ops_for(block.name, role, search), role)
    if re.fullmatch(r"\s*\w*", stmt):
        return _items(CELL_STATEMENTS[parent], lsp.CompletionItemKind.Keyword)
    return []


def completion(analysis: Analysis, line: int, col: int) -> list[lsp.CompletionItem]:
    """What may be written at the 0-based (line, col)."""
    text = analysis.text
    offset = lexical.offset_of(text, line, col)
    raw_line = text[text.rfind("\n", 0, offset) + 1:offset]
    if re.search(r'\bimport\s+"[^"]*$', raw_line):
        return _file_items(analysis)
    if lexical.in_comment_or_string(text, offset):
        return []
    blocks = lexical.blocks_at(text, offset)
    start = blocks[-1].start if blocks else 0
    code = lexical.blank_comments(text[start:offset])
    stmt = code.rsplit("\n", 1)[-1]
    end = text.find("\n", offset)
    rest = text[offset:end if end >= 0 else len(text)]
    if not blocks:
        if re.search(rf"\bopset\s+{_NAME}\s*=\s*\[(?:[^\]]*,)?\s*\w*$", code):
            return _op_items(ops_for(None, None, True), None)
        if re.fullmatch(r"\s*\w*", stmt):
            return _items(TOP_KEYWORDS, lsp.CompletionItemKind.Keyword)
        return []
    block = blocks[-1]
    if block.keyword == "network":
        if re.search(r"^\s*cells\s*=\s*\w*$", stmt):
            return _name_items(analysis, ("genotype", "space"))
        if re.search(r"^\s*backbone\s*=\s*\w*$", stmt):
            return _items(["nasunet"], lsp.CompletionItemKind.Value)
        if re.fullmatch(r"\s*\w*", stmt):
            return [lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Property,
                                       insert_text=f"{k} = ", documentation=key_markdown(k))
                    for k in NetworkSettings.model_fields]
        return []
    if block.keyword in ("genotype", "space"):
        if re.search(r"\bcell\s+\w*$", stmt):
            return _items([c.value for c in CellType], lsp.CompletionItemKind.Keyword)
        if re.fullmatch(r"\s*\w*", stmt):
            return _items(BLOCK_STATEMENTS[block.keyword], lsp.CompletionItemKind.Keyword)
        return []
    if block.keyword == "cell" and len(blocks) >= 2 and blocks[-2].keyword in CELL_STATEMENTS:
        return _cell_items(analysis, line, col, code, rest, block, blocks[-2].keyword)
    return []
