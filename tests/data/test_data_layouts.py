"""Layouts: discovery, the sample contract for each format, and bad-data errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from genodsl.data import (DataConfig, Layout, build_dataset, build_datasets,
                          detect_layout, parse_data_config)
from genodsl.errors import DataError

RAW = {"size": None, "normalize": "none", "augment": {"enabled": False}}


def cfg(root: Path, **kw) -> DataConfig:
    return parse_data_config({"root": str(root), **RAW, **kw})


def check_contract(sample: dict, channels: int, hw: tuple[int, int]) -> None:
    assert set(sample) == {"image", "mask", "name", "case"}
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (channels, *hw)
    assert sample["mask"].dtype == torch.int64 and sample["mask"].shape == hw
    assert isinstance(sample["name"], str) and isinstance(sample["case"], str)


def test_folder_png_with_class_map(folder_data) -> None:
    root = folder_data(n=4, size=(12, 16))
    ds = build_dataset(cfg(root, class_map={0: 0, 255: 1}))
    assert len(ds) == 4 and ds.names == ["img00", "img01", "img02", "img03"]
    assert ds.cases == ds.names  # each image is its own case
    for s in ds:
        check_contract(s, 1, (12, 16))
        assert torch.equal(s["mask"], (s["image"][0] > 127).long())


def test_folder_tiff_images_with_png_masks(tmp_path: Path, w) -> None:
    img = np.arange(12 * 16, dtype=np.uint16).reshape(12, 16)
    (tmp_path / "d" / "images").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "d" / "images" / "a.tif", img)
    w.png(tmp_path / "d" / "masks" / "a.png", (img > 100).astype(np.uint8))
    s = build_dataset(cfg(tmp_path / "d"))[0]
    check_contract(s, 1, (12, 16))
    assert torch.equal(s["image"][0], torch.from_numpy(img.astype(np.float32)))
    assert int(s["mask"].sum()) == int((img > 100).sum())


def test_rgb_images_converted_to_in_channels(folder_data) -> None:
    root = folder_data(n=2, rgb=True)
    rgb = build_dataset(cfg(root, class_map={0: 0, 255: 1}, in_channels=3))[0]
    gray = build_dataset(cfg(root, class_map={0: 0, 255: 1}, in_channels=1))[0]
    check_contract(rgb, 3, (12, 16))
    check_contract(gray, 1, (12, 16))
    luma = 0.299 * rgb["image"][0] + 0.587 * rgb["image"][1] + 0.114 * rgb["image"][2]
    assert torch.allclose(gray["image"][0], luma, atol=1e-3)


def test_gray_images_repeated_for_three_channels(folder_data) -> None:
    s = build_dataset(cfg(folder_data(n=2), class_map={0: 0, 255: 1}, in_channels=3))[0]
    assert torch.equal(s["image"][0], s["image"][1]) and torch.equal(s["image"][1], s["image"][2])


def test_nested_case_folders_and_mask_suffix(folder_data) -> None:
    root = folder_data(n=4, nested=True, mask_suffix="_mask")
    ds = build_dataset(cfg(root, class_map={0: 0, 255: 1}, mask_suffix="_mask"))
    assert ds.names == ["case0/s0", "case0/s1", "case1/s0", "case1/s1"]
    assert [s["case"] for s in ds] == ["case0", "case0", "case1", "case1"]


def test_case_pattern_groups_slices(tmp_path: Path, w) -> None:
    for pat in ("p1", "p2"):
        for k in range(3):
            img = np.full((6, 6), 10 * k, np.uint8)
            w.png(tmp_path / "d" / "images" / f"{pat}_slice{k}.png", img)
            w.png(tmp_path / "d" / "masks" / f"{pat}_slice{k}.png", np.zeros((6, 6), np.uint8))
    ds = build_dataset(cfg(tmp_path / "d", case_pattern=r"^(?P<case>p\d+)_"))
    assert ds.cases == ["p1", "p2"] and len(ds) == 6


def test_nifti_layout_slices_along_z(nifti_data: Path, w) -> None:
    ds = build_dataset(cfg(nifti_data))
    assert len(ds) == 6 and ds.cases == ["prostate_00", "prostate_01"]
    assert ds.names[:3] == ["prostate_00_z000", "prostate_00_z001", "prostate_00_z002"]
    vol = w.volume((3, 8, 10))
    for k in range(3):
        s = ds[k]
        check_contract(s, 1, (8, 10))
        assert torch.equal(s["image"][0], torch.from_numpy(vol[k].astype(np.float32)))
        assert s["mask"][:, 5:].eq(1).all() and s["mask"][:, :5].eq(0).all()


def test_nifti_layout_other_slice_axis(nifti_data: Path) -> None:
    ds = build_dataset(cfg(nifti_data, slice_axis="x"))
    assert len(ds) == 20  # 10 columns per case
    s = ds[6]  # case 0, x = 6: a (Z, Y) = (3, 8) slice, all label 1
    check_contract(s, 1, (3, 8))
    assert s["name"] == "prostate_00_x006" and s["mask"].eq(1).all()
    assert s["image"][0, 2, 7].item() == 200 + 70 + 6


def test_mhd_layout(mhd_data: Path) -> None:
    ds = build_dataset(cfg(mhd_data))
    assert ds.cases == ["Case00", "Case01"] and len(ds) == 6
    s = ds[1]
    check_contract(s, 1, (8, 10))
    assert s["mask"][4:].eq(1).all() and s["mask"][:4].eq(0).all()
    assert s["image"][0, 3, 9].item() == 100 + 30 + 9


def test_dicom_layout(dicom_data: Path) -> None:
    ds = build_dataset(cfg(dicom_data))
    assert ds.cases == ["pat1", "pat2"] and len(ds) == 6
    masks = [ds[k]["mask"] for k in range(3)]
    assert masks[0].eq(0).all() and masks[1].eq(1).all() and masks[2].eq(1).all()
    for k in range(3):  # slices come back in z order although file names are reversed
        check_contract(ds[k], 1, (8, 10))
        assert ds[k]["image"][0, 0, 0].item() == 100 * k


@pytest.mark.parametrize("fixture,layout", [("nifti_data", Layout.NIFTI),
                                            ("mhd_data", Layout.MHD),
                                            ("dicom_data", Layout.DICOM)])
def test_auto_detection(request, fixture: str, layout: Layout) -> None:
    assert detect_layout(request.getfixturevalue(fixture)) is layout


def test_auto_detects_folder(folder_data) -> None:
    assert detect_layout(folder_data(n=1)) is Layout.FOLDER


def test_resize_to_target_size(nifti_data: Path) -> None:
    ds = build_dataset(cfg(nifti_data, size=(16, 20)))
    s = ds[0]
    check_contract(s, 1, (16, 20))
    assert set(s["mask"].unique().tolist()) == {0, 1}
    assert s["mask"][:, 10:].eq(1).all() and s["mask"][:, :10].eq(0).all()


def test_lazy_mode_gives_the_same_samples(nifti_data: Path) -> None:
    eager = build_dataset(cfg(nifti_data))
    lazy = build_dataset(cfg(nifti_data, cache=False, check_files=False))
    assert len(lazy) == len(eager)
    for i in (0, 4, 2):
        assert torch.equal(lazy[i]["image"], eager[i]["image"])
        assert torch.equal(lazy[i]["mask"], eager[i]["mask"])


# ------------------------------------------------------------------------------ bad data


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data root not found") as err:
        build_dataset(cfg(tmp_path / "nowhere"))
    assert "nowhere" in str(err.value)


def test_unrecognised_layout(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DataError, match="cannot recognise the data layout") as err:
        build_dataset(cfg(tmp_path))
    assert "stuff/" in str(err.value) and "imagesTr" in str(err.value)


def test_empty_images_folder(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(DataError, match="holds no") as err:
        build_dataset(cfg(tmp_path))
    assert "images" in str(err.value)


def test_images_without_masks_are_listed(folder_data) -> None:
    root = folder_data(n=4)
    (root / "masks" / "img01.png").unlink()
    (root / "masks" / "img03.png").rename(root / "masks" / "other.png")
    with pytest.raises(DataError) as err:
        build_dataset(cfg(root, class_map={0: 0, 255: 1}))
    text = str(err.value)
    assert "2 images have no mask: img01, img03" in text
    assert "1 mask has no image: other" in text


def test_unknown_suffix_in_images_folder(folder_data) -> None:
    root = folder_data(n=2)
    (root / "images" / "notes.docx").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="1 file of unknown type: notes.docx"):
        build_dataset(cfg(root, class_map={0: 0, 255: 1}))


def test_size_mismatch_names_both_files(folder_data, w) -> None:
    root = folder_data(n=2)
    w.png(root / "masks" / "img01.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(DataError, match="same size") as err:
        build_dataset(cfg(root, class_map={0: 0, 255: 1}))
    assert "images/img01.png" in str(err.value) and "masks/img01.png" in str(err.value)


def test_mask_values_outside_class_map(folder_data, w) -> None:
    root = folder_data(n=3)
    w.png(root / "masks" / "img02.png", np.full((12, 16), 128, np.uint8))
    with pytest.raises(DataError) as err:
        build_dataset(cfg(root, class_map={0: 0, 255: 1}))
    text = str(err.value)
    assert "masks/img02.png" in text and "[128]" in text and "not in the class map" in text
    assert "img00" not in text  # only the bad file is reported


def test_corrupt_image_in_dataset(folder_data) -> None:
    root = folder_data(n=2)
    (root / "images" / "img00.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read file") as err:
        build_dataset(cfg(root, class_map={0: 0, 255: 1}))
    assert "img00.png" in str(err.value)


def test_all_bad_files_reported_together(folder_data) -> None:
    root = folder_data(n=3)
    for name in ("img00.png", "img02.png"):
        (root / "images" / name).write_bytes(b"garbage")
    with pytest.raises(DataError) as err:
        build_dataset(cfg(root, class_map={0: 0, 255: 1}))
    assert len(err.value.errors) == 2
    assert "img00.png" in str(err.value) and "img02.png" in str(err.value)


def test_volume_and_label_shape_mismatch(nifti_data: Path, w) -> None:
    w.nifti(nifti_data / "labelsTr" / "prostate_01.nii.gz", np.zeros((3, 8, 9), np.uint8))
    with pytest.raises(DataError, match="differs from its label") as err:
        build_dataset(cfg(nifti_data))
    assert "prostate_01.nii.gz" in str(err.value)


def test_mhd_without_segmentation(mhd_data: Path) -> None:
    (mhd_data / "Case01_segmentation.mhd").unlink()
    with pytest.raises(DataError, match="1 image has no segmentation: Case01"):
        build_dataset(cfg(mhd_data))


def test_different_sizes_without_resize(folder_data, w) -> None:
    root = folder_data(n=2)
    w.png(root / "images" / "big.png", np.zeros((20, 20), np.uint8))
    w.png(root / "masks" / "big.png", np.zeros((20, 20), np.uint8))
    with pytest.raises(DataError, match="set data.size"):
        build_dataset(cfg(root, class_map={0: 0, 255: 1}))


def test_bad_data_leaves_no_split_file(folder_data, tmp_path: Path, w) -> None:
    root = folder_data(n=4)
    w.png(root / "masks" / "img02.png", np.full((12, 16), 7, np.uint8))
    run = tmp_path / "run"
    with pytest.raises(DataError):
        build_datasets(cfg(root, class_map={0: 0, 255: 1}), run)
    assert not (run / "split.json").exists()
