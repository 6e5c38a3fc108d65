"""The README's main job, at a tiny size: every step runs and writes its files; a second
run skips what is done."""

from __future__ import annotations

import json


def test_demo_end_to_end_and_rerun_skips(cli, tmp_path):
    out = tmp_path / "demo"
    args = ("demo", "--out", out, "--images", 8, "--size", 32, "--search-epochs", 1,
            "--train-epochs", 1)
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert (out / "search" / "genotype.geno").is_file()
    for run in ("nasunet", "unet_small"):
        summary = json.loads((out / run / "summary.json").read_text(encoding="utf-8"))
        assert summary["status"] == "completed"
        assert (out / run / "eval" / "per_case.csv").is_file()
    assert "nasunet" in stdout and "unet_small" in stdout and "DSC" in stdout
    before = (out / "nasunet" / "summary.json").stat().st_mtime_ns
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert (out / "nasunet" / "summary.json").stat().st_mtime_ns == before  # not retrained
