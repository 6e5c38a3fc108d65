"""The pieces of genodsl.runtime.distributed in one process: batch sharding, no-op helpers, options."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import BatchSampler, RandomSampler

from genodsl.runtime import distributed
from genodsl.errors import ConfigError
from genodsl.search.runner import run_search
from genodsl.search.state import SearchPaths
from test_dist_search import _job
from test_dist_train import _trainer
from dist_helpers import tiny_geno


def _batches(n: int, batch: int, drop_last: bool, rank: int, ranks: int) -> list[list[int]]:
    sampler = RandomSampler(range(n), generator=torch.Generator().manual_seed(3))
    return list(distributed.ShardedBatchSampler(BatchSampler(sampler, batch, drop_last),
                                                rank, ranks))


@pytest.mark.parametrize("n, batch, ranks, drop_last", [
    (12, 4, 2, True), (12, 5, 2, False), (13, 5, 3, False), (7, 3, 2, True), (9, 4, 4, False),
])
def test_ranks_together_see_the_single_process_batches(n, batch, ranks, drop_last) -> None:
    single = _batches(n, batch, drop_last, 0, 1)
    shards = [_batches(n, batch, drop_last, r, ranks) for r in range(ranks)]
    assert len({len(s) for s in shards}) == 1  # every rank takes the same number of steps
    kept = [b for b in single if len(b) >= ranks]  # a last batch smaller than the ranks goes
    assert [sum((s[i] for s in shards), []) for i in range(len(kept))] == kept
    for rank in range(ranks):
        sizes = [len(b) for b in shards[rank]]
        sampler = RandomSampler(range(n))
        assert len(distributed.ShardedBatchSampler(BatchSampler(sampler, batch, drop_last),
                                                   rank, ranks)) == len(sizes)
        assert all(len(b) > 0 for b in shards[rank])
    for size in range(1, 9):
        bounds = [distributed.shard_bounds(size, r, 3) for r in range(3)]
        assert bounds[0][0] == 0 and bounds[-1][1] == size
        assert max(h - lo for lo, h in bounds) - min(h - lo for lo, h in bounds) <= 1


def test_a_batch_smaller_than_the_processes_is_refused() -> None:
    with pytest.raises(ConfigError, match="batch size 2 is smaller than the 4 processes"):
        _batches(8, 2, True, 0, 4)


def test_helpers_do_nothing_in_a_plain_process() -> None:
    with distributed.session("cpu") as world:
        assert world == distributed.World(0, 1, 0) and world.main
        g = torch.ones(3)
        assert distributed.weighted_mean_([g, None], 5, [torch.tensor(2.0), 4.0]) == [2.0, 4.0]
        assert torch.equal(g, torch.ones(3))
        assert distributed.all_sum([1.0, 2.0]) == [1.0, 2.0]
        assert distributed.broadcast_object({"a": 1}) == {"a": 1}
        with distributed.main_first():
            distributed.barrier()
    assert not distributed.active()


def test_launch_options(monkeypatch) -> None:
    assert distributed.strip_nproc(["search", "--nproc", "2", "x", "--nproc=3", "-o", "r"]) \
        == ["search", "x", "-o", "r"]
    monkeypatch.setenv("GENODSL_DIST_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="GENODSL_DIST_TIMEOUT"):
        distributed.timeout_s()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="--nproc inside a torchrun worker"):
        distributed.relaunch(["search"], 2)
    with pytest.raises(ConfigError, match="started by torchrun but has not joined"):
        run_search(_job(Path("unused.geno"), Path("unused")))


def test_search_amp_and_channels_last(tmp_path: Path) -> None:
    space = tiny_geno(tmp_path)
    res = run_search(_job(space, tmp_path / "fp16", epochs=1, amp="fp16",
                          channels_last=True))
    assert res.status == "completed"
    state = torch.load(SearchPaths(res.run_dir).last, weights_only=True)["strategy"]
    assert "w_scaler" in state and "a_scaler" in state  # the loss scales are resumable
    with pytest.raises(ConfigError, match="darts2 does not run under fp16"):
        run_search(_job(space, tmp_path / "d2", strategy="darts2", amp="fp16"))


def test_train_amp_and_channels_last(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path / "fp16", epochs=1, amp="fp16", channels_last=True)
    assert trainer.fit().status == "completed"
    assert trainer.scaler.is_enabled() and trainer.amp is torch.float16
