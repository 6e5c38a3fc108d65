"""The model a run builds, from its ``model:`` section: a network of a .geno file (with
``model.classes`` / ``model.in_channels`` overriding the network's) or a baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..data.config import DataConfig, fit_to_model
from ..errors import ConfigError
from ..lang.ir import Program
from ..lang.override import place
from ..lang.loader import load
from .config import ModelConfig, RunConfig

if TYPE_CHECKING:
    from torch import nn

    from .saved import ModelSpec


def load_network(model: ModelConfig) -> tuple[Program, str]:
    """``(program, network name)``: only what the network needs, with the overrides applied."""
    if model.file is None:
        raise ConfigError("no .geno file", hint="name one: genodsl COMMAND FILE.geno ... "
                                                "(or set model.file)")
    program = load(model.file)
    net = program.network(model.network)
    if not model.overrides() or net.settings is None:
        return program.subprogram(net.name), net.name
    return place(program, net.settings.cells, net.name,
                 net.settings.model_dump(exclude_unset=True), model.overrides()), net.name


def training_model(cfg: RunConfig) -> tuple["nn.Module", "ModelSpec", DataConfig]:
    """(model with fresh weights, its spec, the data settings fitted to its channels/classes)."""
    from .saved import ModelSpec

    model, data = cfg.model, cfg.data
    assert data is not None
    if (model.file is None) == (model.baseline is None):
        raise ConfigError("give a .geno file (with --network) or --baseline NAME",
                          hint="e.g. genodsl train nasunet.geno --network nasunet_promise12 "
                               "... or genodsl train --baseline unet ...")
    if model.baseline is not None:
        in_channels = model.in_channels or data.in_channels
        classes = model.classes or data.num_classes
        data = fit_to_model(data, in_channels, classes, f"baseline '{model.baseline}'")
        spec = ModelSpec.of_baseline(model.baseline, in_channels, classes)
        return spec.build(), spec, data
    program, name = load_network(model)
    if program.is_search(name):
        raise ConfigError(f"network '{name}' places a search space; train a genotype",
                          hint="run genodsl search first, then train its genotype.geno")
    spec = ModelSpec.of_network(program, name)
    data = fit_to_model(data, spec.in_channels, spec.classes, f"network '{name}'")
    return spec.build(), spec, data
