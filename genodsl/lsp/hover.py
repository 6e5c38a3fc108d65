"""Hover (an op's kind, arguments and meaning; a name's definition) and go to definition.

Op text comes from the one op registry; a name's hover shows its declaration as
``genodsl fmt`` prints it (with the comments above it), wherever it is declared.
In text that does not parse, op names and top-level names are still recognised from
the word under the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import Span
from ..lang import ast
from ..lang.ir import NetworkSettings
from ..lang.loader import builtin_dir
from ..lang.printer import format_module
from ..ops.registry import ALIASES, REGISTRY, OpKind, canonical_name
from . import lexical
from .analysis import Analysis, Decl
from .index import Occurrence, Role, occurrence_at, state_definition

KIND_MEANING = {
    OpKind.DOWN: "halves H and W: the op of every edge leaving a down cell's inputs (s0, s1)",
    OpKind.UP: "doubles H and W: the op of every edge leaving an up cell's s1",
    OpKind.NORMAL: "keeps H and W: edges between nodes, and from an up cell's s0",
    OpKind.ANY: "fits every edge; a search candidate only (never kept in a genotype)",
}
CELL_MEANING = {
    "down": "the **down** cell: its nodes are half of s1's size; edges from its inputs are down "
            "ops, edges between nodes normal ops",
    "up": "the **up** cell: its nodes are twice s1's size; edges from s1 are up ops, edges from "
          "s0 and between nodes normal ops",
    "normal": "the **normal** cell (optional): its nodes keep s1's size; every edge is a normal "
              "op; a network places it with full_res_cells and cells_per_level",
}
INPUT_MEANING = {
    ("down", 0): "plays s0, the cell two back (brought to s1's size by a stride-2 1×1 conv)",
    ("down", 1): "plays s1, the previous cell",
    ("up", 0): "plays s0, the encoder skip at the cell's output size",
    ("up", 1): "plays s1, the previous cell",
    ("normal", 0): "plays s0: in the encoder the stage two back (brought to s1's size), in the "
                   "decoder the skip",
    ("normal", 1): "plays s1, the previous cell",
}


@dataclass(frozen=True)
class Target:
    """A place to jump to: a file and a span in it (None: the top of the file)."""

    file: str
    span: Span | None


def op_markdown(name: str) -> str | None:
    spec = REGISTRY.get(canonical_name(name))
    if spec is None:
        return None
    weights = "has weights" if spec.has_weights else "no weights"
    lines = [f"**{spec.name}**: {spec.kind.value} op, {weights}"
             + (" (search only)" if spec.search_only else ""), "", spec.doc, "",
             f"*{spec.kind.value}*: {KIND_MEANING[spec.kind]}"]
    if name in ALIASES:
        lines[:0] = [f"`{name}` is read as `{spec.name}` (W001: the same op in the reference)", ""]
    if spec.params:
        lines += ["", "| argument | default | meaning |", "| --- | --- | --- |"]
        lines += [f"| `{p.name}` | {p.default} | {p.doc} |" for p in spec.params]
    else:
        lines += ["", "no arguments"]
    return "\n".join(lines)


def _code_block(text: str) -> str:
    return f"```geno\n{text.rstrip()}\n```"


def _where(span: Span | None, analysis: Analysis) -> str:
    if span is None or span.file == analysis.file:
        return f"line {span.line}" if span else ""
    return f"{Path(span.file).name}:{span.line}"


def decl_markdown(decl: Decl, analysis: Analysis) -> str:
    where = _where(decl.span, analysis)
    head = f"{decl.kind} **{decl.name}**" + (f" ({where})" if where else "")
    if decl.node is None:
        return head
    return head + "\n\n" + _code_block(format_module(ast.Module((decl.node,))))


def key_markdown(key: str) -> str | None:
    info = NetworkSettings.model_fields.get(key)
    if info is None:
        return None
    default = "required" if info.is_required() else f"default `{info.default}`"
    return f"network entry **{key}** ({default}): {info.description}"


def _state_markdown(occ: Occurrence) -> str | None:
    assert occ.cell is not None
    found = state_definition(occ.cell, occ.text)
    if found is None:
        return None
    _span, stmt = found
    kind = occ.cell.kind.text
    if isinstance(stmt, ast.InputStmt):
        index = [n.text for n in stmt.names].index(occ.text)
        meaning = INPUT_MEANING.get((kind, index), f"input {index} of the cell")
        return f"input **{occ.text}** of the {kind} cell: {meaning}"
    if isinstance(stmt, ast.NodeStmt):
        shown = stmt.span.line_text.strip() if stmt.span else f"node {occ.text} = ..."
        return f"node **{occ.text}** of the {kind} cell (the sum of its edges)\n\n" \
               + _code_block(shown)
    return f"node **{occ.text}** of the {kind} search cell (`nodes {stmt.count}`)"


def hover(analysis: Analysis, line: int, col: int) -> tuple[str, Span | None] | None:
    """Markdown for what is under the 0-based (line, col), and the span it covers."""
    if analysis.module is not None:
        occ = occurrence_at(analysis.module, line, col)
        if occ is None:
            return None
        text: str | None = None
        if occ.role is Role.OP:
            text = op_markdown(occ.text)
        elif occ.role in (Role.DECL, Role.REF):
            decl = analysis.decls.get(occ.text)
            text = decl_markdown(decl, analysis) if decl else None
        elif occ.role is Role.STATE:
            text = _state_markdown(occ)
        elif occ.role is Role.KEY:
            text = key_markdown(occ.text)
        elif occ.role is Role.CELL:
            text = CELL_MEANING.get(occ.text)
        return (text, occ.span) if text else None
    word = lexical.word_at(analysis.text, lexical.offset_of(analysis.text, line, col))
    if word is None:
        return None
    _start, _end, name = word
    text = op_markdown(name)
    if text is None and name in analysis.decls:
        text = decl_markdown(analysis.decls[name], analysis)
    return (text, None) if text else None


def definition(analysis: Analysis, line: int, col: int) -> list[Target]:
    """Where the name under the cursor is declared (across imports), or the imported file."""
    if analysis.module is None:
        word = lexical.word_at(analysis.text, lexical.offset_of(analysis.text, line, col))
        decl = analysis.decls.get(word[2]) if word else None
        return [Target(decl.span.file, decl.span)] if decl and decl.span else []
    occ = occurrence_at(analysis.module, line, col)
    if occ is None:
        return []
    if occ.role in (Role.DECL, Role.REF):
        decl = analysis.decls.get(occ.text)
        return [Target(decl.span.file, decl.span)] if decl and decl.span else []
    if occ.role is Role.STATE and occ.cell is not None:
        found = state_definition(occ.cell, occ.text)
        return [Target(analysis.file, found[0])] if found and found[0] else []
    if occ.role is Role.IMPORT:
        here = Path(analysis.base) / occ.text
        path = here if here.is_file() else builtin_dir() / occ.text
        return [Target(str(path.resolve()), None)] if path.is_file() else []
    return []

