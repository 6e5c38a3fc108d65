"""IR → ``nn.Module``: the discrete network of a genotype, or the supernet of a search space."""

from __future__ import annotations

from torch import nn

from ..errors import GenoError, did_you_mean
from ..lang.ir import Network, Program
from .discrete import build_discrete


def get_network(program: Program, name: str | None) -> Network:
    """The network called ``name``; with no name, the only network of the program."""
    if not program.networks:
        raise GenoError("this file declares no network", code="E016",
                        hint="add a block: network NAME { cells = GENOTYPE  C = 16  depth = 4 }")
    if name is None:
        if len(program.networks) == 1:
            return next(iter(program.networks.values()))
        raise GenoError(f"this file declares {len(program.networks)} networks; name one with "
                        "--network", code="E016", hint=did_you_mean("", program.networks))
    net = program.networks.get(name)
    if net is None:
        raise GenoError(f"unknown network '{name}'", code="E016",
                        hint=did_you_mean(name, program.networks))
    return net


def build(program: Program, network: str | None = None, **supernet_options) -> nn.Module:
    """The module of ``network``: discrete for a genotype, a supernet for a search space."""
    net = get_network(program, network)
    assert net.settings is not None  # a loaded program is validated
    name = net.settings.cells
    if name in program.genotypes:
        return build_discrete(net.settings, program.genotypes[name])
    from .supernet import build_supernet  # search lives in its own module
    return build_supernet(net.settings, program.spaces[name], **supernet_options)
