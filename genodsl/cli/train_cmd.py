"""`genodsl train | evaluate | predict | export | compare`: models trained on real images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..errors import ConfigError, GenoError
from .common import console

SYNTHETIC = "synthetic"


def run_config(config: Path | None, data: str | None, sets: list[str],
               extra: dict[str, Any] | None = None) -> Any:
    """The RunConfig of a command: YAML file, then --data, then --set overrides."""
    from ..train.config import load_config, parse_overrides

    overrides: dict[str, object] = {}
    if data is not None:
        if data == SYNTHETIC:
            overrides["data.layout"] = SYNTHETIC
        else:
            overrides["data.root"] = data
    overrides.update(extra or {})
    overrides.update(parse_overrides(sets))
    cfg = load_config(config, overrides)
    if cfg.data is None:
        raise ConfigError("no data: give --data PATH (or --data synthetic), or a data section "
                          "in the config file")
    return cfg


def _model_and_spec(geno: Path | None, network: str | None, baseline: str | None, cfg: Any):
    """(model, spec, data config reconciled with the model's channels and classes)."""
    from ..compile import build
    from ..lang.loader import load
    from ..modelspec import baseline_spec, network_spec, reconcile_io

    if (geno is None) == (baseline is None):
        raise ConfigError("give a .geno file (with --network) or --baseline NAME, not both",
                          hint="e.g. genodsl train genotypes/nasunet.geno --network "
                               "nasunet_promise12 ... or genodsl train --baseline unet ...")
    if baseline is not None:
        from ..baselines import build_baseline

        data = cfg.data
        model = build_baseline(baseline, data.in_channels, data.num_classes)
        return model, baseline_spec(baseline, data.in_channels, data.num_classes), data
    program = load(geno)
    net = program.network(network)
    settings = net.settings
    data = reconcile_io(cfg.data, settings.in_channels, settings.classes, f"network '{net.name}'")
    if settings.cells in program.spaces:
        raise ConfigError(f"network '{net.name}' binds a search space; train a genotype",
                          hint="run genodsl search first, then train its genotype.geno")
    return build(program, net.name), network_spec(program, net.name), data


def train(geno: Path = typer.Argument(None, help="a .geno file (or use --baseline)"),
          network: str = typer.Option(None, "--network", "-n", help="network in the file"),
          baseline: str = typer.Option(None, help="train a baseline: unet, unet_small, "
                                       "fcdensenet56/67/103"),
          data: str = typer.Option(None, help="data folder, or 'synthetic'"),
          out: Path = typer.Option(..., "--out", "-o", help="the run folder"),
          config: Path = typer.Option(None, "--config", "-c", help="a YAML config"),
          sets: list[str] = typer.Option([], "--set", help="override a key: train.epochs=5"),
          epochs: int = typer.Option(None, help="shortcut for --set train.epochs=N"),
          resume: bool = typer.Option(False, help="continue the run in --out exactly"),
          amp: str = typer.Option(None, help="mixed precision: bf16 or fp16 (GPU)"),
          channels_last: bool = typer.Option(None, "--channels-last",
                                             help="NHWC memory format"),
          nproc: int = typer.Option(1, min=1, help="processes on this machine (one per GPU); "
                                    "re-runs the command through torch.distributed.run"),
          ) -> None:
    """Train a genotype's network (or a baseline) from scratch on segmentation data."""
    from .. import distributed
    from ..train.checkpoint import RunPaths

    if nproc > 1:
        from . import ARGV
        raise typer.Exit(distributed.relaunch(ARGV, nproc))
    extra: dict[str, Any] = {"train.epochs": epochs} if epochs is not None else {}
    if amp is not None:
        extra["train.amp"] = amp
    if channels_last is not None:
        extra["train.channels_last"] = channels_last
    paths = RunPaths(out)
    if resume:
        if not paths.last.is_file():
            raise GenoError(f"nothing to resume in {out}", code="E400",
                            hint="start the run without --resume first")
        cfg = run_config(paths.config, None, sets, extra)
    else:
        cfg = run_config(config, data, sets, extra)
        if paths.last.is_file():
            raise GenoError(f"{out} already holds a run", code="E400",
                            hint="add --resume to continue it, or choose another --out")
    with distributed.session(cfg.train.device) as world:
        result = _fit(geno, network, baseline, cfg, out, resume, world.main)
    if not world.main:
        return
    s = result.summary

    def num(key: str) -> str:
        value = s.get(key)
        return f"{value:.4f}" if isinstance(value, float) else "n/a"

    console.print(f"{result.status}: best DSC {num('dsc')} (epoch {s.get('best_epoch')}), "
                  f"mIoU {num('miou')}; {out}", markup=False)
    if result.status != "completed":
        raise typer.Exit(130)


def _fit(geno: Path | None, network: str | None, baseline: str | None, cfg: Any, out: Path,
         resume: bool, main: bool) -> Any:
    """Build the model and data of a train command and run the Trainer (on every rank)."""
    import torch

    from .. import distributed
    from ..data import build_datasets
    from ..modelspec import build_from_spec
    from ..train import Trainer
    from ..train.checkpoint import RunPaths, load_checkpoint

    if resume:
        spec = load_checkpoint(RunPaths(out).last)["model_spec"]
        model, data_cfg = build_from_spec(spec), cfg.data
    else:
        torch.manual_seed(cfg.train.seed)
        model, spec, data_cfg = _model_and_spec(geno, network, baseline, cfg)
    cfg = cfg.model_copy(update={"data": data_cfg})
    with distributed.main_first():  # rank 0 writes split.json, the others read it
        train_ds, val_ds = build_datasets(data_cfg, out)
    if main:
        console.print(f"training on {len(train_ds)} images, validating on {len(val_ds)}; run "
                      f"folder {out}", markup=False)
    trainer = Trainer(model, train_ds, val_ds, config=cfg, run_dir=out,
                      num_classes=data_cfg.num_classes, model_spec=spec)
    return trainer.fit(resume=resume)


def _load_run(run: Path, which: str):
    from ..modelspec import build_from_spec
    from ..train.checkpoint import load_model, load_run

    _, _, cfg, _ = load_run(run, which)
    model = load_model(run, build_from_spec, which=which)
    if cfg.data is None:
        raise ConfigError(f"the run in {run} has no data section", file=str(run))
    return model, cfg


def evaluate(run: Path = typer.Argument(..., help="a run folder"),
             data: str = typer.Option(None, help="test data folder (same layout as training); "
                                      "default: the run's own data with --split"),
             split: str = typer.Option("val", help="without --data: val, train or all of the "
                                       "run's split.json"),
             which: str = typer.Option("best", help="best or last checkpoint"),
             out: Path = typer.Option(None, help="where to write per_image.csv and "
                                      "metrics.json (default RUN/eval)")) -> None:
    """Evaluate a trained run: per-class DSC, IoU, HD95; a table and a per-image CSV."""
    from ..data import build_dataset
    from ..data.config import Layout
    from ..data.splits import SPLIT_FILE, load_split
    from ..train.evaluate import evaluate as run_eval, render_eval

    model, cfg = _load_run(run, which)
    update: dict[str, Any] = {}
    if data is not None and data != SYNTHETIC:
        update["root"] = Path(data)
        if cfg.data.layout is Layout.SYNTHETIC:  # trained on synthetic data, tested on files
            update["layout"] = Layout.AUTO
    data_cfg = cfg.data.model_copy(update=update)
    dataset = build_dataset(data_cfg)
    title = f"{run.name} on {data}"
    if data is None:
        if split not in ("val", "train", "all"):
            raise ConfigError(f"--split must be val, train or all, got '{split}'")
        if split != "all":
            cases = getattr(load_split(run / SPLIT_FILE), split)
            dataset = dataset.subset(cases)
        title = f"{run.name} on its {split} cases"
    out_dir = out or run / "eval"
    result = run_eval(model, dataset, num_classes=data_cfg.num_classes,
                      empty=cfg.train.empty_mask_rule, out_dir=out_dir)
    console.print(render_eval(result, title=title))
    console.print(f"wrote {out_dir / 'per_image.csv'} and {out_dir / 'metrics.json'}",
                  markup=False)


def predict(run: Path = typer.Argument(..., help="a run folder"),
            inputs: list[Path] = typer.Argument(..., help="images or volumes"),
            out: Path = typer.Option(..., "--out", "-o", help="output folder"),
            which: str = typer.Option("best", help="best or last checkpoint"),
            overlay: bool = typer.Option(True, help="also write overlays")) -> None:
    """Predict masks for images: class-index PNGs (+ viewable masks and overlays)."""
    import torch
    from PIL import Image

    from ..data import load_input
    from ..train.predict import predict_masks, write_predictions
    from ..utils import atomic_path

    model, cfg = _load_run(run, which)
    written = 0
    for path in inputs:
        item = load_input(path, cfg.data)
        masks, _ = predict_masks(model, item.images)
        write_predictions(masks, item.names, out, num_classes=cfg.data.num_classes,
                          images=item.images if overlay else None)
        full = item.restore(torch.stack(masks))
        if full.ndim == 2:  # a 2D image: also its mask at the input's own size
            with atomic_path(out / f"{Path(item.names[0]).stem}_mask_full.png") as tmp:
                Image.fromarray(full).save(tmp, format="PNG")
        written += len(masks)
    console.print(f"wrote {written} prediction{'s' if written != 1 else ''} to {out}",
                  markup=False)


def export(run: Path = typer.Argument(..., help="a run folder"),
           format: str = typer.Option("onnx", "--format", "-f", help="onnx, torchscript or pt2"),
           out: Path = typer.Option(None, "--out", "-o", help="output file"),
           which: str = typer.Option("best", help="best or last checkpoint")) -> None:
    """Export a trained model (ONNX checked against onnxruntime, TorchScript or torch.export)."""
    import torch

    from ..export import export_model

    model, cfg = _load_run(run, which)
    size = cfg.data.size or (256, 256)
    example = torch.randn(1, cfg.data.in_channels, *size)
    suffix = {"onnx": ".onnx", "torchscript": ".pt", "pt2": ".pt2"}.get(format, "")
    report = export_model(model, example, format, out or run / f"model{suffix}")
    console.print(f"exported {report.path} ({report.fmt}); max |diff| vs eager "
                  f"{report.max_abs_diff:.2e}", markup=False)


def compare(runs: list[Path] = typer.Argument(..., help="run folders")) -> None:
    """Runs side by side: DSC, mIoU, parameters, FLOPs, time per epoch, peak memory."""
    from ..train.compare import compare_runs, render_comparison

    console.print(render_comparison(compare_runs(runs)))


def register(app: typer.Typer) -> None:
    for command in (train, evaluate, predict, export, compare):
        app.command()(command)
