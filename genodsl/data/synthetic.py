"""Synthetic segmentation data: random ellipses, rectangles and blobs on a noisy background.

Image ``i`` is a pure function of ``(seed, i)`` and the generation parameters, so datasets are
reproducible, need no download, and can be generated on the fly in any order.  Class 0 is the
background; each shape gets a class in ``1 .. num_classes - 1`` and a class-specific intensity
(or colour), under a smooth intensity bias and Gaussian noise.  Images are uint8; masks hold
class indices.  :func:`write_folder` saves them as PNGs in the ``folder`` layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genodsl.data.config import Normalize, SyntheticConfig
from genodsl.data.datasets import SegmentationDataset
from genodsl.data.units import RawSlice
from genodsl.data.preprocess import ClassMap, Preprocess
from genodsl.data.problems import Code, data_error
from genodsl.files import atomic_path


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that decides the generated images besides the index."""

    size: tuple[int, int] = (64, 64)
    num_classes: int = 2
    channels: int = 1
    seed: int = 0
    noise: float = 0.08
    max_shapes: int = 4

    @classmethod
    def from_config(cls, cfg: SyntheticConfig, *, num_classes: int, channels: int,
                    seed: int) -> "SyntheticSpec":
        return cls(tuple(cfg.size), num_classes, channels, seed, cfg.noise, cfg.max_shapes)

    def levels(self) -> np.ndarray:
        """Per-class intensity ``[num_classes, channels]`` in [0, 1]; the same for every image."""
        base = np.linspace(0.15, 0.85, self.num_classes)
        if self.channels == 1:
            return base[:, None]
        rng = np.random.default_rng([self.seed, 2**31 - 1])
        tint = rng.uniform(0.5, 1.0, size=(self.num_classes, self.channels))
        tint[0] = 1.0
        return np.clip(base[:, None] * tint + 0.1 * rng.standard_normal(tint.shape), 0.05, 0.95)


def generate(index: int, spec: SyntheticSpec = SyntheticSpec()) -> tuple[np.ndarray, np.ndarray]:
    """Image ``(H, W)`` or ``(H, W, C)`` uint8 and mask ``(H, W)`` uint8 for sample ``index``."""
    rng = np.random.default_rng([spec.seed, index])
    h, w = spec.size
    yy, xx = np.meshgrid(np.linspace(0.0, 1.0, h), np.linspace(0.0, 1.0, w), indexing="ij")
    mask = np.zeros((h, w), dtype=np.uint8)
    for _ in range(int(rng.integers(1, spec.max_shapes + 1))):
        cls = int(rng.integers(1, spec.num_classes))
        mask[_shape(rng, yy, xx)] = cls
    levels = spec.levels() + rng.normal(0.0, 0.03, size=(spec.num_classes, spec.channels))
    image = levels[mask]                                       # (H, W, C)
    a, b, c = rng.uniform(-0.15, 0.15, size=3)                 # smooth intensity bias
    bias = a * (xx - 0.5) + b * (yy - 0.5) + 2 * c * (xx - 0.5) * (yy - 0.5)
    image = image + bias[..., None] + rng.normal(0.0, spec.noise, size=image.shape)
    image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    return (image[..., 0] if spec.channels == 1 else image), mask


def _shape(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """A boolean region: an ellipse, a rectangle (both rotated) or a blob."""
    cy, cx = rng.uniform(0.2, 0.8, size=2)
    kind = int(rng.integers(3))
    if kind == 2:  # blob: a thresholded sum of a few Gaussian bumps
        field = np.zeros_like(yy)
        for _ in range(int(rng.integers(2, 5))):
            oy, ox = rng.normal(0.0, 0.08, size=2)
            s = rng.uniform(0.05, 0.12)
            field += np.exp(-((yy - cy - oy) ** 2 + (xx - cx - ox) ** 2) / (2 * s * s))
        return field > 0.5 * field.max()
    ry, rx = rng.uniform(0.07, 0.22, size=2)
    t = rng.uniform(0.0, np.pi)
    u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
    v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
    if kind == 0:
        return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0
    return (np.abs(u) <= rx) & (np.abs(v) <= ry)


@dataclass(frozen=True)
class SyntheticUnit:
    """One synthetic image; its own case."""

    case: str
    index: int
    spec: SyntheticSpec

    def slice_names(self, axis: int) -> list[str]:
        return [self.case]

    def load(self, axis: int) -> list[RawSlice]:
        image, mask = generate(self.index, self.spec)
        where = f"synthetic[{self.index}]"
        return [RawSlice(self.case, image, mask, where, where)]


def synthetic_units(n_images: int, spec: SyntheticSpec) -> list[SyntheticUnit]:
    return [SyntheticUnit(f"synth_{i:04d}", i, spec) for i in range(n_images)]


class SyntheticDataset(SegmentationDataset):
    """A ready-to-use dataset of ``n_images`` synthetic samples, generated on access.

    Samples follow the shared contract; images are normalised as ``normalize`` says and are
    not resized (they are generated at ``size``).
    """

    def __init__(self, n_images: int = 64, size: tuple[int, int] = (64, 64),
                 num_classes: int = 2, in_channels: int = 1, seed: int = 0, *,
                 noise: float = 0.08, max_shapes: int = 4,
                 normalize: Normalize = Normalize.ZSCORE, cache: bool = False):
        if n_images < 1 or num_classes < 2 or in_channels < 1 or min(size) < 1:
            raise ValueError("need n_images >= 1, num_classes >= 2, in_channels >= 1, size >= 1")
        self.spec = SyntheticSpec(tuple(size), num_classes, in_channels, seed, noise, max_shapes)
        pre = Preprocess(ClassMap(num_classes), in_channels=in_channels, size=None,
                         normalize=normalize)
        super().__init__(synthetic_units(n_images, self.spec), pre, cache=cache,
                         check_files=False)
        self.seed = seed


def write_folder(root: str | Path, n_images: int = 64, spec: SyntheticSpec = SyntheticSpec(),
                 *, overwrite: bool = False) -> Path:
    """Write ``root/images/NNNN.png`` and ``root/masks/NNNN.png`` (class indices); return root."""
    root = Path(root)
    images, masks = root / "images", root / "masks"
    existing = [p for p in (images, masks) if p.exists() and any(p.iterdir())]
    if existing and not overwrite:
        raise data_error(Code.LAYOUT, "folder already holds data", file=existing[0],
                         hint="choose an empty folder or pass overwrite=True")
    from PIL import Image

    for i in range(n_images):
        image, mask = generate(i, spec)
        for folder, arr in ((images, image), (masks, mask)):
            with atomic_path(folder / f"{i:04d}.png") as tmp:
                Image.fromarray(arr).save(tmp, format="PNG")
    return root
