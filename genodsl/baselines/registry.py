"""The baseline registry: a name -> factory table and :func:`build_baseline`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import partial
from typing import Callable

from torch import nn

from ..errors import ConfigError, did_you_mean
from .fcdensenet import PRESETS, FCDenseNet, fcdensenet
from .unet import UNet


@dataclass(frozen=True)
class BaselineSpec:
    name: str
    factory: Callable[..., nn.Module]  # factory(in_channels, classes, **kwargs)
    model_class: type[nn.Module]
    description: str


def _specs() -> dict[str, BaselineSpec]:
    specs = [
        BaselineSpec("unet", partial(UNet, base=64, depth=4), UNet,
                     "U-Net, 64..1024 channels, transposed-conv up (31.0M params)"),
        BaselineSpec("unet_small", partial(UNet, base=16, depth=4), UNet,
                     "U-Net, 16..256 channels, for CPU demos"),
    ]
    for preset in PRESETS:
        specs.append(BaselineSpec(preset, partial(fcdensenet, preset), FCDenseNet,
                                  f"FC-DenseNet{preset.removeprefix('fcdensenet')} (Tiramisu)"))
    return {s.name: s for s in specs}


BASELINES: dict[str, BaselineSpec] = _specs()


def list_baselines() -> list[str]:
    return list(BASELINES)


def build_baseline(name: str, in_channels: int = 1, classes: int = 2, **kwargs) -> nn.Module:
    """Build a registered baseline; ``kwargs`` override the preset (e.g. ``base=8``)."""
    spec = BASELINES.get(name)
    if spec is None:
        raise ConfigError(f"unknown baseline {name!r}", hint=did_you_mean(name, BASELINES))
    allowed = [p for p in inspect.signature(spec.model_class).parameters
               if p not in ("in_channels", "classes")]
    for key in kwargs:
        if key not in allowed:
            raise ConfigError(f"baseline {name!r} has no option {key!r}",
                              hint=did_you_mean(key, allowed))
    return spec.factory(in_channels, classes, **kwargs)
