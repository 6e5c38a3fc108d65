"""Lark (LALR) → typed AST with spans; Lark errors become :class:`GenoSyntaxError`.

Stages: :mod:`genodsl.lang.grammar` (the parser), :mod:`genodsl.lang.syntax_errors` (labelled syntax
errors), the transformer below (tree → AST), :mod:`genodsl.lang.comments` (comments → statements).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable

import lark
from lark import Token, Transformer, v_args

from . import ast
from .comments import Comment, attach
from ..errors import Diagnostic, GenoSyntaxError, Span
from .grammar import grammar_text, make_span, parse_tree  # noqa: F401 (grammar_text re-exported)
from .syntax_errors import SYNTAX_CATALOGUE, syntax_error  # noqa: F401 (catalogue re-exported)


# ---- tree → AST ------------------------------------------------------------------------
def _number(tok: Token) -> int | float:
    s = str(tok)
    return int(s) if re.fullmatch(r"[+-]?\d+", s) else float(s)


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

    def whole(self, tok: Token, what: str) -> int:
        value = _number(tok)
        if not isinstance(value, int) or value < 1:
            example = "keep 2" if what == "keep" else "nodes 3"
            self.errors.append(Diagnostic("E002", f"{what} must be a whole number ≥ 1, got {tok}",
                                          span=self.tspan(tok), hint=f"e.g. {example}"))
            return 1
        return value

    # values
    @v_args(meta=True)
    def number(self, meta, children):
        value = _number(children[0])
        if isinstance(value, float) and not math.isfinite(value):
            # `inf` would print back as a name; no setting of genodsl needs such a number
            self.errors.append(Diagnostic("E002", f"number {children[0]} is too large",
                                          span=self.tspan(children[0]),
                                          hint="numbers must fit a 64-bit float"))
        return (value, self.mspan(meta))

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
    def arg(self, meta, children):
        key, (value, _vspan) = children
        return ast.Arg(str(key), value, self.mspan(meta))

    @v_args(meta=True)
    def op_ref(self, meta, children):
        name, *rest = children
        args = tuple(a for a in rest if a is not None)
        return ast.OpRef(str(name), args, self.mspan(meta))

    def op_list(self, children):
        return tuple(c for c in children if c is not None)

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
        return ast.NodesStmt(self.whole(children[1], "nodes"), span=self.mspan(meta))

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


def parse_file(path: str | Path, shown: str | None = None) -> ast.Module:
    """Parse one file; ``shown`` is the name messages use for it (default: ``path``)."""
    p = Path(path)
    name = shown if shown is not None else str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenoSyntaxError(f"no such file: {name}", code="E031", file=name) from None
    except UnicodeDecodeError as exc:
        raise GenoSyntaxError(f"not a UTF-8 text file ({exc.reason})", code="E003",
                              file=name) from None
    return parse(text, name)


def iter_names(items: Iterable[ast.Decl]) -> Iterable[ast.Name]:
    for item in items:
        if hasattr(item, "name"):
            yield item.name
