"""`genodsl compile`: a network → its module, a summary, and optionally a saved model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import ConfigError, GenoValidationError
from ..files import refuse_existing
from ..lang.loader import load
from ..lang.validate import check_input
from .lang import ALLOW_OUTSIDE
from .options import geno_file
from .common import console, parse_shape


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _default_shape(settings) -> tuple[int, ...]:
    """One sample at 256×256, or a 64×128×128 volume (larger where the depth needs it)."""
    from ..lang.plan import size_divisors

    sizes = (256, 256) if settings.dims == 2 else (64, 128, 128)
    return (1, settings.in_channels, *(max(n, d) for n, d in zip(sizes,
                                                                   size_divisors(settings))))


def compile(file: Path = typer.Argument(..., help="a .geno file, or the name of a shipped "
                                        "one"),
            network: str = typer.Option(None, "--network", "-n", help="the network to compile "
                                        "(default: the file's only network)"),
            input: str = typer.Option(None, "--input", "-i",
                                      help="input shape N×C×H×W, e.g. 1x1x256x256, or "
                                      "N×C×D×H×W for a 3D network, e.g. 1x1x32x64x64 "
                                      "(default: 1×in_channels×256×256; 3D: ×64×128×128)"),
            out: Path = typer.Option(None, "--out", "-o", help="save the model (weights + "
                                     "genotype text) to this .safetensors file"),
            force: bool = typer.Option(False, "--force", help="overwrite --out if it exists"),
            seed: int = typer.Option(0, help="seed of the initial weights"),
            allow_outside_imports: bool = ALLOW_OUTSIDE,
            ) -> None:
    """Compile a network and print its summary: stages, shapes, parameters, FLOPs."""
    import torch

    from ..compile import build
    from ..compile.summary import summarize

    if out is not None:
        out = out if out.suffix else out.with_suffix(".safetensors")
        if out.suffix != ".safetensors":
            raise ConfigError(f"--out {out}: a saved model is a .safetensors file",
                              hint=f"e.g. --out {out.with_suffix('.safetensors')}")
        refuse_existing(out, force)
    program = load(geno_file(file), allow_outside_imports=allow_outside_imports)
    net = program.network(network)
    shape = parse_shape(input) if input is not None else _default_shape(net.settings)
    problems = check_input(net, shape)
    if problems:
        raise GenoValidationError(problems)
    torch.manual_seed(seed)
    model = build(program, net.name)
    summary = summarize(model, shape, net.name)
    table = Table(title=f"{net.name} ({net.settings.cells}, C={net.settings.C}, "
                  f"depth={net.settings.depth}{', 3D' if net.settings.dims == 3 else ''}) "
                  f"on {'×'.join(map(str, shape))}")
    for col in ("stage", "layers", "output", "params", "GFLOPs"):
        table.add_column(col, justify="left" if col in ("stage", "output") else "right")
    for r in summary.rows:
        table.add_row(r.stage, str(r.layers), "×".join(map(str, r.out_shape)),
                      _fmt_int(r.params), f"{r.flops / 1e9:.3f}")
    table.add_row("total", "", "×".join(map(str, summary.output_shape)),
                  _fmt_int(summary.params), f"{summary.flops / 1e9:.3f}", style="bold")
    console.print(table)
    console.print(f"parameters: {_fmt_int(summary.params)}   forward FLOPs: "
                  f"{summary.flops / 1e9:.3f} G (per batch of {shape[0]}; conv/matmul, 2 per "
                  "multiply-add)", markup=False)
    if out is not None:
        from ..runs.saved import ModelSpec, save_model

        save_model(out, model, ModelSpec.of_network(program, net.name))
        console.print(f"saved {out}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(compile)
