"""evaluate (CSV + JSON), predict (PNG masks, overlays) and compare (rows + table)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from torch import nn

from genodsl.errors import CheckpointError, DataError
from genodsl.train.compare import compare_runs, render_comparison
from genodsl.train.evaluate import evaluate, render_eval
from genodsl.train.predict import predict, safe_name, write_predictions


class Threshold(nn.Module):
    """Predicts foreground where the first channel exceeds ``t`` (the tiny set's own rule)."""

    def __init__(self, t: float = 0.6):
        super().__init__()
        self.t = t
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        fg = (x[:, :1] > self.t).float()
        return torch.cat([1 - fg, fg], dim=1) + 0 * self.dummy


def _render(table) -> str:
    console = Console(file=io.StringIO(), width=140)
    console.print(table)
    return console.file.getvalue()


def test_evaluate_writes_per_case_csv_and_summary(tmp_path, dataset_cls):
    data = dataset_cls(6, empty_every=3)  # images 0 and 3 have empty masks
    result = evaluate(Threshold(), data, num_classes=2, class_names=["bg", "fg"],
                      device="cpu", out_dir=tmp_path)
    with (tmp_path / "per_case.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["case"] for r in rows] == ["case0", "case1", "case2"]  # 2 slices per case
    assert list(rows[0])[:6] == ["case", "slices", "shape", "spacing", "unit", "pixel_accuracy"]
    assert {"dsc_fg", "hd95_fg", "asd_fg", "nsd_fg"} <= set(rows[0])
    assert all(r["slices"] == "2" and r["shape"] == "2x16x16" and r["unit"] == "px"
               for r in rows)
    for r in rows:  # the stacked volumes hold the empty slice's false positives
        assert 0.0 < float(r["dsc_fg"]) <= 1.0
    summary = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert summary == result.summary and summary["cases"] == 3 and summary["images"] == 6
    assert summary["unit"] == "px"
    text = _render(render_eval(result))
    assert "DSC" in text and "fg" in text and "HD95 (px)" in text


def test_predict_writes_masks_and_overlays(tmp_path, dataset_cls):
    data = dataset_cls(3)
    images = [data[i]["image"] for i in range(3)]
    files = predict(Threshold(), images, ["a", "sub/b", "c"], tmp_path, device="cpu")
    assert [f.name for f in files] == ["a", "sub/b", "c"]
    assert files[1].mask.name == "sub_b_mask.png"
    for f, i in zip(files, range(3)):
        raw = np.array(Image.open(f.mask))
        assert np.array_equal(raw, data[i]["mask"].numpy())
        assert set(np.unique(np.array(Image.open(f.view)))) <= {0, 255}
        over = Image.open(f.overlay)
        assert over.mode == "RGB" and over.size == (16, 16)
    assert not list(tmp_path.glob("*.tmp"))


def test_write_predictions_rejects_bad_names(tmp_path):
    masks = [torch.zeros(4, 4, dtype=torch.long)] * 2
    with pytest.raises(DataError, match="unique"):
        write_predictions(masks, ["x/y", "x_y"], tmp_path, num_classes=2)
    with pytest.raises(DataError):
        safe_name("..")
    with pytest.raises(DataError):
        write_predictions(masks, ["a"], tmp_path, num_classes=2)


def _fake_run(root, name, **summary):
    run = root / name
    run.mkdir(parents=True)
    base = {"status": "completed", "dsc": None, "miou": None, "params": None, "flops": None,
            "time_per_epoch_s": None, "peak_memory_mb": None, "best_epoch": None,
            "epochs_completed": 0}
    (run / "summary.json").write_text(json.dumps({**base, **summary}), encoding="utf-8")
    return run


def test_compare_rows_and_table(tmp_path):
    a = _fake_run(tmp_path, "nasunet", dsc=0.85, miou=0.80, params=485746, flops=2.99e9,
                  time_per_epoch_s=12.5, peak_memory_mb=900.0, best_epoch=150,
                  epochs_completed=200)
    b = _fake_run(tmp_path, "unet", dsc=0.83, miou=0.78, params=31_000_000, flops=96.2e9,
                  epochs_completed=200, status="interrupted")
    rows = compare_runs([a, b])
    assert [r.run for r in rows] == ["nasunet", "unet"]
    assert rows[0].dsc == 0.85 and rows[0].params == 485746 and rows[1].status == "interrupted"
    assert rows[1].time_per_epoch_s is None
    text = _render(render_comparison(rows))
    assert "nasunet" in text and "485.75k" in text and "96.20G" in text
    with pytest.raises(CheckpointError, match="summary.json"):
        compare_runs([tmp_path / "missing"])


def test_compare_reads_a_real_run(tmp_path, dataset_cls, make_net):
    from genodsl.config import RuntimeConfig
    from genodsl.train.config import TrainConfig
    from genodsl.train.loop import fit
    fit(make_net(), dataset_cls(4), dataset_cls(4, seed=1),
        config=TrainConfig(epochs=1, batch_size=4), run_dir=tmp_path / "r", num_classes=2,
        runtime=RuntimeConfig(device="cpu", progress=False))
    (row,) = compare_runs([tmp_path / "r"])
    assert row.status == "completed" and row.epochs_completed == 1
    assert row.params is not None and row.flops is not None and row.dsc is not None
