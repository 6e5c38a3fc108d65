"""The paper's baseline networks, written in the project: U-Net and FC-DenseNet."""

from ._common import InputSizeError, check_input_size
from .fcdensenet import PRESETS as FCDENSENET_PRESETS
from .fcdensenet import FCDenseNet, fcdensenet
from .registry import BASELINES, BaselineSpec, build_baseline, list_baselines
from .unet import UNet

__all__ = [
    "BASELINES", "BaselineSpec", "FCDENSENET_PRESETS", "FCDenseNet", "InputSizeError", "UNet",
    "build_baseline", "check_input_size", "fcdensenet", "list_baselines",
]
