"""Volumes in, volumes out: geometry is read, labels are aligned in space, predictions keep it.

Synthetic volumes are written by SimpleITK with anisotropic spacing, a non-zero origin and a
rotated direction, so a reader or writer that drops any of them fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genodsl.data import geometry as geo
from genodsl.data.config import parse_data_config
from genodsl.errors import DataError

sitk = pytest.importorskip("SimpleITK")

SHAPE = (4, 20, 24)                                   # (Z, Y, X)
SPACING = (0.7, 0.9, 2.5)                             # (x, y, z) mm
ORIGIN = (-12.5, 30.25, 7.0)
ROT = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # 90° about z: x axis → +y, y axis → -x
SHARED_CT = Path(__file__).resolve().parents[3] / "shared" / "data" / "volumes" / \
    "totalseg_ct_dicom"


def volume(shape=SHAPE) -> np.ndarray:
    z, y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    return (100 * z + 10 * y + x).astype(np.int16)


def blob_label(shape=SHAPE) -> np.ndarray:
    label = np.zeros(shape, np.uint8)
    label[:, 3:9, 14:20] = 1                       # an off-centre, asymmetric block
    return label


def itk_image(arr: np.ndarray, spacing=SPACING, origin=ORIGIN, direction=ROT):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(direction)
    return img


def write(path: Path, arr: np.ndarray, **grid) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(itk_image(arr, **grid), str(path))
    return path


def write_series(folder: Path, arr: np.ndarray) -> Path:
    """One DICOM file per slice with the position/orientation/spacing tags of the grid."""
    folder.mkdir(parents=True)
    vol = itk_image(arr)
    d = np.asarray(ROT).reshape(3, 3)
    orientation = "\\".join(f"{v:g}" for v in list(d[:, 0]) + list(d[:, 1]))
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(arr.shape[0]):
        s = vol[:, :, k]
        pos = "\\".join(f"{v:.4f}" for v in vol.TransformIndexToPhysicalPoint((0, 0, k)))
        for tag, value in (("0008|0060", "CT"), ("0020|000e", "1.2.826.0.1.3680043.2.1125.9"),
                           ("0020|0037", orientation), ("0020|0032", pos),
                           ("0020|0013", str(k + 1)), ("0018|0050", f"{SPACING[2]}"),
                           ("0028|1052", "0"), ("0028|1053", "1")):
            s.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"IM{arr.shape[0] - k:03d}.dcm"))  # names out of order
        writer.Execute(s)
    return folder


def assert_grid(g: geo.Geometry, shape=SHAPE, spacing=SPACING, origin=ORIGIN,
                direction=ROT, tol=1e-5) -> None:
    assert g.shape == shape
    assert np.allclose(g.spacing, spacing, rtol=0, atol=tol)
    assert np.allclose(g.origin, origin, rtol=0, atol=tol)
    assert np.allclose(g.direction, direction, rtol=0, atol=tol)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".nhdr", ".mhd", ".mha"])
def test_read_and_write_keep_the_geometry(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"scan{suffix}", volume())
    arr, grid = geo.read_with_geometry(path)
    assert np.array_equal(arr, volume())
    assert_grid(grid)
    assert grid.suffix == suffix
    out = geo.write_label(blob_label(), grid, geo.label_path(path, tmp_path / "out"))
    assert out.name == f"scan_seg{suffix}"
    back, back_grid = geo.read_with_geometry(out)
    assert np.array_equal(back, blob_label())
    assert back_grid.same_grid(grid, tol=1e-6)
    assert not list((tmp_path / "out").glob(".*"))  # no temporaries left


def test_dicom_series_has_its_geometry(tmp_path: Path) -> None:
    arr, grid = geo.read_with_geometry(write_series(tmp_path / "series", volume()))
    assert np.array_equal(arr, volume())  # slices in position order, not name order
    assert_grid(grid, tol=1e-4)
    assert grid.suffix == "dicom"
    assert geo.label_path(tmp_path / "series", tmp_path).name == "series_seg.nii.gz"
    # the first voxel of the last slice is where the series says
    assert np.allclose(grid.to_physical(np.array([[3, 0, 0]])),
                       np.asarray(ORIGIN) + [0, 0, 3 * SPACING[2]], atol=1e-3)


def test_label_on_a_flipped_shifted_grid_lands_at_the_same_places(tmp_path: Path) -> None:
    image = write(tmp_path / "img.nrrd", volume())
    truth = blob_label()
    # the label volume: y flipped (direction and origin follow) and two extra slices below
    d = np.asarray(ROT).reshape(3, 3)
    flip = d @ np.diag([1.0, -1.0, 1.0])
    o = np.asarray(ORIGIN) + d[:, 1] * SPACING[1] * (SHAPE[1] - 1) - d[:, 2] * SPACING[2] * 2
    stored = np.zeros((SHAPE[0] + 2,) + SHAPE[1:], np.uint8)
    stored[2:] = truth[:, ::-1]
    label = write(tmp_path / "lab.nii.gz", stored, origin=tuple(o),
                  direction=tuple(flip.ravel()))
    img_arr, img_grid = geo.read_with_geometry(image)
    lab_arr, lab_grid = geo.read_with_geometry(label)
    assert not lab_grid.same_grid(img_grid)
    aligned = geo.align_label(lab_arr, lab_grid, img_grid, label_file=label, image_file=image)
    assert aligned.shape == img_arr.shape and np.array_equal(aligned, truth)
    # the same physical point: a foreground voxel in the stored label and on the image grid
    z, y, x = np.argwhere(stored)[0]
    point = lab_grid.to_physical(np.array([[z, y, x]]))
    index = np.asarray(img_grid.to_physical(np.argwhere(aligned)))
    assert np.isclose(np.linalg.norm(index - point, axis=1), 0, atol=1e-4).any()
    same = geo.align_label(img_arr, img_grid, img_grid, label_file=label, image_file=image)
    assert same is img_arr  # identical grids pass through untouched


def test_label_that_does_not_cover_its_image_names_both_files(tmp_path: Path) -> None:
    root = tmp_path / "msd"
    write(root / "imagesTr" / "c1.nii.gz", volume())
    write(root / "labelsTr" / "c1.nii.gz", blob_label(), origin=(500.0, 500.0, 500.0))
    from genodsl.data import build_dataset

    cfg = parse_data_config({"root": str(root), "size": None})
    with pytest.raises(DataError, match="does not overlap") as err:
        build_dataset(cfg)
    text = str(err.value)
    assert "imagesTr/c1.nii.gz" in text and "labelsTr/c1.nii.gz" in text


def test_training_slices_get_labels_on_the_right_rows(tmp_path: Path) -> None:
    """DICOM layout with a label stored flipped along y: the masks follow the geometry."""
    from genodsl.data import build_dataset

    root = tmp_path / "dcm"
    write_series(root / "images" / "pat1", volume())
    d = np.asarray(ROT).reshape(3, 3)
    o = np.asarray(ORIGIN) + d[:, 1] * SPACING[1] * (SHAPE[1] - 1)
    write(root / "labels" / "pat1.nii.gz", blob_label()[:, ::-1].copy(), origin=tuple(o),
          direction=tuple((d @ np.diag([1.0, -1.0, 1.0])).ravel()))
    ds = build_dataset(parse_data_config({"root": str(root), "size": None}))
    assert len(ds) == SHAPE[0]
    for k in range(SHAPE[0]):
        assert np.array_equal(ds[k]["mask"].numpy(), blob_label()[k])


@pytest.fixture(scope="module")
def volume_run(tmp_path_factory) -> Path:
    """A 1-epoch U-Net trained on a tiny Decathlon-style NIfTI folder (16 px slices)."""
    from genodsl.cli import main

    root = tmp_path_factory.mktemp("vol")
    for i in range(2):
        write(root / "msd" / "imagesTr" / f"c{i}.nii.gz", volume() + 50 * i)
        write(root / "msd" / "labelsTr" / f"c{i}.nii.gz", blob_label())
    try:
        main(["train", "--baseline", "unet_small", "--data", str(root / "msd"), "--out",
              str(root / "run"), "--epochs", "1", "--set", "data.size=16", "--set",
              "train.batch_size=4", "--set", "train.count_flops=false", "--no-progress"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return root / "run"


@pytest.mark.parametrize("kind", [".nii.gz", ".nrrd", ".mhd", "dicom"])
def test_predict_writes_a_label_with_the_input_geometry(volume_run: Path, tmp_path: Path,
                                                        cli, kind: str) -> None:
    if kind == "dicom":
        scan = write_series(tmp_path / "series", volume())
    else:
        scan = write(tmp_path / f"scan{kind}", volume())
    code, out, err = cli("predict", volume_run, scan, "--out", tmp_path / "pred")
    assert code == 0, err
    name = "series_seg.nii.gz" if kind == "dicom" else f"scan_seg{kind}"
    assert sorted(p.name for p in (tmp_path / "pred").iterdir()
                  if not p.name.endswith((".raw", ".zraw"))) == [name]
    _, in_grid = geo.read_with_geometry(scan)
    label, grid = geo.read_with_geometry(tmp_path / "pred" / name)
    assert label.shape == SHAPE and label.dtype == np.uint8 and set(np.unique(label)) <= {0, 1}
    assert grid.shape == in_grid.shape
    assert grid.spacing == pytest.approx(in_grid.spacing, abs=1e-6)
    assert grid.origin == pytest.approx(in_grid.origin, abs=1e-5)
    assert grid.direction == pytest.approx(in_grid.direction, abs=1e-6)


def test_predict_format_nifti_and_clashing_names(volume_run: Path, tmp_path: Path, cli) -> None:
    scan = write(tmp_path / "scan.nrrd", volume())
    code, _, err = cli("predict", volume_run, scan, "--out", tmp_path / "p", "--format", "nifti")
    assert code == 0, err
    _, grid = geo.read_with_geometry(tmp_path / "p" / "scan_seg.nii.gz")
    assert_grid(grid)
    other = write(tmp_path / "scan.mhd", volume())
    code, _, err = cli("predict", volume_run, scan, other, "--out", tmp_path / "q",
                       "--format", "nifti")
    assert code == 2 and "scan_seg.nii.gz" in err and "Traceback" not in err
    assert not (tmp_path / "q").exists()


@pytest.mark.skipif(not (SHARED_CT / "dicom").is_dir(), reason="shared volumes not present")
def test_shared_dicom_label_is_resampled_the_right_way_up() -> None:
    """seg.nii.gz is stored flipped along y relative to the series: its liver (label 5) must
    land at the same physical place on the series grid, not mirrored."""
    image, grid = geo.read_with_geometry(SHARED_CT / "dicom")
    label, label_grid = geo.read_with_geometry(SHARED_CT / "seg.nii.gz")
    aligned = geo.align_label(label, label_grid, grid, label_file="seg", image_file="dicom")
    assert aligned.shape == image.shape
    truth = label_grid.to_physical(np.argwhere(label == 5)).mean(axis=0)
    ours = grid.to_physical(np.argwhere(aligned == 5)).mean(axis=0)
    assert np.allclose(ours, truth, atol=0.5)
    naive = grid.to_physical(np.argwhere(label == 5)).mean(axis=0)  # ignoring the direction
    assert abs(naive[1] - truth[1]) > 20  # the mirrored liver would be centimetres off
