"""3D samples for dims = 3 networks: whole volumes preprocessed as one sample, random 3D
patches for training (padded when the volume is smaller), a pure function of the seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genodsl.data.build import build_dataset, build_datasets, load_input
from genodsl.data.config import parse_data_config
from genodsl.errors import ConfigError

sitk = pytest.importorskip("SimpleITK")


def _folder(root: Path, shape=(8, 16, 16), n: int = 2) -> Path:
    rng = np.random.default_rng(1)
    for sub in ("imagesTr", "labelsTr"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        label = np.zeros(shape, np.uint8)
        label[2:5, 3:9, 4:10] = 7
        image = (rng.normal(100, 20, shape) + 50 * (label > 0)).astype(np.float32)
        for array, sub in ((image, "imagesTr"), (label, "labelsTr")):
            img = sitk.GetImageFromArray(array)
            img.SetSpacing((0.5, 0.75, 3.0))
            sitk.WriteImage(img, str(root / sub / f"v{i}.nii.gz"))
    return root


def _cfg(root: Path, **extra):
    return parse_data_config({"root": str(root), "class_map": {0: 0, 7: 1},
                              "split": {"val_count": 1, "mode": "contiguous"}, **extra})


def test_a_volume_is_one_normalised_sample_with_its_spacing(tmp_path):
    ds = build_dataset(_cfg(_folder(tmp_path)), dims=3)
    assert len(ds) == 2 and ds.cases == ["v0", "v1"]
    sample = ds[0]
    assert sample["image"].shape == (1, 8, 16, 16) and sample["image"].dtype == torch.float32
    assert sample["mask"].shape == (8, 16, 16) and set(sample["mask"].unique().tolist()) == {0, 1}
    assert abs(float(sample["image"].mean())) < 1e-4  # z-score over the volume
    assert abs(float(sample["image"].std(unbiased=False)) - 1) < 1e-3
    assert ds.case_spacing("v0") == (3.0, 0.75, 0.5)  # (z, y, x) mm


def test_training_patches_are_padded_and_a_pure_function_of_the_seed(tmp_path):
    cfg = _cfg(_folder(tmp_path, shape=(4, 16, 16)), patch=(6, 8, 8))
    train, val = build_datasets(cfg, dims=3)
    assert len(train) == 4 and len(val) == 1  # 4 patches per volume and epoch; whole volumes
    assert val[0]["image"].shape == (1, 4, 16, 16)
    train.set_epoch(3)
    a, b = train[1], train[1]
    assert a["image"].shape == (1, 6, 8, 8) and a["mask"].shape == (6, 8, 8)  # D padded 4 → 6
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    train.set_epoch(4)
    draws = [train[i]["image"] for i in range(4)]
    assert any(not torch.equal(draws[0], d) for d in draws[1:])
    assert all(bool((train[i]["mask"] >= 0).all()) for i in range(4))


def test_a_3d_network_predicts_a_whole_volume(tmp_path):
    root = _folder(tmp_path)
    item = load_input(root / "imagesTr" / "v0.nii.gz", _cfg(root), dims=3)
    assert item.images.shape == (1, 1, 8, 16, 16) and item.original_shape == (8, 16, 16)
    labels = torch.zeros(1, 8, 16, 16, dtype=torch.long)
    labels[0, 1, 2, 3] = 1
    restored = item.restore(labels)
    assert restored.shape == (8, 16, 16) and restored[1, 2, 3] == 1


def test_patch_sides_must_match_the_network(tmp_path):
    root = _folder(tmp_path)
    with pytest.raises(ConfigError, match=r"data.patch = \[8, 8\].*\[d, h, w\]"):
        build_datasets(_cfg(root, patch=(8, 8)), dims=3)
    with pytest.raises(ConfigError, match=r"2D \(dims = 2\)"):
        build_datasets(_cfg(root, patch=(4, 8, 8)), dims=2)
