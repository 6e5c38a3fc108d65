"""Search on 2 gloo processes: same result as 1 process, identical ranks, resume across sizes."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genodsl.config import RuntimeConfig
from genodsl.data.config import parse_data_config
from genodsl.lang.ir import Program
from genodsl.lang.loader import load
from genodsl.search.config import SearchConfig
from genodsl.search.runner import SearchJob, run_search
from genodsl.search.state import SearchPaths
from dist_helpers import run_ranks, state_hash, tiny_geno

TOL = dict(rtol=1e-4, atol=1e-5)


def _job(space: Path, out: Path, **kw: object) -> SearchJob:
    """A tiny search job; ``kw`` mixes search keys and runtime keys (amp, channels_last...)."""
    runtime = {k: kw.pop(k) for k in list(kw) if k in RuntimeConfig.model_fields}
    base: dict[str, object] = dict(epochs=2, steps_per_epoch=2, batch_size=4, warmup_epochs=0,
                                   patience=None, plots=False)
    base.update(kw)
    data = parse_data_config({"layout": "synthetic", "size": 16, "augment": {"enabled": False},
                              "synthetic": {"n_images": 12, "size": 16}})
    program = load(space) if space.is_file() else Program()
    return SearchJob(program, "tiny", SearchConfig(**base), data, out,
                     runtime=RuntimeConfig(device="cpu", progress=False, **runtime))


def _stop_after_first(epoch: int, record: dict) -> None:
    if epoch == 1:
        raise KeyboardInterrupt


def _checked(cls: type, log: list) -> type:
    """``cls`` recording, after every step, the local batch size and a hash of the supernet."""
    class Checked(cls):  # type: ignore[misc, valid-type]
        def weight_step(self, batch):
            result = super().weight_step(batch)
            log.append(["w", len(batch), state_hash(self.net)])
            return result

        def alpha_step(self, val, train):
            result = super().alpha_step(val, train)
            log.append(["a", len(val), state_hash(self.net)])
            return result
    return Checked


def search_worker(rank: int, runs: list[tuple[str, SearchJob, bool, bool]], logs: Path) -> None:
    """Each run (name, job, resume, stop after epoch 1) with every step's state recorded."""
    from genodsl.search import runner

    original = runner.strategy_class
    steps: dict[str, list] = {}
    for name, job, resume, cut in runs:
        steps[name] = []
        runner.strategy_class = lambda s, log=steps[name]: _checked(original(s), log)
        run_search(job, resume=resume, on_epoch_end=_stop_after_first if cut else None)
    (logs / f"rank{rank}.json").write_text(json.dumps(steps), encoding="utf-8")


def _net(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(SearchPaths(run).last, weights_only=True)["net"]


def _assert_same_result(a: Path, b: Path) -> None:
    """Same weights and alphas (within float tolerance) and the same derived genotype file."""
    na, nb = _net(a), _net(b)
    assert na.keys() == nb.keys()
    for key in na:
        torch.testing.assert_close(na[key], nb[key], **TOL, msg=key)
    assert (a / "genotype.geno").read_text(encoding="utf-8") == (b / "genotype.geno").read_text(encoding="utf-8")


def _rank_logs(logs: Path) -> tuple[dict, dict]:
    r0, r1 = (json.loads((logs / f"rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1))
    for name in r0:  # identical state on both ranks after every single step
        assert len(r0[name]) == len(r1[name]) > 0
        assert [s[2] for s in r0[name]] == [s[2] for s in r1[name]], name
    return r0, r1


def test_two_processes_equal_one_and_stay_identical(tmp_path: Path) -> None:
    space = tiny_geno(tmp_path)
    runs = [("darts", 4), ("proxyless", 4), ("darts2", 3)]  # darts2: 3 = 2 + 1 images
    jobs = [(name, _job(space, tmp_path / f"ddp_{name}", strategy=name, batch_size=b),
             False, False) for name, b in runs]
    for name, b in runs:
        run_search(_job(space, tmp_path / f"one_{name}", strategy=name, batch_size=b))
    logs = tmp_path / "logs"
    logs.mkdir()
    run_ranks(search_worker, 2, jobs, logs)
    for name, _ in runs:
        _assert_same_result(tmp_path / f"ddp_{name}", tmp_path / f"one_{name}")
    r0, r1 = _rank_logs(logs)
    assert len(r0["darts"]) == 2 * 2 * 2  # 2 epochs × 2 steps × (alpha + weight)
    assert {s[1] for s in r0["darts2"]} == {2} and {s[1] for s in r1["darts2"]} == {1}
    # rank 0 alone wrote the run folder
    assert (tmp_path / "ddp_darts" / "summary.json").is_file()
    assert len(list((tmp_path / "ddp_darts" / "history").glob("*.geno"))) == 2


def test_resume_on_another_number_of_processes(tmp_path: Path) -> None:
    space = tiny_geno(tmp_path)
    kw = dict(strategy="proxyless", epochs=3)
    run_search(_job(space, tmp_path / "full", **kw))
    cut = run_search(_job(space, tmp_path / "one_to_two", **kw), on_epoch_end=_stop_after_first)
    assert cut.status == "interrupted"
    logs = tmp_path / "logs"
    logs.mkdir()
    run_ranks(search_worker, 2, [
        ("one_to_two", _job(space, tmp_path / "one_to_two", **kw), True, False),
        ("two_to_one", _job(space, tmp_path / "two_to_one", **kw), False, True)], logs)
    _rank_logs(logs)
    assert json.loads((tmp_path / "two_to_one" / "summary.json").read_text(encoding="utf-8"))["epochs"] == 1
    resumed = run_search(_job(space, tmp_path / "two_to_one", **kw), resume=True)
    assert resumed.status == "completed" and resumed.epochs == 3
    # same global batches and paths; equal to the uninterrupted run up to summation order
    _assert_same_result(tmp_path / "one_to_two", tmp_path / "full")
    _assert_same_result(tmp_path / "two_to_one", tmp_path / "full")
