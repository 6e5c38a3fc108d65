"""`genodsl evaluate | predict | export | compare`: using the models of training runs.

evaluate, predict and export load ``RUN/model.safetensors`` and the run's config, then apply
the shared options on top of it (``--size`` resizes inputs, ``--device`` runs elsewhere,
``--set data.class_map=...`` reads test masks of another encoding); compare reads only the
runs' ``summary.json`` files.
"""

from __future__ import annotations

from enum import Enum
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


def _for_inference(model: Any, cfg: Any) -> Any:
    """What evaluate and predict call: ``model`` in the run's memory format
    (``runtime.channels_last``, 2D networks) and, with ``train.compile``, compiled (the
    graphs cached as in training); the module itself (its weights) is unchanged."""
    import torch

    from ..runtime.compiling import prepare
    from ..train.infer import model_dims

    if cfg.runtime.channels_last and model_dims(model) == 2:
        model.to(memory_format=torch.channels_last)
    say = err_console.print if cfg.runtime.progress else None
    return prepare(model, compile=cfg.train.compile, say=say)


class VolumeFormat(str, Enum):
    """``genodsl predict --format``: how label volumes are written."""

    SAME = "same"
    NIFTI = "nifti"


def _volume_targets(inputs: list[Path], out: Path, fmt: str) -> dict[Path, Path]:
    """The label file of each volume input; two inputs writing one file, or a label that
    would replace its own input, are errors before anything runs."""
    from ..data import io
    from ..data.geometry import label_path
    from ..errors import DataError

    targets: dict[Path, Path] = {}
    for path in inputs:
        if path.exists() and io.is_volume(path):
            target = label_path(path, out, fmt)  # type: ignore[arg-type]
            if target.resolve() == path.resolve():
                raise DataError(f"the prediction {target} would replace its input",
                                file=str(path), hint="choose another --out folder")
            clash = next((p for p, t in targets.items() if t == target), None)
            if clash is not None:
                raise DataError(f"{clash} and {path} would both be written as {target}",
                                file=str(path), hint="predict them into different --out folders")
            targets[path] = target
    return targets


def _predict_volume(model: Any, item: Any, target: Path, cfg: Any, dev: Any) -> None:
    """Predict a volume (the run's preprocessing and whole-image inference) and write the
    labels with the input's geometry: a 2D network slice by slice (the masks at the input's
    slice size), a 3D network once on the whole volume (sliding windows of the patch)."""
    import torch

    import numpy as np

    from ..data.geometry import write_label
    from ..data.preprocess import ClassMap
    from ..train.infer import inference_kwargs, infer_labels
    from ..train.predict import predict_masks

    if item.images.ndim == 5:  # [1, C, D, H, W]: a 3D network's whole volume
        masks = list(infer_labels(model, item.images, device=dev,
                                  **inference_kwargs(cfg.data)))
    else:
        size = [s for i, s in enumerate(item.original_shape) if i != item.slice_axis]
        masks, _ = predict_masks(model, item.images, device=dev,
                                 batch_size=cfg.train.batch_size,
                                 sizes=[size] * item.images.shape[0],
                                 inference=inference_kwargs(cfg.data))
    labels = item.restore(torch.stack(masks))  # class indices → the data's own label values
    values = ClassMap(cfg.data.num_classes, cfg.data.class_map).label_values()
    write_label(values[labels].astype(np.uint8 if values.max() < 256 else np.uint16),
                item.geometry, target)
    note = "; NIfTI: DICOM segmentation objects are not written" \
        if item.geometry.suffix == "dicom" else ""
    console.print(f"wrote {target} ({item.geometry.describe()}{note})", markup=False)


def evaluate(run: Path = typer.Argument(..., help="a training run folder"),
             data: o.Data = None,
             split: Annotated[o.Split, typer.Option(
                 help="without --data: which of the run's split.json cases")] = o.Split.VAL,
             out: o.Out = None,
             device: o.Device = None,
             seed: o.Seed = None,
             size: o.Size = None,
             batch_size: o.BatchSize = None,
             mirror: o.Mirror = None,
             no_progress: o.NoProgress = False,
             config: o.ConfigFile = None,
             sets: o.Sets = [],  # noqa: B006 (typer's list default)
             ) -> None:
    """Evaluate a trained run per case at the masks' own resolution: DSC, IoU, HD95, mean
    surface distance and surface Dice (mm from the spacing; px for 2D images); a table and a
    per-case CSV.

    With --data: test data (same layout as training); without: the run's own cases. --out:
    where per_case.csv and metrics.json go (default RUN/eval). The surface Dice tolerance is
    train.surface_tolerance_mm (--set train.surface_tolerance_mm=2). The run's
    train.compile and runtime.channels_last apply here too (--set train.compile=true).
    """
    from ..data import build_dataset
    from ..data.splits import SPLIT_FILE, load_split
    from ..runtime.device import amp_dtype, pick_device
    from ..train.evaluate import CSV_NAME, JSON_NAME, evaluate as run_eval, render_eval
    from ..train.infer import inference_kwargs, model_dims

    named = {**o.data_keys(data), **o.shared(device, seed, size, batch_size, no_progress),
             **o.mirror_key(mirror)}
    if "data.root" in named:  # test files for a run trained on synthetic data
        named["data.layout"] = "auto"
    model, cfg = _run(run, named, config, sets)
    dataset = build_dataset(cfg.data, model_dims(model))  # 3D network: whole volumes
    model = _for_inference(model, cfg)
    title = f"{run.name} on {data}"
    if data is None:
        if split is not o.Split.ALL:
            dataset = dataset.subset(getattr(load_split(run / SPLIT_FILE), split.value))
        title = f"{run.name} on its {split.value} cases"
    out_dir = out or run / "eval"
    dev = pick_device(cfg.runtime.device)
    result = run_eval(model, dataset.with_native_masks(), num_classes=cfg.data.num_classes,
                      class_names=cfg.data.class_names,
                      empty=cfg.train.empty_mask_rule, out_dir=out_dir, device=dev,
                      tolerance=cfg.train.surface_tolerance_mm,
                      inference=inference_kwargs(cfg.data, amp_dtype(cfg.runtime.amp, dev)),
                      progress=cfg.runtime.progress, console=err_console)
    console.print(render_eval(result, title=title))
    console.print(f"wrote {out_dir / CSV_NAME} and {out_dir / JSON_NAME}", markup=False)


def _raw_image(path: Path) -> Any:
    """The input image as read (float ``[C, H, W]``, its own size): what overlays show."""
    import numpy as np
    import torch

    from ..data import read_image

    raw = np.asarray(read_image(path), dtype=np.float32)
    raw = raw[..., None] if raw.ndim == 2 else raw
    return torch.from_numpy(np.ascontiguousarray(raw.transpose(2, 0, 1)))


def predict(run: Path = typer.Argument(..., help="a training run folder"),
            inputs: list[Path] = typer.Argument(..., help="images or volumes"),
            out: Annotated[Path, typer.Option("--out", "-o", help="the output folder")] = ...,
            overlay: bool = typer.Option(True, help="also write overlays"),
            volume_format: Annotated[VolumeFormat, typer.Option(
                "--format", help="label volumes: the input's format, or nifti (a DICOM series "
                                 "always gets NIfTI)")] = VolumeFormat.SAME,
            device: o.Device = None,
            seed: o.Seed = None,
            size: o.Size = None,
            batch_size: o.BatchSize = None,
            mirror: o.Mirror = None,
            no_progress: o.NoProgress = False,
            config: o.ConfigFile = None,
            sets: o.Sets = [],  # noqa: B006 (typer's list default)
            ) -> None:
    """Predict masks for images: class-index PNGs (+ viewable masks and overlays).

    A volume (NIfTI, NRRD, MetaImage, DICOM series folder) is predicted slice by slice along
    data.slice_axis (a 3D network: whole, by sliding windows of its patch) and written as one label volume OUT/<name>_seg.<its suffix> (--format
    nifti: .nii.gz) with the input's shape, spacing, origin and direction; a DICOM series gets
    a NIfTI label (DICOM segmentation objects are not written). The run's train.compile and
    runtime.channels_last apply here too (--set train.compile=true).
    """
    from ..data import load_input
    from ..runtime.device import pick_device
    from ..train.infer import inference_kwargs, model_dims
    from ..train.predict import predict_masks, write_predictions
    from ..train.runlog import make_progress

    model, cfg = _run(run, {**o.shared(device, seed, size, batch_size, no_progress),
                            **o.mirror_key(mirror)}, config, sets)
    model = _for_inference(model, cfg)
    dev = pick_device(cfg.runtime.device)
    targets = _volume_targets(inputs, out, volume_format.value)
    written = 0
    with make_progress(cfg.runtime.progress, err_console) as bar:
        task = bar.add_task("predict", total=len(inputs), info="")
        for path in inputs:
            item = load_input(path, cfg.data, model_dims(model))
            if item.geometry is not None:  # a volume: one label volume at the input's geometry
                _predict_volume(model, item, targets[path], cfg, dev)
                written += 1
                bar.update(task, advance=1)
                continue
            # a 2D image: inferred at the training scale, the mask at the input's own size
            masks, _ = predict_masks(model, item.images, device=dev,
                                     batch_size=cfg.train.batch_size,
                                     sizes=[item.original_shape],
                                     inference=inference_kwargs(cfg.data))
            write_predictions(masks, item.names, out, num_classes=cfg.data.num_classes,
                              images=[_raw_image(path)] if overlay else None)
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
    peak memory (no model runs, so no device or data options). A folder of cross-validation
    folds (train --fold N: OUT/fold_N) stands for its folds, summarised as mean ± std."""
    from ..train.compare import compare_runs, render_comparison

    console.print(render_comparison(compare_runs(runs)))


def register(app: typer.Typer) -> None:
    for command in (evaluate, predict, export, compare):
        app.command()(command)
