"""``run_search``: a search space + data → a derived genotype file, epoch by epoch.

Each epoch: ``steps`` pairs of batches; on each pair an alpha step on the alpha half (once
the warm-up is over) then a weight step on the weight half; then the lr schedule steps, the
genotype is derived and written (``genotype.geno`` and ``history/``), a JSONL line is
logged and the checkpoint is saved.  The search stops after ``epochs`` or when the genotype
has not changed for ``patience`` epochs after the warm-up.

Distributed (inside :func:`genodsl.distributed.session`, e.g. under torchrun): every rank runs
this same loop on its slice of each global batch (``search.batch_size`` images over all ranks);
the strategies average every gradient over the ranks, so weights, alphas and the derived
genotype are the same on every rank after every step. Rank 0 alone writes the run folder
(config, split, genotypes, log, checkpoints, plots, summary) and shows progress; every rank
reads ``last.pt`` on resume, whatever the number of processes before. The losses in the log
are means over the whole global batch; ``train_miou``/``val_miou`` are measured on rank 0's
slices only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from rich.console import Console

from .. import distributed
from ..compile.discrete import build_discrete
from ..data.config import DataConfig
from ..errors import GenoError
from ..train.loop import MemoryLog
from ..train.losses import build_loss
from ..train.metrics import MetricAccumulator
from ..train.runlog import JsonlLog, TensorBoard, make_progress, write_json_atomic
from ..utils import seed_everything, sigterm_as_interrupt, write_text_atomic
from .config import SearchConfig
from .darts import Darts, Darts2
from .data import Batches, build_halves, make_loader
from .derive import derive
from .emit import derived_settings, genotype_name, genotype_text
from .proxyless import Proxyless
from .setup import Prepared, prepare, summarize
from .state import Progress, SearchPaths, load_state, save_state
from .strategy import BaseStrategy

STRATEGIES: dict[str, type[BaseStrategy]] = {"darts": Darts, "darts2": Darts2,
                                             "proxyless": Proxyless}
EpochHook = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True)
class SearchJob:
    space_file: Path
    network: str | None
    search: SearchConfig
    data: DataConfig
    out: Path


@dataclass
class SearchResult:
    status: str  # "completed", "stopped_early" or "interrupted"
    run_dir: Path
    genotype_file: Path
    epochs: int
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


class _Meters:
    def __init__(self, num_classes: int):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.train = MetricAccumulator(num_classes)
        self.val = MetricAccumulator(num_classes)

    def add(self, key: str, value: float | None) -> None:
        if value is not None:
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def mean(self, key: str) -> float | None:
        return self.sums[key] / self.counts[key] if self.counts.get(key) else None

    @staticmethod
    def miou(acc: MetricAccumulator) -> float | None:
        return acc.summary()["miou"] if acc.rows() else None  # type: ignore[return-value]


def run_search(job: SearchJob, *, resume: bool = False, console: Console | None = None,
               on_epoch_end: EpochHook | None = None) -> SearchResult:
    """Run (or resume) a search into ``job.out``; see the module doc."""
    start = time.perf_counter()
    console = console or Console(stderr=True, highlight=False)
    cfg = job.search
    paths = SearchPaths(job.out)
    distributed.check_joined()
    main = distributed.is_main()
    seed_everything(cfg.seed, cfg.deterministic)
    with distributed.main_first():  # rank 0 checks and writes the run folder, then the others
        prep: Prepared = prepare(job.space_file, job.network, cfg, job.data, paths,
                                 resume or not main)
        weight_ds, alpha_ds = build_halves(prep.data, job.out)
    device = distributed.device(cfg.device)
    net = prep.supernet.to(device)
    if cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    prep.check_input(tuple(weight_ds[0]["image"].shape))
    loss_fn = build_loss(cfg.loss, prep.data.num_classes)
    strategy = STRATEGIES[cfg.strategy.value](net, cfg, loss_fn, prep.cost_model())
    gens = {"weight": torch.Generator().manual_seed(cfg.seed + 10),
            "alpha": torch.Generator().manual_seed(cfg.seed + 11)}
    k = prep.data.num_classes
    weights = Batches(make_loader(weight_ds, cfg.batch_size, gens["weight"], cfg.num_workers),
                      k, device, cfg.channels_last)
    alphas = Batches(make_loader(alpha_ds, cfg.batch_size, gens["alpha"], cfg.num_workers),
                     k, device, cfg.channels_last)
    steps = cfg.steps_per_epoch or len(weights.loader)
    log = JsonlLog(paths.log) if main else MemoryLog(paths.log)
    progress = Progress()
    if resume and paths.last.is_file():
        progress = load_state(paths.last, net, strategy, gens, prep.hash)
        log.truncate_after(progress.epoch)
        log.write({"epoch": progress.epoch, "event": "resumed"})
    elif resume:
        raise GenoError(f"nothing to resume in {job.out}: no checkpoints/last.pt",
                        code="E400", hint="start the run without --resume")
    distributed.broadcast_module(net)  # identical start on every rank, whatever the init
    tb = TensorBoard(paths.tensorboard) if cfg.tensorboard and main else None
    bar = make_progress(cfg.progress and main, console)
    status = "running"
    name = genotype_name(prep.space.name, cfg.strategy.value, cfg.seed)
    try:
        with bar, sigterm_as_interrupt():
            ep_task = bar.add_task("epoch", total=cfg.epochs, completed=progress.epoch, info="")
            st_task = bar.add_task("step", total=steps, info="")
            while not progress.finished and progress.epoch < cfg.epochs:
                epoch = progress.epoch + 1
                meters = _Meters(k)
                t0 = time.perf_counter()
                alpha_on = epoch > cfg.warmup_epochs
                getattr(weight_ds, "set_epoch", lambda e: None)(epoch)
                weights.restart()
                alphas.restart()
                bar.reset(st_task, total=steps)
                for _ in range(steps):
                    _step(strategy, weights, alphas, alpha_on, meters)
                    bar.update(st_task, advance=1, info=_info(meters))
                lr = strategy.lr
                strategy.end_epoch()
                record = _finish_epoch(prep, net, progress, epoch, meters, name, paths,
                                       alpha_on, console if main else None)
                record.update(lr=lr, time_s=time.perf_counter() - t0)
                progress.epoch = epoch
                stop = cfg.patience is not None and progress.unchanged >= cfg.patience
                progress.finished = stop or epoch >= cfg.epochs
                if stop and epoch < cfg.epochs:
                    record["event"] = "stopped_early"
                log.write(record)
                if tb is not None:
                    tb.scalars({k2: v for k2, v in record.items() if k2 != "epoch"}, epoch)
                if main:
                    save_state(paths.last, net, strategy, progress, gens, prep.hash)
                bar.update(ep_task, completed=epoch, info=_info(meters))
                if on_epoch_end is not None:
                    on_epoch_end(epoch, record)
    except KeyboardInterrupt:
        status = "interrupted"
        log.write({"epoch": progress.epoch, "event": "interrupted"})
    finally:
        if tb is not None:
            tb.close()
    if progress.epoch == 0:
        raise GenoError("the search was interrupted before its first epoch ended",
                        code="E400")
    history = [r for r in log.read() if "weight_loss" in r]
    if status != "interrupted":
        stopped = cfg.patience is not None and progress.unchanged >= cfg.patience
        status = "stopped_early" if stopped and progress.epoch < cfg.epochs else "completed"
    summary = summarize(prep, net, progress, paths, status, time.perf_counter() - start,
                        console, final=status != "interrupted" and main)
    if main:
        write_json_atomic(paths.summary, summary)
    return SearchResult(status, job.out, paths.genotype, progress.epoch, history, summary)


def _step(strategy: BaseStrategy, weights: Batches, alphas: Batches, alpha_on: bool,
          meters: _Meters) -> None:
    """One alpha step on the alpha half (after the warm-up), then one weight step."""
    train = weights.next()
    if alpha_on:
        val = alphas.next()
        r = strategy.alpha_step(val, train)
        meters.add("alpha_loss", r.loss)
        meters.add("penalty", r.penalty)
        meters.add("expected_cost", r.expected_cost)
        meters.val.update(r.logits, val.mask)
    r = strategy.weight_step(train)
    meters.add("weight_loss", r.loss)
    meters.train.update(r.logits, train.mask)


def _info(m: _Meters) -> str:
    parts = []
    for key, label in (("weight_loss", "w"), ("alpha_loss", "α")):
        v = m.mean(key)
        if v is not None:
            parts.append(f"{label} {v:.3f}")
    miou = _Meters.miou(m.val) if m.val.rows() else _Meters.miou(m.train)
    if miou is not None:
        parts.append(f"mIoU {miou:.3f}")
    return "loss " + " ".join(parts)


def _finish_epoch(prep: Prepared, net: Any, progress: Progress, epoch: int, m: _Meters,
                  name: str, paths: SearchPaths, alpha_on: bool, console: Console | None
                  ) -> dict[str, Any]:
    """Derive, record and (with a ``console``: rank 0) write and announce the genotype."""
    genotype = derive(prep.space, net.alphas, name)
    text = genotype_text(genotype, prep.network, prep.settings, prep.provenance(epoch))
    signature = text.split("\n\n", 1)[1]
    changed = signature != progress.signature
    if changed and progress.signature and console is not None:
        console.print(f"epoch {epoch}: the genotype changed: {prep.one_line(genotype)}")
    progress.unchanged = 0 if changed or not alpha_on else progress.unchanged + 1
    progress.signature = signature
    progress.alpha_history.append(net.alphas.snapshot())  # type: ignore[union-attr]
    if console is not None:
        write_text_atomic(paths.history(epoch), text)
        write_text_atomic(paths.genotype, text)
    derived = build_discrete(derived_settings(prep.settings, name), genotype)
    return {"epoch": epoch, "weight_loss": m.mean("weight_loss"),
            "alpha_loss": m.mean("alpha_loss"), "train_miou": _Meters.miou(m.train),
            "val_miou": _Meters.miou(m.val), "penalty": m.mean("penalty"),
            "expected_cost": m.mean("expected_cost"),
            "derived_params": sum(p.numel() for p in derived.parameters()),
            "alphas_active": alpha_on, "genotype_changed": changed,
            "unchanged_epochs": progress.unchanged}
