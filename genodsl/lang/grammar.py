"""The grammar (``grammars/geno.lark``) and the one Lark parser built from it.

The parser is LALR with the basic lexer (keywords are reserved words); comments are
ignored by the grammar but handed to a per-parse sink so the formatter can keep them.
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

import lark
from lark import Token

from ..errors import Span

GRAMMAR_NAME = "geno.lark"


def grammar_text() -> str:
    """The grammar, from the installed package or from the source tree's ``grammars/``."""
    packaged = resources.files("genodsl").joinpath("_grammars").joinpath(GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammars" / GRAMMAR_NAME).read_text("utf-8")


@lru_cache(maxsize=1)
def _holder() -> dict:
    holder: dict = {"sink": None}

    def callback(tok: Token) -> Token:
        if holder["sink"] is not None:
            holder["sink"](tok)
        return tok

    holder["parser"] = lark.Lark(grammar_text(), parser="lalr", lexer="basic",
                                 propagate_positions=True, maybe_placeholders=True,
                                 lexer_callbacks={"COMMENT": callback}, cache=_cache_file())
    return holder


def _cache_file() -> str | bool:
    """Where Lark keeps the parse tables between processes (building them is most of a
    `genodsl check`'s own time): the user's cache folder, never a shared temp folder.
    Lark checks the grammar's hash on load, so a stale file is rebuilt, never used."""
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(home, "genodsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return False
    key = hashlib.sha256(f"{grammar_text()}{lark.__version__}{sys.version_info[:2]}".encode())
    return os.path.join(folder, f"geno-lark-{key.hexdigest()[:16]}.cache")  # one per grammar


def parser() -> lark.Lark:
    """The one parser (errors are labelled by re-parsing the catalogue with it)."""
    return _holder()["parser"]


def parse_tree(text: str, comment_sink: Callable[[Token], object] | None = None) -> lark.Tree:
    """Parse ``text``; each comment token goes to ``comment_sink``. Raises Lark errors."""
    holder = _holder()
    holder["sink"] = comment_sink
    try:
        return holder["parser"].parse(text)
    finally:
        holder["sink"] = None


def source_line(text: str, line: int) -> str:
    """Line ``line`` as the lexer counts lines: only "\n" ends one (str.splitlines would
    also split on form feeds and quote the wrong line)."""
    lines = text.split("\n")
    return lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""


def make_span(file: str, text: str, line: int, col: int, end_line: int, end_col: int) -> Span:
    return Span(file, line, col, end_line, end_col, source_line(text, line))
