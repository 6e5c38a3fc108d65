"""Comments: each comment token is given to the statement it belongs to.

Lines before a statement become its ``leading`` comments (blank-line groups kept as ""),
a comment after a statement on its last line its ``trailing`` one, and comments before a
block's closing ``}`` the block's ``end_comments``; nothing is ever dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from . import ast

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


def attach(children: tuple, comments: list[Comment], top: bool = True
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
            body, ends = attach(ch.body, inside[i], top=False)
            changes.update(body=body, end_comments=ends)
        else:
            changes["leading"] += tuple(c[2] for c in inside[i])
        out.append(dataclasses.replace(ch, **changes))
    ends: tuple[str, ...] = ()
    if end:
        ends = gap_before(len(children), end[0][0]) if children else ()
        ends += _with_blanks(end, end[-1][0] + 1)
    return tuple(out), ends
