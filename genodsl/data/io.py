"""Readers: a suffix dispatch to Pillow, tifffile, nibabel, SimpleITK and pydicom.

Axis convention (the only one in genodsl, enforced here and nowhere else):

* A **2D image** is a numpy array ``(H, W)`` or ``(H, W, C)``: ``H`` counts rows from the top,
  ``W`` columns from the left, exactly as Pillow and ``numpy.asarray(PIL.Image)`` show it.
* A **3D volume** is a numpy array ``(Z, Y, X)`` or ``(Z, Y, X, C)`` = (slices, rows, columns),
  so ``volume[k]`` is a 2D image in the convention above.  This is the order SimpleITK's
  ``GetArrayFromImage`` already returns.  nibabel returns voxel order ``(x, y, z)``, so its
  arrays are transposed here (``(x, y, z, c)`` becomes ``(z, y, x, c)``).  DICOM slices are
  stacked in the order of their position along the slice normal (``ImagePositionPatient``
  projected on the normal of ``ImageOrientationPatient``), else ``InstanceNumber``; this is
  the order SimpleITK's series reader uses.  A TIFF stack is ``(pages, rows, cols)``.
* Voxel order is kept as stored: no reorientation to RAS/LPS and no resampling.  An image and
  its label written by the same tool therefore always line up.

Pixel values come back in the file's own dtype (DICOM with the modality rescale applied).
nibabel, SimpleITK and pydicom are the optional ``medical`` extra, tifffile the ``images`` extra;
they are imported lazily and a missing one is a :class:`~genodsl.errors.DataError` naming the extra.
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
    NIFTI = "nifti"          # nibabel
    ITK = "itk"              # SimpleITK: MetaImage, NRRD
    DICOM = "dicom"          # pydicom: a folder holding one series, or one (multi-frame) file


SUFFIXES: dict[str, Format] = {
    ".png": Format.PILLOW, ".jpg": Format.PILLOW, ".jpeg": Format.PILLOW, ".bmp": Format.PILLOW,
    ".tif": Format.TIFF, ".tiff": Format.TIFF,
    ".nii": Format.NIFTI, ".nii.gz": Format.NIFTI,
    ".mhd": Format.ITK, ".mha": Format.ITK, ".nrrd": Format.ITK, ".nhdr": Format.ITK,
    ".dcm": Format.DICOM,
}
#: Suffixes of 2D images (a TIFF may also hold a stack).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Suffixes of volume files (a folder of ``.dcm`` files is a volume too).
VOLUME_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz", ".mhd", ".mha", ".nrrd", ".nhdr",
                                    ".tif", ".tiff", ".dcm")
_PIP_NAMES = {"nibabel": "nibabel", "SimpleITK": "SimpleITK", "pydicom": "pydicom",
              "tifffile": "tifffile"}
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
    if fmt is Format.NIFTI:
        nib = _require("nibabel", p)
        return _guarded(p, lambda: _nifti_to_zyx(np.asanyarray(nib.load(str(p)).dataobj), p))
    if fmt is Format.ITK:
        sitk = _require("SimpleITK", p)
        return _guarded(p, lambda: _read_itk(sitk, p))
    return _read_dicom(p)


def volume_shape(path: str | Path) -> tuple[int, ...]:
    """The shape :func:`read_volume` would return, read from headers only where possible."""
    p = _existing(path)
    fmt = format_of(p)
    if fmt is Format.PILLOW:
        return tuple(read_volume(p).shape)
    if fmt is Format.TIFF:
        return _guarded(p, lambda: _tiff_shape(p))
    if fmt is Format.NIFTI:
        nib = _require("nibabel", p)
        return _guarded(p, lambda: _nifti_shape(tuple(nib.load(str(p)).shape), p))
    if fmt is Format.ITK:
        sitk = _require("SimpleITK", p)
        return _guarded(p, lambda: _itk_shape(sitk, p))
    return _dicom_shape(p)


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


_NIFTI_ORDER = {3: (2, 1, 0), 4: (2, 1, 0, 3)}  # (x, y, z[, c]) -> (z, y, x[, c])


def _nifti_to_zyx(arr: np.ndarray, path: Path) -> np.ndarray:
    xyz = _nifti_xyz_shape(arr.shape, path)
    return np.transpose(np.asarray(arr).reshape(xyz), _NIFTI_ORDER[len(xyz)])


def _nifti_xyz_shape(shape: tuple[int, ...], path: Path) -> tuple[int, ...]:
    """nibabel's shape as (x, y, z) or (x, y, z, c): a 2D image gets z = 1."""
    shape = tuple(shape)
    if len(shape) == 2:
        return shape + (1,)
    if len(shape) == 3:
        return shape
    rest = [s for s in shape[3:] if s != 1]
    if len(rest) > 1:
        raise data_error(Code.SHAPE, f"unsupported NIfTI shape {shape}", file=path,
                         hint="expected (x, y, z) or (x, y, z, channels)")
    return shape[:3] + (tuple(rest) or ())


def _nifti_shape(shape: tuple[int, ...], path: Path) -> tuple[int, ...]:
    xyz = _nifti_xyz_shape(shape, path)
    return tuple(xyz[i] for i in _NIFTI_ORDER[len(xyz)])


def _read_itk(sitk: ModuleType, path: Path) -> np.ndarray:
    img = sitk.ReadImage(str(path))
    arr = sitk.GetArrayFromImage(img)  # already (z, y, x[, c]); a 2D image is (y, x[, c])
    if img.GetDimension() == 2:
        return arr[None]
    if img.GetDimension() != 3:
        raise data_error(Code.SHAPE, f"unsupported {img.GetDimension()}D image", file=path,
                         hint="expected a 2D image or a 3D volume")
    return arr


def _itk_shape(sitk: ModuleType, path: Path) -> tuple[int, ...]:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    size = tuple(reversed(reader.GetSize()))  # ITK sizes are (x, y, z)
    if len(size) == 2:
        size = (1,) + size
    if len(size) != 3:
        raise data_error(Code.SHAPE, f"unsupported {len(size)}D image", file=path,
                         hint="expected a 2D image or a 3D volume")
    comps = reader.GetNumberOfComponents()
    return size + ((comps,) if comps > 1 else ())


def dicom_files(folder: Path) -> list[Path]:
    """The DICOM files of a series folder: ``*.dcm`` or files without a suffix."""
    if folder.is_file():
        return [folder]
    files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")
                   and f.name.upper() != "DICOMDIR" and f.suffix.lower() in (".dcm", ""))
    if not files:
        raise data_error(Code.MISSING, "no DICOM files (*.dcm) in this folder", file=folder)
    return files


def _read_dicom(folder: Path) -> np.ndarray:
    pydicom = _require("pydicom", folder)
    try:
        from pydicom.pixels import apply_modality_lut
    except ImportError:  # pydicom 2.x
        from pydicom.pixel_data_handlers.util import apply_modality_lut

    def read_one(f: Path) -> tuple[object, np.ndarray]:
        ds = pydicom.dcmread(f)
        arr = ds.pixel_array
        rescaled = apply_modality_lut(arr, ds)
        if rescaled is not arr and not np.array_equal(rescaled, arr):
            arr = rescaled.astype(np.float32)
        return ds, arr

    files = dicom_files(folder)
    items = [_guarded(f, lambda f=f: read_one(f)) for f in files]
    datasets = [ds for ds, _ in items]
    if len(files) == 1:
        ds, arr = items[0]
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        return arr if frames > 1 else arr[None]
    order = _dicom_order(datasets, files, folder)
    shapes = {items[i][1].shape for i in order}
    if len(shapes) != 1:
        raise data_error(Code.SHAPE, f"DICOM slices of different sizes {sorted(shapes)}",
                         file=folder)
    return np.stack([items[i][1] for i in order])


def _dicom_order(datasets: list, files: list[Path], folder: Path) -> list[int]:
    """Slice order: position along the slice normal, else InstanceNumber."""
    series = {str(getattr(ds, "SeriesInstanceUID", "")) for ds in datasets}
    if len(series) > 1:
        raise data_error(Code.SHAPE, f"{len(series)} DICOM series in one folder", file=folder,
                         hint="keep one series per case folder")
    keys: list[float] = []
    for ds in datasets:
        pos = getattr(ds, "ImagePositionPatient", None)
        ori = getattr(ds, "ImageOrientationPatient", None)
        if pos is None or ori is None:
            break
        normal = np.cross(np.asarray(ori[:3], float), np.asarray(ori[3:], float))
        keys.append(float(np.dot(normal, np.asarray(pos, float))))
    else:
        return sorted(range(len(datasets)), key=lambda i: (keys[i], files[i].name))
    numbers = [getattr(ds, "InstanceNumber", None) for ds in datasets]
    if any(n is None for n in numbers):
        raise data_error(Code.UNREADABLE, "cannot order the DICOM slices: they have neither "
                         "ImagePositionPatient/ImageOrientationPatient nor InstanceNumber",
                         file=folder)
    return sorted(range(len(datasets)), key=lambda i: (int(numbers[i]), files[i].name))


def _dicom_shape(folder: Path) -> tuple[int, ...]:
    pydicom = _require("pydicom", folder)
    files = dicom_files(folder)
    ds = _guarded(files[0], lambda: pydicom.dcmread(files[0], stop_before_pixels=True))
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    depth = frames if len(files) == 1 else len(files)
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    return (depth, int(ds.Rows), int(ds.Columns)) + ((samples,) if samples > 1 else ())
