"""Tiny on-disk datasets for the data tests, written with the same libraries genodsl reads with."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest
from PIL import Image

def asymmetric_volume(shape: tuple[int, int, int] = (3, 5, 7), dtype=np.int16) -> np.ndarray:
    """A (Z, Y, X) volume whose every voxel value encodes its position: 100 z + 10 y + x."""
    z, y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    return (100 * z + 10 * y + x).astype(dtype)


def write_nifti(path: Path, zyx: np.ndarray) -> Path:
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.ascontiguousarray(np.transpose(zyx, (2, 1, 0))), np.eye(4)),
             str(path))
    return path


def write_itk(path: Path, zyx: np.ndarray, spacing: tuple[float, float, float] | None = None
              ) -> Path:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(zyx)
    if spacing is not None:
        img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


DICOM_SPACING = (0.7, 0.8, 2.5)  # (x, y, z) mm of the series below (origin 0, identity axes)


def write_dicom_series(folder: Path, zyx: np.ndarray, *, reverse_names: bool = True) -> Path:
    """One DICOM file per slice, written by SimpleITK, with file names in reverse z order (so
    that sorting by name would be wrong) and InstanceNumber counting down."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    vol = sitk.GetImageFromArray(zyx.astype(np.int16))
    vol.SetSpacing(DICOM_SPACING)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    n = zyx.shape[0]
    for k in range(n):
        s = vol[:, :, k]
        pos = "\\".join(f"{v:.4f}" for v in vol.TransformIndexToPhysicalPoint((0, 0, k)))
        for tag, value in (("0008|0060", "CT"), ("0020|000e", "1.2.826.0.1.3680043.2.1125.7"),
                           ("0020|0037", "1\\0\\0\\0\\1\\0"), ("0020|0032", pos),
                           ("0020|0013", str(n - k)), ("0028|1052", "0"), ("0028|1053", "1")):
            s.SetMetaData(tag, value)
        index = n - 1 - k if reverse_names else k
        writer.SetFileName(str(folder / f"slice{index:02d}.dcm"))
        writer.Execute(s)
    return folder


def save_png(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def w() -> SimpleNamespace:
    """The writers above, for tests that write their own files."""
    return SimpleNamespace(volume=asymmetric_volume, nifti=write_nifti, itk=write_itk,
                           dicom=write_dicom_series, png=save_png)


@pytest.fixture
def folder_data(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``root/images`` + ``root/masks`` PNGs; masks 0/255 equal to image > 127."""

    def make(n: int = 4, size: tuple[int, int] = (12, 16), *, rgb: bool = False,
             nested: bool = False, mask_suffix: str = "", seed: int = 0,
             root: Path | None = None) -> Path:
        root = root or tmp_path / "folder"
        rng = np.random.default_rng(seed)
        for i in range(n):
            gray = np.zeros(size, np.uint8)
            y0, x0 = rng.integers(0, size[0] // 2), rng.integers(0, size[1] // 2)
            gray[y0:y0 + size[0] // 2, x0:x0 + size[1] // 3] = 200
            gray += rng.integers(0, 20, size=size).astype(np.uint8)
            mask = np.where(gray > 127, 255, 0).astype(np.uint8)
            image = np.stack([gray, gray // 2, gray], -1) if rgb else gray
            rel = f"case{i // 2}/s{i % 2}" if nested else f"img{i:02d}"
            save_png(root / "images" / f"{rel}.png", image)
            save_png(root / "masks" / f"{rel}{mask_suffix}.png", mask)
        return root

    return make


@pytest.fixture
def nifti_data(tmp_path: Path) -> Path:
    """Decathlon layout: two cases of (Z, Y, X) = (3, 8, 10); label = 1 where x >= 5."""
    root = tmp_path / "msd"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    for i in range(2):
        vol = asymmetric_volume((3, 8, 10)) + 1000 * i
        label = np.zeros((3, 8, 10), np.uint8)
        label[:, :, 5:] = 1
        write_nifti(root / "imagesTr" / f"prostate_{i:02d}.nii.gz", vol)
        write_nifti(root / "labelsTr" / f"prostate_{i:02d}.nii.gz", label)
    return root


@pytest.fixture
def mhd_data(tmp_path: Path) -> Path:
    """PROMISE12 layout: Case00.mhd + Case00_segmentation.mhd, two cases of (3, 8, 10)."""
    root = tmp_path / "promise"
    root.mkdir()
    for i in range(2):
        label = np.zeros((3, 8, 10), np.uint8)
        label[:, 4:, :] = 1
        write_itk(root / f"Case{i:02d}.mhd", asymmetric_volume((3, 8, 10)))
        write_itk(root / f"Case{i:02d}_segmentation.mhd", label)
    return root


@pytest.fixture
def dicom_data(tmp_path: Path) -> Path:
    """DICOM layout: images/<case>/*.dcm + labels/<case>.nii.gz, two cases of (3, 8, 10); the
    labels are stored on the series' grid (spacing, origin, direction)."""
    root = tmp_path / "dicom"
    (root / "labels").mkdir(parents=True)
    for case in ("pat1", "pat2"):
        write_dicom_series(root / "images" / case, asymmetric_volume((3, 8, 10)))
        label = np.zeros((3, 8, 10), np.uint8)
        label[1:, :, :] = 1
        write_itk(root / "labels" / f"{case}.nii.gz", label, spacing=DICOM_SPACING)
    return root
