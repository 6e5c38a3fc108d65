"""The genodsl command line: one module per command group, all registered on one typer app."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from ..errors import GenoError
from ..runtime.allocator import tune_cpu_allocator

app = typer.Typer(
    name="genodsl",
    help="genodsl: a genotype language, compiler and runtime for NAS-Unet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The arguments of the running command (set by ``main``): ``--nproc`` re-launches them.
ARGV: list[str] = []

# Each module defines ``register(app)``; a module that is not there yet is skipped.
_COMMAND_MODULES = ["lang", "compile_cmd", "render_cmd", "search_cmd", "train_cmd", "model_cmd",
                    "demo_cmd", "lsp_cmd", "diff_cmd"]

for _name in _COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a command is missing
        if exc.name != f"{__name__}.{_name}":
            raise
        continue
    _mod.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one clear message and exit with code 2.

    In a torchrun worker the message starts with the worker's rank.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    ARGV[:] = args
    tune_cpu_allocator()
    try:
        app(args=args, standalone_mode=True)
    except GenoError as err:
        rank = os.environ.get("RANK") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
        typer.echo(f"[rank {rank}] {err}" if rank is not None else str(err), err=True)
        sys.exit(2)
