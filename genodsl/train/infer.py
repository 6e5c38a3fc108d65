"""Whole-image inference at any size: padding to the network's divisor, sliding windows.

What "the resolution the model was trained at" means (see ``DataConfig``):

* ``data.size`` set (resize training): the model saw images resized to ``size``. Callers
  resize an input to ``size`` (the preprocessing does), infer here, then resample the
  probabilities back to the input's own size (bilinear) before the argmax.
* ``data.size: null`` (native training): the model saw the images' own pixel grid; inputs are
  inferred as they are and the output already has their size.
* ``data.patch`` (patch training, on top of either): windows of the patch size slide over the
  image (``data.inference.roi`` overrides the window), blended with Gaussian weights.

A 3D network (``dims = 3``) takes ``[C, D, H, W]`` volumes the same way: windows of the
``(D, H, W)`` patch, Gaussian blending in 3D, padding per axis to ``size_divisors``.

A network whose down-samplings need H and W to be multiples of ``divisor`` (NAS-Unet:
``2 ** (depth + 1)``, see :func:`genodsl.lang.plan.size_divisor`; the baselines carry
``size_divisor`` too) gets every window padded to a multiple of it (MONAI ``DivisiblePad``'s
symmetric split, zeros) and its output cropped back, so any size runs.
"""

from __future__ import annotations

import itertools
from typing import Callable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError


def _inner(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)  # DistributedDataParallel


def model_dims(model: nn.Module) -> int:
    """2 for a 2D network, 3 for a volume network (its ``dims``; baselines are 2D)."""
    return int(getattr(_inner(model), "dims", 2) or 2)


def model_divisor(model: nn.Module) -> int:
    """The multiple the model's input H and W must be (its ``size_divisor``, else 1)."""
    inner = _inner(model)
    return int(getattr(inner, "size_divisor", getattr(model, "size_divisor", 1)) or 1)


def model_divisors(model: nn.Module) -> tuple[int, ...]:
    """Per spatial axis, the multiple the model's input must be: ``size_divisors`` ((D,) H,
    W; a 3D network with ``inplane_stages`` halves D fewer times), else ``size_divisor``."""
    per_axis = getattr(_inner(model), "size_divisors", None)
    if per_axis:
        return tuple(int(v) for v in per_axis)
    return (model_divisor(model),) * model_dims(model)


def pad_amounts(height: int, width: int, divisor: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding to the next multiples of ``divisor``, split as MONAI
    ``DivisiblePad`` (method "symmetric") splits it."""
    ph = -height % divisor
    pw = -width % divisor
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def pad_forward(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                divisor: int | Sequence[int]) -> torch.Tensor:
    """``net(x)`` for ``x`` [B, C, (D,) H, W] of any size: padded to ``divisor`` (one for
    all spatial axes, or one per axis), cropped back."""
    spatial = tuple(x.shape[2:])
    divs = (divisor,) * len(spatial) if isinstance(divisor, int) else tuple(divisor)
    if len(divs) != len(spatial):
        raise DataError(f"input {tuple(x.shape)} has {len(spatial)} spatial axes but the "
                        f"network's divisors are {divs}")
    extra = [-n % max(1, d) for n, d in zip(spatial, divs)]
    if not any(extra):
        return net(x)
    pads: list[int] = []
    for e in reversed(extra):  # F.pad: last axis first, (before, after) each
        pads += [e // 2, e - e // 2]
    out = net(F.pad(x, pads))
    return out[(..., *(slice(e // 2, e // 2 + n) for e, n in zip(extra, spatial)))]


@torch.no_grad()
def infer_image(model: nn.Module, image: torch.Tensor, *,
                roi: Sequence[int] | None = None, overlap: float = 0.5,
                mode: Literal["gaussian", "constant"] = "gaussian",
                divisor: int | Sequence[int] | None = None,
                device: str | torch.device | None = None, amp: torch.dtype | None = None,
                sw_batch_size: int = 4, mirror: bool = False) -> torch.Tensor:
    """Class probabilities (softmax, float32, on CPU) at the input's own size.

    2D network: ``image`` ``[C, H, W]`` (returns ``[K, H, W]``) or ``[B, C, H, W]`` (returns
    ``[B, K, H, W]``); a 3D network (``dims = 3``): ``[C, D, H, W]`` or ``[B, C, D, H, W]``.
    ``roi`` None: one forward pass over the whole (padded) input; else MONAI
    ``sliding_window_inference`` with windows of ``roi`` (one side per axis, clipped to the
    input), ``overlap`` and ``mode`` blending; each window is padded to ``divisor`` (default:
    the model's, per axis) and cropped back. ``amp``: an autocast dtype (bf16/fp16) or None.
    ``mirror``: test-time mirroring, each window's softmax averaged over its flips along every
    subset of the spatial axes (:func:`mirror_axes`), each flipped back before the average.
    """
    dims = model_dims(model)
    shape = "[C, H, W] or [B, C, H, W]" if dims == 2 else "[C, D, H, W] or [B, C, D, H, W]"
    if not isinstance(image, torch.Tensor) or image.ndim not in (dims + 1, dims + 2) \
            or not image.is_floating_point():
        raise DataError(f"expected a float input {shape} for a {dims}D network, got "
                        f"{getattr(image, 'shape', type(image))}")
    single = image.ndim == dims + 1
    x = image[None] if single else image
    if min(x.shape[2:]) < 1:
        raise DataError(f"input has an empty side: {tuple(x.shape[2:])}")
    dev = torch.device(device) if device is not None else next(
        (p.device for p in model.parameters()), torch.device("cpu"))
    model = model.to(dev).eval()
    div = model_divisors(model) if divisor is None else divisor

    def softmax(window: torch.Tensor) -> torch.Tensor:
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            logits = pad_forward(model, window, div)
        if logits.ndim != window.ndim or logits.shape[2:] != window.shape[2:]:
            raise DataError(f"the model must return logits [B, K, {', '.join('DHW'[-dims:])}]"
                            f", got {tuple(logits.shape)} for input {tuple(window.shape)}")
        return torch.softmax(logits.float(), dim=1)

    def predictor(window: torch.Tensor) -> torch.Tensor:
        if not mirror:
            return softmax(window)
        flips = mirror_axes(dims)
        total = softmax(window)
        for axes in flips:
            total += softmax(window.flip(axes)).flip(axes)
        return total / (len(flips) + 1)

    x = x.to(dev)
    if roi is None:
        probs = predictor(x)
    else:
        from monai.inferers import sliding_window_inference

        if len(roi) != dims or min(roi) < 1:
            raise DataError(f"the inference window must have {dims} sides >= 1 (the network "
                            f"is {dims}D), got {tuple(roi)}")
        window = tuple(min(int(r), n) for r, n in zip(roi, x.shape[2:]))
        probs = sliding_window_inference(x, window, sw_batch_size, predictor, overlap=overlap,
                                         mode=mode, progress=False)
        probs = torch.as_tensor(probs).as_subclass(torch.Tensor)
    probs = probs.float().cpu()
    return probs[0] if single else probs


def mirror_axes(dims: int) -> list[tuple[int, ...]]:
    """The flips of test-time mirroring: every non-empty subset of the spatial axes of a
    ``[B, K, (D,) H, W]`` tensor (3 in 2D, 7 in 3D; with the unflipped pass, 2^dims)."""
    spatial = range(2, 2 + dims)
    return [axes for n in range(1, dims + 1) for axes in itertools.combinations(spatial, n)]


def resample_probs(probs: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Probabilities ``[B, K, h, w]`` → ``[B, K, H, W]`` (bilinear; 3D: ``[B, K, d, h, w]``,
    trilinear); unchanged when equal."""
    size = tuple(int(s) for s in size)
    if tuple(probs.shape[2:]) == size:
        return probs
    mode = "trilinear" if len(size) == 3 else "bilinear"
    return F.interpolate(probs, size=size, mode=mode, align_corners=False)


def infer_labels(model: nn.Module, image: torch.Tensor, size: Sequence[int] | None = None,
                 **kwargs) -> torch.Tensor:
    """Labels (int64) of ``image`` [B, C, h, w] (3D: [B, C, d, h, w]) at ``size`` (default:
    the image's): :func:`infer_image`, probabilities resampled to ``size``, then argmax."""
    probs = infer_image(model, image, **kwargs)
    if probs.ndim == image.ndim - 1:
        probs = probs[None]
    return resample_probs(probs, size or probs.shape[2:]).argmax(dim=1)


def inference_kwargs(data_cfg, amp: torch.dtype | None = None) -> dict:
    """:func:`infer_image` keyword arguments from a ``DataConfig`` (``data.inference`` and the
    training patch)."""
    inf = data_cfg.inference
    return {"roi": inf.window(data_cfg.patch), "overlap": inf.overlap, "mode": inf.mode,
            "sw_batch_size": inf.sw_batch_size, "amp": amp, "mirror": inf.mirror}


@torch.no_grad()
def validate_volumes(model: nn.Module, dataset, loss_fn: Callable, acc, device: torch.device,
                     inference: dict) -> tuple[float, dict]:
    """Mean loss and ``acc.summary()`` over whole volumes (a 3D network's validation): each
    volume inferred by :func:`infer_image` (sliding windows when ``inference`` has a roi);
    the loss sees log-probabilities, whose softmax is the blended probabilities."""
    total, count = 0.0, 0
    for i in range(len(dataset)):
        sample = dataset[i]
        probs = infer_image(model, sample["image"][None], device=device, **inference)
        mask = sample["mask"][None].long()
        logits = probs.clamp_min(1e-8).log()
        total += float(loss_fn(logits.to(device), mask.to(device)))
        count += 1
        pred = probs.argmax(dim=1)  # the accumulator takes [B, H, W]: D×H rows stacked
        acc.update(pred.reshape(1, -1, pred.shape[-1]), mask.reshape(1, -1, mask.shape[-1]),
                   [sample.get("name")], [sample.get("case")])
    return total / max(count, 1), acc.summary()
