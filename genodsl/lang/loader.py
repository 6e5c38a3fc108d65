"""Files and imports → one validated :class:`~genodsl.lang.ir.Program`.

``import "x.geno"`` is looked up beside the importing file first, then among the
genotypes shipped with genodsl (so ``import "ops.geno"`` works anywhere).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from . import ast
from ..errors import Diagnostic, GenoError, GenoImportError, GenoValidationError, did_you_mean
from .ir import Program
from .lower import build_program
from .parse import parse, parse_file
from .validate import sort_diagnostics, validate


def builtin_dir() -> Path:
    """The folder of the genotypes shipped with genodsl."""
    packaged = resources.files("genodsl").joinpath("_genotypes")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "genotypes"  # pragma: no cover


def _resolve(path: str, base: Path, shown: Path) -> tuple[Path, Path] | None:
    """(resolved path, path to show in messages) of an import, or None if not found.

    A file beside the importer is shown relative to how the importer was named, so
    messages read ``sub/ops.geno:3:1`` rather than a machine-specific absolute path.
    """
    candidate = base / path
    if candidate.is_file():
        return candidate.resolve(), shown / path
    candidate = builtin_dir() / path
    if candidate.is_file():
        return candidate.resolve(), candidate.resolve()
    return None


def _missing_hint(path: str, base: Path) -> str:
    here = sorted(p.name for p in base.glob("*.geno")) if base.is_dir() else []
    shipped = sorted(p.name for p in builtin_dir().glob("*.geno"))
    close = did_you_mean(Path(path).name, here + shipped)
    hint = ("imports are looked up beside the importing file, then among genodsl's shipped "
            f"genotypes: {', '.join(shipped)}")
    return f"{close} {hint}" if close and close.startswith("did you mean") else hint


def collect(root: ast.Module, base: Path) -> list[ast.Module]:
    """``root`` and every module it imports (each once), imports first."""
    order: list[ast.Module] = []
    done: set[Path] = set()
    errors: list[Diagnostic] = []

    def visit(module: ast.Module, folder: Path, shown_folder: Path, stack: list[Path]) -> None:
        for item in module.items:
            if not isinstance(item, ast.ImportStmt):
                continue
            found = _resolve(item.path, folder, shown_folder)
            if found is None:
                errors.append(Diagnostic(
                    "E031", f"cannot find imported file '{item.path}'", span=item.span,
                    hint=_missing_hint(item.path, folder)))
                continue
            target, shown = found
            if target in stack:
                chain = " → ".join(p.name for p in stack[stack.index(target):] + [target])
                errors.append(Diagnostic("E030", f"import cycle: {chain}", span=item.span,
                                         hint="move the shared declarations into a third file"))
                continue
            if target in done:
                continue
            child = parse_file(target, shown=str(shown))
            visit(child, target.parent, shown.parent, stack + [target])
            done.add(target)
            order.append(child)

    here = Path(root.file).resolve() if Path(root.file).is_file() else None
    visit(root, base, Path(root.file).parent if here else base, [here] if here else [])
    if errors:
        raise GenoImportError(errors)
    return order + [root]


def _finish(root: ast.Module, base: Path) -> Program:
    modules = collect(root, base)
    program, diags = build_program(modules)
    diags = sort_diagnostics(diags + validate(program))
    program.warnings = sort_diagnostics(program.warnings)
    if any(d.is_error for d in diags):
        raise GenoValidationError(diags + program.warnings)
    return program


def load(path: str | Path) -> Program:
    """Parse, resolve imports and validate a .geno file; raise GenoError on any problem."""
    p = Path(path)
    return _finish(parse_file(p), p.resolve().parent)


def loads(text: str, file: str = "<string>", base_dir: str | Path | None = None) -> Program:
    """Like :func:`load` for a string; imports resolve against ``base_dir`` (default: cwd)."""
    return _finish(parse(text, file), Path(base_dir) if base_dir else Path.cwd())


def load_builtin(name: str = "nasunet.geno") -> Program:
    return load(builtin_dir() / name)


__all__ = ["load", "loads", "load_builtin", "builtin_dir", "collect", "GenoError"]
