"""train / evaluate / predict / export / compare through the CLI, on tiny synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"
TINY = ["--set", "data.size=32", "--set", "data.synthetic.n_images=8",
        "--set", "train.batch_size=4", "--set", "train.count_flops=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny NASUNET run and one tiny U-Net run (1 epoch each; the U-Net's of 3 steps)."""
    from genodsl.cli import main

    root = tmp_path_factory.mktemp("runs")
    for args in (["train", str(GENOTYPES / "nasunet.geno"), "-n", "nasunet_tiny"],
                 ["train", "--baseline", "unet_small", "--steps-per-epoch", "3",
                  "--set", "train.log_every=1"]):
        out = root / ("geno" if "-n" in args else "unet")
        try:
            main(args + ["--data", "synthetic", "--out", str(out), "--epochs", "1"] + TINY)
        except SystemExit as exc:
            assert exc.code in (0, None)
    return root


def test_train_writes_a_run_folder(trained):
    run = trained / "geno"
    for name in ("config.yaml", "log.jsonl", "summary.json", "split.json",
                 "checkpoints/last.pt", "model.safetensors"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed"
    assert 0.0 <= summary["dsc"] <= 1.0


def test_steps_per_epoch_from_the_command_line(trained):
    import yaml

    run = trained / "unet"
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert config["train"]["steps_per_epoch"] == 3
    steps = [json.loads(x) for x in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["step"] for r in steps if r["kind"] == "step"] == [1, 2, 3]


def test_evaluate_on_a_folder(trained, tmp_path, cli):
    from genodsl.data.synthetic import SyntheticSpec, write_folder

    write_folder(tmp_path / "test", 3, SyntheticSpec(size=(40, 40), seed=9))
    code, out, err = cli("evaluate", trained / "geno", "--data", tmp_path / "test",
                         "--out", tmp_path / "eval")
    assert code == 0, err
    assert "(3 images" in out
    rows = (tmp_path / "eval" / "per_case.csv").read_text(encoding="utf-8").strip().splitlines()
    assert len(rows) == 1 + 3  # header + one row per case (an image each)


def test_predict_writes_masks_at_the_input_size(trained, tmp_path, cli):
    from PIL import Image

    from genodsl.data.synthetic import SyntheticSpec, write_folder

    write_folder(tmp_path / "in", 1, SyntheticSpec(size=(40, 48), seed=2))
    image = next((tmp_path / "in" / "images").iterdir())
    code, out, err = cli("predict", trained / "geno", image, "--out", tmp_path / "p")
    assert code == 0, err
    mask = Image.open(tmp_path / "p" / f"{image.stem}_mask.png")
    assert mask.size == (48, 40)  # PIL: (width, height)
    assert Image.open(tmp_path / "p" / f"{image.stem}_overlay.png").size == (48, 40)


def test_export_pt2_matches(trained, tmp_path, cli):
    code, out, err = cli("export", trained / "geno", "--format", "pt2", "--out",
                         tmp_path / "m.pt2")
    assert code == 0, err
    assert (tmp_path / "m.pt2").is_file() and "max |diff|" in out


def test_compare_lists_both_runs(trained, cli):
    code, out, err = cli("compare", trained / "geno", trained / "unet")
    assert code == 0, err
    assert "geno" in out and "unet" in out and "completed" in out
    assert "DSC per class" in out and "0:" in out and "1:" in out


def test_train_refuses_to_overwrite_a_run(trained, cli):
    code, _, err = cli("train", "--baseline", "unet_small", "--data", "synthetic", "--out",
                       trained / "unet", *TINY)
    assert code == 2 and "already holds a run" in err


def test_train_needs_a_model(cli, tmp_path):
    code, _, err = cli("train", "--data", "synthetic", "--out", tmp_path / "r", *TINY)
    assert code == 2 and "--baseline" in err and "Traceback" not in err


def test_train_missing_data_folder(cli, tmp_path):
    code, _, err = cli("train", "--baseline", "unet_small", "--data", tmp_path / "nope",
                       "--out", tmp_path / "r", *TINY)
    assert code == 2 and "nope" in err and "Traceback" not in err


def test_train_typo_in_override(cli, tmp_path):
    code, _, err = cli("train", "--baseline", "unet_small", "--data", "synthetic", "--out",
                       tmp_path / "r", "--set", "train.epohcs=3")
    assert code == 2 and "did you mean 'epochs'" in err


def test_train_rejects_a_search_space(cli, tmp_path):
    code, _, err = cli("train", GENOTYPES / "nasunet_space.geno", "-n", "nasunet_search_tiny",
                       "--data", "synthetic", "--out", tmp_path / "r", *TINY)
    assert code == 2 and "search space" in err


def test_evaluate_on_the_runs_own_validation_cases(trained, tmp_path, cli):
    split = json.loads((trained / "geno" / "split.json").read_text(encoding="utf-8"))
    code, out, err = cli("evaluate", trained / "geno", "--out", tmp_path / "ev")
    assert code == 0, err
    assert f"its val cases ({len(split['val'])} images" in out
    rows = (tmp_path / "ev" / "per_case.csv").read_text(encoding="utf-8").strip().splitlines()[1:]
    assert len(rows) == len(split["val"])


def test_evaluate_and_predict_compiled_channels_last_match_eager(trained, tmp_path, cli,
                                                                  monkeypatch):
    """``--set train.compile=true`` (traced with aot_eager here) and channels-last change how
    evaluate and predict run, not what they write."""
    import numpy as np
    import torch
    from PIL import Image
    from torch._dynamo.utils import counters

    from genodsl.data.synthetic import SyntheticSpec, write_folder
    from genodsl.runtime import compiling

    monkeypatch.setenv(compiling.BACKEND_ENV, "aot_eager")
    monkeypatch.setenv(compiling.CACHE_ENV, str(tmp_path / "cache"))
    write_folder(tmp_path / "test", 2, SyntheticSpec(size=(40, 40), seed=5))
    fast = ["--set", "train.compile=true", "--set", "runtime.channels_last=true"]
    metrics = {}
    graphs = {}
    for name, extra in (("eager", []), ("fast", fast)):
        torch._dynamo.reset()
        counters.clear()
        code, _, err = cli("evaluate", trained / "geno", "--data", tmp_path / "test",
                           "--out", tmp_path / name, *extra)
        assert code == 0, err
        metrics[name] = json.loads((tmp_path / name / "metrics.json").read_text("utf-8"))
        image = next((tmp_path / "test" / "images").iterdir())
        code, _, err = cli("predict", trained / "geno", image, "--out", tmp_path / f"p_{name}",
                           "--no-overlay", *extra)
        assert code == 0, err
        graphs[name] = counters["stats"]["unique_graphs"]
    torch._dynamo.reset()
    assert graphs["eager"] == 0 and graphs["fast"] >= 1  # only the fast run compiled
    assert metrics["fast"]["dsc"] == pytest.approx(metrics["eager"]["dsc"], abs=1e-6)
    assert metrics["fast"]["dsc_per_class"] == pytest.approx(metrics["eager"]["dsc_per_class"],
                                                             abs=1e-6)
    masks = [sorted((tmp_path / f"p_{n}").glob("*.png")) for n in ("eager", "fast")]
    assert masks[0] and [m.name for m in masks[0]] == [m.name for m in masks[1]]
    for a, b in zip(*masks):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))), a.name
