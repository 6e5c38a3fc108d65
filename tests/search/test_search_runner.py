"""Whole runs at tiny size: outputs reload and compile, determinism, resume, early stop."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from genodsl.compile import build
from genodsl.lang.loader import load
from genodsl.search.runner import run_search
from genodsl.search.strategies import STRATEGIES
from genodsl.search.state import SearchPaths
from search_helpers import tiny_job


def _alphas(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(SearchPaths(run).last, weights_only=True)
    return {k.removeprefix("alphas.tables."): v for k, v in state["net"].items()
            if k.startswith("alphas.")}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_each_strategy_emits_a_file_that_compiles(space_file, tmp_path, name) -> None:
    res = run_search(tiny_job(space_file, tmp_path / name, strategy=name, warmup_epochs=1))
    assert res.status == "completed" and res.epochs == 2
    assert [r["alphas_active"] for r in res.history] == [False, True]
    for r in res.history:
        assert torch.isfinite(torch.tensor(r["weight_loss"]))
    assert res.history[1]["alpha_loss"] is not None
    text = res.genotype_file.read_text(encoding="utf-8")
    assert text.startswith("# Derived by `genodsl search`")
    assert f"strategy:    {name}, seed 0" in text and "none" not in text.split("\n\n", 1)[1]
    program = load(res.genotype_file)  # parses and validates, no import needed
    assert not program.spaces and len(program.genotypes) == 1
    model = build(program, "tiny_derived")
    assert model(torch.randn(1, 1, 16, 16)).shape == (1, 2, 16, 16)
    assert len(list((tmp_path / name / "history").glob("epoch_*.geno"))) == 2


def test_warmup_freezes_alphas(space_file, tmp_path) -> None:
    res = run_search(tiny_job(space_file, tmp_path / "w", epochs=2, warmup_epochs=2))
    state = torch.load(SearchPaths(res.run_dir).last, weights_only=True)
    first, last = state["alpha_history"][0], state["alpha_history"][-1]
    assert all(torch.equal(first[k], last[k]) for k in first)


def test_same_seed_gives_byte_identical_genotype(space_file, tmp_path) -> None:
    a = run_search(tiny_job(space_file, tmp_path / "a", strategy="proxyless"))
    b = run_search(tiny_job(space_file, tmp_path / "b", strategy="proxyless"))
    assert a.genotype_file.read_bytes() == b.genotype_file.read_bytes()
    assert all(torch.equal(x, y) for x, y in zip(_alphas(a.run_dir).values(),
                                                _alphas(b.run_dir).values()))


@pytest.mark.parametrize("name", ["darts", "proxyless"])
def test_resume_equals_uninterrupted(space_file, tmp_path, name) -> None:
    kw = dict(strategy=name, epochs=3, steps_per_epoch=2)
    full = run_search(tiny_job(space_file, tmp_path / "full", **kw))

    def stop_after_first(epoch: int, record: dict) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    cut = run_search(tiny_job(space_file, tmp_path / "cut", **kw), on_epoch_end=stop_after_first)
    assert cut.status == "interrupted" and cut.epochs == 1
    cut_s = torch.load(SearchPaths(cut.run_dir).last, weights_only=True)["elapsed_s"]
    resumed = run_search(tiny_job(space_file, tmp_path / "cut", **kw), resume=True)
    assert resumed.status == "completed" and resumed.epochs == 3
    # the summary's time counts the interrupted invocation too (up to its checkpoint)
    assert 0 < cut_s < resumed.summary["wall_time_s"]
    assert full.genotype_file.read_bytes() == resumed.genotype_file.read_bytes()
    for k, v in _alphas(full.run_dir).items():
        assert torch.equal(v, _alphas(resumed.run_dir)[k]), k
    assert [r["weight_loss"] for r in full.history] == [r["weight_loss"] for r in resumed.history]


def test_resume_with_other_settings_is_refused(space_file, tmp_path) -> None:
    from genodsl.errors import CheckpointError
    run_search(tiny_job(space_file, tmp_path / "r", epochs=1))
    with pytest.raises(CheckpointError, match="settings differ"):
        run_search(tiny_job(space_file, tmp_path / "r", epochs=1, seed=3), resume=True)


def test_patience_stops_early(space_file, tmp_path) -> None:
    job = tiny_job(space_file, tmp_path / "p", epochs=6, patience=1)
    job = dataclasses.replace(job, search=job.search.model_copy(update={
        "alphas": job.search.alphas.model_copy(update={"lr": 1e-9})}))
    res = run_search(job)
    assert res.status == "stopped_early" and res.epochs == 2


def test_cost_penalty_is_logged(space_file, tmp_path) -> None:
    from genodsl.search.config import CostConfig
    job = tiny_job(space_file, tmp_path / "c", epochs=1, cost=CostConfig(weight=1.0,
                                                                        target=1000.0))
    res = run_search(job)
    rec = res.history[0]
    assert rec["expected_cost"] > 1000 and rec["penalty"] > 0


def test_a_warmup_covering_every_epoch_is_reported(space_file, tmp_path) -> None:
    import io

    from rich.console import Console

    out = io.StringIO()
    res = run_search(tiny_job(space_file, tmp_path / "w", epochs=1, warmup_epochs=1),
                     console=Console(file=out, width=200))
    assert "warmup_epochs = 1 covers all 1 epochs" in out.getvalue()
    saved = json.loads((tmp_path / "w" / "summary.json").read_text(encoding="utf-8"))
    assert saved["warnings"] == res.summary["warnings"] and len(saved["warnings"]) == 1
    assert [r["alphas_active"] for r in res.history] == [False]
    assert saved["alphas"]["trained_epochs"] == 0


def test_model_classes_override_builds_the_network_for_the_data(space_file, tmp_path) -> None:
    from genodsl.runs.config import ModelConfig
    from genodsl.runs.model import load_network

    program, name = load_network(ModelConfig(file=str(space_file), network="tiny", classes=3))
    job = dataclasses.replace(tiny_job(space_file, tmp_path / "c3", epochs=1), program=program)
    job = dataclasses.replace(job, data=job.data.model_copy(update={"num_classes": 3}))
    res = run_search(job)
    model = build(load(res.genotype_file), "tiny_derived")
    assert model(torch.randn(1, 1, 16, 16)).shape == (1, 3, 16, 16)


def test_model_c_and_depth_overrides_resize_a_network(space_file) -> None:
    from genodsl.runs.config import ModelConfig
    from genodsl.runs.model import load_network

    program, name = load_network(ModelConfig(file=str(space_file), network="tiny", C=6,
                                             depth=1))
    settings = program.network(name).settings
    assert (settings.C, settings.depth) == (6, 1)
    with pytest.raises(ValueError, match="not a baseline's"):
        ModelConfig(baseline="unet_small", C=8)



def test_non_affine_search_norms_run_and_checkpoint_without_their_weights(space_file,
                                                                          tmp_path) -> None:
    affine = run_search(tiny_job(space_file, tmp_path / "a", warmup_epochs=1))
    plain = run_search(tiny_job(space_file, tmp_path / "p", warmup_epochs=1, affine_norm=False))
    assert plain.status == "completed" and load(plain.genotype_file).genotypes

    def keys(run: Path) -> set[str]:
        return set(torch.load(SearchPaths(run).last, weights_only=True)["net"])

    dropped = keys(affine.run_dir) - keys(plain.run_dir)
    assert keys(plain.run_dir) < keys(affine.run_dir)
    assert any(".pre0." in k for k in dropped) and any(".edges." in k for k in dropped)
    assert all("cells" in k and k.endswith((".weight", ".bias")) for k in dropped)
