"""The training engine: learning, run folder, exact resume, interruption, atomic checkpoints."""

from __future__ import annotations

import io
import json

import pytest
import torch
from rich.console import Console

from genodsl.config import Amp, RuntimeConfig
from genodsl.errors import CheckpointError, ConfigError, DataError
from genodsl.train.checkpoint import (LAST_KEYS, RunPaths, load_checkpoint,
                                      save_checkpoint)
from genodsl.train.config import TrainConfig
from genodsl.train.loop import Trainer, fit

SPEC = {"kind": "tiny", "width": 4}
TIMING = {"time_s", "peak_memory_mb", "data_wait_s"}


CPU = RuntimeConfig(device="cpu", progress=False)


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=4, batch_size=4, lr=1e-2, log_every=1)
    base.update(kw)
    return TrainConfig(**base)


def _fit(tmp, name, net, train, val, cfg=None, resume=False, runtime=CPU, **kw):
    return fit(net, train, val, config=cfg or _cfg(), run_dir=tmp / name, num_classes=2,
               model_spec=SPEC, resume=resume, runtime=runtime, **kw)


def _weights(run):
    return load_checkpoint(RunPaths(run).last)["model"]


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _numbers(history):
    return [{k: v for k, v in vars(h).items() if k not in TIMING} for h in history]


def test_training_lowers_the_loss(tmp_path, dataset_cls, make_net):
    result = _fit(tmp_path, "run", make_net(), dataset_cls(8), dataset_cls(4, seed=1),
                  _cfg(epochs=6, lr=3e-2))
    losses = [h.train_loss for h in result.history]
    assert result.status == "completed" and len(losses) == 6
    assert losses[-1] < losses[0]
    assert all(0.0 <= (h.val_dsc or 0) <= 1.0 for h in result.history)


def test_time_waiting_for_data_is_recorded(tmp_path, dataset_cls, make_net):
    result = _fit(tmp_path, "run", make_net(), dataset_cls(8), dataset_cls(4, seed=1),
                  _cfg(epochs=2))
    assert all(0.0 < h.data_wait_s <= h.time_s for h in result.history)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert 0.0 < summary["data_wait_share"] < 1.0


def test_steps_per_epoch_repeats_or_cuts_the_pass(tmp_path, dataset_cls, make_net):
    train, val = dataset_cls(10), dataset_cls(4, seed=1)  # batch 4: a pass is 3 steps
    for name, steps in (("long", 7), ("short", 2)):
        _fit(tmp_path, name, make_net(), train, val, _cfg(epochs=2, steps_per_epoch=steps))
        lines = [json.loads(x) for x in
                 (tmp_path / name / "log.jsonl").read_text(encoding="utf-8").splitlines()]
        per_epoch = [[r["step"] for r in lines if r["kind"] == "step" and r["epoch"] == e]
                     for e in (1, 2)]
        assert per_epoch == [list(range(1, steps + 1))] * 2
        assert load_checkpoint(RunPaths(tmp_path / name).last)["global_step"] == 2 * steps


def test_steps_per_epoch_of_one_pass_is_the_plain_run(tmp_path, dataset_cls, make_net):
    train, val = dataset_cls(10, augment=True), dataset_cls(4, seed=1)  # a pass: 3 steps
    runs = [_fit(tmp_path, f"s{steps}", make_net(), train, val,
                 _cfg(epochs=2, steps_per_epoch=steps)) for steps in (None, 3)]
    assert _numbers(runs[0].history) == _numbers(runs[1].history)
    assert _same_weights(_weights(tmp_path / "sNone"), _weights(tmp_path / "s3"))


def test_epoch_batches_reshuffle_each_pass():
    from genodsl.runtime.loader import epoch_batches, make_loader, passes

    loader = make_loader(list(range(6)), 2, torch.Generator().manual_seed(0))
    one = [b.tolist() for b in epoch_batches(loader)]
    assert len(one) == 3 and sorted(sum(one, [])) == list(range(6))
    seven = [b.tolist() for b in epoch_batches(loader, 7)]
    assert len(seven) == 7
    orders = [sum(seven[i:i + 3], []) for i in (0, 3)]
    assert all(sorted(o) == list(range(6)) for o in orders) and orders[0] != orders[1]
    assert len(list(epoch_batches(loader, 2))) == 2
    # the first pass starts at the call, not at the first batch (the search restarts its
    # halves at every epoch start and may take no alpha batch in a warm-up epoch)
    g = torch.Generator().manual_seed(0)
    before = g.get_state()
    passes(make_loader(list(range(6)), 2, g))
    assert not torch.equal(g.get_state(), before)
    with pytest.raises(ValueError, match="empty loader"):
        next(epoch_batches(make_loader([], 2, shuffle=False), 1))


def test_timed_batches_add_up_the_waits():
    from genodsl.train.batches import TimedBatches

    ticks = iter([0.0, 0.5, 1.0, 1.25, 2.0, 2.5])  # start/end of each next(), the last raises
    timed = TimedBatches(["a", "b"], clock=lambda: next(ticks))
    assert list(timed) == ["a", "b"]
    assert timed.wait_s == pytest.approx(0.5 + 0.25 + 0.5)


def test_run_folder_layout_and_checkpoint_keys(tmp_path, dataset_cls, make_net):
    net = make_net()
    result = _fit(tmp_path, "run", net, dataset_cls(8), dataset_cls(4, seed=1), _cfg(epochs=2))
    paths = RunPaths(tmp_path / "run")
    for p in (paths.config, paths.log, paths.last, paths.curves, paths.summary):
        assert p.is_file(), p
    assert not list(paths.root.rglob("*.tmp"))
    last = load_checkpoint(paths.last, LAST_KEYS)
    assert set(last) == LAST_KEYS and last["epoch"] == 2 and last["model_spec"] == SPEC
    assert last["best_epoch"] in (1, 2) and last["best_score"] is not None
    torch.load(paths.last, weights_only=True)  # plain data only
    lines = [json.loads(x) for x in paths.log.read_text(encoding="utf-8").splitlines()]
    assert [x["epoch"] for x in lines if x["kind"] == "epoch"] == [1, 2]
    assert sum(x["kind"] == "step" for x in lines) == 4  # 2 steps per epoch, log_every=1
    summary = json.loads(paths.summary.read_text(encoding="utf-8"))
    assert summary == result.summary
    for key in ("dsc", "miou", "params", "flops", "time_per_epoch_s", "peak_memory_mb"):
        assert summary[key] is not None, key
    assert summary["params"] == sum(p.numel() for p in net.parameters())
    assert summary["status"] == "completed" and summary["best_epoch"] in (1, 2)
    assert paths.curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("steps", [None, 2, 5])  # a pass is 3 batches: one, cut short, repeated
def test_resume_after_interruption_equals_uninterrupted(tmp_path, dataset_cls, make_net, steps):
    train = dataset_cls(10, augment=True)  # augmentation draws from the global RNG
    val = dataset_cls(4, seed=1)
    cfg = _cfg(epochs=4, steps_per_epoch=steps)
    full = _fit(tmp_path, "full", make_net(dropout=0.3), train, val, cfg)

    def stop_after_two(trainer, stats):
        if stats.epoch == 2:
            raise KeyboardInterrupt  # what Ctrl-C does between epochs

    part = _fit(tmp_path, "part", make_net(dropout=0.3), train, val, cfg,
                callbacks=[stop_after_two])
    assert part.status == "interrupted" and len(part.history) == 2
    assert json.loads((tmp_path / "part" / "summary.json").read_text(encoding="utf-8"))["status"] == "interrupted"
    # the resumed process builds its model afresh (other init), weights come from last.pt
    resumed = _fit(tmp_path, "part", make_net(seed=123, dropout=0.3), train, val, cfg,
                   resume=True)
    assert resumed.status == "completed"
    assert _same_weights(_weights(tmp_path / "full"), _weights(tmp_path / "part"))
    ends = [load_checkpoint(RunPaths(tmp_path / r).last) for r in ("full", "part")]
    assert [(c["best_epoch"], c["best_score"]) for c in ends][0] == \
        [(c["best_epoch"], c["best_score"]) for c in ends][1]
    assert _numbers(full.history) == _numbers(resumed.history)
    epochs = [json.loads(x)["epoch"] for x in (tmp_path / "part/log.jsonl").read_text(encoding="utf-8").splitlines()
              if json.loads(x)["kind"] == "epoch"]
    assert epochs == [1, 2, 3, 4]


class _CtrlCDataset(torch.utils.data.Dataset):
    """Raises KeyboardInterrupt on the n-th item fetched (a Ctrl-C inside an epoch)."""

    def __init__(self, inner, at: int):
        self.inner, self.at, self.calls = inner, at, 0

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.inner[i]


def test_ctrl_c_inside_an_epoch(tmp_path, dataset_cls, make_net):
    train, val = dataset_cls(8, augment=True), dataset_cls(4, seed=1)
    cfg = _cfg(epochs=3, count_flops=False)
    full = _fit(tmp_path, "full", make_net(), train, val, cfg)
    # 8 items per epoch: item 21 is in the second batch of epoch 3
    part = _fit(tmp_path, "part", make_net(), _CtrlCDataset(train, at=21), val, cfg)
    paths = RunPaths(tmp_path / "part")
    assert part.status == "interrupted" and [h.epoch for h in part.history] == [1, 2]
    assert paths.interrupted.is_file()
    assert load_checkpoint(paths.last)["epoch"] == 2
    log = [json.loads(x) for x in paths.log.read_text(encoding="utf-8").splitlines()]
    assert log[-1]["kind"] == "interrupted" and log[-1]["in_epoch"] == 3
    resumed = _fit(tmp_path, "part", make_net(), train, val, cfg, resume=True)
    assert not paths.interrupted.exists()
    assert _same_weights(_weights(tmp_path / "full"), _weights(tmp_path / "part"))
    assert _numbers(full.history) == _numbers(resumed.history)


def test_resume_guards(tmp_path, dataset_cls, make_net):
    train, val = dataset_cls(4), dataset_cls(4, seed=1)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        _fit(tmp_path, "none", make_net(), train, val, resume=True)
    _fit(tmp_path, "run", make_net(), train, val, _cfg(epochs=1))
    with pytest.raises(ConfigError, match="already holds a run"):
        _fit(tmp_path, "run", make_net(), train, val, _cfg(epochs=1))
    with pytest.raises(ConfigError, match=r"train\.lr"):
        _fit(tmp_path, "run", make_net(), train, val, _cfg(epochs=1, lr=0.5), resume=True)
    with pytest.raises(ConfigError, match=r"runtime\.seed: 0 -> 4"):
        _fit(tmp_path, "run", make_net(), train, val, _cfg(epochs=1), resume=True,
             runtime=CPU.model_copy(update={"seed": 4}))
    # allowed changes (device, workers, progress, logging) and an already finished run
    done = _fit(tmp_path, "run", make_net(), train, val, _cfg(epochs=1, log_every=0),
                resume=True, runtime=CPU.model_copy(update={"num_workers": 1}))
    assert done.status == "completed" and len(done.history) == 1


def test_checkpoint_writes_are_atomic(tmp_path):
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint({"format_version": 1, "w": torch.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(Exception):  # pickling fails halfway through the file
        save_checkpoint({"format_version": 1, "w": torch.zeros(1000), "f": lambda: 0}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    with pytest.raises(Exception):
        save_checkpoint({"f": lambda: 0}, tmp_path / "ck" / "new.pt")
    assert not (tmp_path / "ck" / "new.pt").exists()


def test_bad_checkpoint_is_a_checkpoint_error(tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(bad)
    torch.save({"format_version": 99}, bad)
    with pytest.raises(CheckpointError, match="unsupported"):
        load_checkpoint(bad)


def test_config_record_is_written_and_stored(tmp_path, dataset_cls, make_net):
    record = {"runtime": CPU.model_dump(mode="json"), "train": _cfg(epochs=1).model_dump(
        mode="json"), "model": {"baseline": "tiny"}}
    _fit(tmp_path, "run", make_net(), dataset_cls(4), None, _cfg(epochs=1), record=record)
    assert load_checkpoint(RunPaths(tmp_path / "run").last)["config"] == record
    assert "baseline: tiny" in RunPaths(tmp_path / "run").config.read_text(encoding="utf-8")


def test_weighted_dice_counts_class_frequencies(tmp_path, dataset_cls, make_net):
    res = _fit(tmp_path, "run", make_net(), dataset_cls(8), None,
               _cfg(epochs=1, loss="weighted_dice"))
    weights = load_checkpoint(RunPaths(res.run_dir).last)["loss_weights"]
    assert len(weights) == 2 and weights[1] > weights[0]  # foreground is rarer
    assert load_checkpoint(RunPaths(res.run_dir).last)["best_epoch"] is None  # no validation


def test_data_contract_errors(tmp_path, dataset_cls, make_net):
    class FloatMasks(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {"image": torch.zeros(1, 8, 8), "mask": torch.zeros(8, 8)}

    with pytest.raises(DataError, match="'mask'"):
        _fit(tmp_path, "a", make_net(), FloatMasks(), None, _cfg(epochs=1))
    with pytest.raises(ConfigError, match="logits"):
        _fit(tmp_path, "b", make_net(classes=3), dataset_cls(4), None, _cfg(epochs=1))
    with pytest.raises(ConfigError, match="JSON"):
        Trainer(make_net(), dataset_cls(4), config=_cfg(), runtime=CPU, run_dir=tmp_path / "c",
                num_classes=2, model_spec={"f": object()})


def test_val_every_progress_and_tensorboard(tmp_path, dataset_cls, make_net):
    pytest.importorskip("tensorboard")
    out = io.StringIO()
    res = fit(make_net(), dataset_cls(4), dataset_cls(4, seed=1),
              config=_cfg(epochs=3, val_every=2, tensorboard=True), run_dir=tmp_path / "r",
              num_classes=2, console=Console(file=out, width=120),
              runtime=RuntimeConfig(device="cpu", progress=True))
    assert [h.val_dsc is not None for h in res.history] == [False, True, True]
    assert "epoch" in out.getvalue()
    assert list((tmp_path / "r" / "tensorboard").glob("events.out.tfevents.*"))


def test_amp_on_cpu_runs(tmp_path, dataset_cls, make_net):
    res = _fit(tmp_path, "amp", make_net(), dataset_cls(4), None, _cfg(epochs=1),
               runtime=CPU.model_copy(update={"amp": Amp.ON}))
    assert res.history[0].train_loss == res.history[0].train_loss  # finite, not NaN
