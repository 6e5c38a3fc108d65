"""The options every command that runs a model shares, declared once, and how they become
one :class:`~genodsl.runs.config.RunConfig`.

Precedence, lowest first: the run's saved ``config.yaml`` (when resuming or using a trained
run), ``--config FILE``, the named options (``--seed 3`` is ``runtime.seed=3``), ``--set``.
Torch-free: typer reads these declarations when the CLI starts.
"""

from __future__ import annotations

from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Mapping, Optional

import typer

from ..config import Amp, parse_overrides, read_yaml
from ..errors import ConfigError, GenoError
from ..lang.loader import find_source, shipped_names

if TYPE_CHECKING:
    from ..runs.config import RunConfig

SYNTHETIC = "synthetic"

# ---------------------------------------------------------------- the shared options
Device = Annotated[Optional[str], typer.Option(
    "--device", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps "
                     "[runtime.device]", show_default=False)]
Seed = Annotated[Optional[int], typer.Option(
    "--seed", min=0, help="seed of weights, data order, sampling and any random input "
                          "[runtime.seed]", show_default=False)]
Size = Annotated[Optional[int], typer.Option(
    "--size", min=1, help="resize images to SIZE×SIZE (data.size)", show_default=False)]
BatchSize = Annotated[Optional[int], typer.Option(
    "--batch-size", min=1, help="images per step or forward pass, over all processes "
                                "(search.batch_size for search, else train.batch_size)",
    show_default=False)]
NoProgress = Annotated[bool, typer.Option(
    "--no-progress", help="no progress bars (runtime.progress=false)")]
ConfigFile = Annotated[Optional[Path], typer.Option(
    "--config", "-c", help="a YAML file with runtime:, model:, data:, train:, search: "
                           "sections", show_default=False)]
Sets = Annotated[list[str], typer.Option(
    "--set", help="override any key: search.epochs=5, model.classes=3, "
                  "'data.class_map={0: 0, 255: 1}' (repeatable)", show_default=False)]

# ---------------------------------------------------------------- options of runs (search, train)
Out = Annotated[Optional[Path], typer.Option(
    "--out", "-o", help="the run folder", show_default=False)]
Resume = Annotated[bool, typer.Option(
    "--resume", help="continue the run in --out exactly (settings from its config.yaml)")]
Data = Annotated[Optional[str], typer.Option(
    "--data", "-d", help="a data folder (images/ + masks/, NIfTI, MHD, DICOM), or "
                         "'synthetic' (data.root / data.layout)", show_default=False)]
Epochs = Annotated[Optional[int], typer.Option(
    "--epochs", min=1, help="epochs (search.epochs / train.epochs)", show_default=False)]
StepsPerEpoch = Annotated[Optional[int], typer.Option(
    "--steps-per-epoch", min=1, help="steps per epoch, repeating or cutting short the "
    "reshuffled data (default: one pass) (search.steps_per_epoch / train.steps_per_epoch)",
    show_default=False)]
AmpOption = Annotated[Optional[Amp], typer.Option(
    "--amp", help="mixed precision (GPU; fp16 uses loss scaling) (runtime.amp)",
    show_default=False)]
ChannelsLast = Annotated[Optional[bool], typer.Option(
    "--channels-last", help="NHWC memory format (runtime.channels_last)", show_default=False)]
Mirror = Annotated[Optional[bool], typer.Option(
    "--mirror/--no-mirror", help="test-time mirroring: the softmax averaged over the flips "
                                 "along every subset of the axes, 2^dims passes "
                                 "(data.inference.mirror)", show_default=False)]
Nproc = Annotated[int, typer.Option(
    "--nproc", min=1, help="processes on this machine (one per GPU); re-runs the command "
                           "through torch.distributed.run")]


class Split(str, Enum):
    """Which of a run's own cases ``evaluate`` scores when no --data is given."""

    VAL = "val"
    TRAIN = "train"
    ALL = "all"


def shared(device: str | None, seed: int | None, size: int | None, batch_size: int | None,
           no_progress: bool, section: str = "train") -> dict[str, object]:
    """The dotted keys of the shared options (``section``: where --batch-size goes)."""
    named = {"runtime.device": device, "runtime.seed": seed, "data.size": size,
             f"{section}.batch_size": batch_size,
             "runtime.progress": False if no_progress else None}
    return {k: v for k, v in named.items() if v is not None}


def mirror_key(mirror: bool | None) -> dict[str, object]:
    """``--mirror/--no-mirror``: ``data.inference.mirror`` (unset: the run's own)."""
    return {} if mirror is None else {"data.inference.mirror": mirror}


def data_keys(data: str | None) -> dict[str, object]:
    """``--data``: ``synthetic`` or a folder that must exist."""
    if data is None:
        return {}
    if data == SYNTHETIC:
        return {"data.layout": SYNTHETIC}
    if not Path(data).is_dir():
        raise ConfigError(f"data folder not found: {data}",
                          hint="give a folder with images/ and masks/ (or another supported "
                               "layout), or --data synthetic for generated shapes")
    return {"data.root": data}


def geno_file(path: Path) -> Path:
    """``path`` as given, or a bare name of a shipped file (``nasunet_space.geno``)."""
    found = find_source(path)
    if found is None:
        raise GenoError(f"no such file: {path}", code="E031", file=str(path),
                        hint=f"give a path, or the name of a shipped file: "
                             f"{', '.join(shipped_names())}")
    return found


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_NO_DATA = ConfigError("no data", hint="give --data PATH (a folder with images/ and masks/) or "
                                       "--data synthetic, or a data: section in --config")


def build_run_config(config: Path | None, named: Mapping[str, object], sets: list[str],
                     base: Mapping[str, Any] | None = None, *,
                     need_data: bool = False) -> "RunConfig":
    """``base`` (a saved run config), then ``--config``, the named options, then ``--set``."""
    from ..runs.config import from_mapping

    data = _merge(dict(base or {}), read_yaml(config) if config is not None else {})
    overrides = dict(named)
    overrides.update(parse_overrides(sets))
    section = data.get("data") if isinstance(data.get("data"), Mapping) else {}
    if need_data and not ({"root", "layout"} & set(section)
                          or {"data.root", "data.layout"} & set(overrides)):
        raise _NO_DATA
    return from_mapping(data, overrides, source=str(config) if config is not None else None)


def saved_config(run: Path) -> dict[str, Any]:
    """A run folder's ``config.yaml``."""
    path = run / "config.yaml"
    if not path.is_file():
        raise GenoError(f"nothing to resume in {run}: no config.yaml", code="E400",
                        file=str(run), hint="start the run without --resume first")
    return read_yaml(path)


def relaunch_if(nproc: int) -> None:
    """With ``--nproc N > 1``: run this command in N processes and exit with their code."""
    if nproc > 1:
        from ..runtime import distributed
        from . import ARGV

        raise typer.Exit(distributed.relaunch(ARGV, nproc))


def run_settings(out: Path | None, resume: bool, config: Path | None,
                 named: Mapping[str, object], sets: list[str]) -> tuple[Path, "RunConfig"]:
    """``(run folder, RunConfig)`` of a search or training command.

    With ``--resume`` the run's ``config.yaml`` is the base the options apply to (only the
    settings that do not change results may differ: the engines check).
    """
    if out is None:
        raise ConfigError("no run folder", hint="give --out runs/NAME (with --resume to "
                                                "continue the run in it)")
    base = saved_config(out) if resume else None
    cfg = build_run_config(config, named, sets, base, need_data=True)
    if cfg.data is None:
        raise _NO_DATA
    return out, cfg


def model_keys(file: Path | None, network: str | None) -> dict[str, object]:
    """The positional .geno file (a path or a shipped name) and --network."""
    keys: dict[str, object] = {}
    if file is not None:
        keys["model.file"] = str(geno_file(file).resolve())
    if network is not None:
        keys["model.network"] = network
    return keys


class ExportFormat(str, Enum):
    """``genodsl export --format`` (the keys of :data:`genodsl.export.FORMATS`)."""

    ONNX = "onnx"
    TORCHSCRIPT = "torchscript"
    PT2 = "pt2"


@contextmanager
def claimed(out: Path, kind: str, resume: bool, main: bool) -> Iterator[None]:
    """Claim ``out`` for a run of ``kind`` (rank 0) for the block that first writes into it.

    If the block fails with a user error on a folder this claim made (a new run), the claim
    is taken back: the marker goes, and the folder too when it is left empty, so bad data
    leaves nothing behind.
    """
    from ..runs.folders import MARKER, claim_run_dir, run_kind

    fresh = main and not resume and run_kind(out) is None
    existed = out.exists()
    if main:
        claim_run_dir(out, kind, resume)  # type: ignore[arg-type]
    try:
        yield
    except GenoError:
        if fresh:
            (out / MARKER).unlink(missing_ok=True)
            if not existed and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
        raise
