"""`genodsl demo`: the main job on a built-in default, with no downloads.

Generates a synthetic segmentation dataset, searches the NAS-Unet space on it, writes
and renders the searched genotype, trains it and a small U-Net from scratch, evaluates
both on held-out images and prints the comparison.  Every step writes its own run folder
under ``--out``; running the demo again skips finished steps and resumes an interrupted one.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .common import console

SPACE_NETWORK = "nasunet_search_tiny"


def _done(run: Path) -> bool:
    summary = run / "summary.json"
    if not summary.is_file():
        return False
    try:
        return json.loads(summary.read_text(encoding="utf-8")).get("status") in ("completed", "stopped_early")
    except (OSError, json.JSONDecodeError):
        return False


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def _run(*args: object) -> None:
    """Run one genodsl command exactly as typed on the command line."""
    from . import app

    code = app(args=[str(a) for a in args], standalone_mode=False)
    if isinstance(code, int) and code != 0:
        raise typer.Exit(code)


def demo(out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="the demo's folder"),
         strategy: str = typer.Option("darts", help="darts, darts2 or proxyless"),
         images: int = typer.Option(48, help="synthetic training images"),
         size: int = typer.Option(64, help="image size (a multiple of 8)"),
         search_epochs: int = typer.Option(6, help="search epochs"),
         train_epochs: int = typer.Option(12, help="training epochs per model"),
         seed: int = typer.Option(0, help="seed of data, search and training"),
         ) -> None:
    """Search, train and compare on synthetic data: a few minutes on 2 CPU cores."""
    from ..data.synthetic import SyntheticSpec, write_folder

    data, test = out / "data", out / "test"
    _step("1. data: synthetic shapes with noise")
    for folder, n, s in ((data, images, seed), (test, max(8, images // 4), seed + 1000)):
        if not (folder / "images").is_dir():
            write_folder(folder, n, SyntheticSpec(size=(size, size), seed=s))
    console.print(f"{images} training images in {data}, held-out images in {test}",
                  markup=False)

    search_dir = out / "search"
    _step(f"2. search: {strategy} on the NAS-Unet space ({SPACE_NETWORK})")
    if (search_dir / "checkpoints" / "last.pt").is_file() and not _done(search_dir):
        _run("search", "--resume", "--out", search_dir)
    elif not _done(search_dir):
        # a short search needs a larger alpha step than the paper's 3e-4 to decide anything
        _run("search", "nasunet_space.geno", "--network", SPACE_NETWORK,
             "--data", data, "--strategy", strategy, "--epochs", search_epochs, "--seed", seed,
             "--batch-size", 4, "--size", size, "--out", search_dir,
             "--set", "search.warmup_epochs=1", "--set", "search.alphas.lr=0.003")
    genotype = search_dir / "genotype.geno"
    network = json.loads((search_dir / "summary.json").read_text(encoding="utf-8"))["network"]
    console.print(f"searched genotype: {genotype} (network {network})", markup=False)

    runs = {"nasunet": out / "nasunet", "unet_small": out / "unet_small"}
    model_args = {"nasunet": [genotype, "--network", network],
                  "unet_small": ["--baseline", "unet_small"]}
    settings = ["--set", "data.augment.flip=true", "--set", "train.batch_size=4",
                "--set", "train.lr=0.003", "--size", size, "--seed", seed]
    for name, run in runs.items():
        _step(f"3. train {name} from scratch ({train_epochs} epochs)")
        if _done(run):
            continue
        if (run / "checkpoints" / "last.pt").is_file():
            _run("train", "--out", run, "--resume")
        else:
            _run("train", *model_args[name], "--data", data, "--out", run,
                 "--epochs", train_epochs, *settings)

    _step("4. evaluate on held-out images")
    for run in runs.values():
        _run("evaluate", run, "--data", test, "--out", run / "eval")
    _step("5. compare")
    _run("compare", *runs.values())
    console.print(f"everything is in {out}: the genotype {genotype}, its cell drawings in "
                  f"{search_dir}/cells, alpha plots, each run's curves.png and "
                  "eval/per_case.csv", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(demo)
