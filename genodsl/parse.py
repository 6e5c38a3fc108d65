"""Lark (LALR) → typed AST with spans; Lark errors become :class:`GenoSyntaxError`.

Syntax errors are labelled from a catalogue of tiny broken examples
(``UnexpectedInput.match_examples``); anything else says what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import lark
from lark import Token, Transformer, v_args

from . import ast
from .errors import Diagnostic, GenoSyntaxError, Span

GRAMMAR_NAME = "geno.lark"


def grammar_text() -> str:
    """The grammar, from the installed package or from the source tree's ``grammars/``."""
    packaged = resources.files("genodsl").joinpath("_grammars").joinpath(GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammars" / GRAMMAR_NAME).read_text("utf-8")


def _parser() -> lark.Lark:
    """The one parser; errors are labelled by re-parsing the catalogue with it."""
    return _comment_parser_holder()["parser"]


# ---- the error catalogue: label -> tiny broken examples -----------------------------
SYNTAX_CATALOGUE: dict[str, list[str]] = {
    "a node needs '=' before its edges": [
        "genotype G { cell down { node n2 conv(s0) } }",
        "genotype G { cell down { node n2 } }",
    ],
    "an edge is written op(source), e.g. conv(s0)": [
        "genotype G { cell down { node n2 = conv } }",
        "genotype G { cell down { node n2 = conv() } }",
        "genotype G { cell down { node n2 = (s0) } }",
        "genotype G { cell down { node n2 = conv(s0) + } }",
        "genotype G { cell down { node n2 = conv(s0) + dep_conv } }",
    ],
    "edges of a node are joined with '+'": [
        "genotype G { cell down { node n2 = conv(s0) dep_conv(s1) } }",
        "genotype G { cell down { node n2 = conv(s0), dep_conv(s1) } }",
    ],
    "op arguments are written name=value after the source, e.g. conv(s0, k=5)": [
        "genotype G { cell down { node n2 = conv(s0, 5) } }",
        "genotype G { cell down { node n2 = conv(s0, k) } }",
        "genotype G { cell down { node n2 = conv(s0, k=) } }",
        "opset A = [conv(5)]",
        "opset A = [conv(k)]",
        "opset A = [conv(k=)]",
    ],
    "op set entries are separated by commas": [
        "opset A = [conv identity]",
        "opset A = [conv(k=3) identity]",
    ],
    "an op set is a bracketed list: opset Name = [op, op, ...]": [
        "opset A = conv, identity",
        "opset A [conv]",
        "opset = [conv]",
        "opset A = [conv",
    ],
    "the output is written output concat(n2, n3, ...)": [
        "genotype G { cell down { output n2 } }",
        "genotype G { cell down { output concat n2, n3 } }",
        "genotype G { cell down { output concat() } }",
        "genotype G { cell down { output concat(n2 n3) } }",
    ],
    "inputs are listed as input s0, s1": [
        "genotype G { cell down { input } }",
        "genotype G { cell down { input s0 s1 } }",
        "genotype G { cell down { input s0, } }",
    ],
    "a cell is written cell down { ... } or cell up { ... }": [
        "genotype G { cell { } }",
        "genotype G { cell down input s0 }",
        "genotype G { down { } }",
        "space S { cell { } }",
    ],
    "a declaration needs a name and a '{' block, e.g. genotype NAME { ... }": [
        "genotype { }",
        "genotype G }",
        "space { }",
        "network { }",
        "network N",
        "genotype G",
    ],
    "a keyword cannot be used as a name (reserved: cell concat false from genotype import input keep network node nodes opset output space true use)": [
        "genotype cell { }",
        "genotype G { cell down { node input = conv(s0) } }",
        "opset node = [conv]",
        "network space { }",
    ],
    "a block is missing its closing '}'": [
        "genotype G {",
        "genotype G { cell down {",
        "genotype G { cell down { node n2 = conv(s0) }",
        "space S { cell down { nodes 3 }",
        "network N { C = 3",
    ],
    "a search cell lists 'from SOURCE use OPSET' lines": [
        "space S { cell down { from s0 Down } }",
        "space S { cell down { from s0 use } }",
        "space S { cell down { from use Down } }",
        "space S { cell down { use Down } }",
        "space S { cell down { node n2 = conv(s0) } }",
    ],
    "'keep' and 'nodes' take a whole number, e.g. keep 2": [
        "genotype G { keep }",
        "space S { keep two }",
        "space S { cell down { nodes } }",
        "space S { cell down { nodes many } }",
    ],
    "a network entry is written key = value": [
        "network N { C 32 }",
        "network N { C = }",
        "network N { = 32 }",
        "network N { C: 32 }",
    ],
    "import takes a quoted path: import \"ops.geno\"": [
        "import ops.geno",
        "import ops",
        "import",
    ],
    "expected a declaration: import, opset, genotype, space or network": [
        "cell down { }",
        "node n2 = conv(s0)",
        "G { }",
        "}",
    ],
}

_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a quoted string",
    "$END": "end of file",
}


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name
    if isinstance(pattern, lark.lexer.PatternStr):
        return f"'{pattern.value}'"
    return name.lower()


def _line(text: str, line: int) -> str:
    # lines as the lexer counts them: only "\n" ends a line (str.splitlines also splits
    # on form feeds, \x85, \u2028..., which would quote the wrong line)
    lines = text.split("\n")
    return lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""


def _mk_span(file: str, text: str, line: int, col: int, end_line: int, end_col: int) -> Span:
    return Span(file, line, col, end_line, end_col, _line(text, line))


def _parse_tree(text: str) -> lark.Tree:
    return _parser().parse(text)


@lru_cache(maxsize=1)
def _catalogue_errors() -> tuple[tuple[str, lark.exceptions.UnexpectedInput], ...]:
    """The catalogue's examples, parsed once: (label, the error each one raises)."""
    out = []
    for label, examples in SYNTAX_CATALOGUE.items():
        for example in examples:
            try:
                _parse_tree(example)
            except lark.exceptions.UnexpectedInput as ut:
                out.append((label, ut))
    return tuple(out)


def _state(err: lark.exceptions.UnexpectedInput) -> int | None:
    state = getattr(err, "state", None)
    return getattr(state, "position", None)


def _catalogue_label(err: lark.exceptions.UnexpectedInput) -> tuple[str | None, bool]:
    """The label of the catalogue example failing like ``err``, and whether it failed on
    the very same token (an exact match) rather than merely in a similar place.

    An example fails "in the same place" when it stops in the same LALR state, or when the
    tokens that could have come next are exactly the same (``accepts``).  lark's own
    ``match_examples`` also compares the depth of the parser stack, which differs between
    an example (one statement) and a real file (a statement after others), so an error in
    a later statement of a block would never get a label.  An error at the end of the file
    only matches examples that also end early, and vice versa.
    """
    position = _state(err)
    if position is None:
        return None, False
    token = getattr(err, "token", None)
    accepts = getattr(err, "accepts", None)
    at_end = token is None or token.type == "$END"
    best: tuple[int, str | None] = (0, None)
    for label, ut in _catalogue_errors():
        if type(ut) is not type(err):
            continue
        other = getattr(ut, "token", None)
        if (other is None or other.type == "$END") != at_end:
            continue
        other_accepts = getattr(ut, "accepts", None)
        same_state = _state(ut) == position and (accepts is None or other_accepts == accepts)
        # the same next tokens in another state; a lone "a name" says too little to count
        same_accepts = bool(accepts) and other_accepts == accepts and len(accepts) > 1
        same_token = token is not None and other is not None and other.type == token.type
        exact = same_token and other == token
        score = (5 if same_state and exact else 4 if same_state and same_token
                 else 3 if same_accepts and exact else 2 if same_accepts and same_token
                 else 1 if same_state else 0)
        if score == 5:
            return label, True
        if score > best[0]:
            best = (score, label)
    return best[1], best[0] == 3


_KEYWORDS = sorted(set(re.findall(r'"([a-z]+)"', grammar_text())) | {"nodes"})
_KEYWORD_LABEL = next(label for label in SYNTAX_CATALOGUE if label.startswith("a keyword"))


def _expected(names: Iterable[str]) -> str:
    expected = sorted({_describe_terminal(t) for t in names})
    if not expected:
        return ""
    return "; expected " + (expected[0] if len(expected) == 1 else "one of " + ", ".join(expected))


def _open_block(text: str, upto: int) -> str | None:
    """The header of the innermost block still open at ``upto`` (for a missing '}')."""
    stack: list[tuple[int, str]] = []
    recent: list[str] = []
    try:
        for tok in _parser().lex(text[:upto], dont_ignore=False):
            if tok.type == "LBRACE":
                stack.append((tok.line, " ".join(recent[-2:] + ["{"])))
            elif tok.type == "RBRACE" and stack:
                stack.pop()
            recent.append(str(tok))
    except lark.exceptions.LarkError:
        return None
    if not stack:
        return None
    line, header = stack[-1]
    return f"'{header}' at line {line} is never closed"


def _syntax_error(err: lark.exceptions.UnexpectedInput, text: str, file: str) -> GenoSyntaxError:
    line = getattr(err, "line", 1) or 1
    col = getattr(err, "column", 1) or 1
    width = 1
    hint, exact = _catalogue_label(err)
    if isinstance(err, lark.exceptions.UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        accepts: Iterable[str] = ()
        if getattr(err, "interactive_parser", None) is not None:
            accepts = err.interactive_parser.accepts()
        message = f"unexpected character {char!r}" + _expected(accepts)
    else:
        token = getattr(err, "token", None)
        # `accepts` is exact; `expected` can hold LALR look-aheads merged from other places
        expected = getattr(err, "accepts", None) or getattr(err, "expected", None) or []
        if isinstance(err, lark.exceptions.UnexpectedEOF) or (token is not None and token.type == "$END"):
            found = "end of file"
            line, col = _end_position(text)
            if "RBRACE" in expected:
                opened = _open_block(text, len(text))
                if opened:
                    hint = f"a block is missing its closing '}}': {opened}"
        else:
            found = f"'{token}'" if token is not None else "input"
            width = len(str(token)) if token is not None else 1
            if (token is not None and str(token) in _KEYWORDS and "NAME" in expected
                    and (not exact or hint == _KEYWORD_LABEL)):  # name the keyword
                hint = (f"'{token}' is a keyword and cannot be used as a name (reserved: "
                        + " ".join(_KEYWORDS) + ")")
        message = f"unexpected {found}" + _expected(expected)
    span = _mk_span(file, text, line, col, line, col + width)
    return GenoSyntaxError([Diagnostic("E001", message, span=span, hint=hint)])


def _end_position(text: str) -> tuple[int, int]:
    """Just after the last token (trailing blank lines and comments are not code)."""
    last = None
    try:
        for last in _parser().lex(text, dont_ignore=False):
            pass
    except lark.exceptions.LarkError:
        last = None
    if last is None:
        return 1, 1
    return last.end_line, last.end_column


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
        return _mk_span(self.file, self.text, tok.line, tok.column, tok.end_line, tok.end_column)

    def mspan(self, meta: Any) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return _mk_span(self.file, self.text, meta.line, meta.column, meta.end_line, meta.end_column)

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


# ---- comments ----------------------------------------------------------------------------
_BLOCKS = (ast.GenotypeDecl, ast.CellDecl, ast.SpaceDecl, ast.SpaceCellDecl, ast.NetworkDecl)
Comment = tuple[int, int, str]  # line, column, text


def _start(stmt: ast.Stmt) -> tuple[int, int]:
    assert stmt.span is not None
    return (stmt.span.line, stmt.span.col)


def _end(stmt: ast.Stmt) -> tuple[int, int]:
    assert stmt.span is not None
    return (stmt.span.end_line, stmt.span.end_col)


def _with_blanks(comments: list[Comment], next_line: int) -> tuple[str, ...]:
    """Comment lines, with "" where the source had blank lines between a group and the next."""
    out: list[str] = []
    for j, c in enumerate(comments):
        out.append(c[2])
        following = comments[j + 1][0] if j + 1 < len(comments) else next_line
        if following - c[0] > 1:
            out.append("")
    return tuple(out)


def _attach(children: tuple, comments: list[Comment], top: bool = True
            ) -> tuple[tuple, tuple[str, ...]]:
    """Give each comment to the statement it belongs to; return (children, end comments).

    Inside a block (``top`` false) one blank line before a statement or a comment group is
    kept as a leading "" (at the top level the printer separates declarations itself).
    """
    inside: list[list[Comment]] = [[] for _ in children]
    leading: list[list[Comment]] = [[] for _ in children]
    trailing: list[str | None] = [None for _ in children]
    end: list[Comment] = []
    for c in comments:
        pos = (c[0], c[1])
        owner = next((i for i, ch in enumerate(children) if _start(ch) <= pos < _end(ch)), None)
        if owner is not None:
            ch = children[owner]
            header = (isinstance(ch, _BLOCKS) and c[0] == ch.span.line
                      and not any(_start(b) < pos for b in ch.body))
            if header and trailing[owner] is None:
                trailing[owner] = c[2]  # `genotype G {  # note`
            else:
                inside[owner].append(c)
            continue
        same_line = next((i for i, ch in enumerate(children)
                          if ch.span.end_line == c[0] and _end(ch) <= pos), None)
        if same_line is not None and trailing[same_line] is None:
            trailing[same_line] = c[2]
            continue
        nxt = next((i for i, ch in enumerate(children) if _start(ch) > pos), None)
        if nxt is None:
            end.append(c)
        else:
            leading[nxt].append(c)

    def gap_before(i: int, first_line: int) -> tuple[str, ...]:
        if top or i == 0:
            return ()
        return ("",) if first_line - children[i - 1].span.end_line > 1 else ()

    out = []
    for i, ch in enumerate(children):
        first = leading[i][0][0] if leading[i] else ch.span.line
        changes: dict[str, Any] = {
            "leading": gap_before(i, first) + _with_blanks(leading[i], ch.span.line),
            "trailing": trailing[i]}
        if isinstance(ch, _BLOCKS):
            body, ends = _attach(ch.body, inside[i], top=False)
            changes.update(body=body, end_comments=ends)
        else:
            changes["leading"] += tuple(c[2] for c in inside[i])
        out.append(dataclasses.replace(ch, **changes))
    ends: tuple[str, ...] = ()
    if end:
        ends = gap_before(len(children), end[0][0]) if children else ()
        ends += _with_blanks(end, end[-1][0] + 1)
    return tuple(out), ends


# ---- public API -------------------------------------------------------------------------
def parse(text: str, file: str = "<string>") -> ast.Module:
    """Parse one .geno text into a :class:`genodsl.ast.Module` (imports are not followed)."""
    comments: list[Comment] = []

    def keep_comment(tok: Token) -> Token:
        comments.append((tok.line, tok.column, str(tok).rstrip()))
        return tok

    tree = _parse_with_comments(text, file, keep_comment)
    builder = _ToAst(text, file)
    items = builder.transform(tree)
    if builder.errors:
        raise GenoSyntaxError(builder.errors)
    items, end = _attach(items, sorted(comments))
    return ast.Module(items, end, file)


@lru_cache(maxsize=1)
def _comment_parser_holder() -> dict:
    holder: dict = {"sink": None}

    def callback(tok: Token) -> Token:
        if holder["sink"] is not None:
            holder["sink"](tok)
        return tok

    holder["parser"] = lark.Lark(grammar_text(), parser="lalr", lexer="basic",
                                 propagate_positions=True, maybe_placeholders=True,
                                 lexer_callbacks={"COMMENT": callback})
    return holder


def _parse_with_comments(text: str, file: str, sink) -> lark.Tree:
    holder = _comment_parser_holder()
    holder["sink"] = sink
    try:
        return holder["parser"].parse(text)
    except lark.exceptions.UnexpectedInput as err:
        raise _syntax_error(err, text, file) from None
    finally:
        holder["sink"] = None


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
