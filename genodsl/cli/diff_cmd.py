"""`genodsl diff A B`: what changes from one genotype to another (exit 0 same, 1 different)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from ..lang.diff import diff_genotypes, render_text, select_genotype, to_json
from ..render import PICTURE_FORMATS, TEXT_FORMATS, write
from ..render.diff import render_diff
from .common import err_console

_FORMATS = " ".join(f".{f}" for f in PICTURE_FORMATS + TEXT_FORMATS)
_WHICH = ("a .geno file (or a shipped one, e.g. nasunet.geno), or FILE:GENOTYPE when the file "
          "declares several")


class DiffFormat(str, Enum):
    text = "text"
    json = "json"


def diff(a: str = typer.Argument(..., metavar="A", help=_WHICH),
         b: str = typer.Argument(..., metavar="B", help=_WHICH),
         fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f",
                                        help="text (readable) or json"),
         out: Path = typer.Option(None, "--out", "-o", help="also draw the two genotypes side "
                                  f"by side, changes highlighted: {_FORMATS}"),
         ) -> None:
    """Compare two genotypes cell by cell and node by node.

    Nodes are matched by name (by position when the two cells share no node name), edges
    by source; lists the edges added, removed or changed (op, arguments, source). Exit
    code 0: the same genotype, 1: they differ, 2: a bad file or name.

    Works on a search run's files as they are: genodsl diff RUN/history/epoch_0001.geno
    RUN/genotype.geno.
    """
    first, label_a = select_genotype(a)
    second, label_b = select_genotype(b)
    result = diff_genotypes(first, second, a_label=label_a, b_label=label_b)
    if fmt is DiffFormat.json:
        typer.echo(json.dumps(to_json(result), indent=2, ensure_ascii=False))
    else:
        typer.echo(render_text(result), nl=False)
    if out is not None:
        written = write(render_diff(first, second, result), out)
        if written.fallback:
            err_console.print(f"warning: {written.warning}", markup=False, soft_wrap=True)
        else:
            err_console.print(f"wrote {written.path}", markup=False, soft_wrap=True)
    if not result.is_empty:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(diff)
