"""The real ISBI 2012 EM stack (30 PNG slices, masks 0/255); skipped when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genodsl.data import (Layout, build_dataset, build_datasets, detect_layout,
                          parse_data_config)
from genodsl.errors import DataError

EM = Path(__file__).resolve().parents[2].parent / "shared/data/em-membrane"

pytestmark = pytest.mark.skipif(not (EM / "images").is_dir(),
                                reason=f"EM membrane data not found at {EM}")


def test_em_stack_contiguous_split(tmp_path: Path) -> None:
    assert detect_layout(EM) is Layout.FOLDER
    cfg = parse_data_config({"root": str(EM), "class_map": {0: 0, 255: 1}, "size": 64,
                             "split": {"mode": "contiguous", "val_count": 6},
                             "augment": {"enabled": False}})
    train, val = build_datasets(cfg, tmp_path)
    assert len(train) == 24 and len(val) == 6
    assert val.cases == ["24", "25", "26", "27", "28", "29"]
    assert not set(train.cases) & set(val.cases)
    assert (tmp_path / "split.json").is_file()
    s = train[0]
    assert s["image"].shape == (1, 64, 64) and s["mask"].shape == (64, 64)
    assert set(s["mask"].unique().tolist()) == {0, 1}
    membrane = torch.stack([train[i]["mask"] for i in range(len(train))]).eq(0).float().mean()
    assert 0.12 < membrane.item() < 0.35  # about 22 % of pixels are membrane (0)


def test_em_0_255_masks_read_as_two_classes_without_a_class_map() -> None:
    ds = build_dataset(parse_data_config({"root": str(EM), "size": 32}))
    values = set(torch.unique(ds[0]["mask"]).tolist())
    assert values == {0, 1}  # 255 (cell interior) -> 1, membrane -> 0


def test_em_masks_with_three_classes_need_a_class_map() -> None:
    with pytest.raises(DataError) as err:
        build_dataset(parse_data_config({"root": str(EM), "size": 32, "num_classes": 3}))
    text = str(err.value)
    assert "masks/00.png" in text and "[255]" in text and "class_map" in text
