"""Where a volume lies in space: read it with its geometry, align labels, write labels back.

A :class:`Geometry` is ITK's (SimpleITK's) description of a voxel grid in patient space (LPS):
``spacing`` and ``origin`` are ``(x, y, z)`` in millimetres, ``direction`` the 3×3 direction
cosines (row-major; column ``j`` is the direction of index axis ``j``), ``shape`` the numpy
array's ``(Z, Y, X)`` (see :mod:`genodsl.data.io` for the axis convention).  The physical point
of voxel ``(z, y, x)`` is ``origin + direction @ (spacing * (x, y, z))``.

* :func:`read_with_geometry` reads NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``),
  MetaImage (``.mhd``, ``.mha``) and DICOM series folders through SimpleITK; TIFF stacks and
  2D files have no geometry and get unit spacing, zero origin and identity direction.
* :func:`align_label` resamples a label volume onto an image's grid by physical coordinates
  (nearest neighbour); an identical grid is passed through untouched, and a label that does
  not cover the whole image is an error.
* :func:`write_label` writes a label volume with a geometry; :func:`label_path` names it.
  A DICOM series input gets a NIfTI label: writing DICOM segmentation objects is not supported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from genodsl.data import io
from genodsl.data.problems import Code, data_error
from genodsl.files import _fsync_dir

_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
DICOM = "dicom"  # Geometry.suffix of a DICOM series folder
#: Suffixes :func:`write_label` writes through SimpleITK (TIFF stacks through tifffile).
ITK_WRITABLE = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mhd", ".mha")
OutputFormat = Literal["same", "nifti"]


@dataclass(frozen=True)
class Geometry:
    """A voxel grid in patient space (see the module doc for the conventions)."""

    shape: tuple[int, int, int]              # (Z, Y, X) of the numpy array
    spacing: tuple[float, float, float]      # (x, y, z) mm
    origin: tuple[float, float, float]       # (x, y, z) mm
    direction: tuple[float, ...]             # 3×3 row-major
    suffix: str                              # ".nii.gz", ".nrrd", ".mhd", "dicom", ".tif", ...

    @classmethod
    def identity(cls, shape: tuple[int, ...], suffix: str) -> "Geometry":
        """Unit spacing, zero origin, identity direction: a volume without geometry."""
        return cls(tuple(int(s) for s in shape[:3]), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0),
                   _IDENTITY, suffix)

    @classmethod
    def of_itk(cls, img, suffix: str) -> "Geometry":
        """The geometry of a 3D (or 4D channels-last) SimpleITK image."""
        dim = img.GetDimension()
        size = img.GetSize()[:3]
        direction = np.asarray(img.GetDirection(), float).reshape(dim, dim)[:3, :3]
        return cls(tuple(int(s) for s in reversed(size)),
                   tuple(float(v) for v in img.GetSpacing()[:3]),
                   tuple(float(v) for v in img.GetOrigin()[:3]),
                   tuple(float(v) for v in direction.ravel()), suffix)

    @property
    def size(self) -> tuple[int, int, int]:
        """ITK's ``(x, y, z)`` size."""
        return (self.shape[2], self.shape[1], self.shape[0])

    def same_grid(self, other: "Geometry", tol: float = 1e-4) -> bool:
        """Same shape and, within ``tol`` (relative to the voxel size), the same voxels."""
        if self.shape != other.shape:
            return False
        scale = max(min(self.spacing), 1e-12)
        return (np.allclose(self.spacing, other.spacing, rtol=tol, atol=0)
                and np.allclose(self.direction, other.direction, atol=tol)
                and np.allclose(self.origin, other.origin, atol=tol * scale))

    def to_physical(self, zyx: np.ndarray) -> np.ndarray:
        """Physical points ``[N, 3]`` (x, y, z mm) of voxel indices ``[N, 3]`` in (z, y, x)."""
        xyz = np.asarray(zyx, float)[:, ::-1] * np.asarray(self.spacing)
        return xyz @ np.asarray(self.direction).reshape(3, 3).T + np.asarray(self.origin)

    def describe(self) -> str:
        """One line for messages and logs."""
        d = np.asarray(self.direction).reshape(3, 3)
        fmt = lambda v: "(" + ", ".join(f"{x + 0.0:g}" for x in v) + ")"  # noqa: E731 (no -0)
        return (f"shape (Z, Y, X) {self.shape}, spacing {fmt(self.spacing)}, origin "
                f"{fmt(self.origin)}, direction {fmt(d[0])} {fmt(d[1])} {fmt(d[2])}")


def read_with_geometry(path: str | Path) -> tuple[np.ndarray, Geometry]:
    """A volume as ``(Z, Y, X[, C])`` (see :func:`genodsl.data.io.read_volume`) and its grid."""
    p = Path(path)
    fmt = io.format_of(p) if p.exists() else None
    if fmt in (io.Format.ITK, io.Format.DICOM):
        img = io.read_itk(p)
        array = io.itk_array(img, p)
        if img.GetDimension() == 2:
            return array, Geometry.identity(array.shape, io.suffix_of(p))
        return array, Geometry.of_itk(img, DICOM if fmt is io.Format.DICOM else io.suffix_of(p))
    array = io.read_volume(p)  # PNG, TIFF: no geometry (also raises for missing files)
    return array, Geometry.identity(array.shape, io.suffix_of(p))


def _to_itk(array: np.ndarray, geometry: Geometry):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    img.SetSpacing(geometry.spacing)
    img.SetOrigin(geometry.origin)
    img.SetDirection(geometry.direction)
    return img


def align_label(label: np.ndarray, label_geometry: Geometry, image_geometry: Geometry, *,
                label_file: str | Path, image_file: str | Path) -> np.ndarray:
    """``label`` on the image's grid: untouched when the grids are the same, else resampled by
    physical coordinates (nearest neighbour).  A label that does not cover every image voxel
    (its voxels would be taken for background) is a DataError naming both files."""
    if label_geometry.same_grid(image_geometry):
        return label
    import SimpleITK as sitk

    reference = sitk.Image(list(image_geometry.size), sitk.sitkUInt8)
    reference.SetSpacing(image_geometry.spacing)
    reference.SetOrigin(image_geometry.origin)
    reference.SetDirection(image_geometry.direction)

    def resample(arr: np.ndarray) -> np.ndarray:
        img = _to_itk(arr, label_geometry)
        out = sitk.Resample(img, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                            img.GetPixelID())
        return sitk.GetArrayFromImage(out)

    covered = float(resample(np.ones(label.shape, np.uint8)).mean())
    if covered < 1.0:
        how = "does not overlap it" if covered == 0 else f"covers only {100 * covered:.1f}% of it"
        raise data_error(Code.SHAPE, f"volume grid differs from its label {label_file}, and the "
                         f"label {how} in space (image: {image_geometry.describe()}; label: "
                         f"{label_geometry.describe()})", file=image_file,
                         hint="store the label on its image's grid (same shape, spacing, origin "
                              "and direction), or at least over the whole image")
    return resample(label)


def label_path(source: str | Path, out_dir: str | Path, fmt: OutputFormat = "same") -> Path:
    """``out_dir/<stem>_seg.<suffix>``: the input's suffix, or ``.nii.gz`` for ``nifti``, for a
    DICOM series (no DICOM writer) and for inputs without a writable volume format."""
    p = Path(source)
    is_series = p.is_dir()
    stem = p.name if is_series else io.stem_of(p)
    suffix = "" if is_series else io.suffix_of(p)
    if fmt == "nifti" or suffix not in ITK_WRITABLE + (".tif", ".tiff"):
        suffix = ".nii.gz"
    return Path(out_dir) / f"{stem}_seg{suffix}"


def write_label(label: np.ndarray, geometry: Geometry, path: str | Path) -> Path:
    """Write a ``(Z, Y, X)`` uint8 label volume at ``geometry``, atomically (a crash leaves the
    old file or the new one).  The format follows ``path``'s suffix."""
    target = Path(path)
    if label.shape != geometry.shape:
        raise ValueError(f"label shape {label.shape} differs from the geometry's "
                         f"{geometry.shape}")
    suffix = io.suffix_of(target)
    if suffix not in ITK_WRITABLE + (".tif", ".tiff"):
        raise data_error(Code.SUFFIX, f"cannot write a label volume as '{suffix}'", file=target,
                         hint="write " + ", ".join(ITK_WRITABLE) + " (DICOM segmentation "
                              "objects are not supported; use NIfTI)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp",
                                    dir=target.parent))
    try:
        tmp = tmp_dir / target.name
        if suffix in (".tif", ".tiff"):  # a TIFF stack has no geometry to keep
            tifffile = io._require("tifffile", target)
            tifffile.imwrite(tmp, label, photometric="minisblack")
        else:
            sitk = io._require("SimpleITK", target)
            sitk.WriteImage(_to_itk(label, geometry), str(tmp), suffix != ".nii")
        for f in sorted(tmp_dir.iterdir()):  # the header last: .mhd/.nhdr name a data file
            if f.name != target.name:
                _publish(f, target.parent / f.name)
        _publish(tmp, target)
        _fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


def _publish(tmp: Path, final: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
