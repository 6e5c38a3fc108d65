"""bench/fidelity.py's planning, resume decisions and table (no training: a smoke of the code)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from genodsl.lang.loader import loads

_spec = importlib.util.spec_from_file_location(
    "fidelity", Path(__file__).resolve().parents[1] / "bench" / "fidelity.py")
fidelity = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["fidelity"] = fidelity  # dataclasses look their module up
_spec.loader.exec_module(fidelity)  # type: ignore[union-attr]


def test_the_generated_files_place_the_budgets_c_and_depth() -> None:
    b = fidelity.BUDGETS["standard"]
    space = loads(fidelity.space_text(b.C, b.depth))
    assert space.is_search("fidelity_search")
    net = loads(fidelity.nasunet_text(b.C, b.depth)).network("fidelity_nasunet")
    assert (net.settings.C, net.settings.depth, net.settings.cells) == (b.C, b.depth, "NASUNET")


def test_every_model_trains_with_identical_settings(tmp_path) -> None:
    b = fidelity.BUDGETS["quick"]
    names = fidelity.models(b, gpu=False)
    assert names == ["searched", "nasunet", "unet_small"]
    assert "unet" in fidelity.models(fidelity.BUDGETS["standard"], gpu=True)
    steps = fidelity.train_steps(tmp_path, "DATA", b, names, 3, ["--set", "k=v"])
    tails = set()
    for step in steps:
        argv = list(step.argv)
        tails.add(tuple(argv[argv.index("--data"):]) [:-2])  # all but --out RUN
        assert argv[-2:] == ["--out", str(tmp_path / step.name.split(":")[1])]
    assert len(tails) == 1
    assert {"--epochs", str(b.train_epochs), "--seed", "3", "k=v"} <= set(next(iter(tails)))


def test_search_with_seeds_asks_for_a_selection(tmp_path) -> None:
    b = fidelity.BUDGETS["quick"]
    one = fidelity.search_step(tmp_path, "D", b, 1, 0, [])
    three = fidelity.search_step(tmp_path, "D", b, 3, 0, [])
    assert "--seeds" not in one.argv
    assert three.argv[three.argv.index("--seeds") + 1] == "3"
    assert f"search.select_epochs={b.select_epochs}" in three.argv


def test_finished_steps_are_skipped_and_interrupted_ones_resumed(tmp_path) -> None:
    step = fidelity.train_steps(tmp_path, "D", fidelity.BUDGETS["quick"], ["nasunet"], 0, [])[0]
    assert fidelity.state(step) == "start"
    (step.run / "checkpoints").mkdir(parents=True)
    (step.run / "checkpoints" / "last.pt").write_bytes(b"")
    assert fidelity.state(step) == "resume"
    (step.run / "summary.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    assert fidelity.state(step) == "done"
    ev = fidelity.evaluate_step(step.run)
    assert fidelity.state(ev) == "start"
    ev.run.mkdir()
    (ev.run / "metrics.json").write_text("{}", encoding="utf-8")
    assert fidelity.state(ev) == "done"
    search = fidelity.search_step(tmp_path, "D", fidelity.BUDGETS["quick"], 2, 0, [])
    search.run.mkdir()
    (search.run / "selection.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    assert fidelity.state(search) == "resume"


def test_rows_and_table_come_from_the_run_files(tmp_path) -> None:
    run = tmp_path / "searched"
    (run / "eval").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps(
        {"status": "completed", "params": 123456, "flops": 2.5e9, "time_per_epoch_s": 4.25,
         "epochs_completed": 3}))
    (run / "eval" / "metrics.json").write_text(json.dumps(
        {"dsc": 0.91, "dsc_per_class": {"0": 0.7, "1": 0.91}, "hd95": 3.5, "unit": "px",
         "cases": 6}))
    r = fidelity.row("searched", run, 12.0)
    assert (r["dsc"], r["hd95"], r["params"], r["search_s"]) == (0.91, 3.5, 123456, 12.0)
    assert fidelity.row("unet_small", run, 12.0)["search_s"] is None
    table = fidelity.markdown([r])
    assert "| searched | 0.9100 | 0: 0.700 / 1: 0.910 | 3.50 px | 123.46k | 2.50G | 4.2 | 12 |" \
        in table


def test_the_search_sees_only_training_cases(tmp_path) -> None:
    data = tmp_path / "data"
    for sub in ("images", "masks"):
        (data / sub).mkdir(parents=True)
        for case in ("a", "b", "c"):
            (data / sub / f"{case}.png").write_bytes(b"x")
    target = tmp_path / "search_data"
    assert fidelity.link_training_cases(data, ["a", "c"], target)
    assert sorted(p.name for p in (target / "images").iterdir()) == ["a.png", "c.png"]
    assert not fidelity.link_training_cases(data, ["a", "zz"], tmp_path / "other")
    assert not fidelity.link_training_cases(tmp_path / "nowhere", ["a"], tmp_path / "x")


@pytest.mark.parametrize("name", sorted(fidelity.BUDGETS))
def test_budgets_are_sane(name: str) -> None:
    b = fidelity.BUDGETS[name]
    assert b.size % 2 ** b.depth == 0 and b.warmup < b.search_epochs
