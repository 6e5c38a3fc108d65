"""Run a model on image tensors and write masks (raw indices, a viewable PNG) and overlays.

Reading input files is the data package's job; this module takes tensors ``[C, H, W]`` and
names. Images are inferred whole (:func:`genodsl.train.infer.infer_image`: padded to the
network's divisor, sliding windows when asked) and the probabilities resampled to each
output size before the argmax. Per name it writes ``<name>_mask.png`` (class indices 0..K-1, for tools),
``<name>_view.png`` (indices scaled to 0..255, for eyes) and optionally
``<name>_overlay.png`` (the image in grey with each foreground class tinted and outlined).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..errors import DataError
from ..files import atomic_path
from ..runtime.device import pick_device
from .infer import infer_image, resample_probs

# Foreground colours (RGB), cycled for classes 1, 2, ...
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
)


@dataclass(frozen=True)
class PredictionFiles:
    name: str
    mask: Path
    view: Path
    overlay: Path | None


@torch.no_grad()
def predict_masks(model: nn.Module, images: torch.Tensor | Sequence[torch.Tensor], *,
                  device: str | torch.device = "auto", batch_size: int = 4,
                  sizes: Sequence[Sequence[int]] | None = None,
                  inference: Mapping[str, Any] | None = None) -> tuple[list[torch.Tensor], int]:
    """Label maps (int64, CPU) for each image, and the model's class count.

    ``sizes``: each output's (H, W) (default: its image's); ``inference``: keyword arguments
    of :func:`~genodsl.train.infer.infer_image` (roi, overlap, mode, sw_batch_size, amp).
    """
    items = list(images.unbind(0)) if isinstance(images, torch.Tensor) else list(images)
    for i, img in enumerate(items):
        if not isinstance(img, torch.Tensor) or img.ndim != 3 or not img.is_floating_point():
            raise DataError(f"image {i}: expected a float tensor [C, H, W], got "
                            f"{getattr(img, 'shape', type(img))}")
    if sizes is not None and len(sizes) != len(items):
        raise DataError(f"{len(items)} images but {len(sizes)} output sizes")
    out = [tuple(int(v) for v in (sizes[i] if sizes is not None else img.shape[1:]))
           for i, img in enumerate(items)]
    dev = device if isinstance(device, torch.device) else pick_device(device)
    masks: list[torch.Tensor] = []
    num_classes = 0
    i = 0
    while i < len(items):  # batch consecutive images of the same shape and output size
        j = i + 1
        while j < len(items) and j - i < batch_size and items[j].shape == items[i].shape \
                and out[j] == out[i]:
            j += 1
        probs = infer_image(model, torch.stack(items[i:j]), device=dev, **dict(inference or {}))
        num_classes = int(probs.shape[1])
        masks.extend(resample_probs(probs, out[i]).argmax(dim=1).unbind(0))
        i = j
    return masks, num_classes


def safe_name(name: str) -> str:
    """A file-name stem: path separators and odd characters become '_'."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    if not stem:
        raise DataError(f"cannot make a file name from image name {name!r}")
    return stem


def _save_png(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def _grey_rgb(image: torch.Tensor) -> np.ndarray:
    """First channel (or RGB when there are 3) min-max scaled to uint8 ``[H, W, 3]``."""
    img = image.detach().float().cpu()
    img = img[:3] if img.shape[0] == 3 else img[:1].expand(3, -1, -1)
    lo, hi = float(img.min()), float(img.max())
    scaled = (img - lo) / (hi - lo) if hi > lo else torch.zeros_like(img)
    return (scaled * 255).round().byte().permute(1, 2, 0).numpy()


def overlay_image(image: torch.Tensor, mask: torch.Tensor, alpha: float = 0.4) -> np.ndarray:
    """``[H, W, 3]`` uint8: the image with foreground classes tinted and their edges drawn."""
    rgb = _grey_rgb(image).astype(np.float32)
    labels = mask.cpu().numpy()
    edge = np.zeros(labels.shape, dtype=bool)  # a pixel whose 4-neighbour has another label
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    for cls in np.unique(labels):
        if cls == 0:
            continue
        colour = np.array(PALETTE[(int(cls) - 1) % len(PALETTE)], dtype=np.float32)
        region = labels == cls
        rgb[region] = (1 - alpha) * rgb[region] + alpha * colour
        rgb[region & edge] = colour
    return rgb.round().clip(0, 255).astype(np.uint8)


def write_predictions(masks: Sequence[torch.Tensor], names: Sequence[str],
                      out_dir: str | os.PathLike[str], *, num_classes: int,
                      images: Sequence[torch.Tensor] | torch.Tensor | None = None,
                      alpha: float = 0.4) -> list[PredictionFiles]:
    """Write mask PNGs (and overlays when ``images`` are given), each atomically."""
    if len(names) != len(masks) or (images is not None and len(images) != len(masks)):
        raise DataError(f"{len(masks)} masks, {len(names)} names"
                        + (f", {len(images)} images" if images is not None else ""))
    if not 2 <= num_classes <= 256:
        raise DataError(f"PNG masks hold 2 to 256 classes, got {num_classes}")
    stems = [safe_name(n) for n in names]
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise DataError(f"two images would be written as '{dup}'; names must be unique")
    out = Path(out_dir)
    step = 255 // (num_classes - 1)
    files = []
    for k, (mask, stem) in enumerate(zip(masks, stems)):
        labels = mask.detach().cpu().numpy().astype(np.uint8)
        _save_png(labels, out / f"{stem}_mask.png")
        _save_png(labels * np.uint8(step), out / f"{stem}_view.png")
        overlay = None
        if images is not None:
            overlay = out / f"{stem}_overlay.png"
            _save_png(overlay_image(images[k], mask, alpha), overlay)
        files.append(PredictionFiles(names[k], out / f"{stem}_mask.png",
                                     out / f"{stem}_view.png", overlay))
    return files


def predict(model: nn.Module, images: torch.Tensor | Sequence[torch.Tensor],
            names: Sequence[str], out_dir: str | os.PathLike[str], *,
            device: str | torch.device = "auto", batch_size: int = 4,
            overlay: bool = True, inference: Mapping[str, Any] | None = None
            ) -> list[PredictionFiles]:
    """Predict and write every image's masks (and overlay) into ``out_dir``."""
    masks, num_classes = predict_masks(model, images, device=device, batch_size=batch_size,
                                       inference=inference)
    return write_predictions(masks, names, out_dir, num_classes=num_classes,
                             images=images if overlay else None)
