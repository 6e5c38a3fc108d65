"""`genodsl search`: a search space (.geno) + data → runs/X/genotype.geno and friends."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..errors import ConfigError
from ..search.strategies import Strategy, strategies_help
from . import options as o
from .common import console, err_console

if TYPE_CHECKING:
    from ..runs.config import RunConfig
    from ..search.runner import SearchJob


def search(
    space: Path = typer.Argument(None, help="the .geno file declaring the search space, or "
                                 "the name of a shipped one (nasunet_space.geno); optional "
                                 "with --resume", show_default=False),
    network: str = typer.Option(None, "--network", "-n", help="the search network (default: "
                                "the file's only network) (model.network)", show_default=False),
    data: o.Data = None,
    strategy: Annotated[Optional[Strategy], typer.Option(
        "--strategy", "-s", help=f"{strategies_help()} (search.strategy)",
        show_default=False)] = None,
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
    seeds: Annotated[Optional[int], typer.Option(
        "--seeds", min=1, help="N searches (seeds S…S+N-1) into OUT/seed_K; each derived "
                               "genotype trains for search.select_epochs epochs on the weight "
                               "half and the best by validation DSC (alpha half) becomes "
                               "OUT/genotype.geno", show_default=False)] = None,
) -> None:
    """Search a space on data; write the derived genotype as a .geno file that reloads as is."""
    from ..runs.config import record
    from ..runs.folders import claim_run_dir
    from ..runs.model import load_network
    from ..runtime import distributed
    from ..search.runner import SearchJob, run_search

    o.relaunch_if(nproc)
    named = {**o.model_keys(space, network), **o.data_keys(data),
             **o.shared(device, seed, size, batch_size, no_progress, section="search")}
    for key, value in (("search.strategy", strategy), ("search.epochs", epochs),
                       ("search.steps_per_epoch", steps_per_epoch), ("runtime.amp", amp),
                       ("runtime.channels_last", channels_last)):
        if value is not None:
            named[key] = value.value if isinstance(value, Enum) else value
    run_dir, cfg = o.run_settings(out, resume, config, named, sets)
    if cfg.model.file is None:
        raise ConfigError("no search space file",
                            hint="genodsl search SPACE.geno ... (e.g. nasunet_space.geno)")
    program, name = load_network(cfg.model)
    assert cfg.data is not None
    seeds = seeds if seeds is not None else _selection_seeds(run_dir, resume)
    if seeds is not None:
        _select(SearchJob(program, name, cfg.search, cfg.data, run_dir, runtime=cfg.runtime,
                          source=Path(cfg.model.file).name, record=record(cfg, "search")),
                seeds, cfg, resume)
        return
    job = SearchJob(program, name, cfg.search, cfg.data, run_dir, runtime=cfg.runtime,
                    source=Path(cfg.model.file).name, record=record(cfg, "search"))
    with distributed.session(cfg.runtime.device) as world:
        with distributed.main_first():  # a folder of the user's own files is refused untouched
            if world.main:
                claim_run_dir(run_dir, "search", resume)
        result = run_search(job, resume=resume, console=err_console)
    if not world.main:
        return
    s = result.summary
    console.print(f"{result.status}: {result.epochs} epochs in {s['wall_time_s']:.0f} s; "
                  f"{s['genotype']} ({s['derived_params']:,} parameters)", markup=False)
    console.print(f"  {s['summary']}", markup=False)
    console.print(f"wrote {result.genotype_file}; next: genodsl check {result.genotype_file} "
                  f"&& genodsl compile {result.genotype_file} --network {s['network']}",
                  markup=False)


def _selection_seeds(run_dir: Path, resume: bool) -> int | None:
    """``--resume`` of a selection folder without ``--seeds``: its number of seeds."""
    import json

    from ..search.seeds import SELECTION_FILE

    path = run_dir / SELECTION_FILE
    if not resume or not path.is_file():
        return None
    try:
        return len(json.loads(path.read_text(encoding="utf-8"))["seeds"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is not a selection record", file=str(path),
                          hint="give --seeds N") from None


def _select(job: "SearchJob", seeds: int, cfg: "RunConfig", resume: bool) -> None:
    """``--seeds N``: the searches and scorings of :mod:`genodsl.search.seeds`."""
    from ..config import dump_config
    from ..files import write_text_atomic
    from ..runs.folders import claim_run_dir
    from ..runtime import distributed
    from ..search.seeds import SELECTION_FILE, SelectionJob, run_selection

    run_dir = job.out
    with distributed.session(cfg.runtime.device) as world:
        with distributed.main_first():
            if world.main:
                claim_run_dir(run_dir, "search", resume)
                if not resume and (run_dir / SELECTION_FILE).is_file():
                    raise ConfigError(f"{run_dir} already holds a selection over seeds",
                                      hint="continue it with --resume, or choose another --out")
                if not resume:  # the base config of every seed, as given (unset keys stay
                    # unset, so the seeds' completed data settings are the same on --resume)
                    write_text_atomic(run_dir / "config.yaml", dump_config(
                        cfg.model_dump(mode="json", exclude_unset=True)))
        result = run_selection(
            SelectionJob(job, seeds, cfg.train), resume=resume, console=err_console,
            claim=lambda folder, again: claim_run_dir(folder, "search", again))
    if not world.main:
        return
    if result.status != "completed":
        console.print(f"interrupted; continue with: genodsl search --resume --out {run_dir}",
                      markup=False)
        raise typer.Exit(130)
    scores = ", ".join(f"seed {s}: {'n/a' if v is None else f'{v:.4f}'}"
                       for s, v in result.scores.items())
    console.print(f"selected seed {result.winner} ({scores}); wrote {result.genotype_file}",
                  markup=False)


def register(app: typer.Typer) -> None:
    app.command()(search)
