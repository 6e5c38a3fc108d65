"""Files and imports → one validated :class:`~genodsl.lang.ir.Program`.

``import "x.geno"`` is looked up beside the importing file first, then among the
genotypes shipped with genodsl (so ``import "ops.geno"`` works anywhere).  An import never
leaves the top file's folder (an absolute path, ``../..``, a symlink out) unless the caller
allows it: a .geno file from elsewhere must not make the tools read /etc/passwd.
"""

from __future__ import annotations

import os
import stat
from importlib import resources
from pathlib import Path, PurePath

from . import ast
from ..errors import Diagnostic, GenoError, GenoImportError, GenoValidationError, did_you_mean
from .ir import Program
from .limits import MAX_IMPORT_DEPTH, MAX_IMPORTS, too_many
from .lower import build_program
from .parse import parse, parse_file
from .validate import sort_diagnostics, validate


def builtin_dir() -> Path:
    """The folder of the genotypes shipped with genodsl."""
    packaged = resources.files("genodsl").joinpath("_genotypes")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "genotypes"  # pragma: no cover


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _stat_mode(path: Path) -> int | None:
    """The file type bits of ``path`` (0: there, but stat fails), None when it is not there."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # a symlink loop, a name too long, a NUL in the name
        return 0


class _Resolver:
    """Where an import points: beside the importing file (inside the top file's folder,
    unless outside imports are allowed), else among the shipped genotypes."""

    def __init__(self, top: Path, allow_outside: bool):
        self.top = os.path.realpath(top)
        self.shipped = os.path.realpath(builtin_dir())
        self.allow_outside = allow_outside

    def outside(self, real: str) -> bool:
        return not (self.allow_outside or _inside(real, self.top) or _inside(real, self.shipped))

    def resolve(self, item: ast.ImportStmt, folder: Path, shown: Path
                ) -> tuple[Path, Path] | Diagnostic:
        """(real path, path to show in messages) of an import, or the problem with it.

        A file beside the importer is shown relative to how the importer was named, so
        messages read ``sub/ops.geno:3:1`` rather than a machine-specific absolute path.
        """
        path = item.path
        if PurePath(path).is_absolute() and not self.allow_outside:
            return Diagnostic("E032", f"import of an absolute path '{path}'", span=item.span,
                              hint="imports are relative to the importing file; "
                              + _ALLOW_HINT)
        if "\x00" in path:
            return Diagnostic("E031", "an import path cannot contain a NUL character",
                              span=item.span)
        candidate = folder / path
        mode = _stat_mode(candidate)
        if mode is not None:
            real = os.path.realpath(candidate)
            if self.outside(real):
                return Diagnostic("E032", f"import '{path}' leads outside the folder of the "
                                  f"file being loaded ({self.top})", span=item.span,
                                  hint=_ALLOW_HINT)
            if stat.S_ISREG(mode):
                return Path(real), shown / path
        shipped = Path(self.shipped) / path
        real_shipped = os.path.realpath(shipped)
        if _inside(real_shipped, self.shipped) and stat.S_ISREG(_stat_mode(shipped) or 0):
            return Path(real_shipped), Path(real_shipped)
        if mode is not None:  # there, but not a regular file: reading it says which
            return Path(os.path.realpath(candidate)), shown / path
        return Diagnostic("E031", f"cannot find imported file '{path}'", span=item.span,
                          hint=_missing_hint(path, folder))


_ALLOW_HINT = ("to read files outside it, pass allow_outside_imports=True (API) or "
               "--allow-outside-imports (CLI)")


def _missing_hint(path: str, base: Path) -> str:
    here = sorted(p.name for p in base.glob("*.geno")) if base.is_dir() else []
    shipped = sorted(p.name for p in builtin_dir().glob("*.geno"))
    close = did_you_mean(Path(path).name, here + shipped)
    hint = ("imports are looked up beside the importing file, then among genodsl's shipped "
            f"genotypes: {', '.join(shipped)}")
    return f"{close} {hint}" if close and close.startswith("did you mean") else hint


def collect(root: ast.Module, base: Path, allow_outside_imports: bool = False
            ) -> list[ast.Module]:
    """``root`` and every module it imports (each once), imports first.

    Imports stay inside ``base`` (the top file's folder) and the shipped genotypes unless
    ``allow_outside_imports``; chains and counts of files are limited (limits.py).
    """
    order: list[ast.Module] = []
    done: set[Path] = set()
    errors: list[Diagnostic] = []
    resolver = _Resolver(base, allow_outside_imports)

    def visit(module: ast.Module, folder: Path, shown_folder: Path, stack: list[Path]) -> None:
        for item in module.items:
            if not isinstance(item, ast.ImportStmt):
                continue
            found = resolver.resolve(item, folder, shown_folder)
            if isinstance(found, Diagnostic):
                errors.append(found)
                continue
            target, shown = found
            if target in stack:
                chain = " → ".join(p.name for p in stack[stack.index(target):] + [target])
                errors.append(Diagnostic("E030", f"import cycle: {chain}", span=item.span,
                                         hint="move the shared declarations into a third file"))
                continue
            if target in done:
                continue
            if len(stack) >= MAX_IMPORT_DEPTH:
                errors.append(Diagnostic("E033", too_many("imports nested too deep (files on "
                              "one chain)", len(stack) + 1, MAX_IMPORT_DEPTH), span=item.span))
                continue
            if len(done) >= MAX_IMPORTS:
                if not any(d.code == "E033" for d in errors):
                    errors.append(Diagnostic("E033", too_many("too many imported files",
                                  len(done) + 1, MAX_IMPORTS), span=item.span))
                return
            done.add(target)
            try:
                child = parse_file(target, shown=str(shown))
            except GenoError as err:
                if any(d.span is not None for d in err.diagnostics):
                    raise  # a problem inside the imported file, with its own place
                # a problem with the file itself (missing, a FIFO, too large): the import's place
                errors.extend(Diagnostic(d.code, f"cannot import '{item.path}': {d.message}",
                                         span=item.span, hint=d.hint) for d in err.diagnostics)
                continue
            visit(child, target.parent, shown.parent, stack + [target])
            order.append(child)

    here = Path(os.path.realpath(root.file)) if os.path.isfile(root.file) else None
    visit(root, base, Path(root.file).parent if here else base, [here] if here else [])
    if errors:
        raise GenoImportError(errors)
    return order + [root]


def check_modules(modules: list[ast.Module]) -> tuple[Program, list[Diagnostic]]:
    """A file and its imports (from :func:`collect`) → the program and every problem in it,
    sorted, warnings last (``check`` raises on them; the language server shows them)."""
    program, diags = build_program(modules)
    program.warnings = sort_diagnostics(program.warnings)
    return program, sort_diagnostics(diags + validate(program)) + program.warnings


def _finish(root: ast.Module, base: Path, allow_outside_imports: bool) -> Program:
    program, diags = check_modules(collect(root, base, allow_outside_imports))
    if any(d.is_error for d in diags):
        raise GenoValidationError(diags)
    return program


def load(path: str | Path, *, allow_outside_imports: bool = False) -> Program:
    """Parse, resolve imports and validate a .geno file; raise GenoError on any problem.

    Imports must stay inside the file's folder (or name a shipped genotype) unless
    ``allow_outside_imports``.
    """
    module = parse_file(path)
    return _finish(module, Path(os.path.realpath(path)).parent, allow_outside_imports)


def loads(text: str, file: str = "<string>", base_dir: str | Path | None = None, *,
          allow_outside_imports: bool = False) -> Program:
    """Like :func:`load` for a string; imports resolve against ``base_dir`` (default: cwd)."""
    return _finish(parse(text, file), Path(base_dir) if base_dir else Path.cwd(),
                   allow_outside_imports)


def load_builtin(name: str = "nasunet.geno") -> Program:
    return load(builtin_dir() / name)


def find_source(path: str | os.PathLike[str]) -> Path | None:
    """``path`` if something is there (even a link or a FIFO: loading refuses those with
    their own message), else the shipped file a bare name means (``nasunet_space.geno`` or
    ``nasunet_space``), else None.  The one place the CLI turns names into files."""
    given = Path(path)
    if os.path.lexists(given):
        return given
    if given.parent == Path("."):
        for name in (given.name, f"{given.name}.geno"):
            if (builtin_dir() / name).is_file():
                return builtin_dir() / name
    return None


def shipped_names() -> list[str]:
    """The shipped .geno files, for hints."""
    return sorted(p.name for p in builtin_dir().glob("*.geno"))


__all__ = ["load", "loads", "load_builtin", "builtin_dir", "find_source", "shipped_names",
           "collect", "GenoError"]
