"""Whole-image inference at any size: padding to the network's divisor, sliding windows.

What "the resolution the model was trained at" means (see ``DataConfig``):

* ``data.size`` set (resize training): the model saw images resized to ``size``. Callers
  resize an input to ``size`` (the preprocessing does), infer here, then resample the
  probabilities back to the input's own size (bilinear) before the argmax.
* ``data.size: null`` (native training): the model saw the images' own pixel grid; inputs are
  inferred as they are and the output already has their size.
* ``data.patch`` (patch training, on top of either): windows of the patch size slide over the
  image (``data.inference.roi`` overrides the window), blended with Gaussian weights.

A network whose down-samplings need H and W to be multiples of ``divisor`` (NAS-Unet:
``2 ** (depth + 1)``, see :func:`genodsl.lang.plan.size_divisor`; the baselines carry
``size_divisor`` too) gets every window padded to a multiple of it (MONAI ``DivisiblePad``'s
symmetric split, zeros) and its output cropped back, so any size runs.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError


def model_divisor(model: nn.Module) -> int:
    """The multiple the model's input H and W must be (its ``size_divisor``, else 1)."""
    inner = getattr(model, "module", model)  # DistributedDataParallel
    return int(getattr(inner, "size_divisor", getattr(model, "size_divisor", 1)) or 1)


def pad_amounts(height: int, width: int, divisor: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding to the next multiples of ``divisor``, split as MONAI
    ``DivisiblePad`` (method "symmetric") splits it."""
    ph = -height % divisor
    pw = -width % divisor
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def pad_forward(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                divisor: int) -> torch.Tensor:
    """``net(x)`` for ``x`` [B, C, H, W] of any H, W: padded to ``divisor``, cropped back."""
    height, width = x.shape[-2:]
    left, right, top, bottom = pad_amounts(height, width, max(1, divisor))
    if left or right or top or bottom:
        out = net(F.pad(x, (left, right, top, bottom)))
        return out[..., top:top + height, left:left + width]
    return net(x)


@torch.no_grad()
def infer_image(model: nn.Module, image: torch.Tensor, *,
                roi: Sequence[int] | None = None, overlap: float = 0.5,
                mode: Literal["gaussian", "constant"] = "gaussian", divisor: int | None = None,
                device: str | torch.device | None = None, amp: torch.dtype | None = None,
                sw_batch_size: int = 4) -> torch.Tensor:
    """Class probabilities (softmax, float32, on CPU) at the input's own H×W.

    ``image``: ``[C, H, W]`` (returns ``[K, H, W]``) or ``[B, C, H, W]`` (returns
    ``[B, K, H, W]``). ``roi`` None: one forward pass over the whole (padded) image; else
    MONAI ``sliding_window_inference`` with windows of ``roi`` (clipped to the image),
    ``overlap`` and ``mode`` blending; each window is padded to ``divisor`` (default: the
    model's) and cropped back. ``amp``: an autocast dtype (bf16/fp16) or None.
    """
    if not isinstance(image, torch.Tensor) or image.ndim not in (3, 4) \
            or not image.is_floating_point():
        raise DataError(f"expected a float image [C, H, W] or [B, C, H, W], got "
                        f"{getattr(image, 'shape', type(image))}")
    single = image.ndim == 3
    x = image[None] if single else image
    if min(x.shape[-2:]) < 1:
        raise DataError(f"image has an empty side: {tuple(x.shape[-2:])}")
    dev = torch.device(device) if device is not None else next(
        (p.device for p in model.parameters()), torch.device("cpu"))
    model = model.to(dev).eval()
    div = model_divisor(model) if divisor is None else int(divisor)

    def predictor(window: torch.Tensor) -> torch.Tensor:
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            logits = pad_forward(model, window, div)
        if logits.ndim != 4 or logits.shape[-2:] != window.shape[-2:]:
            raise DataError(f"the model must return logits [B, K, H, W], got "
                            f"{tuple(logits.shape)} for input {tuple(window.shape)}")
        return torch.softmax(logits.float(), dim=1)

    x = x.to(dev)
    if roi is None:
        probs = predictor(x)
    else:
        from monai.inferers import sliding_window_inference

        if len(roi) != 2 or min(roi) < 1:
            raise DataError(f"the inference window must be (H, W) >= 1, got {tuple(roi)}")
        window = (min(int(roi[0]), x.shape[-2]), min(int(roi[1]), x.shape[-1]))
        probs = sliding_window_inference(x, window, sw_batch_size, predictor, overlap=overlap,
                                         mode=mode, progress=False)
        probs = torch.as_tensor(probs).as_subclass(torch.Tensor)
    probs = probs.float().cpu()
    return probs[0] if single else probs


def resample_probs(probs: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Probabilities ``[B, K, h, w]`` → ``[B, K, H, W]`` (bilinear; unchanged when equal)."""
    size = tuple(int(s) for s in size)
    if tuple(probs.shape[-2:]) == size:
        return probs
    return F.interpolate(probs, size=size, mode="bilinear", align_corners=False)


def infer_labels(model: nn.Module, image: torch.Tensor, size: Sequence[int] | None = None,
                 **kwargs) -> torch.Tensor:
    """Labels (int64) of ``image`` [B, C, h, w] at ``size`` (default: the image's):
    :func:`infer_image`, probabilities resampled bilinearly to ``size``, then argmax."""
    probs = infer_image(model, image, **kwargs)
    if probs.ndim == 3:
        probs = probs[None]
    return resample_probs(probs, size or probs.shape[-2:]).argmax(dim=1)


def inference_kwargs(data_cfg, amp: torch.dtype | None = None) -> dict:
    """:func:`infer_image` keyword arguments from a ``DataConfig`` (``data.inference`` and the
    training patch)."""
    inf = data_cfg.inference
    return {"roi": inf.window(data_cfg.patch), "overlap": inf.overlap, "mode": inf.mode,
            "sw_batch_size": inf.sw_batch_size, "amp": amp}
