"""bench/fidelity.py's planning, resume decisions and table (no training: a smoke of the code)."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from functools import partial
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
    b = fidelity.BUDGETS["standard"]
    names = fidelity.models(fidelity.BUDGETS["quick"], gpu=False)
    assert names == ["searched", "nasunet", "unet_small"]
    assert "unet" in fidelity.models(b, gpu=True)
    steps = [fidelity.train_step(tmp_path, "DATA", b, n, 1e-3, 3, ["--set", "k=v"])
             for n in names]
    tails = set()
    for step in steps:
        argv = list(step.argv)
        tails.add(tuple(argv[argv.index("--data"):])[:-2])  # all but --out RUN
        assert argv[-2:] == ["--out", str(tmp_path / step.name.split(":")[1] / "lr0.001_seed3")]
    assert len(tails) == 1
    assert {"--epochs", str(b.train_epochs), "--steps-per-epoch", str(b.train_steps),
            "--seed", "3", "k=v", "train.lr=0.001",
            "data.augment.scale=[0.85,1.25]"} <= set(next(iter(tails)))
    nas = [s for s in steps if "unet_small" not in s.name]
    assert all(f"model.C={b.train_C}" in s.argv for s in nas)  # searched and published alike
    assert not any(a.startswith("model.C") for a in steps[-1].argv)


@pytest.mark.parametrize("jobs", [1, 3])
def test_each_model_tries_every_lr_and_repeats_its_best(tmp_path, monkeypatch, jobs) -> None:
    b = fidelity.BUDGETS["standard"]
    scores = {"lr0.001_seed0": 0.70, "lr0.003_seed0": 0.80, "lr0.003_seed1": 0.78}
    done: list[str] = []

    def fake(step, log, runner):
        done.append(step.run.name)
        return scores[step.run.name]
    monkeypatch.setattr(fidelity, "train_and_evaluate", fake)
    tasks, collect = fidelity.model_tasks(tmp_path, "D", b, "nasunet", 0, [], {},
                                          after=("search",))
    assert [t.after for t in tasks[:2]] == [("search",)] * 2  # the sweep waits for it
    assert set(tasks[2].after) == {tasks[0].name, tasks[1].name}  # the repeat for the sweep
    results = fidelity.run_tasks([fidelity.Task("search", lambda: None), *tasks], jobs)
    assert sorted(done[:2]) == ["lr0.001_seed0", "lr0.003_seed0"]
    assert done[2] == "lr0.003_seed1"
    tuned = collect(results)
    assert tuned["lr"] == 3e-3 and tuned["sweep"] == {"0.001": 0.7, "0.003": 0.8}
    assert [r.name for r in tuned["runs"]] == ["lr0.003_seed0", "lr0.003_seed1"]


def test_a_tie_keeps_the_first_lr_whatever_finished_first() -> None:
    assert fidelity.best_lr({1e-3: 0.9, 3e-3: 0.9}) == 1e-3
    assert fidelity.best_lr({3e-3: 0.9, 1e-3: 0.9}) == 3e-3
    assert fidelity.best_lr({1e-3: 0.8, 3e-3: 0.9}) == 3e-3


def test_tasks_run_after_their_dependencies_at_most_jobs_at_once() -> None:
    import threading

    lock, live, peak, order = threading.Lock(), [0], [0], []

    def work(name: str) -> str:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
            order.append(name)
        threading.Event().wait(0.05)
        with lock:
            live[0] -= 1
        return name.upper()
    T = fidelity.Task
    tasks = [T("a", partial(work, "a")), T("s", partial(work, "s"), ("a",)),
             T("x", partial(work, "x"), ("s",)), T("p", partial(work, "p")),
             T("q", partial(work, "q")), T("y", partial(work, "y"), ("x", "p"))]
    out = fidelity.run_tasks(tasks, jobs=2)
    assert out == {t.name: t.name.upper() for t in tasks}
    assert peak[0] == 2
    for t in tasks:
        assert all(order.index(d) < order.index(t.name) for d in t.after)
    assert order[:2] == ["a", "p"]  # the list is the priority among the ready ones
    serial: list[str] = []
    fidelity.run_tasks([T(t.name, partial(serial.append, t.name), t.after) for t in tasks], 1)
    assert serial == ["a", "s", "x", "p", "q", "y"]


def test_a_failed_task_stops_new_ones_and_is_raised() -> None:
    ran: list[str] = []

    def boom() -> None:
        raise SystemExit("train:x failed (exit code 2); rerun to resume")
    T = fidelity.Task
    tasks = [T("bad", boom), T("after_bad", partial(ran.append, "after_bad"), ("bad",)),
             T("other", partial(ran.append, "other"), ("bad",))]
    with pytest.raises(SystemExit, match="rerun to resume"):
        fidelity.run_tasks(tasks, jobs=2)
    assert ran == []
    with pytest.raises(ValueError, match="known dependencies"):
        fidelity.run_tasks([T("a", lambda: None, ("nope",))], 1)
    with pytest.raises(ValueError, match="wait on each other"):
        fidelity.run_tasks([T("a", lambda: None, ("b",)), T("b", lambda: None, ("a",))], 2)


def test_jobs_give_each_child_its_threads_and_a_log(tmp_path, monkeypatch) -> None:
    calls = []

    def fake_call(cmd, env=None, stdout=None, stderr=None):
        calls.append((cmd, env, stdout))
        if stdout is not None:
            stdout.write("child output\n")
        return 0
    monkeypatch.setattr(fidelity.subprocess, "call", fake_call)
    step = fidelity.train_step(tmp_path, "D", fidelity.BUDGETS["quick"], "nasunet", 1e-3, 0, [])
    runner = fidelity.Runner(threads=1, logs=tmp_path / "logs")
    log: dict = {}
    fidelity.run_step(step, log, runner)
    (cmd, env, stdout), = calls
    assert env["OMP_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    text = (tmp_path / "logs" / "train_nasunet_lr0.001_seed0.log").read_text()
    assert text.startswith("== genodsl train ") and "child output" in text
    assert step.name in log
    calls.clear()
    fidelity.run_step(fidelity.evaluate_step(step.run), {})  # serial: inherited env, console
    assert calls[0][1] is None and calls[0][2] is None


def test_search_with_seeds_asks_for_a_selection(tmp_path) -> None:
    b = fidelity.BUDGETS["quick"]
    one = fidelity.search_step(tmp_path, "D", b, 1, 0, [])
    three = fidelity.search_step(tmp_path, "D", b, 3, 0, [])
    assert "--seeds" not in one.argv
    assert three.argv[three.argv.index("--seeds") + 1] == "3"
    assert f"search.select_epochs={b.select_epochs}" in three.argv


def test_finished_steps_are_skipped_and_interrupted_ones_resumed(tmp_path) -> None:
    step = fidelity.train_step(tmp_path, "D", fidelity.BUDGETS["quick"], "nasunet", 1e-3, 0, [])
    assert fidelity.state(step) == "start"
    (step.run / "checkpoints").mkdir(parents=True)
    (step.run / "checkpoints" / "last.pt").write_bytes(b"")
    assert fidelity.state(step) == "resume"
    (step.run / "summary.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    assert fidelity.state(step) == "done"
    ev = fidelity.evaluate_step(step.run)
    assert fidelity.state(ev) == "start"
    assert ev.argv[-1] == "--mirror"  # every model alike
    ev.run.mkdir()
    (ev.run / "metrics.json").write_text("{}", encoding="utf-8")
    assert fidelity.state(ev) == "done"
    search = fidelity.search_step(tmp_path, "D", fidelity.BUDGETS["quick"], 2, 0, [])
    search.run.mkdir()
    (search.run / "selection.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    assert fidelity.state(search) == "resume"


def test_rows_and_table_come_from_the_run_files(tmp_path) -> None:
    runs = []
    for seed, (dsc, hd) in enumerate(((0.91, 3.5), (0.89, 4.5))):
        run = tmp_path / "searched" / f"lr0.001_seed{seed}"
        (run / fidelity.EVAL).mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps(
            {"status": "completed", "params": 123456, "flops": 2.5e9,
             "time_per_epoch_s": 4.0 + seed, "epochs_completed": 3}), encoding="utf-8")
        (run / fidelity.EVAL / "metrics.json").write_text(json.dumps(
            {"dsc": dsc, "dsc_per_class": {"0": 0.7, "1": dsc}, "hd95": hd, "unit": "px",
             "cases": 6}), encoding="utf-8")
        runs.append(run)
    tuned = {"lr": 1e-3, "sweep": {"0.001": 0.91, "0.003": 0.5}, "runs": runs}
    r = fidelity.row("searched", tuned, 12.0)
    assert r["dsc"] == pytest.approx(0.90) and r["hd95"] == pytest.approx(4.0)
    assert r["dsc_seeds"] == [0.91, 0.89] and r["dsc_per_class"]["1"] == pytest.approx(0.90)
    assert (r["params"], r["search_s"], r["train_s_per_epoch"]) == (123456, 12.0, 4.5)
    assert fidelity.row("unet_small", tuned, 12.0)["search_s"] is None
    table = fidelity.markdown([r])
    assert ("| searched | 0.001 (0.001: 0.910, 0.003: 0.500) | 0.9000 (0.910, 0.890) | "
            "0: 0.700 / 1: 0.900 | 4.00 px | 123.46k | 2.50G | 4.5 | 12 |") in table


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
    assert b.size % 2 ** b.depth == 0 and b.lrs and b.train_seeds >= 1
    assert min(10, b.search_epochs // 5) < b.search_epochs  # genodsl's default warm-up


def test_a_run_of_another_length_is_refused_not_reused(tmp_path) -> None:
    b = fidelity.BUDGETS["quick"]
    step = fidelity.train_step(tmp_path, "D", b, "nasunet", 1e-3, 0, [])
    step.run.mkdir(parents=True)
    (step.run / "config.yaml").write_text(
        f"train:\n  epochs: {b.train_epochs}\n  steps_per_epoch: {b.train_steps}\n", "utf-8")
    (step.run / "summary.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    fidelity.run_step(step, {})  # the same length: skipped as done, nothing runs
    for longer, asked in ((replace(b, train_epochs=b.train_epochs + 5),
                           f"{b.train_epochs + 5} of {b.train_steps}"),
                          (replace(b, train_steps=b.train_steps + 1),
                           f"{b.train_epochs} of {b.train_steps + 1}")):
        other = fidelity.train_step(tmp_path, "D", longer, "nasunet", 1e-3, 0, [])
        assert other.run == step.run
        with pytest.raises(SystemExit, match=f"trained for {b.train_epochs} epochs of "
                                             f"{b.train_steps} steps.*asks {asked}"):
            fidelity.run_step(other, {})


def test_a_one_pass_run_counts_as_the_steps_its_epochs_made(tmp_path) -> None:
    import torch

    from genodsl.train.checkpoint import FORMAT_VERSION

    b = fidelity.BUDGETS["quick"]
    step = fidelity.train_step(tmp_path, "D", b, "nasunet", 1e-3, 0, [])
    (step.run / "checkpoints").mkdir(parents=True)
    (step.run / "config.yaml").write_text(
        f"train:\n  epochs: {b.train_epochs}\n  steps_per_epoch: null\n", "utf-8")
    (step.run / "summary.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    assert fidelity.trained_length(step.run) == (b.train_epochs, None)  # no checkpoint yet

    def made(steps: int) -> None:
        torch.save({"format_version": FORMAT_VERSION, "epoch": b.train_epochs,
                    "global_step": b.train_epochs * steps}, step.run / "checkpoints" / "last.pt")

    made(b.train_steps)  # one pass was exactly the asked steps: reused
    assert fidelity.trained_length(step.run) == (b.train_epochs, b.train_steps)
    fidelity.run_step(step, {})
    made(b.train_steps + 2)  # a longer pass: refused
    with pytest.raises(SystemExit, match=f"of {b.train_steps + 2} steps"):
        fidelity.run_step(step, {})


def test_two_jobs_by_default_on_a_multicore_cpu_one_on_a_gpu() -> None:
    assert fidelity.default_jobs(cuda=False, cpus=2) == 2
    assert fidelity.default_jobs(cuda=False, cpus=16) == 2
    assert fidelity.default_jobs(cuda=False, cpus=1) == 1
    assert fidelity.default_jobs(cuda=True, cpus=16) == 1
