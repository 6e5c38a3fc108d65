"""``run_search``: a search space + data → a derived genotype file, epoch by epoch.

Each epoch: ``steps`` pairs of batches; on each pair an alpha step on the alpha half (once
the warm-up is over) then a weight step on the weight half; then the lr schedule steps, the
genotype is derived and written (``genotype.geno`` and ``history/``), a JSONL line is
logged and the checkpoint is saved.  The search stops after ``epochs`` or when the genotype
has not changed for ``patience`` epochs after the warm-up.  A warm-up covering every epoch
leaves the alphas at their random start, and a short search at a small alpha lr barely moves
them: the console (at the start and the end) and ``summary.json`` say so.

Collapse monitors (:mod:`.monitors`) are logged every epoch: the share of parameter-free ops
of each derived cell, the edge entropies and, every ``search.hessian_every`` epochs, the
dominant eigenvalue of the alpha Hessian; ``search.eigen_stop: stop`` ends the search when it
jumps and keeps the alphas of ``search.eigen_k`` epochs before (RobustDARTS' DARTS-ES).  The
remedies (:mod:`.remedies`) are set up at the start of every epoch.

A 3D space (``dims = 3``) searches on random ``data.patch`` patches of the halves' volumes.
``summary.json``'s ``memory`` is the supernet's peak during the search (CUDA max allocated,
else the process's max RSS) with the input patch and batch size: proxyless's weight steps
hold one sampled path, DARTS' every op of every edge.

Distributed (inside :func:`genodsl.runtime.distributed.session`, e.g. under torchrun): every
rank runs this same loop on its slice of each global batch (``search.batch_size`` images over
all ranks);
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
from typing import Any, Callable, Mapping

import torch
from rich.console import Console

from ..compile.discrete import build_discrete
from ..config import RuntimeConfig
from ..data.config import DataConfig
from ..errors import GenoError
from ..files import write_json_atomic, write_text_atomic
from ..lang.diff import diff_genotypes, summary
from ..lang.ir import Program
from ..lang.loader import loads
from ..runtime import distributed
from ..runtime.compiling import eager
from ..runtime.device import check_device
from ..runtime.seeding import seed_everything
from ..runtime.signals import sigterm_as_interrupt
from ..train.losses import build_loss
from ..train.metrics import MetricAccumulator
from ..train.runlog import (TensorBoard, make_progress, open_log, peak_memory_mb,
                           reset_peak_memory)
from .config import EigenStop as EigenStopMode, SearchConfig
from .data import Batches, build_halves, fixed_batch, half_loader
from .derive import derive
from .genotype_file import derived_settings, genotype_name, genotype_text
from .inputs import SearchInputs, load_inputs
from .monitors import (EigenStop, alpha_shift, dominant_eigenvalue, edge_entropy, mean_entropy,
                       param_free_share)
from .state import Progress, SearchPaths, load_state, save_state
from .strategies import strategy_class
from .strategy import Batch, BaseStrategy
from .summary import summarize

EpochHook = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True)
class SearchJob:
    """A search: the network placing a search space in ``program``, the settings, the folder.

    ``source`` names the space's file in the provenance header; ``record`` is the whole run
    config as JSON data, written to ``config.yaml`` (default: the runtime and search sections).
    """

    program: Program
    network: str | None
    search: SearchConfig
    data: DataConfig
    out: Path
    runtime: RuntimeConfig = RuntimeConfig()
    source: str = "<program>"
    record: Mapping[str, Any] | None = None


@dataclass
class SearchResult:
    status: str  # "completed", "stopped_early" or "interrupted"
    run_dir: Path
    genotype_file: Path
    epochs: int
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def warmup_warning(cfg: SearchConfig) -> str | None:
    """Why a search whose warm-up covers all its epochs decides nothing, or None."""
    if cfg.warmup < cfg.epochs:
        return None
    return (f"search.warmup_epochs = {cfg.warmup} covers all {cfg.epochs} epochs: the "
            "alphas never move, so the genotype derives from their random start; lower "
            "search.warmup_epochs or raise search.epochs")


def alpha_warnings(cfg: SearchConfig, progress: Progress, probs: dict[str, torch.Tensor]
                   ) -> tuple[list[str], dict[str, Any]]:
    """(End-of-search warnings about alphas that never trained or barely moved, the facts)."""
    trained = max(0, progress.epoch - cfg.warmup)
    facts: dict[str, Any] = {"trained_epochs": trained, "max_shift": None}
    if trained == 0:
        if cfg.warmup >= cfg.epochs:  # said at the start already (warmup_warning)
            return [], facts
        return [f"the alphas never trained: the search ended after {progress.epoch} epochs, "
                f"within its warm-up of {cfg.warmup}; the genotype derives from their random "
                "start"], facts
    if progress.alpha_start is None:  # a run checkpointed before the start was recorded
        return [], facts
    shift = alpha_shift(progress.alpha_start, probs)
    facts["max_shift"] = round(shift, 6)
    if shift >= cfg.min_alpha_shift:
        return [], facts
    return [f"the alphas barely moved: in {trained} trained epochs no edge's distribution "
            f"shifted by {cfg.min_alpha_shift} (the largest shift is {shift:.2g}, total "
            "variation), so the genotype is close to their random start; raise "
            "search.alphas.lr or search.epochs"], facts


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
    cfg, rt = job.search, job.runtime
    paths = SearchPaths(job.out)
    distributed.check_joined()
    main = distributed.is_main()
    seed_everything(rt.seed, rt.deterministic)
    check_device(rt.device)
    with distributed.main_first():  # rank 0 checks and writes the run folder, then the others
        inputs = load_inputs(job.program, job.network, cfg, rt, job.data, job.source, paths,
                             resume or not main, job.record)
        weight_ds, alpha_ds = build_halves(inputs.data, job.out, inputs.settings.dims)
    warnings = [w for w in [warmup_warning(cfg)] if w]
    if main:
        for warning in warnings:
            console.print(f"[yellow]warning:[/] {warning}")
    device = distributed.device(rt.device)
    net = inputs.supernet.to(device)
    if rt.channels_last and inputs.settings.dims == 2:
        net.to(memory_format=torch.channels_last)
    reset_peak_memory(device)
    before_mb = peak_memory_mb(device)[0]  # CPU: max RSS so far (imports, data): the baseline
    sample_shape = tuple(weight_ds[0]["image"].shape)  # [C, H, W], 3D: a patch [C, D, H, W]
    inputs.check_input(sample_shape)
    probe = (fixed_batch(alpha_ds, cfg.batch_size, inputs.data.num_classes, device)
             if cfg.hessian_every else None)
    rule = (EigenStop(cfg.eigen_k, cfg.eigen_threshold)
            if cfg.eigen_stop is not EigenStopMode.OFF else None)
    loss_fn = build_loss(cfg.loss, inputs.data.num_classes)
    say = console.print if main else None  # the note on compiling (search.compile)
    strategy = strategy_class(cfg.strategy.value)(net, cfg, loss_fn, inputs.cost_model(),
                                                  runtime=rt, say=say)
    gens = {"weight": torch.Generator().manual_seed(rt.seed + 10),
            "alpha": torch.Generator().manual_seed(rt.seed + 11)}
    k = inputs.data.num_classes
    weights = Batches(half_loader(weight_ds, cfg.batch_size, gens["weight"], rt.num_workers),
                      k, device, rt.channels_last)
    alphas = Batches(half_loader(alpha_ds, cfg.batch_size, gens["alpha"], rt.num_workers),
                     k, device, rt.channels_last)
    steps = cfg.steps_per_epoch or len(weights.loader)
    log = open_log(paths.log, main)
    progress = Progress()
    if resume and paths.last.is_file():
        progress = load_state(paths.last, net, strategy, gens, inputs.hash)
        start -= progress.elapsed_s  # the earlier invocations' time counts (summary, resume)
        log.truncate_after(progress.epoch)
        log.write({"epoch": progress.epoch, "event": "resumed"})
    elif resume:
        raise GenoError(f"nothing to resume in {job.out}: no checkpoints/last.pt",
                        code="E400", hint="start the run without --resume")
    distributed.broadcast_module(net)  # identical start on every rank, whatever the init
    if progress.epoch == 0:
        progress.alpha_start = net.alphas.snapshot()
    tb = TensorBoard(paths.tensorboard) if cfg.tensorboard and main else None
    bar = make_progress(rt.progress and main, console)
    status = "running"
    name = genotype_name(inputs.space.name, cfg.strategy.value, rt.seed)
    try:
        with bar, sigterm_as_interrupt():
            ep_task = bar.add_task("epoch", total=cfg.epochs, completed=progress.epoch, info="")
            st_task = bar.add_task("step", total=steps, info="")
            while not progress.finished and progress.epoch < cfg.epochs:
                epoch = progress.epoch + 1
                meters = _Meters(k)
                t0 = time.perf_counter()
                alpha_on = epoch > cfg.warmup
                remedies = strategy.remedies.start_epoch(epoch)
                getattr(weight_ds, "set_epoch", lambda e: None)(epoch)
                weights.restart()
                alphas.restart()
                bar.reset(st_task, total=steps)
                for _ in range(steps):
                    _step(strategy, weights, alphas, alpha_on, meters)
                    bar.update(st_task, advance=1, info=_info(meters))
                lr = strategy.lr
                strategy.end_epoch()
                record = _finish_epoch(inputs, net, progress, epoch, meters, name, paths,
                                       alpha_on, console if main else None)
                if probe is not None and epoch % cfg.hessian_every == 0:
                    value = _eigenvalue(strategy, probe, cfg.hessian_iters, rt.seed, epoch)
                    progress.eigen[epoch] = record["hessian_eig"] = value  # type: ignore[index]
                back = rule.check(progress.eigen, epoch) if rule is not None else None  # type: ignore[arg-type]
                record.update(remedies, lr=lr, time_s=time.perf_counter() - t0)
                progress.epoch = epoch
                stop = cfg.patience is not None and progress.unchanged >= cfg.patience
                if back is not None:
                    _go_back(inputs, net, progress, back, name, paths, main)
                    record.update(event="eigen_stop", rolled_back_to=back)
                    progress.stop_reason = "eigenvalue"
                elif stop and epoch < cfg.epochs:
                    record["event"] = "stopped_early"
                    progress.stop_reason = "patience"
                progress.finished = back is not None or stop or epoch >= cfg.epochs
                log.write(record)
                if tb is not None:
                    tb.scalars({k2: v for k2, v in record.items() if k2 != "epoch"}, epoch)
                progress.elapsed_s = time.perf_counter() - start
                if main:
                    save_state(paths.last, net, strategy, progress, gens, inputs.hash)
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
        status = "stopped_early" if progress.stop_reason else "completed"
    late, facts = alpha_warnings(cfg, progress, net.alphas.snapshot())
    warnings += late
    if main:
        for warning in warnings:  # again at the end, where it is read
            console.print(f"[yellow]warning:[/] {warning}")
    summary = summarize(inputs, net, progress, paths, status, time.perf_counter() - start,
                        console, final=status != "interrupted" and main, warnings=warnings,
                        history=history, alphas=facts)
    mem, kind = peak_memory_mb(device)  # the supernet's steps: CUDA max allocated, else RSS
    summary["memory"] = {"peak_mb": round(mem, 1) if mem is not None else None, "kind": kind,
                         "before_search_mb": round(before_mb, 1) if before_mb else None,
                         "input": list(sample_shape),
                         "batch_size": cfg.batch_size}
    if main:
        write_json_atomic(paths.summary, summary)
    return SearchResult(status, job.out, paths.genotype, progress.epoch, history, summary)


def _eigenvalue(strategy: BaseStrategy, batch: Batch, iters: int, seed: int, epoch: int
                ) -> float:
    """The dominant eigenvalue of ∇²_α L(batch) (DARTS relaxation, float32, no autocast).

    The power iteration starts from a vector of its own seeded generator (the run's RNG
    streams are untouched); rank 0's value is everyone's, so all ranks decide alike.
    """
    net = strategy.net

    def loss() -> torch.Tensor:
        down, up = net.alphas.edge_weights()
        return strategy.loss(net(batch.image, down, up).float(), batch.mask)

    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    with eager():  # Hessian-vector products: double backward, which compiled parts lack
        value = dominant_eigenvalue(loss, net.alpha_parameters(), iters, generator=gen)
    return float(distributed.broadcast_object(value))


def _go_back(inputs: SearchInputs, net: Any, progress: Progress, epoch: int, name: str,
             paths: SearchPaths, main: bool) -> None:
    """DARTS-ES: the alphas of ``epoch`` (from the history) and its genotype become the result."""
    probs = progress.alpha_history[epoch - 1]  # type: ignore[index]
    with torch.no_grad():
        for key, table in net.alphas.tables.items():
            table.copy_(probs[key].double().clamp_min(1e-300).log().to(table))
    genotype = derive(inputs.space, net.alphas, name)
    text = genotype_text(genotype, inputs.network, inputs.settings, inputs.provenance(epoch))
    progress.signature = text.split("\n\n", 1)[1]
    if main:
        write_text_atomic(paths.genotype, text)


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
        meters.add("regularizer", r.regularizer)
        meters.val.update(*_planar(r.logits, val.mask))
    r = strategy.weight_step(train)
    meters.add("weight_loss", r.loss)
    meters.train.update(*_planar(r.logits, train.mask))


def _planar(logits: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and mask as [B, H, W] for the meters: a 3D patch's D×H rows stacked (overlap
    counts over voxels, so mIoU is unchanged)."""
    labels = logits.detach().argmax(dim=1)
    return labels.reshape(labels.shape[0], -1, labels.shape[-1]), \
        mask.reshape(mask.shape[0], -1, mask.shape[-1])


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


def _finish_epoch(inputs: SearchInputs, net: Any, progress: Progress, epoch: int, m: _Meters,
                  name: str, paths: SearchPaths, alpha_on: bool, console: Console | None
                  ) -> dict[str, Any]:
    """Derive, record and (with a ``console``: rank 0) write and announce the genotype."""
    genotype = derive(inputs.space, net.alphas, name)
    text = genotype_text(genotype, inputs.network, inputs.settings, inputs.provenance(epoch))
    signature = text.split("\n\n", 1)[1]
    changed = signature != progress.signature
    change = None
    if changed and progress.signature:  # what changed since the last epoch, in one line
        change = summary(diff_genotypes(loads(progress.signature).genotypes[name], genotype))
    if change is not None and console is not None:
        console.print(f"epoch {epoch}: the genotype changed: {change}")
    progress.unchanged = 0 if changed or not alpha_on else progress.unchanged + 1
    progress.signature = signature
    progress.alpha_history.append(net.alphas.snapshot())  # type: ignore[union-attr]
    if console is not None:
        write_text_atomic(paths.history(epoch), text)
        write_text_atomic(paths.genotype, text)
    derived = build_discrete(derived_settings(inputs.settings, name), genotype)
    entropy = edge_entropy(net.alphas.probs())
    monitors: dict[str, Any] = {"param_free_share": param_free_share(genotype),
                                "entropy": mean_entropy(entropy), "edge_entropy": entropy}
    if m.mean("regularizer") is not None:
        monitors["regularizer"] = m.mean("regularizer")
    return {"epoch": epoch, "weight_loss": m.mean("weight_loss"),
            "alpha_loss": m.mean("alpha_loss"), "train_miou": _Meters.miou(m.train),
            "val_miou": _Meters.miou(m.val), "penalty": m.mean("penalty"),
            "expected_cost": m.mean("expected_cost"),
            "derived_params": sum(p.numel() for p in derived.parameters()),
            "alphas_active": alpha_on, "genotype_changed": changed, "genotype_diff": change,
            "unchanged_epochs": progress.unchanged, **monitors}
