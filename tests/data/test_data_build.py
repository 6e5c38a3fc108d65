"""Entry points: load_input preprocesses like training and restores original geometry."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from torch.utils.data import DataLoader

from genodsl.data import build_dataset, build_datasets, load_input, parse_data_config
from genodsl.errors import DataError


def test_load_input_2d_matches_dataset_preprocessing(folder_data) -> None:
    root = folder_data(n=2, size=(12, 16))
    cfg = parse_data_config({"root": str(root), "class_map": {0: 0, 255: 1}, "size": (8, 8),
                             "clahe": True})
    inp = load_input(root / "images" / "img01.png", cfg)
    assert inp.images.shape == (1, 1, 8, 8) and inp.images.dtype == torch.float32
    assert inp.names == ("img01",) and inp.original_shape == (12, 16)
    assert torch.allclose(inp.images[0], build_dataset(cfg)[1]["image"])
    restored = inp.restore(torch.ones(1, 8, 8, dtype=torch.long))
    assert restored.shape == (12, 16) and restored.dtype == np.uint8 and restored.min() == 1


def test_load_input_volume_and_restore(nifti_data: Path) -> None:
    cfg = parse_data_config({"root": str(nifti_data), "size": (16, 16)})
    inp = load_input(nifti_data / "imagesTr" / "prostate_00.nii.gz", cfg)
    assert inp.images.shape == (3, 1, 16, 16)
    assert inp.original_shape == (3, 8, 10) and inp.names[0] == "prostate_00_z000"
    labels = torch.zeros(3, 16, 16, dtype=torch.long)
    labels[:, :, 8:] = 1
    restored = inp.restore(labels)
    assert restored.shape == (3, 8, 10)
    assert (restored[:, :, 5:] == 1).all() and (restored[:, :, :5] == 0).all()
    with pytest.raises(ValueError, match="expected labels"):
        inp.restore(labels[:2])


def test_load_input_tiff_stack_other_axis(tmp_path: Path) -> None:
    stack = np.random.default_rng(0).integers(0, 255, (4, 6, 9), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    cfg = parse_data_config({"root": str(tmp_path), "size": None, "normalize": "none",
                             "slice_axis": "y"})
    inp = load_input(tmp_path / "stack.tif", cfg)
    assert inp.images.shape == (6, 1, 4, 9)
    assert torch.equal(inp.images[2, 0], torch.from_numpy(stack[:, 2, :].astype(np.float32)))
    assert inp.restore(torch.zeros(6, 4, 9, dtype=torch.long)).shape == (4, 6, 9)


def test_load_input_errors(tmp_path: Path) -> None:
    cfg = parse_data_config({"root": str(tmp_path)})
    with pytest.raises(DataError, match="input not found"):
        load_input(tmp_path / "missing.png", cfg)
    (tmp_path / "a.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match="unknown file type '.gif'"):
        load_input(tmp_path / "a.gif", cfg)


def test_dataloader_batches_the_contract_with_workers() -> None:
    cfg = parse_data_config({"layout": "synthetic", "size": 32, "synthetic": {"n_images": 8},
                             "split": {"val_count": 2}, "augment": {"rot90": True}})
    train, val = build_datasets(cfg)
    pickle.loads(pickle.dumps(train))  # spawn-based workers pickle the dataset
    torch.manual_seed(0)
    batches = list(DataLoader(train, batch_size=3, shuffle=True, num_workers=2))
    assert [b["image"].shape[0] for b in batches] == [3, 3]
    batch = batches[0]
    assert batch["image"].shape == (3, 1, 32, 32) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (3, 32, 32) and batch["mask"].dtype == torch.int64
    assert len(batch["name"]) == 3 and isinstance(batch["case"][0], str)
    assert len(val) == 2


def test_layout_hint_when_a_named_layout_does_not_fit(folder_data) -> None:
    root = folder_data(n=1)
    with pytest.raises(DataError, match="imagesTr/ folder not found") as err:
        build_dataset(parse_data_config({"root": str(root), "layout": "nifti"}))
    assert "the nifti layout is root/imagesTr" in str(err.value)
