"""What a run records about its model, and how the model is rebuilt from that record.

A spec is a small JSON-able dict stored in checkpoints: for a NAS-Unet network, the
self-contained .geno text and the network's name; for a baseline, its name and sizes.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .errors import CheckpointError, ConfigError
from .lang.ir import Program


def network_spec(program: Program, network: str) -> dict[str, Any]:
    from .saved import program_text

    return {"kind": "nasunet", "network": network, "geno": program_text(program, network)}


def baseline_spec(name: str, in_channels: int, classes: int) -> dict[str, Any]:
    return {"kind": "baseline", "name": name, "in_channels": in_channels, "classes": classes}


def build_from_spec(spec: dict[str, Any]) -> nn.Module:
    kind = spec.get("kind")
    if kind == "nasunet":
        from .compile import build
        from .lang.loader import loads

        return build(loads(spec["geno"], file="<run genotype>"), spec["network"])
    if kind == "baseline":
        from .baselines import build_baseline

        return build_baseline(spec["name"], spec["in_channels"], spec["classes"])
    raise CheckpointError(f"unknown model kind {kind!r} in the run's checkpoint")


def reconcile_io(data_cfg: Any, net_in: int, net_classes: int, where: str) -> Any:
    """The data config with its channels/classes taken from the network where not given."""
    update: dict[str, Any] = {}
    given = data_cfg.model_fields_set
    for field, value in (("in_channels", net_in), ("num_classes", net_classes)):
        if field not in given:
            update[field] = value
        elif getattr(data_cfg, field) != value:
            raise ConfigError(f"data.{field} = {getattr(data_cfg, field)} but {where} has "
                              f"{'in_channels' if field == 'in_channels' else 'classes'} = {value}",
                              hint="make them agree (or leave data." + field + " unset)")
    return data_cfg.model_copy(update=update) if update else data_cfg
