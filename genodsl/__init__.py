"""genodsl: a genotype language, compiler and runtime for NAS-Unet.

``load``/``loads`` read .geno text into the IR (a :class:`~genodsl.lang.ir.Program`),
``dump``/``dumps`` write it back canonically, ``build`` compiles a network to a module.
``create_model``, ``list_genotypes``, ``load_model`` and ``load_run`` (:mod:`genodsl.api`) are
the API to build on: models by genotype name, the shipped genotypes, saved models and runs.
Importing genodsl never imports torch.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError, DataError, Diagnostic, GenoError, GenoSyntaxError, \
    GenoValidationError
from .lang.ir import Program
from .lang.loader import load, loads
from .lang.parse import parse, parse_file
from .lang.printer import dumps
from .version import __version__
from .api import create_model, list_genotypes, load_model, load_run


def dump(program: Program, path: str | Path) -> None:
    from .files import write_text_atomic

    write_text_atomic(path, dumps(program))


def build(program: Program, network: str | None = None, **options):
    """The ``nn.Module`` of a network: discrete for a genotype, a supernet for a space."""
    from .compile import build as _build

    return _build(program, network, **options)


__all__ = ["load", "loads", "dump", "dumps", "build", "parse", "parse_file", "Program",
           "create_model", "list_genotypes", "load_model", "load_run",
           "GenoError", "GenoSyntaxError", "GenoValidationError", "ConfigError", "DataError",
           "Diagnostic", "__version__"]
