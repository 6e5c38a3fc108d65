"""A network placed with other settings than its file gives (API arguments, ``--set model.*``).

The one place where settings from outside a .geno file meet a network: they are checked as
if they had been written in it (unknown keys, bad values, the documented limits), so an
override can never build what the language would refuse.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import ValidationError

from ..config import config_error
from ..errors import ConfigError, did_you_mean
from .ir import Network, NetworkSettings, Program, SearchSpace
from .limits import check_program


def place(program: Program, cells: str, name: str, base: Mapping[str, Any] | None = None,
          changes: Mapping[str, Any] | None = None) -> Program:
    """Only what the network ``name`` needs: ``cells`` placed with ``base`` settings updated
    by ``changes`` (None values ignored), checked like a network written in a file."""
    update = {k: v for k, v in (changes or {}).items() if v is not None}
    unknown = sorted(set(update) - set(NetworkSettings.model_fields))
    if unknown:
        raise ConfigError(f"unknown network setting '{unknown[0]}'",
                          hint=did_you_mean(unknown[0], NetworkSettings.model_fields))
    owner = program.cells_of(cells)
    if owner is None:
        raise ConfigError(f"unknown genotype '{cells}'",
                          hint=did_you_mean(cells, [*program.genotypes, *program.spaces]))
    try:
        settings = NetworkSettings(**{**dict(base or {}), **update, "cells": cells})
    except ValidationError as exc:
        raise config_error(exc, NetworkSettings, prefix="network") from None
    part = Program(networks={name: Network(name, settings)}, files=program.files)
    if isinstance(owner, SearchSpace):
        part.spaces[cells] = owner
        used = {e.opset for c in owner.cells.values() for _, _, e in c.op_edges() if e.opset}
        part.opsets = {k: v for k, v in program.opsets.items() if k in used}
    else:
        part.genotypes[cells] = owner
    problems = check_program(part)
    if problems:
        raise ConfigError(problems)
    return part
