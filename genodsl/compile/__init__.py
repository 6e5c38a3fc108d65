"""IR → ``nn.Module``: the discrete network of a genotype, or the supernet of a search space."""

from __future__ import annotations

from torch import nn

from ..errors import GenoValidationError
from ..lang.ir import Genotype, Program
from ..lang.limits import check_program
from .discrete import build_discrete
from .supernet import build_supernet


def build(program: Program, network: str | None = None, **supernet_options) -> nn.Module:
    """The module of ``network``: discrete for a genotype, a supernet for a search space."""
    net = program.network(network)
    cells = program.cells_for(net.name)
    assert net.settings is not None  # cells_for raised otherwise
    problems = check_program(program.subprogram(net.name))  # a Program made by hand, too
    if problems:
        raise GenoValidationError(problems)
    if isinstance(cells, Genotype):
        return build_discrete(net.settings, cells)
    return build_supernet(net.settings, cells, **supernet_options)
