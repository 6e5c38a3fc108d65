"""Deterministic preprocessing of one 2D slice: class map, channels, resize, CLAHE, normalise.

Order (the same for training, evaluation and prediction):

1. mask values → class indices through the class map (values outside it are an error);
2. image channels → ``in_channels``: kept as they are when the counts agree (modalities of a
   4D NIfTI or an nnU-Net case); else an alpha channel is dropped, RGB → gray by ITU-R 601
   luma (as Pillow's ``L``), gray → RGB by repetition;
3. optional intensity clip (e.g. a CT window);
4. resize to ``size``: image bilinear (antialiased when shrinking), mask nearest;
5. optional CLAHE (``skimage.exposure.equalize_adapthist`` on the image scaled to [0, 1], as in
   NAS-Unet; RGB is equalised on its HSV value channel, other channel counts one by one);
6. normalisation per channel: ``ct`` with the training foreground's window (clip to its
   0.5/99.5 percentiles, then its mean and std: :mod:`genodsl.data.intensity`), or per image
   (z-score for MR, US and others; min-max; none).

Images come out as float32 tensors ``[C, H, W]``, masks as int64 tensors ``[H, W]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from genodsl.data.config import DataConfig, Normalize
from genodsl.data.problems import Code, data_error
from genodsl.errors import ConfigError

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"

PathText = str | PathLike[str] | None


@dataclass(frozen=True)
class ClassMap:
    """Mask value → class index.

    ``mapping=None`` means values already are class indices, except that a two-class
    problem also reads binary masks saved as 0/255 (255 → class 1).
    """

    num_classes: int
    mapping: Mapping[int, int] | None = None

    def label_values(self) -> np.ndarray:
        """Class index → the mask value it was read from (the smallest, when several map to one
        class), so a predicted label volume carries the data's own label values."""
        values = np.arange(self.num_classes, dtype=np.int64)
        for raw, cls in sorted((self.mapping or {}).items(), reverse=True):
            values[cls] = raw
        return values

    def apply(self, mask: np.ndarray, file: PathText = None) -> np.ndarray:
        """Map a mask array of any shape; raise a DataError naming ``file`` on unknown values."""
        values = np.unique(mask)
        if mask.dtype.kind == "f":
            if not np.all(np.isfinite(values)) or not np.array_equal(values, np.round(values)):
                raise data_error(Code.CLASS_MAP, "mask has non-integer values "
                                 f"{_show(values[values != np.round(values)])}", file=file,
                                 hint="masks must hold integer labels")
        elif mask.dtype.kind not in "iub":
            raise data_error(Code.CLASS_MAP, f"mask has unsupported dtype {mask.dtype}", file=file)
        ints = values.astype(np.int64)
        if self.mapping is None and self.num_classes == 2 and set(ints.tolist()) <= {0, 255}:
            return (mask == 255).astype(np.int64)  # binary masks saved as 0/255: 255 is class 1
        if self.mapping is None:
            bad = ints[(ints < 0) | (ints >= self.num_classes)]
            if bad.size:
                raise data_error(Code.CLASS_MAP, f"mask values {_show(bad)} are not class indices"
                                 f" 0..{self.num_classes - 1}", file=file,
                                 hint="set data.class_map to map them, e.g. {0: 0, 255: 1}, or "
                                      "raise data.num_classes")
            return mask.astype(np.int64)
        bad = np.array([v for v in ints if int(v) not in self.mapping], dtype=np.int64)
        if bad.size:
            known = ", ".join(str(k) for k in sorted(self.mapping))
            raise data_error(Code.CLASS_MAP, f"mask values {_show(bad)} are not in the class map "
                             f"(it maps {known})", file=file,
                             hint="add them to data.class_map")
        targets = np.array([self.mapping[int(v)] for v in ints], dtype=np.int64)
        return targets[np.searchsorted(values, mask)]


def _show(values: np.ndarray, limit: int = 8) -> str:
    vals = [int(v) if float(v).is_integer() else float(v) for v in np.asarray(values)[:limit]]
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return "[" + ", ".join(map(str, vals)) + "]" + more


def single_channel_mask(mask: np.ndarray, file: PathText = None) -> np.ndarray:
    """A 2D mask ``(H, W)``: drops an alpha channel and collapses identical colour channels."""
    if mask.ndim == 2:
        return mask
    if mask.ndim == 3:
        if mask.shape[-1] in (2, 4):
            mask = mask[..., :-1]
        if mask.shape[-1] == 1 or np.all(mask == mask[..., :1]):
            return mask[..., 0]
        raise data_error(Code.SHAPE, f"mask has {mask.shape[-1]} channels with different values",
                         file=file, hint="masks must be single-channel class labels "
                                         "(grayscale or palette PNG)")
    raise data_error(Code.SHAPE, f"mask has shape {mask.shape}; expected (H, W)", file=file)


@dataclass(frozen=True)
class Preprocess:
    """The deterministic part of the pipeline (see the module doc for the order)."""

    class_map: ClassMap
    in_channels: int = 1
    size: tuple[int, int] | None = None
    clahe_clip_limit: float | None = None        # None: no CLAHE
    normalize: Normalize = Normalize.ZSCORE
    intensity_clip: tuple[float, float] | None = None
    ct_window: tuple[tuple[float, float, float, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.normalize is Normalize.CT and self.ct_window is None:
            raise ConfigError("data.normalize: ct needs data.ct_window (low, high, mean, std "
                              "per channel)", hint="a training run computes it from its "
                              "training foreground; or give it, or use data.normalize=zscore")
        if self.ct_window is not None and len(self.ct_window) != self.in_channels:
            raise ConfigError(f"data.ct_window has {len(self.ct_window)} channels, "
                              f"in_channels is {self.in_channels}")
        if self.clahe_clip_limit is not None:
            _equalize_adapthist()  # a missing extra fails here, not in a loader worker

    @classmethod
    def from_config(cls, cfg: DataConfig) -> "Preprocess":
        return cls(class_map=ClassMap(cfg.num_classes, cfg.class_map),
                   in_channels=cfg.in_channels, size=cfg.size,
                   clahe_clip_limit=cfg.clahe_clip_limit if cfg.clahe else None,
                   normalize=cfg.normalize, intensity_clip=cfg.intensity_clip,
                   ct_window=cfg.ct_window)

    def describe(self) -> dict[str, object]:
        """What a consumer of an exported model must do to an image (JSON data)."""
        return {"in_channels": self.in_channels, "layout": "NCHW float32",
                "size": list(self.size) if self.size else None,
                "intensity_clip": list(self.intensity_clip) if self.intensity_clip else None,
                "clahe_clip_limit": self.clahe_clip_limit, "normalize": self.normalize.value,
                "ct_window": [list(w) for w in self.ct_window] if self.ct_window else None,
                "order": "channels, clip, resize (bilinear), CLAHE, normalize"}

    def pair(self, image: np.ndarray, mask: np.ndarray, *, image_file: PathText = None,
             mask_file: PathText = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Preprocess an image ``(H, W[, C])`` and its raw mask ``(H, W)`` together."""
        mask = single_channel_mask(mask, mask_file)
        if image.shape[:2] != mask.shape:
            raise data_error(Code.SHAPE, f"image is {image.shape[0]}x{image.shape[1]} but its "
                             f"mask {mask_file} is {mask.shape[0]}x{mask.shape[1]} (HxW)",
                             file=image_file, hint="an image and its mask must have the same size")
        return self.image(image, image_file), self.mask(mask, mask_file)

    def mask(self, mask: np.ndarray, file: PathText = None) -> torch.Tensor:
        """Raw mask ``(H, W)`` → class indices, resized by nearest neighbour: int64 ``[H, W]``."""
        labels = torch.from_numpy(self.class_map.apply(single_channel_mask(mask, file), file))
        if self.size is not None and tuple(labels.shape) != tuple(self.size):
            labels = F.interpolate(labels[None, None].float(), size=self.size,
                                   mode="nearest-exact")[0, 0].round().long()
        return labels

    def image(self, image: np.ndarray, file: PathText = None) -> torch.Tensor:
        """Raw image ``(H, W[, C])`` → float32 ``[C, H, W]``."""
        arr = to_channels(image, self.in_channels, file).astype(np.float32)  # (H, W, C)
        if self.intensity_clip is not None:
            arr = np.clip(arr, *self.intensity_clip)
        t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))  # [C, H, W]
        if self.size is not None and tuple(t.shape[1:]) != tuple(self.size):
            shrink = t.shape[1] > self.size[0] or t.shape[2] > self.size[1]
            t = F.interpolate(t[None], size=self.size, mode="bilinear", align_corners=False,
                              antialias=shrink)[0]
        if self.clahe_clip_limit is not None:
            t = torch.from_numpy(clahe(t.numpy(), self.clahe_clip_limit))
        return normalize(t, self.normalize, self.ct_window)


def to_channels(image: np.ndarray, in_channels: int, file: PathText = None) -> np.ndarray:
    """``(H, W[, C])`` → ``(H, W, in_channels)``; see the module doc for the conversions."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise data_error(Code.SHAPE, f"image has shape {image.shape}; expected (H, W) or "
                         "(H, W, C)", file=file)
    channels = image.shape[-1]
    if channels == in_channels:  # every channel kept: modalities, or RGB(A) as asked
        return image
    if channels in (2, 4) and in_channels in (1, 3):  # gray+alpha or RGBA: drop the alpha
        image, channels = image[..., :-1], channels - 1
    if channels == in_channels:
        return image
    if channels == 3 and in_channels == 1:
        return (image.astype(np.float32) @ _LUMA)[..., None]
    if channels == 1 and in_channels == 3:
        return np.repeat(image, 3, axis=-1)
    raise data_error(Code.SHAPE, f"image has {channels} channels but in_channels is "
                     f"{in_channels}", file=file,
                     hint="set data.in_channels to the channel count of the images (1 or 3 "
                          "convert into each other)")


def _equalize_adapthist():
    """scikit-image's CLAHE (the optional ``images`` extra)."""
    try:
        from skimage.exposure import equalize_adapthist
    except ImportError as exc:
        raise ConfigError("data.clahe needs scikit-image, which is not installed",
                          hint='install the images extra: pip install "genodsl[images]" '
                               "(or set data.clahe=false)") from exc
    return equalize_adapthist


def clahe(image: np.ndarray, clip_limit: float) -> np.ndarray:
    """CLAHE of a float image ``[C, H, W]``, returned in [0, 1] as float32."""
    equalize_adapthist = _equalize_adapthist()

    def unit(x: np.ndarray) -> np.ndarray:
        lo, hi = float(x.min()), float(x.max())
        return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)

    if image.shape[0] == 3:  # RGB: skimage equalises the HSV value channel
        out = equalize_adapthist(unit(image).transpose(1, 2, 0), clip_limit=clip_limit)
        return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)
    return np.stack([equalize_adapthist(unit(ch), clip_limit=clip_limit) for ch in image]
                    ).astype(np.float32)


def normalize(image: torch.Tensor, mode: Normalize,
              ct_window: tuple[tuple[float, float, float, float], ...] | None = None
              ) -> torch.Tensor:
    """Per-channel normalisation of a float tensor ``[C, H, W]``: per image (z-score,
    min-max), or with the dataset's CT window ``(low, high, mean, std)`` per channel."""
    if mode is Normalize.NONE:
        return image.float()
    flat = image.reshape(image.shape[0], -1).float()
    if mode is Normalize.CT:
        if ct_window is None:
            raise ConfigError("normalize: ct needs the CT window (low, high, mean, std)")
        w = torch.tensor(ct_window, dtype=torch.float32)  # [C, 4]
        clipped = torch.maximum(torch.minimum(flat, w[:, 1:2]), w[:, 0:1])
        out = (clipped - w[:, 2:3]) / w[:, 3:4]
    elif mode is Normalize.ZSCORE:
        mean = flat.mean(dim=1)
        std = flat.std(dim=1, unbiased=False)
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        out = (flat - mean[:, None]) / std[:, None]
    else:
        lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
        span = torch.where(hi - lo > 1e-12, hi - lo, torch.ones_like(hi))
        out = (flat - lo[:, None]) / span[:, None]
    return out.reshape(image.shape).float()
