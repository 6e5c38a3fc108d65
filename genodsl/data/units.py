"""What a dataset loads at once (a *unit*) and the raw 2D slices it yields.

A unit is one 2D file pair, one volume pair (:class:`VolumeUnit`, its label aligned to the
image's grid), an nnU-Net case (:mod:`genodsl.data.nnunet`) or a synthetic image; its
``case`` is the unit of the train/validation split (:func:`case_of`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from genodsl.data import io
from genodsl.data.geometry import align_label, read_with_geometry
from genodsl.data.problems import Code, data_error


@dataclass(frozen=True)
class RawSlice:
    """One 2D image and its raw mask, as read from disk (before preprocessing)."""

    name: str
    image: np.ndarray            # (H, W) or (H, W, C)
    mask: np.ndarray             # (H, W), raw label values
    image_file: Path | str
    mask_file: Path | str


class Unit(Protocol):
    """What a dataset loads at once: one 2D file pair, one volume pair or one synthetic image."""

    case: str

    def slice_names(self, axis: int) -> list[str]: ...

    def load(self, axis: int) -> list[RawSlice]: ...


@dataclass(frozen=True)
class PairUnit:
    """A 2D image file and its mask file."""

    case: str
    name: str
    image: Path
    mask: Path

    def slice_names(self, axis: int) -> list[str]:
        return [self.name]

    def load(self, axis: int) -> list[RawSlice]:
        image = io.read_image(self.image)
        mask = io.read_image(self.mask, mask=True)
        return [RawSlice(self.name, image, mask, self.image, self.mask)]


@dataclass(frozen=True)
class VolumeUnit:
    """A volume (file or DICOM folder) and its label volume; one case.  A label stored on
    another grid than its image is resampled onto the image's grid by physical coordinates
    (nearest neighbour; see :mod:`genodsl.data.geometry`)."""

    case: str
    image: Path
    mask: Path

    def slice_names(self, axis: int) -> list[str]:
        return self._names(io.volume_shape(self.image)[axis], axis)

    def _names(self, n: int, axis: int) -> list[str]:
        return [f"{self.case}_{'zyx'[axis]}{k:03d}" for k in range(n)]

    def load(self, axis: int) -> list[RawSlice]:
        image, grid = read_with_geometry(self.image)        # (Z, Y, X[, C])
        mask, mask_grid = read_with_geometry(self.mask)     # (Z, Y, X)
        if mask.ndim != 3:
            raise data_error(Code.SHAPE, f"label volume has shape {mask.shape}; expected "
                             "(Z, Y, X) without channels", file=self.mask)
        mask = align_label(mask, mask_grid, grid, label_file=self.mask, image_file=self.image)
        names = self._names(image.shape[axis], axis)
        return [RawSlice(name, np.take(image, k, axis=axis), np.take(mask, k, axis=axis),
                         f"{self.image}[{'zyx'[axis]}={k}]", f"{self.mask}[{'zyx'[axis]}={k}]")
                for k, name in enumerate(names)]


def natural_key(text: str) -> tuple:
    """Sort key that orders ``case2`` before ``case10``."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))


def case_of(name: str, pattern: str | None, file: Path | None = None) -> str:
    """The case of a sample name (see the module doc)."""
    if pattern:
        m = re.search(pattern, name)
        if m is None:
            raise data_error(Code.UNMATCHED, f"case_pattern {pattern!r} does not match "
                             f"'{name}'", file=file, hint="every sample name must match "
                                                          "data.case_pattern")
        return m.group("case") if "case" in m.re.groupindex else m.group(1)
    return name.split("/", 1)[0] if "/" in name else name
