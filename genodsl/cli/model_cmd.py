"""`genodsl evaluate | predict | export | compare`: using the models of training runs.

evaluate, predict and export load ``RUN/model.safetensors`` and the run's config, then apply
the shared options on top of it (``--size`` resizes inputs, ``--device`` runs elsewhere,
``--set data.class_map=...`` reads test masks of another encoding); compare reads only the
runs' ``summary.json`` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from . import options as o
from .common import console, err_console


def _run(run: Path, named: dict[str, object], config: Path | None, sets: list[str]
         ) -> tuple[Any, Any]:
    """(model, RunConfig with the options applied) of a training run folder; seeds the run."""
    from ..errors import ConfigError
    from ..runs.load import load_run
    from ..runtime.seeding import seed_everything

    loaded = load_run(run)
    base = loaded.config.model_dump(mode="json")
    cfg = o.build_run_config(config, named, sets, base)
    if cfg.data is None:
        raise ConfigError(f"the run in {run} has no data section", file=str(run))
    seed_everything(cfg.runtime.seed)
    return loaded.model, cfg


def evaluate(run: Path = typer.Argument(..., help="a training run folder"),
             data: o.Data = None,
             split: Annotated[o.Split, typer.Option(
                 help="without --data: which of the run's split.json cases")] = o.Split.VAL,
             out: o.Out = None,
             device: o.Device = None,
             seed: o.Seed = None,
             size: o.Size = None,
             batch_size: o.BatchSize = None,
             no_progress: o.NoProgress = False,
             config: o.ConfigFile = None,
             sets: o.Sets = [],  # noqa: B006 (typer's list default)
             ) -> None:
    """Evaluate a trained run: per-class DSC, IoU, HD95; a table and a per-image CSV.

    With --data: test data (same layout as training); without: the run's own cases. --out:
    where per_image.csv and metrics.json go (default RUN/eval).
    """
    from ..data import build_dataset
    from ..data.splits import SPLIT_FILE, load_split
    from ..runtime.device import pick_device
    from ..train.evaluate import evaluate as run_eval, render_eval

    named = {**o.data_keys(data), **o.shared(device, seed, size, batch_size, no_progress)}
    if "data.root" in named:  # test files for a run trained on synthetic data
        named["data.layout"] = "auto"
    model, cfg = _run(run, named, config, sets)
    dataset = build_dataset(cfg.data)
    title = f"{run.name} on {data}"
    if data is None:
        if split is not o.Split.ALL:
            dataset = dataset.subset(getattr(load_split(run / SPLIT_FILE), split.value))
        title = f"{run.name} on its {split.value} cases"
    out_dir = out or run / "eval"
    result = run_eval(model, dataset, num_classes=cfg.data.num_classes,
                      empty=cfg.train.empty_mask_rule, out_dir=out_dir,
                      device=pick_device(cfg.runtime.device), batch_size=cfg.train.batch_size,
                      num_workers=cfg.runtime.num_workers, progress=cfg.runtime.progress,
                      console=err_console)
    console.print(render_eval(result, title=title))
    console.print(f"wrote {out_dir / 'per_image.csv'} and {out_dir / 'metrics.json'}",
                  markup=False)


def predict(run: Path = typer.Argument(..., help="a training run folder"),
            inputs: list[Path] = typer.Argument(..., help="images or volumes"),
            out: Annotated[Path, typer.Option("--out", "-o", help="the output folder")] = ...,
            overlay: bool = typer.Option(True, help="also write overlays"),
            device: o.Device = None,
            seed: o.Seed = None,
            size: o.Size = None,
            batch_size: o.BatchSize = None,
            no_progress: o.NoProgress = False,
            config: o.ConfigFile = None,
            sets: o.Sets = [],  # noqa: B006 (typer's list default)
            ) -> None:
    """Predict masks for images: class-index PNGs (+ viewable masks and overlays)."""
    import torch
    from PIL import Image

    from ..data import load_input
    from ..files import atomic_path
    from ..runtime.device import pick_device
    from ..train.predict import predict_masks, write_predictions
    from ..train.runlog import make_progress

    model, cfg = _run(run, o.shared(device, seed, size, batch_size, no_progress), config, sets)
    dev = pick_device(cfg.runtime.device)
    written = 0
    with make_progress(cfg.runtime.progress, err_console) as bar:
        task = bar.add_task("predict", total=len(inputs), info="")
        for path in inputs:
            item = load_input(path, cfg.data)
            masks, _ = predict_masks(model, item.images, device=dev,
                                     batch_size=cfg.train.batch_size)
            write_predictions(masks, item.names, out, num_classes=cfg.data.num_classes,
                              images=item.images if overlay else None)
            full = item.restore(torch.stack(masks))
            if full.ndim == 2:  # a 2D image: also its mask at the input's own size
                with atomic_path(out / f"{Path(item.names[0]).stem}_mask_full.png") as tmp:
                    Image.fromarray(full).save(tmp, format="PNG")
            written += len(masks)
            bar.update(task, advance=1)
    console.print(f"wrote {written} prediction{'s' if written != 1 else ''} to {out}",
                  markup=False)


def _export_example(run: Path, cfg: Any, image: Path | None, batch_size: int | None,
                    divisor: int) -> Any:
    """A real image to trace and check the export on: ``image``, else the first of the run's
    validation cases (a random tensor, said so, only when the run's data cannot be read)."""
    import torch

    from ..data import build_dataset, load_input
    from ..data.splits import SPLIT_FILE, load_split
    from ..errors import DataError

    if image is not None:
        x = load_input(image, cfg.data).images[:1]
    else:
        try:
            data = cfg.data.model_copy(update={"check_files": False, "cache": False})
            dataset = build_dataset(data)
            if (run / SPLIT_FILE).is_file():
                val = load_split(run / SPLIT_FILE).val
                dataset = dataset.subset(val) if val else dataset
            x = dataset[0]["image"][None]
        except DataError as err:
            err_console.print(f"note: the run's data cannot be read ({err.diagnostics[0].message}"
                              "); checking on a random input instead of a real image",
                              markup=False)
            x = torch.randn(1, cfg.data.in_channels, *(cfg.data.size or (256, 256)))
    pad = (0, -x.shape[3] % divisor, 0, -x.shape[2] % divisor)  # to sizes the network takes
    x = torch.nn.functional.pad(x, pad, mode="replicate") if any(pad) else x
    return x.repeat(batch_size or 1, 1, 1, 1)


def export(run: Path = typer.Argument(..., help="a training run folder"),
           format: Annotated[o.ExportFormat, typer.Option(
               "--format", "-f", help="onnx (checked with onnxruntime), torchscript or pt2 "
                                      "(torch.export)")] = o.ExportFormat.ONNX,
           out: o.Out = None,
           image: Annotated[Path | None, typer.Option(
               help="a real image or volume to check the export on (default: the first "
                    "validation image of the run)", show_default=False)] = None,
           device: o.Device = None,
           seed: o.Seed = None,
           size: o.Size = None,
           batch_size: o.BatchSize = None,
           no_progress: o.NoProgress = False,
           config: o.ConfigFile = None,
           sets: o.Sets = [],  # noqa: B006 (typer's list default)
           ) -> None:
    """Export a trained model with dynamic batch, height and width, checked on a real image
    at two sizes; the file carries the genotype, class names and preprocessing."""
    import json

    from ..data.preprocess import Preprocess
    from ..export import FORMATS, export_metadata, export_model
    from ..runs.load import load_run
    from ..runtime.device import pick_device

    model, cfg = _run(run, o.shared(device, seed, size, None, no_progress), config, sets)
    saved = load_run(run)
    spec = saved.spec
    genotype = spec.geno if spec.kind == "nasunet" else \
        json.dumps({"baseline": spec.network, **dict(spec.baseline_args)}, sort_keys=True)
    meta = export_metadata(network=spec.network, genotype=genotype,
                           class_names=saved.class_names,
                           preprocessing=Preprocess.from_config(cfg.data).describe(),
                           extra={"kind": spec.kind, "in_channels": str(spec.in_channels),
                                  "classes": str(spec.classes)})
    dev = pick_device(cfg.runtime.device)
    example = _export_example(run, cfg, image, batch_size,
                              int(getattr(model, "size_divisor", 1) or 1))
    report = export_model(model.to(dev), example.to(dev), format.value,
                          out or run / f"model{FORMATS[format.value]}", metadata=meta)
    console.print(f"exported {report}", markup=False)


def compare(runs: list[Path] = typer.Argument(..., help="run folders")) -> None:
    """Runs side by side, from their summary.json: DSC, mIoU, parameters, FLOPs, s/epoch,
    peak memory (no model runs, so no device or data options)."""
    from ..train.compare import compare_runs, render_comparison

    console.print(render_comparison(compare_runs(runs)))


def register(app: typer.Typer) -> None:
    for command in (evaluate, predict, export, compare):
        app.command()(command)
