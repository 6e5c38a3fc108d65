"""`genodsl search`: a search space (.geno) + data → runs/X/genotype.geno and friends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from ..errors import ConfigError
from ..search.config import SearchConfig
from ..train.config import RunConfig
from ..train.config import build_config, parse_overrides
from .common import console, err_console

# Named options → dotted config keys (each is also reachable with --set).
_NAMED = {"strategy": "search.strategy", "epochs": "search.epochs", "seed": "search.seed",
          "steps_per_epoch": "search.steps_per_epoch", "batch_size": "search.batch_size",
          "device": "search.device", "size": "data.size", "amp": "search.amp",
          "channels_last": "search.channels_last"}


def _read_yaml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("the config file must be a mapping of sections", file=str(path))
    return data


def _overrides(named: dict[str, Any], data: str | None, sets: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    if data is not None:
        if data == "synthetic":
            out["data.layout"] = "synthetic"
        else:
            if not Path(data).is_dir():
                raise ConfigError(f"data folder not found: {data}",
                                  hint="give a folder with images/ and masks/, or --data "
                                       "synthetic for generated shapes")
            out["data.root"] = data
    for key, value in named.items():
        if value is not None:
            out[_NAMED[key]] = value
    out.update(parse_overrides(sets))
    return out


def search(
    space: Path = typer.Argument(None, help="the .geno file declaring the search space "
                                 "(optional with --resume)"),
    network: str = typer.Option(None, "--network", "-n", help="the search network "
                                "(default: the file's only network)"),
    data: str = typer.Option(None, "--data", "-d", help="a folder with images/ and masks/, "
                             "or 'synthetic'"),
    strategy: str = typer.Option(None, "--strategy", "-s", help="darts, darts2 or proxyless"),
    epochs: int = typer.Option(None, help="epochs (default 300)"),
    seed: int = typer.Option(None, help="seed of weights, alphas, split and sampling"),
    steps_per_epoch: int = typer.Option(None, help="steps per epoch (default: one pass)"),
    batch_size: int = typer.Option(None, help="images per step, over all processes"),
    size: int = typer.Option(None, help="resize images to SIZE×SIZE"),
    device: str = typer.Option(None, help="auto, cpu, cuda, cuda:N"),
    out: Path = typer.Option(None, "--out", "-o", help="the run folder"),
    resume: Path = typer.Option(None, "--resume", help="continue the run in this folder"),
    config: Path = typer.Option(None, "--config", "-c", help="YAML with search: and data:"),
    sets: list[str] = typer.Option([], "--set", help="override any key: search.epochs=5, "
                                   "data.class_map={0: 0, 255: 1}, search.cost.weight=1"),
    progress: bool = typer.Option(True, help="show progress bars"),
    amp: str = typer.Option(None, help="mixed precision: bf16 or fp16 (GPU)"),
    channels_last: bool = typer.Option(None, "--channels-last", help="NHWC memory format"),
    nproc: int = typer.Option(1, min=1, help="processes on this machine (one per GPU); "
                              "re-runs the command through torch.distributed.run"),
) -> None:
    """Search a space on data; write the derived genotype as a .geno file that reloads as is."""
    from .. import distributed
    from ..search.runner import SearchJob, run_search

    if nproc > 1:
        from . import ARGV
        raise typer.Exit(distributed.relaunch(ARGV, nproc))

    if resume is not None and out is not None and out.resolve() != resume.resolve():
        raise ConfigError("--out and --resume name different folders",
                          hint="give only --resume to continue a run")
    run_dir = resume or out
    if run_dir is None:
        raise ConfigError("no run folder", hint="give --out runs/NAME (or --resume runs/NAME)")
    raw = _read_yaml(config)
    if space is None:
        if resume is None:
            raise ConfigError("no search space file", hint="genodsl search SPACE.geno ...")
        saved = _read_yaml(resume / "config.yaml")
        if not saved:
            raise ConfigError(f"{resume} holds no search to resume (no config.yaml)")
        space, network = Path(saved["space_file"]), network or saved["network"]
        raw = {"search": saved["search"], "data": saved["data"]}
    section = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    if data is None and not ({"root", "layout"} & set(section)) \
            and not any(k.startswith(("data.root", "data.layout")) for k in sets):
        raise ConfigError("no data", hint="give --data PATH (a folder with images/ and "
                          "masks/) or --data synthetic, or a data: section in --config")
    named = dict(strategy=strategy, epochs=epochs, seed=seed, steps_per_epoch=steps_per_epoch,
                 batch_size=batch_size, device=device, size=size, amp=amp,
                 channels_last=channels_last)
    overrides = _overrides(named, data, sets)
    if not progress:
        overrides["search.progress"] = False
    cfg = build_config(raw, overrides, model=RunConfig,
                       source=str(config) if config else None)
    search_cfg = getattr(cfg, "search", None) or SearchConfig()
    job = SearchJob(space, network, search_cfg, cfg.data, run_dir)
    with distributed.session(search_cfg.device) as world:
        result = run_search(job, resume=resume is not None, console=err_console)
    if not world.main:
        return
    s = result.summary
    console.print(f"{result.status}: {result.epochs} epochs in {s['wall_time_s']:.0f} s; "
                  f"{s['genotype']} ({s['derived_params']:,} parameters)", markup=False)
    console.print(f"  {s['summary']}", markup=False)
    console.print(f"wrote {result.genotype_file}; next: genodsl check {result.genotype_file} "
                  f"&& genodsl compile {result.genotype_file} --network {s['network']}",
                  markup=False)


def register(app: typer.Typer) -> None:
    app.command()(search)
