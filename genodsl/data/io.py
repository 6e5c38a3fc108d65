"""Readers: a suffix dispatch to Pillow, tifffile and SimpleITK.

Axis convention (the only one in genodsl, enforced here and nowhere else):

* A **2D image** is a numpy array ``(H, W)`` or ``(H, W, C)``: ``H`` counts rows from the top,
  ``W`` columns from the left, exactly as Pillow and ``numpy.asarray(PIL.Image)`` show it.
* A **3D volume** is a numpy array ``(Z, Y, X)`` or ``(Z, Y, X, C)`` = (slices, rows, columns),
  so ``volume[k]`` is a 2D image in the convention above.  This is the order SimpleITK's
  ``GetArrayFromImage`` returns; every medical format (NIfTI, NRRD, MetaImage, DICOM) is read
  through SimpleITK, so there is one reader and one voxel order.  A 4D NIfTI ``(x, y, z, c)``
  comes back as ``(Z, Y, X, C)``.  A DICOM series folder is read with SimpleITK's series reader
  (GDCM orders the slices along the slice normal).  A TIFF stack is ``(pages, rows, cols)``.
* Voxel order is kept as stored: arrays are never reoriented here.  Where an array lies in
  space (spacing, origin, direction cosines) is :mod:`genodsl.data.geometry`'s job; a label on
  another grid than its image is resampled there, by physical coordinates.

Pixel values come back in the file's own dtype (DICOM with the modality rescale applied).
SimpleITK is the optional ``medical`` extra, tifffile the ``images`` extra; they are imported
lazily and a missing one is a :class:`~genodsl.errors.DataError` naming the extra.
"""

from __future__ import annotations

import importlib
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Callable, TypeVar

import numpy as np

from genodsl.data.problems import MEDICAL_HINT, Code, data_error
from genodsl.errors import DataError

T = TypeVar("T")


class Format(str, Enum):
    """Which library reads a file."""

    PILLOW = "pillow"        # PNG, JPEG, BMP
    TIFF = "tiff"            # tifffile
    ITK = "itk"              # SimpleITK: NIfTI, MetaImage, NRRD, one (multi-frame) DICOM file
    DICOM = "dicom"          # SimpleITK's series reader: a folder holding one DICOM series


SUFFIXES: dict[str, Format] = {
    ".png": Format.PILLOW, ".jpg": Format.PILLOW, ".jpeg": Format.PILLOW, ".bmp": Format.PILLOW,
    ".tif": Format.TIFF, ".tiff": Format.TIFF,
    ".nii": Format.ITK, ".nii.gz": Format.ITK,
    ".mhd": Format.ITK, ".mha": Format.ITK, ".nrrd": Format.ITK, ".nhdr": Format.ITK,
    ".dcm": Format.ITK,
}
#: Suffixes of 2D images (a TIFF may also hold a stack).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Suffixes of volume files (a folder of ``.dcm`` files is a volume too).
VOLUME_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz", ".mhd", ".mha", ".nrrd", ".nhdr",
                                    ".tif", ".tiff", ".dcm")
_PIP_NAMES = {"SimpleITK": "SimpleITK", "tifffile": "tifffile"}
IMAGES_HINT = 'install the images extra: pip install "genodsl[images]"'
_HINTS = {"tifffile": IMAGES_HINT}  # the others are the medical extra
_DATA_FILE_SUFFIXES = (".raw", ".zraw")  # the pixel data of a .mhd header


def suffix_of(path: str | Path) -> str:
    """The lower-case suffix, treating ``.nii.gz`` as one suffix."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


def stem_of(path: str | Path) -> str:
    """The file name without its suffix (``case.nii.gz`` → ``case``)."""
    name = Path(path).name
    return name[: len(name) - len(suffix_of(name))] if suffix_of(name) else name


def format_of(path: str | Path) -> Format:
    """The reader for ``path``; a folder is a DICOM series.  Unknown suffixes raise."""
    p = Path(path)
    if p.is_dir():
        return Format.DICOM
    suffix = suffix_of(p)
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    hint = "supported: " + ", ".join(sorted(SUFFIXES)) + ", or a folder of .dcm files"
    if suffix in _DATA_FILE_SUFFIXES:
        hint = "this is the pixel data of a MetaImage; open its .mhd header instead"
    raise data_error(Code.SUFFIX, f"unknown file type '{suffix or p.name}'", file=p, hint=hint)


def is_volume(path: str | Path) -> bool:
    """True when ``path`` holds a 3D volume (a medical volume, a DICOM folder, a TIFF stack)."""
    fmt = format_of(path)
    if fmt is Format.PILLOW:
        return False
    if fmt is Format.TIFF:
        return volume_shape(path)[0] > 1
    return True


# --------------------------------------------------------------------------------------------
# public readers


def read_image(path: str | Path, *, mask: bool = False) -> np.ndarray:
    """A 2D image as ``(H, W)`` or ``(H, W, C)`` in its own dtype.

    ``mask=True`` keeps palette indices of palette PNGs (the class labels) instead of
    converting them to colours.  A volume file with a single slice is accepted too.
    """
    p = _existing(path)
    fmt = format_of(p)
    if fmt is Format.PILLOW:
        return _guarded(p, lambda: _read_pillow(p, mask))
    vol = read_volume(p)
    if vol.shape[0] != 1:
        raise data_error(Code.SHAPE, f"expected a 2D image, found a volume of {vol.shape[0]} "
                         f"slices (shape {vol.shape})", file=p,
                         hint="use a volume layout (nifti, mhd, dicom) for 3D data")
    return vol[0]


def read_volume(path: str | Path) -> np.ndarray:
    """A volume as ``(Z, Y, X)`` or ``(Z, Y, X, C)`` in its own dtype (see the module doc)."""
    p = _existing(path)
    fmt = format_of(p)
    if fmt is Format.PILLOW:
        return _guarded(p, lambda: _read_pillow(p, False))[None]
    if fmt is Format.TIFF:
        return _guarded(p, lambda: _read_tiff(p))
    return itk_array(read_itk(p), p)


def volume_shape(path: str | Path) -> tuple[int, ...]:
    """The shape :func:`read_volume` would return, read from headers only where possible."""
    p = _existing(path)
    fmt = format_of(p)
    if fmt is Format.PILLOW:
        return tuple(read_volume(p).shape)
    if fmt is Format.TIFF:
        return _guarded(p, lambda: _tiff_shape(p))
    sitk = _require("SimpleITK", p)
    if fmt is Format.DICOM:
        files = dicom_series_files(p)
        return _guarded(p, lambda: _itk_shape(sitk, Path(files[0]), depth=len(files)))
    return _guarded(p, lambda: _itk_shape(sitk, p))


# --------------------------------------------------------------------------------------------
# helpers


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise data_error(Code.MISSING, "file not found", file=p)
    return p


def _require(module: str, path: Path) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise data_error(Code.DEPENDENCY,
                         f"reading '{suffix_of(path) or 'DICOM'}' files needs the "
                         f"'{_PIP_NAMES[module]}' package, which is not installed",
                         file=path, hint=_HINTS.get(module, MEDICAL_HINT)) from exc


def _guarded(path: Path, read: Callable[[], T]) -> T:
    """Run a library read; any failure of the library becomes a DataError naming the file."""
    try:
        return read()
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # the libraries raise many types for a corrupt file
        raise data_error(Code.UNREADABLE, f"cannot read file ({type(exc).__name__}: {exc})",
                         file=path, hint="is the file complete and in the format its suffix "
                         "says?") from exc


def _read_pillow(path: Path, mask: bool) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        if im.mode == "P" and not mask:
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV", "PA"):
            im = im.convert("RGB")
        arr = np.asarray(im)
    return arr.astype(np.uint8) if arr.dtype == bool else arr


def _tiff_layout(axes: str, shape: tuple[int, ...], path: Path) -> tuple[list[int], int | None,
                                                                         int | None]:
    """Axis indices (stack, channel) of a tifffile series; length-1 axes are dropped."""
    stack = [i for i, a in enumerate(axes) if a not in "YXSC" and shape[i] > 1]
    chans = [i for i, a in enumerate(axes) if a in "SC" and shape[i] > 1]
    if "Y" not in axes or "X" not in axes or len(stack) > 1 or len(chans) > 1:
        raise data_error(Code.SHAPE, f"unsupported TIFF layout: axes '{axes}', shape {shape}",
                         file=path, hint="expected one image (YX, YXS) or one stack (ZYX)")
    return stack, (stack[0] if stack else None), (chans[0] if chans else None)


def _read_tiff(path: Path) -> np.ndarray:
    tifffile = _require("tifffile", path)

    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        arr = series.asarray()
        axes = series.axes
    if arr.ndim != len(axes):  # tifffile squeezes both; keep them in step if it ever differs
        arr = arr.reshape(series.shape)
    _, z, c = _tiff_layout(axes, arr.shape, path)
    main = [i for i in (z, axes.index("Y"), axes.index("X"), c) if i is not None]
    rest = [i for i in range(arr.ndim) if i not in main]  # all of length 1
    out = np.transpose(arr, main + rest).reshape([arr.shape[i] for i in main])
    if z is None:
        out = out[None]
    return out.astype(np.uint8) if out.dtype == bool else out


def _tiff_shape(path: Path) -> tuple[int, ...]:
    tifffile = _require("tifffile", path)

    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        axes, shape = series.axes, tuple(series.shape)
    _, z, c = _tiff_layout(axes, shape, path)
    out = [shape[z] if z is not None else 1, shape[axes.index("Y")], shape[axes.index("X")]]
    return tuple(out + ([shape[c]] if c is not None else []))


def read_itk(path: str | Path) -> "SimpleITK.Image":  # noqa: F821 (imported lazily)
    """The SimpleITK image of a medical file or DICOM series folder, with its geometry."""
    p = _existing(path)
    sitk = _require("SimpleITK", p)
    if format_of(p) is Format.DICOM:
        files = dicom_series_files(p)
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(files)
        return _guarded(p, reader.Execute)
    return _guarded(p, lambda: sitk.ReadImage(str(p)))


def itk_array(img: "SimpleITK.Image", path: Path) -> np.ndarray:  # noqa: F821
    """``(Z, Y, X[, C])`` of a 2D, 3D or 4D (channels) SimpleITK image."""
    import SimpleITK as sitk

    arr = sitk.GetArrayFromImage(img)  # (z, y, x[, c]); a 2D image is (y, x[, c])
    dim = img.GetDimension()
    if dim == 2:
        return arr[None]
    if dim == 4 and img.GetNumberOfComponentsPerPixel() == 1:  # (c, z, y, x) of (x, y, z, c)
        return np.moveaxis(arr, 0, -1)
    if dim != 3:
        raise data_error(Code.SHAPE, f"unsupported {dim}D image", file=path,
                         hint="expected a 2D image, a 3D volume or (x, y, z, channels)")
    return arr


def _itk_shape(sitk: ModuleType, path: Path, depth: int | None = None) -> tuple[int, ...]:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    size = list(reversed(reader.GetSize()))  # ITK sizes are (x, y, z[, c])
    comps = reader.GetNumberOfComponents()
    if len(size) == 4 and comps == 1:
        size, comps = size[1:], size[0]
    if len(size) == 2:
        size = [1] + size
    if len(size) != 3:
        raise data_error(Code.SHAPE, f"unsupported {len(size)}D image", file=path,
                         hint="expected a 2D image, a 3D volume or (x, y, z, channels)")
    if depth is not None:  # one file of a DICOM series
        size[0] = depth
    return tuple(size) + ((comps,) if comps > 1 else ())


def dicom_series_files(folder: Path) -> list[str]:
    """The files of the one DICOM series in ``folder``, in GDCM's slice order."""
    sitk = _require("SimpleITK", folder)
    warn = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # "No Series were found" on stderr
    try:
        ids = _guarded(folder, lambda: sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warn)
    if not ids:
        raise data_error(Code.MISSING, "no DICOM series (*.dcm files) in this folder",
                         file=folder)
    if len(ids) > 1:
        raise data_error(Code.SHAPE, f"{len(ids)} DICOM series in one folder", file=folder,
                         hint="keep one series per case folder")
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), ids[0]))
