"""The device of a run and the autocast dtype of its ``amp`` setting."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

from ..config import Amp
from ..errors import ConfigError


def pick_device(name: str | None = None) -> torch.device:
    """Choose the device once: an explicit name, else CUDA when present, else CPU."""
    if name and name != "auto":
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_device(name: str) -> None:
    """A clear error when ``runtime.device`` names a CUDA device on a machine without one."""
    if pick_device(name).type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"runtime.device is '{name}' but CUDA is not available",
                          hint="use --device cpu (or auto)")


def amp_dtype(amp: Amp | str | bool, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an ``amp`` setting on ``device`` (None: full precision).

    fp16 needs a GradScaler; bf16 (float32's exponent range) does not.
    """
    amp = Amp({True: "on", False: "off"}.get(amp, amp) if isinstance(amp, bool) else amp)
    if amp is Amp.OFF:
        return None
    if amp is Amp.ON:
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.float16 if amp is Amp.FP16 else torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    """``torch.autocast`` for ``dtype``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
