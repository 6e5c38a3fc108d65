"""What the cursor is on in a parsed document: every op, name and reference, with its span.

A walk over the AST lists *occurrences*; hover, definition and completion ask for the
innermost one under the cursor.  A state (an input or node name) is resolved inside the
cell it is written in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterator, Union

from ..errors import Span
from ..lang import ast

CellBlock = Union[ast.CellDecl, ast.SpaceCellDecl]


class Role(str, Enum):
    OP = "op"            # an op name (in an edge, an op set, a use list)
    DECL = "decl"        # the name of a top-level declaration
    REF = "ref"          # a reference to a top-level declaration (cells = X, use X)
    STATE = "state"      # an input or node name, declared or used, inside a cell
    KEY = "key"          # a network entry's key
    IMPORT = "import"    # the path of an import
    CELL = "cell"        # the down/up of `cell down {`


@dataclass(frozen=True)
class Occurrence:
    role: Role
    text: str
    span: Span
    cell: CellBlock | None = None  # the cell a state or edge op is written in
    owner: object = None  # the statement, edge or declaration it belongs to


def contains(span: Span | None, line: int, col: int) -> bool:
    """Whether the 0-based (line, col) lies in ``span`` (its end included: the cursor after a word)."""
    if span is None:
        return False
    here = (line + 1, col + 1)
    return (span.line, span.col) <= here <= (span.end_line, span.end_col)


def _size(span: Span) -> tuple[int, int]:
    return (span.end_line - span.line, span.end_col - span.col)


def occurrences(module: ast.Module) -> Iterator[Occurrence]:
    for item in module.items:
        if isinstance(item, ast.ImportStmt):
            if item.span is not None:
                yield Occurrence(Role.IMPORT, item.path, item.span, owner=item)
            continue
        yield _at(Role.DECL, item.name, owner=item)
        if isinstance(item, ast.OpSetDecl):
            yield from _ops(item.ops, None, item)
        elif isinstance(item, ast.NetworkDecl):
            for e in item.body:
                yield _at(Role.KEY, e.key, owner=e)
                if isinstance(e.value, ast.Name) and e.key.text == "cells" and e.value_span:
                    yield Occurrence(Role.REF, e.value.text, e.value_span, owner=e)
        else:
            for cell in item.body:
                if isinstance(cell, (ast.CellDecl, ast.SpaceCellDecl)):
                    yield _at(Role.CELL, cell.kind, cell, cell)
                    yield from _cell(cell)


def _at(role: Role, name: ast.Name, cell: CellBlock | None = None,
        owner: object = None) -> Occurrence:
    return Occurrence(role, name.text, name.span, cell, owner)  # type: ignore[arg-type]


def _ops(ops: tuple[ast.OpRef, ...], cell: CellBlock | None, owner: object) -> Iterator[Occurrence]:
    for op in ops:
        if op.span is not None:
            yield Occurrence(Role.OP, op.name, op.span, cell, owner)


def _cell(cell: CellBlock) -> Iterator[Occurrence]:
    for stmt in cell.body:
        if isinstance(stmt, ast.InputStmt):
            yield from (_at(Role.STATE, n, cell, stmt) for n in stmt.names)
        elif isinstance(stmt, ast.NodeStmt):
            yield _at(Role.STATE, stmt.name, cell, stmt)
            for edge in stmt.edges:
                if edge.op.span is not None:
                    yield Occurrence(Role.OP, edge.op.name, edge.op.span, cell, edge)
                yield _at(Role.STATE, edge.source, cell, edge)
        elif isinstance(stmt, ast.OutputStmt):
            yield from (_at(Role.STATE, n, cell, stmt) for n in stmt.names)
        elif isinstance(stmt, ast.UseStmt):
            if stmt.source.text != ast.NODES_SOURCE:
                yield _at(Role.STATE, stmt.source, cell, stmt)
            if stmt.opset is not None:
                yield _at(Role.REF, stmt.opset, cell, stmt)
            yield from _ops(stmt.ops or (), cell, stmt)


def occurrence_at(module: ast.Module, line: int, col: int) -> Occurrence | None:
    """The innermost occurrence under the 0-based (line, col)."""
    found = [o for o in occurrences(module) if o.span is not None and contains(o.span, line, col)]
    return min(found, key=lambda o: _size(o.span), default=None)


def enclosing_cell(module: ast.Module, line: int, col: int) -> tuple[object, CellBlock] | None:
    """(the genotype or space, the cell) whose block holds the cursor."""
    for item in module.items:
        if isinstance(item, (ast.GenotypeDecl, ast.SpaceDecl)) and contains(item.span, line, col):
            for cell in item.body:
                if isinstance(cell, (ast.CellDecl, ast.SpaceCellDecl)) and contains(cell.span,
                                                                                   line, col):
                    return item, cell
    return None


def state_definition(cell: CellBlock, name: str) -> tuple[Span | None, object] | None:
    """Where ``name`` is declared in ``cell``: an input, a node, or (search) its `nodes M`."""
    for stmt in cell.body:
        if isinstance(stmt, ast.InputStmt):
            for n in stmt.names:
                if n.text == name:
                    return n.span, stmt
        elif isinstance(stmt, ast.NodeStmt) and stmt.name.text == name:
            return stmt.name.span, stmt
    if isinstance(cell, ast.SpaceCellDecl):
        count = next((s for s in cell.body if isinstance(s, ast.NodesStmt)), None)
        if count is not None and name in {f"n{i}" for i in range(2, count.count + 2)}:
            return count.span, count
    return None


def cell_inputs(cell: CellBlock) -> list[str]:
    stmt = next((s for s in cell.body if isinstance(s, ast.InputStmt)), None)
    return [n.text for n in stmt.names] if stmt is not None else ["s0", "s1"]
