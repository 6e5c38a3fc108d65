"""The Python API for building on genodsl: models by genotype name, shipped genotypes, runs.

::

    import genodsl

    genodsl.list_genotypes("NAS_UNET_V*")                     # shipped genotype names
    model = genodsl.create_model("NASUNET", in_channels=3, classes=4, C=16, depth=4)
    model = genodsl.create_model("my.geno", network="mynet", C=8)
    saved = genodsl.load_model("model.safetensors")           # .model, .spec, .class_names
    run = genodsl.load_run("runs/t1")                         # .model, .config, .class_names

Like ``import genodsl``, importing this module never imports torch: the functions do.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, did_you_mean
from .lang.ir import Program

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .runs.load import Run
    from .runs.saved import SavedModel

SHIPPED = "nasunet.geno"  # the shipped genotypes (genodsl/_genotypes/nasunet.geno)


def list_genotypes(pattern: str | None = None) -> list[str]:
    """The names of the shipped genotypes (NASUNET first), those matching ``pattern`` if given.

    ``pattern`` is a shell-style wildcard matched without regard to case (``"*v2*"``).
    """
    from .lang.loader import load_builtin

    names = list(load_builtin(SHIPPED).genotypes)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n.lower(), pattern.lower())]


def _source(genotype_or_path: str | os.PathLike[str] | Program) -> tuple[Program, str | None]:
    """(program, genotype name when a shipped genotype was named)."""
    from .lang.loader import load, load_builtin

    if isinstance(genotype_or_path, Program):
        return genotype_or_path, None
    text = os.fspath(genotype_or_path)
    if isinstance(genotype_or_path, os.PathLike) or text.endswith(".geno") \
            or os.sep in text or Path(text).is_file():
        return load(text), None
    shipped = load_builtin(SHIPPED)
    if text not in shipped.genotypes:
        raise ConfigError(f"'{text}' is neither a shipped genotype nor a .geno file",
                          hint=did_you_mean(text, shipped.genotypes))
    return shipped, text


def _base(program: Program, shipped: str | None, network: str | None
          ) -> tuple[str, dict[str, Any], str | None]:
    """(cells, the base settings, the base network's name) before overrides."""
    if network is not None:
        net = program.network(network)
        assert net.settings is not None  # a loaded program is valid
        cells = shipped or net.settings.cells
        return cells, net.settings.model_dump(exclude_unset=True), net.name
    if shipped is not None:
        return shipped, {}, None
    if len(program.networks) == 1:
        net = next(iter(program.networks.values()))
        assert net.settings is not None
        return net.settings.cells, net.settings.model_dump(exclude_unset=True), net.name
    if not program.networks and len(program.genotypes) == 1:
        return next(iter(program.genotypes)), {}, None
    raise ConfigError("name the network (or genotype) to build: network=NAME",
                      hint=did_you_mean("", [*program.networks]) if program.networks else
                      "this file has several genotypes and no network; add a network block")


def resolve_network(genotype_or_path: str | os.PathLike[str] | Program,
                    network: str | None = None, **overrides: Any) -> tuple[Program, str]:
    """The program and network name that :func:`create_model` builds (``overrides``: settings
    such as ``in_channels``, ``classes``, ``C``, ``depth``; None values are ignored)."""
    from .lang.override import place

    program, shipped = _source(genotype_or_path)
    cells, settings, name = _base(program, shipped, network)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if name is not None and not changes and cells == settings.get("cells"):
        return program.subprogram(name), name
    name = name or cells.lower()
    return place(program, cells, name, settings, changes), name


def create_model(genotype_or_path: str | os.PathLike[str] | Program, network: str | None = None,
                 *, in_channels: int | None = None, classes: int | None = None,
                 C: int | None = None, depth: int | None = None, **settings: Any) -> "nn.Module":
    """A NAS-Unet ``nn.Module`` (fresh weights) of a genotype.

    ``genotype_or_path``: a shipped genotype name (see :func:`list_genotypes`), a path to a
    .geno file, or a loaded :class:`Program`.  ``network``: a network of that file whose
    settings are the starting point (for a shipped name, one of the shipped networks such as
    ``nasunet_promise12``, whose cells the named genotype replaces); without it, the file's only
    network, or the language defaults (1 channel, 2 classes, C=16, depth 4) for a genotype.
    ``in_channels``, ``classes``, ``C``, ``depth`` (and any other network setting, e.g.
    ``double_down_channel=True``) override those settings.  A search space gives its supernet.
    """
    from .compile import build

    program, name = resolve_network(genotype_or_path, network, in_channels=in_channels,
                                    classes=classes, C=C, depth=depth, **settings)
    return build(program, name)


def load_model(path: str | os.PathLike[str], device: str = "cpu") -> "SavedModel":
    """A saved model (``compile --out``, or a run's ``model.safetensors``): ``.model`` (weights
    loaded, eval mode), ``.spec``, ``.genotype`` (the .geno text), ``.class_names``."""
    from .runs.saved import load_model as _load

    return _load(path, device)


def load_run(run_dir: str | os.PathLike[str], device: str = "cpu") -> "Run":
    """A training run's model and records: ``.model`` (weights loaded, eval mode), ``.config``
    (the RunConfig), ``.class_names``, ``.genotype`` (None for a baseline), ``.summary``."""
    from .runs.load import load_run as _load

    return _load(run_dir, device)


__all__ = ["create_model", "list_genotypes", "load_model", "load_run", "resolve_network"]
