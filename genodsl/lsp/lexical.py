"""What the cursor is on, read from the tokens alone: for text that is mid-edit and does not parse.

The scanner knows comments, strings, words and brackets, and tracks the blocks
(``genotype G {``, ``cell down {``...) open at a place, so completion can tell a down
cell's edge from an up cell's even while the line being typed is not valid yet.
Offsets are character indices into the text; lines and columns are 0-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

_TOKEN = re.compile(r'(?P<comment>#[^\n]*)|(?P<string>"[^"\n]*"?)'
                    r'|(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)'
                    r'|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[{}\[\]()=,+])|(?P<other>\S)')
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BLOCK_KEYWORDS = ("genotype", "space", "network", "cell")
DECL_KEYWORDS = ("opset", "genotype", "space", "network")


@dataclass(frozen=True)
class Token:
    kind: str  # comment, string, number, word, punct, other
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Block:
    """An open ``keyword name {`` block; ``start`` is the offset just after its ``{``."""

    keyword: str
    name: str
    start: int


def tokens(text: str) -> Iterator[Token]:
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        yield Token(kind, m.group(), m.start(), m.end())


def offset_of(text: str, line: int, col: int) -> int:
    """The character offset of (line, col), clamped to the text."""
    lines = text.split("\n")
    if line >= len(lines):
        return len(text)
    return sum(len(s) + 1 for s in lines[:line]) + min(col, len(lines[line]))


def position_of(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n")
    return line, offset - (before.rfind("\n") + 1)


def in_comment_or_string(text: str, offset: int) -> bool:
    for tok in tokens(text[:offset]):
        if tok.kind in ("comment", "string") and tok.start < offset <= tok.end:
            # a closed string ends before the cursor when the cursor is past its quote
            return not (tok.kind == "string" and tok.end == offset and len(tok.text) > 1
                        and tok.text.endswith('"'))
    return False


def word_at(text: str, offset: int) -> tuple[int, int, str] | None:
    """The name under (or just before) the cursor: (start, end, text)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    for m in WORD.finditer(text, line_start, line_end):
        if m.start() <= offset <= m.end():
            if in_comment_or_string(text, m.start()):
                return None
            return m.start(), m.end(), m.group()
    return None


def blocks_at(text: str, offset: int) -> list[Block]:
    """The blocks open at ``offset``, outermost first."""
    stack: list[Block] = []
    pending: tuple[str, str] | None = None
    last_keyword: str | None = None
    for tok in tokens(text[:offset]):
        if tok.kind == "word":
            if last_keyword is not None:
                pending, last_keyword = (last_keyword, tok.text), None
            elif tok.text in BLOCK_KEYWORDS:
                last_keyword = tok.text
            continue
        last_keyword = None if tok.kind != "comment" else last_keyword
        if tok.text == "{":
            keyword, name = pending or ("", "")
            stack.append(Block(keyword, name, tok.end))
            pending = None
        elif tok.text == "}" and stack:
            stack.pop()
    return stack


def block_text(text: str, block: Block) -> str:
    """The text of ``block`` up to its closing brace (or the end of the text)."""
    depth = 0
    for tok in tokens(text[block.start:]):
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            if depth == 0:
                return text[block.start:block.start + tok.start]
            depth -= 1
    return text[block.start:]


def blank_comments(text: str) -> str:
    """``text`` with comments and strings blanked out (same length, same offsets)."""
    out = list(text)
    for tok in tokens(text):
        if tok.kind in ("comment", "string"):
            out[tok.start:tok.end] = " " * (tok.end - tok.start)
    return "".join(out)


def cell_inputs(text: str, block: Block) -> list[str]:
    """The inputs a cell block declares (``input a, b``); s0, s1 when it does not say."""
    m = re.search(r"\binput\s+([A-Za-z_]\w*)\s*,\s*([A-Za-z_]\w*)",
                  blank_comments(block_text(text, block)))
    return [m.group(1), m.group(2)] if m else ["s0", "s1"]


def cell_nodes(text: str, block: Block, offset: int) -> list[str]:
    """The nodes a cell block declares before ``offset``."""
    return re.findall(r"\bnode\s+([A-Za-z_]\w*)", blank_comments(text[block.start:offset]))


def top_level_decls(text: str) -> list[tuple[str, str, int, int]]:
    """(keyword, name, start, end) of every ``opset|genotype|space|network NAME`` at depth 0."""
    found = []
    depth = 0
    toks = list(tokens(text))
    for i, tok in enumerate(toks):
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            depth = max(0, depth - 1)
        elif (depth == 0 and tok.kind == "word" and tok.text in DECL_KEYWORDS
              and i + 1 < len(toks) and toks[i + 1].kind == "word"):
            nxt = toks[i + 1]
            found.append((tok.text, nxt.text, nxt.start, nxt.end))
    return found


def import_paths(text: str) -> list[str]:
    toks = [t for t in tokens(text) if t.kind != "comment"]
    return [b.text.strip('"') for a, b in zip(toks, toks[1:])
            if a.text == "import" and b.kind == "string"]
