"""Syntax errors: Lark's errors → :class:`GenoSyntaxError`, labelled from a catalogue.

The catalogue maps a human label to tiny broken examples; an error whose parser state (or
set of acceptable tokens) matches an example's gets that label as its hint.  The same table
is the test table (``tests/lang/test_lang_syntax.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

import lark

from ..errors import Diagnostic, GenoSyntaxError
from .grammar import grammar_text, make_span, parser, parse_tree

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
        pattern = parser().get_terminal(name).pattern
    except KeyError:
        return name
    if isinstance(pattern, lark.lexer.PatternStr):
        return f"'{pattern.value}'"
    return name.lower()


@lru_cache(maxsize=1)
def _catalogue_errors() -> tuple[tuple[str, lark.exceptions.UnexpectedInput], ...]:
    """The catalogue's examples, parsed once: (label, the error each one raises)."""
    out = []
    for label, examples in SYNTAX_CATALOGUE.items():
        for example in examples:
            try:
                parse_tree(example)
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
        for tok in parser().lex(text[:upto], dont_ignore=False):
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


def syntax_error(err: lark.exceptions.UnexpectedInput, text: str, file: str) -> GenoSyntaxError:
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
    span = make_span(file, text, line, col, line, col + width)
    return GenoSyntaxError([Diagnostic("E001", message, span=span, hint=hint)])


def _end_position(text: str) -> tuple[int, int]:
    """Just after the last token (trailing blank lines and comments are not code)."""
    last = None
    try:
        for last in parser().lex(text, dont_ignore=False):
            pass
    except lark.exceptions.LarkError:
        last = None
    if last is None:
        return 1, 1
    return last.end_line, last.end_column
