"""Lark (LALR) → typed AST with spans; Lark errors become :class:`GenoSyntaxError`.

Stages: :mod:`genodsl.lang.grammar` (the parser), :mod:`genodsl.lang.syntax_errors` (labelled syntax
errors), the transformer below (tree → AST), :mod:`genodsl.lang.comments` (comments → statements).
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterable

import lark
from lark import Token, Transformer, v_args

from . import ast
from .comments import Comment, attach
from ..errors import Diagnostic, GenoSyntaxError, Span
from .limits import MAX_FILE_BYTES, MAX_INT_DIGITS, MAX_NODES, MAX_OPS_PER_SET, too_many
from .grammar import make_span, parse_tree
from .syntax_errors import syntax_error


# ---- tree → AST ------------------------------------------------------------------------
def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


class _ToAst(Transformer):
    def __init__(self, text: str, file: str):
        super().__init__(visit_tokens=False)
        self.text = text
        self.file = file
        self.errors: list[Diagnostic] = []

    # spans
    def tspan(self, tok: Token) -> Span:
        return make_span(self.file, self.text, tok.line, tok.column, tok.end_line, tok.end_column)

    def mspan(self, meta: Any) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return make_span(self.file, self.text, meta.line, meta.column, meta.end_line, meta.end_column)

    def name(self, tok: Token) -> ast.Name:
        return ast.Name(str(tok), self.tspan(tok))

    def err(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.errors.append(Diagnostic(code, message, span=span, hint=hint))

    def number_value(self, tok: Token) -> int | float | None:
        """The number ``tok`` spells; None (reported) when it is out of range."""
        s = str(tok)
        if re.fullmatch(r"[+-]?\d+", s):
            digits = len(s.lstrip("+-"))
            if digits <= MAX_INT_DIGITS:
                return int(s)
            self.err("E006", f"the whole number {_shorten(s)} has {digits:,} digits (the "
                     f"limit is {MAX_INT_DIGITS})", self.tspan(tok),
                     f"whole numbers have at most {MAX_INT_DIGITS} digits")
            return None
        value = float(s)
        if math.isfinite(value):
            return value
        # `inf` would print back as a name; no setting of genodsl needs such a number
        self.err("E006", f"the number {_shorten(s)} is too large", self.tspan(tok),
                 "numbers must fit a 64-bit float")
        return None

    def whole(self, tok: Token, what: str) -> int:
        value = self.number_value(tok)
        if value is None:
            return 1
        if not isinstance(value, int) or value < 1:
            example = "keep 2" if what == "keep" else "nodes 3"
            self.errors.append(Diagnostic("E002", f"{what} must be a whole number ≥ 1, got {tok}",
                                          span=self.tspan(tok), hint=f"e.g. {example}"))
            return 1
        return value

    # values
    @v_args(meta=True)
    def number(self, meta, children):
        value = self.number_value(children[0])
        return (0 if value is None else value, self.mspan(meta))

    @v_args(meta=True)
    def true(self, meta, children):
        return (True, self.mspan(meta))

    @v_args(meta=True)
    def false(self, meta, children):
        return (False, self.mspan(meta))

    @v_args(meta=True)
    def string(self, meta, children):
        return (str(children[0])[1:-1], self.mspan(meta))

    @v_args(meta=True)
    def ident(self, meta, children):
        return (self.name(children[0]), self.mspan(meta))

    @v_args(meta=True)
    def value_list(self, meta, children):
        return (tuple(value for value, _ in (c for c in children if c is not None)),
                self.mspan(meta))

    @v_args(meta=True)
    def arg(self, meta, children):
        key, (value, _vspan) = children
        return ast.Arg(str(key), value, self.mspan(meta))

    @v_args(meta=True)
    def op_ref(self, meta, children):
        name, *rest = children
        args = tuple(a for a in rest if a is not None)
        return ast.OpRef(str(name), args, self.mspan(meta))

    @v_args(meta=True)
    def op_list(self, meta, children):
        ops = tuple(c for c in children if c is not None)
        if len(ops) > MAX_OPS_PER_SET:
            self.err("E059", too_many("too many ops in one list", len(ops), MAX_OPS_PER_SET),
                     self.mspan(meta), "an op set or candidate list names each op once")
        return ops

    # statements
    @v_args(meta=True)
    def import_stmt(self, meta, children):
        return ast.ImportStmt(str(children[0])[1:-1], span=self.mspan(meta))

    @v_args(meta=True)
    def opset_decl(self, meta, children):
        name, ops = children
        return ast.OpSetDecl(self.name(name), ops, span=self.mspan(meta))

    @v_args(meta=True)
    def keep_stmt(self, meta, children):
        return ast.KeepStmt(self.whole(children[0], "keep"), span=self.mspan(meta))

    @v_args(meta=True)
    def nodes_stmt(self, meta, children):
        count = self.whole(children[1], "nodes")
        if count > MAX_NODES:
            self.err("E058", too_many("too many nodes in one cell", count, MAX_NODES),
                     self.tspan(children[1]), "the paper's cells have 3 or 4 nodes")
            count = 1
        return ast.NodesStmt(count, span=self.mspan(meta))

    @v_args(meta=True)
    def input_stmt(self, meta, children):
        return ast.InputStmt(tuple(self.name(t) for t in children), span=self.mspan(meta))

    @v_args(meta=True)
    def edge(self, meta, children):
        op_tok, src_tok, *args = children
        span = self.mspan(meta)
        op = ast.OpRef(str(op_tok), tuple(args), self.tspan(op_tok))
        return ast.Edge(op, self.name(src_tok), span)

    @v_args(meta=True)
    def node_stmt(self, meta, children):
        name, *edges = children
        return ast.NodeStmt(self.name(name), tuple(edges), span=self.mspan(meta))

    @v_args(meta=True)
    def output_stmt(self, meta, children):
        return ast.OutputStmt(tuple(self.name(t) for t in children), span=self.mspan(meta))

    @v_args(meta=True)
    def cell_decl(self, meta, children):
        kind, *body = children
        count = sum(isinstance(stmt, ast.NodeStmt) for stmt in body)
        if count > MAX_NODES:
            self.err("E058", too_many("too many nodes in one cell", count, MAX_NODES),
                     self.tspan(kind), "the paper's cells have 3 or 4 nodes")
        return ast.CellDecl(self.name(kind), tuple(body), span=self.mspan(meta))

    @v_args(meta=True)
    def genotype_decl(self, meta, children):
        name, *body = children
        return ast.GenotypeDecl(self.name(name), tuple(body), span=self.mspan(meta))

    def source(self, children):
        return self.name(children[0])

    @v_args(meta=True)
    def use_stmt(self, meta, children):
        source, target = children
        if isinstance(target, tuple):
            return ast.UseStmt(source, ops=target, span=self.mspan(meta))
        return ast.UseStmt(source, opset=self.name(target), span=self.mspan(meta))

    @v_args(meta=True)
    def space_cell(self, meta, children):
        kind, *body = children
        return ast.SpaceCellDecl(self.name(kind), tuple(body), span=self.mspan(meta))

    @v_args(meta=True)
    def space_decl(self, meta, children):
        name, *body = children
        return ast.SpaceDecl(self.name(name), tuple(body), span=self.mspan(meta))

    @v_args(meta=True)
    def entry(self, meta, children):
        key, (value, vspan) = children
        return ast.Entry(self.name(key), value, vspan, span=self.mspan(meta))

    @v_args(meta=True)
    def network_decl(self, meta, children):
        name, *body = children
        return ast.NetworkDecl(self.name(name), tuple(body), span=self.mspan(meta))

    def start(self, children):
        return tuple(children)


# ---- public API -------------------------------------------------------------------------
def parse(text: str, file: str = "<string>") -> ast.Module:
    """Parse one .geno text into a :class:`genodsl.lang.ast.Module` (imports are not followed)."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise GenoSyntaxError(too_many("the text is too large (bytes)", len(text.encode(
            "utf-8", "surrogatepass")), MAX_FILE_BYTES), code="E004", file=file)
    if text.startswith("\ufeff"):  # a UTF-8 byte-order mark is not part of the text
        text = text[1:]
    comments: list[Comment] = []

    def keep_comment(tok: Token) -> None:
        comments.append((tok.line, tok.column, str(tok).rstrip()))

    try:
        tree = parse_tree(text, keep_comment)
    except lark.exceptions.UnexpectedInput as err:
        raise syntax_error(err, text, file) from None
    builder = _ToAst(text, file)
    items = builder.transform(tree)
    if builder.errors:
        raise GenoSyntaxError(builder.errors)
    items, end = attach(items, sorted(comments))
    return ast.Module(items, end, file)


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def file_error(exc: OSError | ValueError, name: str) -> GenoSyntaxError:
    """An OS error on the path ``name`` (a symlink loop, a name too long, ...) as a GenoError."""
    if isinstance(exc, FileNotFoundError):
        return GenoSyntaxError(f"no such file: {_shorten(name, 200)}", code="E031",
                               file=_shorten(name, 200))
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return GenoSyntaxError(f"cannot read this path: {reason.lower()}", code="E005",
                           file=_shorten(name, 200))


def read_source(path: str | Path, shown: str | None = None) -> str:
    """The text of a .geno file: refused by type before it is opened (folders, FIFOs,
    devices), by size before it is read, and by content (not UTF-8, NUL bytes) unquoted."""
    name = shown if shown is not None else str(path)
    try:
        info = os.stat(path)
        kind = _not_regular(info.st_mode)
        if kind is None:
            if info.st_size > MAX_FILE_BYTES:
                raise GenoSyntaxError(too_many("the file is too large (bytes)", info.st_size,
                                               MAX_FILE_BYTES), code="E004", file=name)
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            with os.fdopen(fd, "rb") as f:
                kind = _not_regular(os.fstat(f.fileno()).st_mode)  # replaced since the stat
                data = b"" if kind else f.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise file_error(exc, name) from None
    if kind is not None:
        raise GenoSyntaxError(f"not a .geno file: this path is {kind}", code="E005", file=name,
                              hint="name a .geno file, or a folder of them on the command line")
    if len(data) > MAX_FILE_BYTES:
        raise GenoSyntaxError(too_many("the file is too large (bytes)", len(data),
                                       MAX_FILE_BYTES), code="E004", file=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GenoSyntaxError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})",
                              code="E003", file=name) from None
    if "\x00" in text:
        raise GenoSyntaxError(f"not a text file (a NUL byte at byte {data.index(0)})",
                              code="E003", file=name)
    return text


def load_source(path: str | Path, shown: str | None = None) -> tuple[str, ast.Module]:
    """The text of one file and its module; ``shown`` is the name messages use (default:
    ``path``).  A file not named ``*.geno`` whose text does not parse is never quoted."""
    name = shown if shown is not None else str(path)
    text = read_source(path, name)
    try:
        return text, parse(text, name)
    except GenoSyntaxError as err:
        if Path(path).suffix == ".geno":
            raise
        first = next((d.span for d in err.diagnostics if d.span is not None), None)
        span = Span(name, first.line, first.col, first.line, first.col) if first else None
        raise GenoSyntaxError([Diagnostic(
            "E001", "not .geno text (its content is not shown: the file is not named *.geno)",
            span=span, file=name, hint="imports and checks read .geno files")]) from None


def parse_file(path: str | Path, shown: str | None = None) -> ast.Module:
    """Parse one file; ``shown`` is the name messages use for it (default: ``path``)."""
    return load_source(path, shown)[1]


def iter_names(items: Iterable[ast.Decl]) -> Iterable[ast.Name]:
    for item in items:
        if hasattr(item, "name"):
            yield item.name
