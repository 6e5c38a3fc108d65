"""`genodsl check` and `genodsl fmt`: the language commands."""

from __future__ import annotations

import difflib
from pathlib import Path

import typer

from ..errors import GenoError, render_all
from ..lang.loader import load
from ..lang.parse import file_error, load_source
from ..lang.printer import format_module
from ..files import write_text_atomic
from .common import console, err_console, expand

ALLOW_OUTSIDE = typer.Option(False, "--allow-outside-imports", help="let imports read files "
                             "outside the folder of the file given (absolute paths, ../..)")


def _files(paths: list[Path]) -> list[Path]:
    """The files named, folders expanded; a path the OS refuses (a name too long) is a
    user error."""
    try:
        return expand(paths)
    except (OSError, ValueError) as exc:
        name = getattr(exc, "filename", None) or (str(paths[0]) if paths else "")
        raise file_error(exc, str(name)) from None


def check(files: list[Path] = typer.Argument(..., help=".geno files or folders"),
          allow_outside_imports: bool = ALLOW_OUTSIDE) -> None:
    """Parse and validate .geno files; report every problem with its place."""
    failed = 0
    for f in _files(files):
        try:
            program = load(f, allow_outside_imports=allow_outside_imports)
        except GenoError as err:
            failed += 1
            err_console.print(str(err), markup=False)
            continue
        if program.warnings:
            err_console.print(render_all(program.warnings), markup=False)
        console.print(f"ok  {f}  ({len(program.opsets)} op sets, {len(program.genotypes)} "
                      f"genotypes, {len(program.spaces)} spaces, {len(program.networks)} "
                      "networks)", markup=False)
    if failed:
        raise typer.Exit(2)


def fmt(paths: list[Path] = typer.Argument(..., help=".geno files or folders"),
        check_only: bool = typer.Option(False, "--check", help="only report files that would "
                                        "change; exit 1 if any"),
        diff: bool = typer.Option(False, "--diff", help="print the changes instead of writing"),
        ) -> None:
    """Rewrite .geno files in canonical form (comments are kept)."""
    changed = 0
    errors = 0
    for f in _files(paths):
        try:
            old, module = load_source(f)
        except GenoError as err:
            errors += 1
            err_console.print(str(err), markup=False)
            continue
        new = format_module(module)
        if new == old:
            continue
        changed += 1
        if diff or check_only:
            if diff:
                console.print("".join(difflib.unified_diff(
                    old.splitlines(True), new.splitlines(True), str(f), f"{f} (formatted)")),
                    markup=False, end="")
            if check_only:
                console.print(f"would reformat {f}", markup=False)
            continue
        write_text_atomic(f, new)
        console.print(f"reformatted {f}", markup=False)
    if errors:
        raise typer.Exit(2)
    if check_only and changed:
        raise typer.Exit(1)
    if check_only:
        console.print("all files are formatted", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(fmt)
