"""Shared pieces of the baseline networks: argument checks and the input-size check."""

from __future__ import annotations

from typing import Sequence

import torch

from ..errors import ConfigError


class InputSizeError(ConfigError, ValueError):
    """An input whose height or width the network cannot halve ``depth`` times.

    It is a :class:`ConfigError` (the CLI prints it cleanly) and a :class:`ValueError`
    (what plain-PyTorch callers expect for a bad tensor shape).
    """


def check_positive(**values: int) -> None:
    """Raise :class:`ConfigError` for any argument that is not a positive integer."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def check_input_size(shape: Sequence[int], divisor: int, model: str) -> None:
    """Check an (N, C, H, W) shape before running: H and W must be multiples of ``divisor``.

    Used at the top of every baseline's ``forward`` and usable on its own (with a shape
    only) so callers can reject an image size before building a batch.
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return  # a trace would bake the check in as a constant; torch.export would fix H, W
    if len(shape) != 4:
        raise InputSizeError(f"{model} expects a 4-D input (N, C, H, W), got shape {tuple(shape)}")
    height, width = int(shape[-2]), int(shape[-1])
    if height % divisor or width % divisor:
        def nearest(v: int) -> int:
            return max(divisor, round(v / divisor) * divisor)

        raise InputSizeError(
            f"{model} needs height and width divisible by {divisor}, got {height}x{width}",
            hint=f"resize or pad to a multiple of {divisor}, "
                 f"e.g. {nearest(height)}x{nearest(width)}",
        )
