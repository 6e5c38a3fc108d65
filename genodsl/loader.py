"""Files and imports → one validated :class:`~genodsl.ir.Program`.

``import "x.geno"`` is looked up beside the importing file first, then among the
genotypes shipped with genodsl (so ``import "ops.geno"`` works anywhere).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from . import ast
from .errors import Diagnostic, GenoError, GenoImportError, GenoValidationError
from .ir import Program, build_program
from .parse import parse, parse_file
from .validate import sort_diagnostics, validate


def builtin_dir() -> Path:
    """The folder of the genotypes shipped with genodsl."""
    packaged = resources.files("genodsl").joinpath("_genotypes")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "genotypes"  # pragma: no cover


def _resolve(path: str, base: Path) -> Path | None:
    for folder in (base, builtin_dir()):
        candidate = (folder / path)
        if candidate.is_file():
            return candidate.resolve()
    return None


def collect(root: ast.Module, base: Path) -> list[ast.Module]:
    """``root`` and every module it imports (each once), imports first."""
    order: list[ast.Module] = []
    done: set[Path] = set()
    errors: list[Diagnostic] = []

    def visit(module: ast.Module, folder: Path, stack: list[Path]) -> None:
        for item in module.items:
            if not isinstance(item, ast.ImportStmt):
                continue
            target = _resolve(item.path, folder)
            if target is None:
                errors.append(Diagnostic(
                    "E031", f"cannot find imported file '{item.path}'", span=item.span,
                    hint=f"looked in {folder} and in genodsl's genotypes ({builtin_dir()})"))
                continue
            if target in stack:
                chain = " → ".join(p.name for p in stack[stack.index(target):] + [target])
                errors.append(Diagnostic("E030", f"import cycle: {chain}", span=item.span,
                                         hint="move the shared declarations into a third file"))
                continue
            if target in done:
                continue
            child = parse_file(target)
            visit(child, target.parent, stack + [target])
            done.add(target)
            order.append(child)

    here = Path(root.file).resolve() if Path(root.file).is_file() else None
    visit(root, base, [here] if here else [])
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
