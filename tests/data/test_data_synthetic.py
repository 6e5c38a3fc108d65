"""Synthetic data: deterministic, fast, multi-class, and writable in the folder layout."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from genodsl.data import (SyntheticDataset, SyntheticSpec, build_dataset, generate,
                          parse_data_config, write_folder)
from genodsl.errors import DataError


def test_same_seed_same_images_any_order() -> None:
    spec = SyntheticSpec(size=(32, 40), num_classes=3, seed=5)
    a = [generate(i, spec) for i in range(5)]
    b = [generate(i, spec) for i in reversed(range(5))][::-1]
    for (ia, ma), (ib, mb) in zip(a, b):
        assert np.array_equal(ia, ib) and np.array_equal(ma, mb)
    other = generate(0, SyntheticSpec(size=(32, 40), num_classes=3, seed=6))
    assert not np.array_equal(a[0][0], other[0])


def test_shapes_types_and_classes() -> None:
    spec = SyntheticSpec(size=(24, 32), num_classes=4, channels=3, seed=0)
    image, mask = generate(0, spec)
    assert image.shape == (24, 32, 3) and image.dtype == np.uint8
    assert mask.shape == (24, 32) and mask.dtype == np.uint8
    labels = set(np.unique(np.concatenate([generate(i, spec)[1].ravel() for i in range(20)])))
    assert labels == {0, 1, 2, 3}


def test_dataset_contract_and_speed() -> None:
    start = time.perf_counter()
    ds = SyntheticDataset(64, (64, 64), num_classes=2, seed=0)
    samples = [ds[i] for i in range(len(ds))]
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"64 synthetic images took {elapsed:.2f} s"
    s = samples[0]
    assert s["image"].shape == (1, 64, 64) and s["image"].dtype == torch.float32
    assert s["mask"].shape == (64, 64) and s["mask"].dtype == torch.int64
    assert s["name"] == s["case"] == "synth_0000"
    assert all(x["mask"].max() >= 1 for x in samples)  # every image has a shape
    again = SyntheticDataset(64, (64, 64), num_classes=2, seed=0)[0]
    assert torch.equal(again["image"], s["image"]) and torch.equal(again["mask"], s["mask"])


def test_image_intensity_follows_the_mask() -> None:
    image, mask = generate(1, SyntheticSpec(size=(64, 64), num_classes=2, noise=0.02))
    assert image[mask == 1].mean() > image[mask == 0].mean() + 60


def test_written_folder_reads_back_as_the_same_data(tmp_path: Path) -> None:
    spec = SyntheticSpec(size=(32, 32), num_classes=3, seed=2)
    root = write_folder(tmp_path / "demo", 6, spec)
    assert sorted(p.name for p in (root / "images").iterdir())[:2] == ["0000.png", "0001.png"]
    cfg = parse_data_config({"root": str(root), "num_classes": 3, "size": None,
                             "normalize": "none"})
    ds = build_dataset(cfg)
    assert len(ds) == 6
    for i in range(6):
        image, mask = generate(i, spec)
        assert torch.equal(ds[i]["mask"], torch.from_numpy(mask.astype(np.int64)))
        assert torch.equal(ds[i]["image"][0], torch.from_numpy(image.astype(np.float32)))
    with pytest.raises(DataError, match="already holds data"):
        write_folder(root, 2, spec)
    write_folder(root, 2, spec, overwrite=True)


def test_synthetic_layout_from_config() -> None:
    cfg = parse_data_config({"layout": "synthetic", "num_classes": 3, "in_channels": 3,
                             "size": [48, 40], "synthetic": {"n_images": 5, "size": 32}})
    ds = build_dataset(cfg)
    assert len(ds) == 5
    assert ds[0]["image"].shape == (3, 48, 40) and ds[0]["mask"].shape == (48, 40)
    assert int(ds[0]["mask"].max()) <= 2
