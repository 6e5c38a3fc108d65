"""Training with DDP on 2 gloo processes: same result as 1 process, resume across sizes."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from genodsl.config import RuntimeConfig
from genodsl.train.checkpoint import RunPaths, load_checkpoint
from genodsl.train.config import TrainConfig
from genodsl.train.loop import Trainer
from dist_helpers import run_ranks, state_hash

TOL = dict(rtol=1e-4, atol=1e-6)
SPEC = {"kind": "tiny"}


class Blobs(Dataset):
    """Random images whose mask is (image > 0.5)."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, 1, 16, 16, generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "mask": (self.images[i, 0] > 0.5).long(),
                "name": f"img{i}", "case": f"case{i}"}


def _trainer(out: Path, epochs: int = 3, **options: object) -> Trainer:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(),
                        nn.Conv2d(4, 2, 1))
    # 12 images, global batch 5: steps of 5, 5 and 2 images; on 2 ranks 3+2, 3+2, 1+1
    runtime = RuntimeConfig(device="cpu", progress=False, **options)
    cfg = TrainConfig(epochs=epochs, batch_size=5, lr=1e-2, log_every=1)
    return Trainer(net, Blobs(12, 0), Blobs(4, 1), config=cfg, runtime=runtime, run_dir=out,
                   num_classes=2, model_spec=SPEC)


def _stop_after_first(trainer: Trainer, stats) -> None:
    if stats.epoch == 1:
        raise KeyboardInterrupt


def train_worker(rank: int, runs: list[tuple[Path, bool, bool]], logs: Path) -> None:
    """Each run (folder, resume, stop after epoch 1), hashing the model after every epoch."""
    hashes: list[str] = []
    for out, resume, cut in runs:
        trainer = _trainer(out)
        trainer.callbacks = [lambda t, s: hashes.append(state_hash(t.model))]
        if cut:
            trainer.callbacks.append(_stop_after_first)
        trainer.fit(resume=resume)
    (logs / f"rank{rank}.json").write_text(json.dumps(hashes), encoding="utf-8")


def _assert_same(a: Path, b: Path) -> None:
    la, lb = (load_checkpoint(RunPaths(p).last) for p in (a, b))
    for key in la["model"]:
        torch.testing.assert_close(la["model"][key], lb["model"][key], **TOL, msg=key)
    for ha, hb in zip(la["history"], lb["history"], strict=True):
        assert abs(ha["train_loss"] - hb["train_loss"]) < 1e-5
        assert abs(ha["val_dsc"] - hb["val_dsc"]) < 1e-5


def test_ddp_training_equals_one_process_and_resumes_on_another_size(tmp_path: Path) -> None:
    _trainer(tmp_path / "one").fit()
    cut = _trainer(tmp_path / "one_to_two")
    cut.callbacks = [_stop_after_first]
    assert cut.fit().status == "interrupted"
    logs = tmp_path / "logs"
    logs.mkdir()
    run_ranks(train_worker, 2, [(tmp_path / "two", False, False),
                                (tmp_path / "one_to_two", True, False),
                                (tmp_path / "two_to_one", False, True)], logs)
    r0, r1 = (json.loads((logs / f"rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1))
    assert r0 == r1 and len(r0) == 3 + 2 + 1  # identical models after every epoch
    assert _trainer(tmp_path / "two_to_one").fit(resume=True).status == "completed"
    for run in ("two", "one_to_two", "two_to_one"):
        _assert_same(tmp_path / run, tmp_path / "one")
    log = [json.loads(line) for line in RunPaths(tmp_path / "two").log.read_text(encoding="utf-8").splitlines()]
    assert sum(r["kind"] == "epoch" for r in log) == 3  # one writer: rank 0
    assert sum(r["kind"] == "step" for r in log) == 9
