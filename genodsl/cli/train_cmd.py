"""`genodsl train`: a genotype's network (or a baseline) trained from scratch on data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..errors import GenoError
from . import options as o
from .common import console

DATA_WAIT_WARNING = 0.25  # the share of training time waiting for data that is worth a note


def train(geno: Path = typer.Argument(None, help="a .geno file, or the name of a shipped one "
                                      "(nasunet.geno); or use --baseline (model.file)",
                                      show_default=False),
          network: str = typer.Option(None, "--network", "-n", help="the network in the file "
                                      "(model.network)", show_default=False),
          baseline: str = typer.Option(None, help="train a baseline: unet, unet_small, "
                                       "fcdensenet56/67/103 (model.baseline)",
                                       show_default=False),
          data: o.Data = None,
          epochs: o.Epochs = None,
          steps_per_epoch: o.StepsPerEpoch = None,
          out: o.Out = None,
          resume: o.Resume = False,
          device: o.Device = None,
          seed: o.Seed = None,
          size: o.Size = None,
          batch_size: o.BatchSize = None,
          no_progress: o.NoProgress = False,
          config: o.ConfigFile = None,
          sets: o.Sets = [],  # noqa: B006 (typer's list default)
          amp: o.AmpOption = None,
          channels_last: o.ChannelsLast = None,
          nproc: o.Nproc = 1,
          fold: int = typer.Option(None, "--fold", min=0, help="k-fold cross-validation by "
                                   "case: train fold N (data.split.fold; data.split.folds, "
                                   "default 5) in OUT/fold_N", show_default=False),
          ) -> None:
    """Train a genotype's network (or a baseline) from scratch on segmentation data."""
    from ..runtime import distributed
    from ..train.checkpoint import RunPaths

    o.relaunch_if(nproc)
    named = {**o.model_keys(geno, network), **o.data_keys(data),
             **o.shared(device, seed, size, batch_size, no_progress)}
    for key, value in (("model.baseline", baseline), ("train.epochs", epochs),
                       ("train.steps_per_epoch", steps_per_epoch),
                       ("runtime.amp", amp.value if amp else None),
                       ("runtime.channels_last", channels_last)):
        if value is not None:
            named[key] = value
    if fold is not None:  # each fold's run in its own folder
        named["data.split.fold"] = fold
        out = out / f"fold_{fold}" if out is not None else None
    run_dir, cfg = o.run_settings(out, resume, config, named, sets)
    paths = RunPaths(run_dir)
    if resume and not paths.last.is_file():
        raise GenoError(f"nothing to resume in {run_dir}", code="E400",
                        hint="start the run without --resume first")
    if not resume and paths.last.is_file():
        raise GenoError(f"{run_dir} already holds a run", code="E400",
                        hint="add --resume to continue it, or choose another --out")
    with distributed.session(cfg.runtime.device) as world:
        result = _fit(cfg, run_dir, resume, world.main)
    if not world.main:
        return
    s = result.summary

    def num(key: str) -> str:
        value = s.get(key)
        return f"{value:.4f}" if isinstance(value, float) else "n/a"

    console.print(f"{result.status}: best DSC {num('dsc')} (epoch {s.get('best_epoch')}), "
                  f"mIoU {num('miou')}; {run_dir}", markup=False)
    wait = s.get("data_wait_share")
    if isinstance(wait, float) and wait > DATA_WAIT_WARNING:
        console.print(f"note: {wait:.0%} of the training time went waiting for batches; "
                      f"raise runtime.num_workers (now {cfg.runtime.num_workers}) or keep "
                      f"data.cache on", markup=False)
    if result.status != "completed":
        raise typer.Exit(130)


def _fit(cfg: Any, out: Path, resume: bool, main: bool) -> Any:
    """Build the model and data of a train command and run the Trainer (on every rank)."""
    import torch

    from ..data import build_datasets
    from ..data.intensity import fit_intensity
    from ..data.fitting import fit_to_data
    from ..runs.config import record
    from ..runs.model import training_model
    from ..runs.saved import MODEL_FILE, ModelFileWriter, ModelSpec
    from ..runtime import distributed
    from ..train.checkpoint import RunPaths, load_checkpoint
    from ..train.infer import inference_kwargs, model_dims
    from ..train.loop import Trainer

    if resume:
        last = RunPaths(out).last
        spec = ModelSpec.from_dict(load_checkpoint(last)["model_spec"], str(last))
        model, data_cfg = spec.build(), cfg.data
    else:
        torch.manual_seed(cfg.runtime.seed)  # channels and classes follow the data
        model, spec, data_cfg = training_model(
            cfg.model_copy(update={"data": fit_to_data(cfg.data)}))
    data_cfg = fit_intensity(data_cfg, out)  # data.normalize: ct: the training foreground's
    cfg = cfg.model_copy(update={"data": data_cfg})
    with distributed.main_first():  # rank 0 writes split.json, the others read it
        # a folder of the user's own files is refused before anything is written into it
        with o.claimed(out, "train", resume, main):
            train_ds, val_ds = build_datasets(data_cfg, out, dims=model_dims(model))
    if main:
        what = "images" if model_dims(model) == 2 else "3D samples (patches)"
        console.print(f"training on {len(train_ds)} {what} from {len(train_ds.cases)} cases, "
                      f"validating on {len(val_ds.cases)} cases; run folder {out}", markup=False)
    saved = record(cfg, "train")
    writer = ModelFileWriter(out / MODEL_FILE, spec, config=saved)
    trainer = Trainer(model, train_ds, val_ds, config=cfg.train, runtime=cfg.runtime,
                      run_dir=out, num_classes=data_cfg.num_classes,
                      model_spec=spec.to_dict(), callbacks=[writer], record=saved,
                      class_names=data_cfg.class_names,
                      # the per-epoch validation never mirrors (2^dims passes each epoch),
                      # as nnU-Net's; evaluate and predict do when data.inference.mirror
                      inference={**inference_kwargs(data_cfg), "mirror": False})
    return trainer.fit(resume=resume)


def register(app: typer.Typer) -> None:
    app.command()(train)
