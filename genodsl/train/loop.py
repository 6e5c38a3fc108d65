"""The generic training engine: any ``nn.Module`` on datasets of segmentation samples.

Samples are dicts ``image`` float ``[C, H, W]``, ``mask`` int64 ``[H, W]``, ``name``, ``case``;
the model maps ``[B, C, H, W]`` to logits ``[B, K, H, W]``. The caller builds the model and
passes an opaque, JSON-serialisable ``model_spec`` that is stored in every checkpoint so that
the saved run can be rebuilt later. Settings: ``train`` (:class:`TrainConfig`) and ``runtime``
(device, amp, workers, seed, progress: :class:`genodsl.config.RuntimeConfig`).

Reproducibility: the train and validation DataLoaders have their own seeded generators and
workers are seeded from them; ``last.pt`` holds the model, optimizer, scheduler, scaler,
history and the states of the python/numpy/torch RNGs and both generators after each epoch.
Resuming from it reproduces an uninterrupted run exactly on CPU (same weights, same history).
Ctrl-C inside an epoch writes ``interrupted.pt`` (weights only; not a resume point) and the
summary, and returns; resuming restarts that epoch from ``last.pt``.

Distributed (inside :func:`genodsl.runtime.distributed.session`, e.g. under torchrun): the model is
wrapped in ``DistributedDataParallel`` (BatchNorm becomes ``SyncBatchNorm`` on CUDA);
``batch_size`` is the global batch and each rank trains on its slice of the batches one
process would draw, its loss weighted by the slice's share, so a step equals the
single-process step on the whole batch (a last batch with fewer images than processes is
skipped). Rank 0 alone validates (the whole validation set, then the result is broadcast),
writes the run folder and shows progress. ``last.pt`` holds no per-rank state: any number
of processes resumes it; the same global batches follow, so the run continues the same
optimisation, equal to the uninterrupted one up to floating-point summation order.
``train.compile``/``recompute``: :mod:`genodsl.runtime.compiling` (steps only; saved: the module).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from rich.console import Console
from torch import nn
from torch.utils.data import Dataset

from ..config import RuntimeConfig, changed_outcome, dump_config
from ..errors import CheckpointError, ConfigError, DataError
from ..files import write_json_atomic, write_text_atomic
from ..runtime import distributed
from ..runtime.compiling import prepare
from ..runtime.device import amp_dtype, autocast, check_device
from ..runtime.loader import epoch_batches, make_loader
from ..runtime.seeding import capture_rng, preserve_rng, restore_rng, seed_everything
from ..runtime.signals import sigterm_as_interrupt
from .batches import TimedBatches, count_flops, count_parameters, unpack_batch
from .checkpoint import LAST_KEYS, FORMAT_VERSION, RunPaths, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .history import EpochStats, TrainResult, summarize
from .infer import model_dims, model_divisors, pad_forward, validate_volumes
from .metrics import MetricAccumulator
from .optim import loss_weights, make_loss, make_optimizer, make_scheduler
from .runlog import (JsonlLog, TensorBoard, make_progress, open_log, peak_memory_mb,
                     reset_peak_memory, write_curves)

CURVES_EVERY_S = 60.0  # redraw curves.png during training at most this often (and at the end)

Callback = Callable[["Trainer", EpochStats], None]


class Trainer:
    """Train ``model`` on ``train_data``, validating on ``val_data``, into ``run_dir``."""

    def __init__(self, model: nn.Module, train_data: Dataset, val_data: Dataset | None = None,
                 *, config: TrainConfig, runtime: RuntimeConfig = RuntimeConfig(),
                 run_dir: str | os.PathLike[str], num_classes: int,
                 model_spec: Mapping[str, Any] | None = None,
                 class_names: Sequence[str] | None = None, callbacks: Sequence[Callback] = (),
                 console: Console | None = None, record: Mapping[str, Any] | None = None,
                 inference: Mapping[str, Any] | None = None):
        """``record``: the whole run config as JSON data (``config.yaml`` and checkpoints);
        by default the ``runtime`` and ``train`` sections. ``inference``: how a 3D network
        validates whole volumes (:func:`~.infer.infer_image` keywords: roi, overlap, ...)."""
        self.inference, self.cfg, self.runtime = dict(inference or {}), config, runtime
        self.record = dict(record) if record is not None else {
            "runtime": runtime.model_dump(mode="json"), "train": config.model_dump(mode="json")}
        if num_classes < 2:
            raise ConfigError(f"segmentation needs at least 2 classes, got {num_classes}")
        self.model, self.train_data, self.val_data = model, train_data, val_data
        self.num_classes = num_classes
        self.class_names = list(class_names or (str(i) for i in range(num_classes)))
        if len(self.class_names) != num_classes:
            raise ConfigError(f"{len(self.class_names)} class names for {num_classes} classes")
        self.model_spec = dict(model_spec or {})
        try:
            json.dumps(self.model_spec)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model_spec must be JSON-serialisable: {exc}") from None
        self.paths = RunPaths(Path(run_dir))
        self.callbacks = list(callbacks)
        self.console = console
        self.history: list[EpochStats] = []
        self.epoch, self.global_step = 0, 0
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self._dirty = False  # weights changed since last.pt was written
        self.world = distributed.world()
        self._curves_at = time.monotonic()

    # ---------------------------------------------------------------- setup
    def _setup(self, resume: bool) -> dict[str, Any] | None:
        cfg, rt, paths = self.cfg, self.runtime, self.paths
        distributed.check_joined()
        self.world = distributed.world()
        ckpt = None
        if resume:
            ckpt = load_checkpoint(paths.last, LAST_KEYS)
            self._check_resumable(ckpt)
        elif paths.last.exists():
            raise ConfigError(f"{paths.root} already holds a run",
                              hint="resume it, or choose a new run folder")
        if len(self.train_data) == 0:  # type: ignore[arg-type]
            raise DataError("the training set is empty")
        seed_everything(rt.seed, rt.deterministic)
        check_device(rt.device)
        self.device = distributed.device(rt.device)
        if self.world.size > 1 and self.device.type == "cuda":
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.model.to(self.device)
        if rt.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.params = params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters")
        self.loss_weights = loss_weights(cfg, self.train_data, self.num_classes, ckpt)
        self.loss_fn = make_loss(cfg, self.num_classes, self.loss_weights).to(self.device)
        self.optimizer = make_optimizer(cfg, params)
        self.scheduler = make_scheduler(cfg, self.optimizer)
        self.amp = amp_dtype(rt.amp, self.device)
        use_scaler = self.amp is torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type if use_scaler else "cpu",
                                           enabled=use_scaler)

        self.generators = {"train": torch.Generator().manual_seed(rt.seed),
                           "val": torch.Generator().manual_seed(rt.seed + 1)}
        common = dict(num_workers=rt.num_workers, pin_memory=self.device.type == "cuda")
        self.train_loader = make_loader(self.train_data, cfg.batch_size,
                                        self.generators["train"], **common)
        if len(self.train_loader) == 0:
            raise DataError(f"{len(self.train_data)} training images cannot feed "  # type: ignore[arg-type]
                            f"{self.world.size} processes", hint="use fewer processes")
        self.val_loader = (make_loader(self.val_data, cfg.batch_size, self.generators["val"],
                                       shuffle=False, **common)
                           if self.val_data is not None and len(self.val_data) > 0  # type: ignore[arg-type]
                           else None)

        if ckpt is not None:
            self._load_state(ckpt)
        else:
            n_all, n_train = count_parameters(self.model)
            flops = None
            if cfg.count_flops:
                with preserve_rng():
                    sample = self.train_data[0]["image"]
                flops = count_flops(self.model, sample)
            self.model_info = {"params": n_all, "trainable_params": n_train, "flops": flops,
                               "flops_input_shape": list(sample.shape) if flops is not None
                               else None}
        if self.world.main:
            write_text_atomic(paths.config, dump_config(self.record))
        self.net: nn.Module = self.model  # what the training steps call (saved: self.model)
        if self.world.size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        say = (self.console or Console(stderr=True)).print if self.world.main else None
        self.net = prepare(self.net, compile=cfg.compile, recompute=cfg.recompute, say=say)
        return ckpt

    def _check_resumable(self, ckpt: Mapping[str, Any]) -> None:
        saved = ckpt["config"]
        try:
            train = TrainConfig.model_validate(saved.get("train", {}))
            runtime = RuntimeConfig.model_validate(saved.get("runtime", {}))
        except Exception as exc:
            raise CheckpointError(f"checkpoint config does not validate: {exc}",
                                  file=str(self.paths.last)) from None
        changed = (changed_outcome(train, self.cfg, "train")
                   + changed_outcome(runtime, self.runtime, "runtime"))
        if changed:
            raise ConfigError("cannot resume with changed settings: " + "; ".join(changed),
                              hint="resume with the run's config.yaml, or start a new run folder")
        if ckpt["model_spec"] != self.model_spec or ckpt["num_classes"] != self.num_classes:
            raise ConfigError("cannot resume: the model spec or class count differs from the "
                              "checkpoint's", file=str(self.paths.last))

    def _load_state(self, ckpt: Mapping[str, Any]) -> None:
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(ckpt["scheduler"])
            if ckpt["scaler"]:
                self.scaler.load_state_dict(ckpt["scaler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"checkpoint does not fit this model/optimizer: {exc}",
                                  file=str(self.paths.last)) from None
        self.epoch, self.global_step = int(ckpt["epoch"]), int(ckpt["global_step"])
        self.best_score, self.best_epoch = ckpt["best_score"], ckpt["best_epoch"]
        self.history = [EpochStats(**h) for h in ckpt["history"]]
        self.model_info = dict(ckpt["model_info"])
        self._rng_state = ckpt["rng"]

    # ---------------------------------------------------------------- state
    def _common_state(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "config": self.record,
                "model_spec": self.model_spec, "num_classes": self.num_classes,
                "class_names": self.class_names,
                "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()}}

    def _save_last(self) -> None:
        state = self._common_state()
        state.update(kind="last", optimizer=self.optimizer.state_dict(),
                     scheduler=self.scheduler.state_dict() if self.scheduler else {},
                     scaler=self.scaler.state_dict() if self.scaler.is_enabled() else {},
                     epoch=self.epoch, global_step=self.global_step,
                     best_score=self.best_score, best_epoch=self.best_epoch,
                     history=[asdict(h) for h in self.history],
                     rng=capture_rng(self.generators), loss_weights=self.loss_weights,
                     model_info=self.model_info)
        save_checkpoint(state, self.paths.last)

    # ---------------------------------------------------------------- epochs
    def _forward(self, image: torch.Tensor, net: nn.Module) -> torch.Tensor:
        if self.runtime.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.amp):  # padded to the network's divisor, cropped back
            logits = pad_forward(net, image, model_divisors(self.model))
        if not isinstance(logits, torch.Tensor) or logits.ndim != image.ndim \
                or logits.shape[0] != image.shape[0] or logits.shape[1] != self.num_classes \
                or logits.shape[2:] != image.shape[2:]:
            raise ConfigError(f"the model must return logits [B, {self.num_classes}, ...] for "
                              f"input {tuple(image.shape)}, got "
                              f"{tuple(getattr(logits, 'shape', ()))}")
        return logits.float()

    def _train_epoch(self, progress: Any, task: Any, log: JsonlLog,
                     tb: TensorBoard | None) -> tuple[float, float]:
        self.model.train()
        total, count = 0.0, 0
        progress.reset(task, total=self.cfg.steps_per_epoch or len(self.train_loader))
        batches = TimedBatches(epoch_batches(self.train_loader, self.cfg.steps_per_epoch))
        for step, batch in enumerate(batches, start=1):
            image, mask = unpack_batch(batch, self.num_classes)
            image = image.to(self.device, non_blocking=True)
            mask = mask.to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self._forward(image, self.net), mask)
            n = image.shape[0]
            value, images = float(loss.detach()), n
            if self.world.size > 1:  # the step's mean loss and global batch, over all ranks
                loss_sum, images_sum = distributed.all_sum([float(loss.detach()) * n, float(n)])
                value, images = loss_sum / images_sum, int(images_sum)
                loss = loss * (n * self.world.size / images)  # DDP's mean → Σ_r n_r·g_r / B
            if not np.isfinite(value):
                raise ConfigError(f"the loss became {value} at epoch {self.epoch}, step {step}",
                                  hint="lower train.lr, keep train.grad_clip, check the data")
            self.scaler.scale(loss).backward()
            if self.cfg.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self._dirty, self.global_step = True, self.global_step + 1
            total, count = total + value * images, count + images
            if self.cfg.log_every and self.global_step % self.cfg.log_every == 0:
                lr = self.optimizer.param_groups[0]["lr"]
                log.write({"kind": "step", "epoch": self.epoch, "step": step,
                           "global_step": self.global_step, "loss": value, "lr": lr})
                if tb is not None:
                    tb.scalars({"train/step_loss": value}, self.global_step)
            progress.update(task, advance=1, info=f"loss {total / count:.4f}")
        return total / count, batches.wait_s  # mean loss, seconds spent waiting for data

    @torch.no_grad()
    def _validate(self) -> tuple[float, dict[str, Any]]:
        """Mean loss and :meth:`MetricAccumulator.summary` on the validation set."""
        if self.val_loader is None:
            raise ConfigError("no validation set was given")
        self.model.eval()
        acc = MetricAccumulator(self.num_classes, self.class_names, empty=self.cfg.empty_mask_rule)
        if model_dims(self.model) == 3:  # whole volumes, sliding windows of the patch size
            return validate_volumes(self.model, self.val_data, self.loss_fn, acc, self.device,
                                    {**self.inference, "amp": self.amp})
        total, count = 0.0, 0
        for batch in self.val_loader:
            image, mask = unpack_batch(batch, self.num_classes)
            logits = self._forward(image.to(self.device), self.model)
            total += float(self.loss_fn(logits, mask.to(self.device))) * image.shape[0]
            count += image.shape[0]
            acc.update(logits.argmax(dim=1).cpu(), mask, batch.get("name"), batch.get("case"))
        return total / count, acc.summary()

    def _run_epoch(self, progress: Any, tasks: tuple[Any, Any], log: JsonlLog,
                   tb: TensorBoard | None) -> EpochStats:
        cfg = self.cfg
        reset_peak_memory(self.device)
        start = time.perf_counter()
        train_loss, wait = self._train_epoch(progress, tasks[1], log, tb)
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None:
            self.scheduler.step()
        val_loss = val = None
        if self.val_loader is not None and (self.epoch % cfg.val_every == 0
                                            or self.epoch == cfg.epochs):
            # rank 0 validates on the whole set (exactly as one process would); all get it
            val_loss, val = distributed.broadcast_object(
                self._validate() if self.world.main else None)
        mem, _ = peak_memory_mb(self.device)
        return EpochStats(
            epoch=self.epoch, train_loss=train_loss, lr=lr,
            time_s=time.perf_counter() - start, peak_memory_mb=mem, val_loss=val_loss,
            val_dsc=val["dsc"] if val else None, val_miou=val["miou"] if val else None,
            val_dsc_per_class=val["dsc_per_class"] if val else None, data_wait_s=wait)

    def fit(self, resume: bool = False) -> TrainResult:
        """Train to ``config.epochs``; with ``resume`` continue from ``checkpoints/last.pt``."""
        ckpt = self._setup(resume)
        main = self.world.main
        log = open_log(self.paths.log, main)
        if ckpt is not None:
            log.truncate_after(self.epoch)
            log.write({"kind": "resume", "epoch": self.epoch})
            if main:
                self.paths.interrupted.unlink(missing_ok=True)  # stale once the run goes on
            restore_rng(self._rng_state, self.generators)
        tb = TensorBoard(self.paths.tensorboard) if self.cfg.tensorboard and main else None
        status = "completed"
        progress = make_progress(self.runtime.progress and main, self.console)
        try:
            with progress, sigterm_as_interrupt():
                epochs = progress.add_task("epoch", total=self.cfg.epochs,
                                           completed=self.epoch, info="")
                steps = progress.add_task("step", total=None, info="")
                while self.epoch < self.cfg.epochs:
                    self.epoch += 1
                    stats = self._run_epoch(progress, (epochs, steps), log, tb)
                    self.history.append(stats)
                    if stats.val_dsc is not None and (self.best_score is None
                                                      or stats.val_dsc > self.best_score):
                        self.best_score, self.best_epoch = stats.val_dsc, stats.epoch
                    if main:
                        self._save_last()
                    self._dirty = False
                    log.write({"kind": "epoch", **asdict(stats)})
                    if tb is not None:
                        tb.scalars({"train/loss": stats.train_loss, "val/loss": stats.val_loss,
                                    "val/dsc": stats.val_dsc, "val/miou": stats.val_miou,
                                    "lr": stats.lr}, stats.epoch)
                    if main and time.monotonic() - self._curves_at >= CURVES_EVERY_S:
                        self._write_curves()
                    dsc = f" val DSC {stats.val_dsc:.4f}" if stats.val_dsc is not None else ""
                    progress.update(epochs, advance=1,
                                    info=f"loss {stats.train_loss:.4f}{dsc}")
                    for callback in self.callbacks:
                        callback(self, stats)
        except KeyboardInterrupt:
            status = "interrupted"
            if self._dirty and main:
                state = self._common_state()
                state.update(kind="interrupted", epoch=self.epoch, global_step=self.global_step)
                save_checkpoint(state, self.paths.interrupted)
            completed = self.history[-1].epoch if self.history else 0
            log.write({"kind": "interrupted", "epoch": completed,
                       "in_epoch": self.epoch if self._dirty else None})
        finally:
            if tb is not None:
                tb.close()
        summary = self.summary(status)
        if main:
            self._write_curves()
            write_json_atomic(self.paths.summary, summary)
        return TrainResult(status, self.paths.root, list(self.history), summary)

    def _write_curves(self) -> None:
        if self.history:
            write_curves([asdict(h) for h in self.history], self.paths.curves)
        self._curves_at = time.monotonic()

    def summary(self, status: str) -> dict[str, Any]:
        return summarize(
            self.history, self.best_epoch, status=status, epochs=self.cfg.epochs,
            **self.model_info, peak_memory_kind=peak_memory_mb(self.device)[1],
            device=str(self.device), loss=self.cfg.loss.value, num_classes=self.num_classes,
            class_names=self.class_names, empty_mask_rule=self.cfg.empty_mask_rule.value,
            model_spec=self.model_spec)


def fit(model: nn.Module, train_data: Dataset, val_data: Dataset | None, *,
        config: TrainConfig, run_dir: str | os.PathLike[str], num_classes: int,
        model_spec: Mapping[str, Any] | None = None, resume: bool = False,
        **kwargs: Any) -> TrainResult:
    """Functional form of :class:`Trainer` (``kwargs``: runtime, class_names, callbacks...)."""
    return Trainer(model, train_data, val_data, config=config, run_dir=run_dir,
                   num_classes=num_classes, model_spec=model_spec, **kwargs).fit(resume=resume)
