"""One document's text → its AST, its imports, its IR and the diagnostics ``genodsl check`` gives.

The document's own text (not the file on disk) is what is checked; imports resolve beside
the document's path, then among the shipped genotypes, as the loader does.  The stages are
the loader's own (:func:`~genodsl.lang.loader.collect`,
:func:`~genodsl.lang.loader.check_modules`), so the codes, places and hints are those of
``check``; the server keeps the AST and the IR even when there are errors.  A problem found
in an imported file is shown on the ``import`` line that brings it in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, GenoError, Span
from ..lang import ast
from ..lang.grammar import make_span
from ..lang.ir import Program
from ..lang.loader import check_modules, collect
from ..lang.parse import parse
from . import lexical

DECL_KINDS = {ast.OpSetDecl: "opset", ast.GenotypeDecl: "genotype", ast.SpaceDecl: "space",
              ast.NetworkDecl: "network"}


@dataclass(frozen=True)
class Decl:
    """A top-level declaration (op set, genotype, space, network) of the document or an import."""

    name: str
    kind: str  # opset | genotype | space | network
    span: Span | None  # where its name is written
    node: ast.Decl | None = None  # None for a lexical guess in text that does not parse


@dataclass
class Analysis:
    text: str
    file: str  # the name the document's spans carry (its absolute path, or its URI)
    base: Path  # where its imports are looked up
    module: ast.Module | None = None  # None when the text does not parse
    imported: list[ast.Module] = field(default_factory=list)  # imports first
    program: Program | None = None  # None when the text or an import does not load
    diagnostics: list[Diagnostic] = field(default_factory=list)  # all placed in this document
    decls: dict[str, Decl] = field(default_factory=dict)

    @property
    def parsed(self) -> bool:
        return self.module is not None


def analyse(text: str, file: str, base: Path) -> Analysis:
    """Everything the queries need about one document's current text."""
    out = Analysis(text, file, base)
    try:
        out.module = parse(text, file)
    except GenoError as err:
        out.diagnostics = list(err.diagnostics)
        out.imported = _each_import(lexical.import_paths(text), file, base)
        out.decls = _decls(out.imported, None, text, file)
        return out
    try:
        modules = collect(out.module, base)
    except GenoError as err:
        found = list(err.diagnostics)
        paths = [i.path for i in out.module.items if isinstance(i, ast.ImportStmt)]
        out.imported = _each_import(paths, file, base)
    else:
        out.imported = modules[:-1]
        out.program, found = check_modules(modules)
    out.diagnostics = [_place(d, out.module, file, base) for d in found]
    out.decls = _decls(out.imported, out.module, text, file)
    return out


def _each_import(paths: list[str], file: str, base: Path) -> list[ast.Module]:
    """The modules each import brings in, skipping the ones that do not load."""
    out: list[ast.Module] = []
    seen: set[str] = set()
    for path in paths:
        try:
            found = collect(ast.Module((ast.ImportStmt(path),), file=file), base)[:-1]
        except GenoError:
            continue
        for m in found:
            if m.file not in seen:
                seen.add(m.file)
                out.append(m)
    return out


def _decls(imported: list[ast.Module], module: ast.Module | None, text: str,
           file: str) -> dict[str, Decl]:
    out: dict[str, Decl] = {}
    for m in imported + ([module] if module is not None else []):
        for item in m.items:
            kind = DECL_KINDS.get(type(item))
            if kind is not None:
                out.setdefault(item.name.text, Decl(item.name.text, kind, item.name.span, item))
    if module is None:  # the document does not parse: its names from its tokens
        for kind, name, start, end in lexical.top_level_decls(text):
            line, col = lexical.position_of(text, start)
            span = make_span(file, text, line + 1, col + 1, line + 1, col + 1 + end - start)
            out.setdefault(name, Decl(name, kind, span))
    return out


def _place(d: Diagnostic, module: ast.Module, file: str, base: Path) -> Diagnostic:
    """A diagnostic of an imported file (or of no place) moved to this document's import line."""
    if d.span is not None and d.span.file == file:
        return d
    imports = [i for i in module.items if isinstance(i, ast.ImportStmt) and i.span is not None]
    where = d.span.file if d.span is not None else d.file
    target = next((i for i in imports if where and Path(where).name == Path(i.path).name),
                  imports[0] if imports else None)
    span = target.span if target is not None else Span(file, 1, 1, 1, 1)
    if d.span is not None:
        place = f"{_shown(d.span.file, base)}:{d.span.line}:{d.span.col}: "
    else:
        place = f"{_shown(where, base)}: " if where else ""
    return dataclasses.replace(d, span=span, message=place + d.message)


def _shown(path: str | None, base: Path) -> str:
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return path
