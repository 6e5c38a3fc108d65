"""The searcher's output file: a derived genotype + a network binding it, self-contained.

The text comes from the canonical printer, preceded by a provenance header of ``#`` lines
(space, strategy, seed, epoch, data, config hash, genodsl version).  Nothing in it depends on
the wall clock or the output folder, so the same search gives a byte-identical file.  The
network keeps the search network's settings (its widths and normal cells included) but drops
``stem_multiplier``, so the derived network has the discrete stems (4C); ``genodsl compile FILE --network NAME`` builds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..version import __version__
from ..lang.ir import NetworkSettings, Genotype, Network, Program
from ..lang.printer import dumps


@dataclass(frozen=True)
class Provenance:
    space: str
    space_file: str
    network: str
    strategy: str
    seed: int
    epoch: int
    epochs: int
    data: str
    config_hash: str

    def lines(self) -> tuple[str, ...]:
        return (
            "# Derived by `genodsl search`; reload, check and compile this file as is.",
            f"#   space:       {self.space} ({self.space_file}), network {self.network}",
            f"#   strategy:    {self.strategy}, seed {self.seed}",
            f"#   epoch:       {self.epoch} of {self.epochs}",
            f"#   data:        {self.data}",
            f"#   config hash: {self.config_hash}",
            f"#   genodsl:     {__version__}",
        )


def identifier(text: str) -> str:
    """``text`` as a name the grammar accepts (letters, digits, underscores)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else f"g_{name}"


def genotype_name(space: str, strategy: str, seed: int) -> str:
    return identifier(f"{space}_{strategy}_s{seed}")


def derived_settings(settings: NetworkSettings, genotype: str) -> NetworkSettings:
    """The search network's settings bound to ``genotype``, with discrete (default) stems."""
    values = {"cells": genotype, "in_channels": settings.in_channels, "classes": settings.classes,
              "C": settings.C, "depth": settings.depth}
    if settings.double_down_channel:
        values["double_down_channel"] = True
    if settings.dims != 2:  # a volume's search derives a volume's network
        values.update(dims=settings.dims, inplane_stages=settings.inplane_stages)
    # the U's shape, as the search network set it (an unset entry stays unset)
    shape = ("widths", "growth", "full_res_cells", "cells_per_level")
    values.update(settings.model_dump(include=set(shape), exclude_unset=True))
    return NetworkSettings(**values)


def genotype_text(genotype: Genotype, search_network: str, settings: NetworkSettings,
                  provenance: Provenance) -> str:
    """The whole ``genotype.geno`` text."""
    net = Network(identifier(f"{search_network}_derived"), derived_settings(settings, genotype.name))
    program = Program(genotypes={genotype.name: genotype}, networks={net.name: net})
    return dumps(program, header=provenance.lines() + ("",))


def derived_network_name(search_network: str) -> str:
    return identifier(f"{search_network}_derived")
