"""Readers: one axis convention for every format, and clear errors for bad files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from genodsl.data import io
from genodsl.errors import DataError


def test_png_gray_and_rgb_keep_rows_and_columns(tmp_path: Path, w) -> None:
    gray = (np.arange(5 * 7).reshape(5, 7) * 3).astype(np.uint8)   # H=5 rows, W=7 cols
    rgb = np.stack([gray, gray + 1, gray + 2], -1)
    assert np.array_equal(io.read_image(w.png(tmp_path / "g.png", gray)), gray)
    out = io.read_image(w.png(tmp_path / "c.png", rgb))
    assert out.shape == (5, 7, 3) and np.array_equal(out, rgb)


def test_palette_png_gives_colours_for_images_and_indices_for_masks(tmp_path: Path) -> None:
    idx = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    im = Image.fromarray(idx, mode="P")
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    im.save(tmp_path / "p.png")
    assert np.array_equal(io.read_image(tmp_path / "p.png", mask=True), idx)
    colours = io.read_image(tmp_path / "p.png")
    assert colours.shape == (2, 3, 3) and tuple(colours[0, 1]) == (255, 0, 0)


def test_tiff_image_rgb_and_stack(tmp_path: Path) -> None:
    gray = np.arange(5 * 7, dtype=np.uint16).reshape(5, 7)
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    stack = np.arange(4 * 5 * 7, dtype=np.uint8).reshape(4, 5, 7)
    tifffile.imwrite(tmp_path / "g.tif", gray)
    tifffile.imwrite(tmp_path / "c.tiff", rgb)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    assert np.array_equal(io.read_image(tmp_path / "g.tif"), gray)
    assert np.array_equal(io.read_image(tmp_path / "c.tiff"), rgb)
    assert np.array_equal(io.read_volume(tmp_path / "s.tif"), stack)
    assert io.volume_shape(tmp_path / "s.tif") == (4, 5, 7)
    assert io.is_volume(tmp_path / "s.tif") and not io.is_volume(tmp_path / "g.tif")
    with pytest.raises(DataError, match="expected a 2D image") as err:
        io.read_image(tmp_path / "s.tif")
    assert "s.tif" in str(err.value)


def test_nifti_written_by_nibabel_reads_as_zyx(tmp_path: Path, w) -> None:
    vol = w.volume((3, 5, 7))
    path = w.nifti(tmp_path / "v.nii.gz", vol)
    out = io.read_volume(path)
    assert out.shape == (3, 5, 7) and np.array_equal(out, vol)
    assert io.volume_shape(path) == (3, 5, 7)
    # voxel (z=2, y=4, x=6) holds 100 z + 10 y + x
    assert out[2, 4, 6] == 246


def test_nifti_with_channels_is_zyxc(tmp_path: Path) -> None:
    import nibabel as nib

    xyzc = np.random.default_rng(1).random((7, 5, 3, 2)).astype(np.float32)
    nib.save(nib.Nifti1Image(xyzc, np.eye(4)), str(tmp_path / "m.nii"))
    out = io.read_volume(tmp_path / "m.nii")
    assert out.shape == (3, 5, 7, 2)
    assert np.array_equal(out, np.transpose(xyzc, (2, 1, 0, 3)))


@pytest.mark.parametrize("suffix", [".mhd", ".nrrd", ".nii.gz"])
def test_simpleitk_files_read_back_unchanged(tmp_path: Path, w, suffix: str) -> None:
    vol = w.volume((3, 5, 7))
    path = w.itk(tmp_path / f"v{suffix}", vol)
    assert np.array_equal(io.read_volume(path), vol)
    assert io.volume_shape(path) == (3, 5, 7)


def test_dicom_series_sorted_by_position_not_name(tmp_path: Path, w) -> None:
    import SimpleITK as sitk

    vol = w.volume((4, 5, 7))
    folder = w.dicom(tmp_path / "series", vol, reverse_names=True)
    out = io.read_volume(folder)
    assert out.shape == (4, 5, 7) and np.array_equal(out, vol)
    assert io.volume_shape(folder) == (4, 5, 7)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    assert np.array_equal(sitk.GetArrayFromImage(reader.Execute()), out)


def test_dicom_without_position_falls_back_to_instance_number(tmp_path: Path, w) -> None:
    import pydicom

    vol = w.volume((3, 5, 7))
    folder = w.dicom(tmp_path / "series", vol, reverse_names=False)
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        del ds.ImagePositionPatient
        ds.save_as(f)
    # InstanceNumber counts down with z, so the volume comes back reversed along z
    assert np.array_equal(io.read_volume(folder), vol[::-1])


def test_single_file_image_read_as_one_slice_volume(tmp_path: Path, w) -> None:
    img = np.arange(35, dtype=np.uint8).reshape(5, 7)
    assert io.read_volume(w.png(tmp_path / "a.png", img)).shape == (1, 5, 7)


def test_unknown_suffix_and_raw_file(tmp_path: Path) -> None:
    (tmp_path / "a.xyz").write_text("x", encoding="utf-8")
    (tmp_path / "a.raw").write_bytes(b"\0" * 8)
    with pytest.raises(DataError, match="unknown file type '.xyz'") as err:
        io.read_image(tmp_path / "a.xyz")
    assert "a.xyz" in str(err.value) and "E303" in str(err.value)
    with pytest.raises(DataError, match="open its .mhd header"):
        io.read_volume(tmp_path / "a.raw")


@pytest.mark.parametrize("name", ["bad.png", "bad.tif", "bad.nii.gz", "bad.mhd"])
def test_corrupt_files_name_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not an image")
    reader = io.read_image if name.endswith((".png", ".tif")) else io.read_volume
    with pytest.raises(DataError) as err:
        reader(path)
    assert name in str(err.value) and "E302" in str(err.value)


def test_truncated_png(tmp_path: Path, w) -> None:
    path = w.png(tmp_path / "t.png", np.random.default_rng(0).integers(0, 255, (64, 64),
                                                                          dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="cannot read file") as err:
        io.read_image(path)
    assert "t.png" in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found") as err:
        io.read_image(tmp_path / "nope.png")
    assert "nope.png" in str(err.value)


def test_empty_dicom_folder(tmp_path: Path) -> None:
    (tmp_path / "series").mkdir()
    with pytest.raises(DataError, match="no DICOM series"):
        io.read_volume(tmp_path / "series")


@pytest.mark.parametrize("module,name", [("SimpleITK", "v.nii.gz"), ("SimpleITK", "v.mhd"),
                                         ("SimpleITK", "series")])
def test_missing_optional_library_gives_install_hint(tmp_path: Path, monkeypatch, module: str,
                                                     name: str) -> None:
    path = tmp_path / name
    if name == "series":
        path.mkdir()
        (path / "a.dcm").write_bytes(b"x")
    else:
        path.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(DataError, match=r"pip install genodsl\[medical\]") as err:
        io.read_volume(path)
    assert module in str(err.value) and name in str(err.value)
