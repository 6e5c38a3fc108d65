"""bench/gpu.py (and bench/speed.py's run options): the projection, ratios, option sets, and a
tiny smoke of the whole script on CPU."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu = _load("gpu")
speed = gpu.speed


def test_option_sets_are_checked_and_sorted():
    assert speed.parse_options("compile,channels_last") == ("channels_last", "compile")
    assert speed.parse_options("plain") == speed.parse_options("none") == ()
    assert speed.option_label(()) == "plain"
    assert speed.option_label(("bf16", "compile")) == "bf16+compile"
    with pytest.raises(ValueError, match="unknown option.*fast"):
        speed.parse_options("compile,fast")


def test_lean_sets_glibcs_threshold_in_that_child_only(tmp_path, monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    job = {"threads": 2, "options": ["lean", "recompute"]}
    lean = speed.child_env(tmp_path, job)
    assert lean["MALLOC_MMAP_THRESHOLD_"] == "1048576" and lean["OMP_NUM_THREADS"] == "2"
    assert lean["PYTHONPATH"] == str(tmp_path)
    assert "MALLOC_MMAP_THRESHOLD_" not in speed.child_env(tmp_path, {**job, "options": []})


def test_warm_up_goes_on_while_steps_trace_new_graphs(monkeypatch):
    graphs = itertools.chain([0, 1, 2], itertools.repeat(2))
    monkeypatch.setattr(speed, "_graphs", lambda: next(graphs))
    calls = []
    assert speed.warm_up(lambda: calls.append(1), 2, compiled=True) == 3
    assert len(calls) == 3
    assert speed.warm_up(lambda: calls.append(1), 2, compiled=False) == 2


def test_paper_projection_counts_half_of_voc_per_epoch():
    assert gpu.iterations_per_epoch() == 366  # 1,464 / 2 images for the weights, batch 2
    assert gpu.projected_hours(1.0) == pytest.approx(366 * 120 / 3600)
    assert gpu.iterations_per_epoch(batch=4) == 183


def test_ratios_against_plain_and_the_previous_config():
    rows = [{"options": [], "seconds": 4.0}, {"options": ["bf16"], "seconds": 2.0},
            {"options": ["bf16", "compile"], "error": "boom"},
            {"options": ["bf16", "channels_last"], "seconds": 1.0}]
    gpu.ratios(rows)
    assert [r["x_plain"] for r in rows] == [1.0, 2.0, None, 4.0]
    assert [r["x_prev"] for r in rows] == [None, 2.0, None, 2.0]  # a failed config is skipped


def test_the_paper_row_is_the_papers_search_setting():
    spec = {**gpu.PAPER, "row": "darts"}
    assert (spec["C"], spec["depth"], spec["stem_multiplier"], spec["input"]) == (
        16, 4, 3, (2, 3, 480, 480))


def test_smoke_runs_the_whole_script_on_cpu(tmp_path):
    # a fresh process, as the script is run: compiler state left by other tests in this
    # process (dynamo's frame caches) once made the compiled row fail here under xdist
    env = {**os.environ, "GENODSL_COMPILE_BACKEND": "aot_eager",
           "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--smoke", "--rows", "train", "infer",
         "--configs", "plain", "bf16,channels_last,compile", "recompute", "--paper-configs",
         "plain", "--json", str(tmp_path / "gpu.json")],
        capture_output=True, text=True, encoding="utf-8", env=env, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu.json").read_text(encoding="utf-8"))
    assert [(r["row"], r["config"]) for r in report["rows"]] == [
        (row, c) for row in ("train", "infer")
        for c in ("plain", "bf16+channels_last+compile", "recompute")]
    assert all(r["seconds"] > 0 and r["flops"] > 0 for r in report["rows"])
    assert [r["row"] for r in report["paper"]] == ["darts", "proxyless"]
    assert all(r["hours"] > 0 for r in report["paper"])
    assert "Paper search setting" in out and "× paper" in out
