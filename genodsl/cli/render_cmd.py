"""`genodsl render`: draw a cell (paper Figure 3) or a network (Figure 2b) with Graphviz."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import typer

from ..errors import ConfigError, GenoError, did_you_mean
from ..files import refuse_existing
from ..lang.ir import Cell, CellType, Program
from ..lang.loader import load
from ..render import PICTURE_FORMATS, TEXT_FORMATS, render_cell, render_network, write
from .lang import ALLOW_OUTSIDE
from .options import geno_file
from .common import console, err_console

_FORMATS = " ".join(f".{f}" for f in PICTURE_FORMATS + TEXT_FORMATS)


def _cell_choices(program: Program) -> list[str]:
    owners = list(program.genotypes.values()) + list(program.spaces.values())
    return [f"{o.name}.{t.value}" for o in owners for t in CellType if t in o.cells]


def _choices_hint(program: Program) -> str:
    owners = ", ".join(list(program.genotypes) + list(program.spaces)) or "(none in this file)"
    nets = ", ".join(program.networks) or "(none in this file)"
    return f"--cell NAME.down, NAME.up or NAME.normal, NAME one of: {owners}; --network one of: {nets}"


def find_cell(program: Program, spec: str) -> tuple[Cell, str]:
    """``GENOTYPE.down`` / ``SPACE.up`` → the cell and a title for it."""
    owner_name, dot, part = spec.rpartition(".")
    choices = _cell_choices(program)
    if not dot:
        close = did_you_mean(spec, choices)
        raise GenoError(f"'{spec}' does not name a cell", code="E016",
                        hint="write NAME.down, NAME.up or NAME.normal" + (f"; {close}" if close else ""))
    owner = program.cells_of(owner_name)
    if owner is None:
        raise GenoError(f"unknown genotype or search space '{owner_name}'", code="E016",
                        hint=did_you_mean(spec, choices))
    cell = next((c for t, c in owner.cells.items() if t.value == part), None)
    if cell is None:
        kinds = [t.value for t in owner.cells]
        best = difflib.get_close_matches(part.lower(), kinds, n=1, cutoff=0.0)
        raise GenoError(f"'{owner_name}' has no cell '{part}'", code="E016",
                        hint=f"did you mean '{owner_name}.{best[0]}'?" if best else None)
    kind = "search space" if cell.search else "genotype"
    return cell, f"{owner_name} ({kind}) · {part} cell"


def render(file: Path = typer.Argument(..., help="a .geno file, or the name of a shipped "
                                       "one"),
           cell: str = typer.Option(None, "--cell", "-c", help="draw one cell: GENOTYPE.down, "
                                    "GENOTYPE.up, GENOTYPE.normal (when it has one), or the "
                                    "same of a SPACE"),
           network: str = typer.Option(None, "--network", "-n", help="draw a whole network"),
           input_size: int = typer.Option(None, "--input-size", "-s", min=1, help="with "
                                          "--network: label each stage with its size in "
                                          "pixels for this input (e.g. 256)"),
           out: Path = typer.Option(..., "--out", "-o", help=f"the file to write: {_FORMATS}"),
           force: bool = typer.Option(False, "--force", help="overwrite -o if it exists"),
           allow_outside_imports: bool = ALLOW_OUTSIDE,
           ) -> None:
    """Draw a cell or a network as a picture; the suffix of -o picks the format.

    Name --cell or --network; without either, the file's own network (the error lists the
    choices when there is none, or several).

    .svg .png .pdf need Graphviz's dot; without it the DOT text goes to OUT.dot, with a warning.
    """
    refuse_existing(out, force, "-o")
    if out.suffix.lstrip(".").lower() in PICTURE_FORMATS and shutil.which("dot") is None:
        refuse_existing(out.with_suffix(".dot"), force, "-o")  # where the DOT text will go
    program = load(geno_file(file), allow_outside_imports=allow_outside_imports)
    if cell is not None and network is not None:
        raise ConfigError("render draws one thing: both --cell and --network given",
                          hint=_choices_hint(program))
    if cell is not None:
        if input_size is not None:
            raise ConfigError("--input-size applies to --network only",
                              hint="a cell has no fixed size; drop --input-size")
        found, title = find_cell(program, cell)
        graph = render_cell(found, title)
    else:  # the named network, or the file's own one
        try:
            net = program.network(network)
        except GenoError as err:
            first = err.diagnostics[0]
            raise ConfigError(first.message, hint=first.hint if network is not None
                              else _choices_hint(program)) from None
        graph = render_network(net, program, input_size)
    result = write(graph, out)
    if result.fallback:
        err_console.print(f"warning: {result.warning}", markup=False, soft_wrap=True)
    else:
        console.print(f"wrote {result.path}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(render)
