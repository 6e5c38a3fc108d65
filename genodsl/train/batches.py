"""The batch contract of the training engine, and a model's parameter and FLOP counts."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
from torch import nn

from ..compile.flops import count_flops as count_flops_of, count_params
from ..errors import DataError


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters)."""
    return count_params(model), count_params(model, trainable_only=True)


def count_flops(model: nn.Module, image: torch.Tensor) -> int:
    """Forward FLOPs for one image ``[C, H, W]`` (3D: ``[C, D, H, W]``) as the network runs
    it: padded to a multiple of its size divisor per axis (see :mod:`genodsl.compile.flops`,
    :mod:`genodsl.train.infer`)."""
    spatial = tuple(image.shape[1:])
    divs = getattr(model, "size_divisors", None) or \
        (getattr(model, "size_divisor", 1) or 1,) * len(spatial)
    padded = tuple(-(-n // int(d)) * int(d) for n, d in zip(spatial, divs))
    return count_flops_of(model, (1, image.shape[0], *padded)).total


def unpack_batch(batch: Any, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a collated batch against the dataset contract; return (image, mask)."""
    if not isinstance(batch, Mapping) or "image" not in batch or "mask" not in batch:
        raise DataError("samples must be dicts with 'image' [C, H, W] and 'mask' [H, W]")
    image, mask = batch["image"], batch["mask"]
    if not isinstance(image, torch.Tensor) or image.ndim not in (4, 5) \
            or not image.is_floating_point():  # [B, C, H, W], or volumes [B, C, D, H, W]
        raise DataError(f"'image' must be a float tensor [C, H, W], got batch "
                        f"{getattr(image, 'shape', type(image))}")
    if not isinstance(mask, torch.Tensor) or mask.ndim != image.ndim - 1 \
            or mask.is_floating_point() \
            or mask.shape[0] != image.shape[0] or mask.shape[1:] != image.shape[2:]:
        raise DataError(f"'mask' must be an integer tensor [H, W] matching the image, got "
                        f"{getattr(mask, 'shape', type(mask))} for image {tuple(image.shape)}")
    if int(mask.min()) < 0 or int(mask.max()) >= num_classes:
        raise DataError(f"mask values must lie in [0, {num_classes}), "
                        f"got [{int(mask.min())}, {int(mask.max())}]")
    return image, mask.long()


class TimedBatches:
    """Iterates ``batches`` and adds up the seconds spent waiting for each one (``wait_s``):
    loading, augmenting and collating that the model's step did not hide."""

    def __init__(self, batches: Iterable[Any], clock: Callable[[], float] = time.perf_counter):
        self.batches = batches
        self.clock = clock
        self.wait_s = 0.0

    def __iter__(self) -> Iterator[Any]:
        it = iter(self.batches)
        while True:
            start = self.clock()
            try:
                batch = next(it)
            except StopIteration:
                self.wait_s += self.clock() - start
                return
            self.wait_s += self.clock() - start
            yield batch
