"""The document outline (op sets, genotypes and their cells, spaces, networks) and formatting.

Ranges are in characters (0-based); the server converts them to the client's encoding.
Formatting is ``genodsl fmt``'s printer, so comments are kept; text that does not parse
is left alone.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from ..errors import GenoError, Span
from ..lang import ast
from ..lang.parse import parse
from ..lang.printer import format_module, format_op, format_value

SK = lsp.SymbolKind


def span_range(span: Span) -> lsp.Range:
    """A genodsl span (1-based, end exclusive) as an LSP range in characters (0-based)."""
    return lsp.Range(start=lsp.Position(line=span.line - 1, character=span.col - 1),
                     end=lsp.Position(line=span.end_line - 1, character=span.end_col - 1))


def _symbol(name: str, kind: lsp.SymbolKind, span: Span | None, name_span: Span | None,
            detail: str | None = None, children: list | None = None) -> lsp.DocumentSymbol | None:
    if span is None:
        return None
    return lsp.DocumentSymbol(name=name, kind=kind, range=span_range(span),
                              selection_range=span_range(name_span or span), detail=detail,
                              children=[c for c in children or [] if c is not None] or None)


def _cell(cell: ast.CellDecl | ast.SpaceCellDecl) -> lsp.DocumentSymbol | None:
    children = []
    for stmt in cell.body:
        if isinstance(stmt, ast.NodeStmt):
            edges = " + ".join(f"{e.op.name}({e.source.text})" for e in stmt.edges)
            children.append(_symbol(stmt.name.text, SK.Field, stmt.span, stmt.name.span, edges))
        elif isinstance(stmt, ast.UseStmt):
            used = stmt.opset.text if stmt.opset is not None else \
                "[" + ", ".join(format_op(o) for o in stmt.ops or ()) + "]"
            children.append(_symbol(f"from {stmt.source.text}", SK.Field, stmt.span,
                                    stmt.source.span, f"use {used}"))
    return _symbol(f"cell {cell.kind.text}", SK.Struct, cell.span, cell.kind.span,
                   children=children)


def document_symbols(module: ast.Module) -> list[lsp.DocumentSymbol]:
    out: list[lsp.DocumentSymbol | None] = []
    for item in module.items:
        if isinstance(item, ast.ImportStmt):
            out.append(_symbol(f'import "{item.path}"', SK.File, item.span, item.span))
        elif isinstance(item, ast.OpSetDecl):
            ops = [_symbol(o.name, SK.EnumMember, o.span, o.span) for o in item.ops]
            out.append(_symbol(item.name.text, SK.Enum, item.span, item.name.span,
                               f"opset of {len(item.ops)}", ops))
        elif isinstance(item, (ast.GenotypeDecl, ast.SpaceDecl)):
            what = "genotype" if isinstance(item, ast.GenotypeDecl) else "space"
            cells = [_cell(c) for c in item.body
                     if isinstance(c, (ast.CellDecl, ast.SpaceCellDecl))]
            out.append(_symbol(item.name.text, SK.Class, item.span, item.name.span, what, cells))
        elif isinstance(item, ast.NetworkDecl):
            entries = [_symbol(e.key.text, SK.Property, e.span, e.key.span, format_value(e.value))
                       for e in item.body]
            out.append(_symbol(item.name.text, SK.Module, item.span, item.name.span, "network",
                               entries))
    return [s for s in out if s is not None]


def formatted(text: str, file: str) -> str | None:
    """The canonical text of ``text`` (as ``genodsl fmt`` writes it), None if it does not parse."""
    try:
        return format_module(parse(text, file))
    except GenoError:
        return None
