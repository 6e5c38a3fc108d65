"""The typed syntax tree of a .geno file: frozen dataclasses, each with a source span.

Spans never take part in equality, so ``parse(format(m)) == m`` compares what a file
says, not where it says it.  Statements carry their comments (``leading`` lines before
them, ``trailing`` on their last line) so the formatter never drops a user's notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..errors import Span



def _span() -> Span | None:
    return field(default=None, compare=False, repr=False)  # type: ignore[return-value]


@dataclass(frozen=True)
class Name:
    """A reference to a declared name (op set, genotype, cell state...), with its place."""

    text: str
    span: Span | None = _span()


# A value is a number, a boolean, a quoted string or a bare name (``cells = NASUNET``); a
# network entry may also be a bracketed list of values (``widths = [16, 32, 64]``), a tuple.
Value = Union[int, float, bool, str, "Name", tuple]


@dataclass(frozen=True)
class Arg:
    name: str
    value: Value
    span: Span | None = _span()


@dataclass(frozen=True)
class OpRef:
    """An op with optional arguments: ``conv`` or ``conv(k=5)``."""

    name: str
    args: tuple[Arg, ...] = ()
    span: Span | None = _span()


@dataclass(frozen=True)
class Stmt:
    """Base of every statement: its comments and its span."""

    leading: tuple[str, ...] = field(default=(), kw_only=True)
    trailing: str | None = field(default=None, kw_only=True)
    span: Span | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class ImportStmt(Stmt):
    path: str


@dataclass(frozen=True)
class OpSetDecl(Stmt):
    name: Name
    ops: tuple[OpRef, ...]


@dataclass(frozen=True)
class KeepStmt(Stmt):
    k: int


@dataclass(frozen=True)
class InputStmt(Stmt):
    names: tuple[Name, ...]


@dataclass(frozen=True)
class Edge:
    """``op(source, arg=value...)``: one incoming edge of a node."""

    op: OpRef
    source: Name
    span: Span | None = _span()


@dataclass(frozen=True)
class NodeStmt(Stmt):
    name: Name
    edges: tuple[Edge, ...]


@dataclass(frozen=True)
class OutputStmt(Stmt):
    names: tuple[Name, ...]


@dataclass(frozen=True)
class NodesStmt(Stmt):
    count: int


@dataclass(frozen=True)
class UseStmt(Stmt):
    """``from s0 use Down``: the candidate ops of every edge leaving ``source``.

    ``source`` is an input name or the keyword ``nodes`` (edges between nodes).
    Exactly one of ``opset`` (a named op set) and ``ops`` (an inline list) is set.
    """

    source: Name
    opset: Name | None = None
    ops: tuple[OpRef, ...] | None = None


NODES_SOURCE = "nodes"


@dataclass(frozen=True)
class CellDecl(Stmt):
    kind: Name
    body: tuple[Stmt, ...]  # InputStmt | NodeStmt | OutputStmt
    end_comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenotypeDecl(Stmt):
    name: Name
    body: tuple[Stmt, ...]  # KeepStmt | CellDecl
    end_comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpaceCellDecl(Stmt):
    kind: Name
    body: tuple[Stmt, ...]  # InputStmt | NodesStmt | UseStmt
    end_comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpaceDecl(Stmt):
    name: Name
    body: tuple[Stmt, ...]  # KeepStmt | SpaceCellDecl
    end_comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry(Stmt):
    key: Name
    value: Value
    value_span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class NetworkDecl(Stmt):
    name: Name
    body: tuple[Entry, ...]
    end_comments: tuple[str, ...] = ()


Decl = Union[ImportStmt, OpSetDecl, GenotypeDecl, SpaceDecl, NetworkDecl]


@dataclass(frozen=True)
class Module:
    """One parsed file."""

    items: tuple[Decl, ...]
    end_comments: tuple[str, ...] = ()
    file: str = field(default="<string>", compare=False)


def body_of(decl: object, kind: type) -> list:
    """The statements of one kind in a block's body, in order."""
    return [s for s in getattr(decl, "body", ()) if isinstance(s, kind)]
