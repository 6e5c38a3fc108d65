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
        return json.loads(summary.read_text()).get("status") in ("completed", "stopped_early")
    except (OSError, json.JSONDecodeError):
        return False


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


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
    from ..loader import builtin_dir
    from . import search_cmd, train_cmd

    data, test = out / "data", out / "test"
    _step("1. data: synthetic shapes with noise")
    for folder, n, s in ((data, images, seed), (test, max(8, images // 4), seed + 1000)):
        if not (folder / "images").is_dir():
            write_folder(folder, n, SyntheticSpec(size=(size, size), seed=s))
    console.print(f"{images} training images in {data}, held-out images in {test}",
                  markup=False)

    search_dir = out / "search"
    _step(f"2. search: {strategy} on the NAS-Unet space ({SPACE_NETWORK})")
    if not _done(search_dir):
        resume = (search_dir / "checkpoints" / "last.pt").is_file()
        search_cmd.search(
            space=None if resume else builtin_dir() / "nasunet_space.geno",
            network=None if resume else SPACE_NETWORK, data=None if resume else str(data),
            strategy=None if resume else strategy, epochs=None if resume else search_epochs,
            seed=None if resume else seed, steps_per_epoch=None, batch_size=None if resume else 4,
            size=None if resume else size, device=None, out=None if resume else search_dir,
            resume=search_dir if resume else None, config=None,
            amp=None, channels_last=None, nproc=1,
            # a short search needs a larger alpha step than the paper's 3e-4 to decide anything
            sets=[] if resume else ["search.warmup_epochs=1", "search.alphas.lr=0.003"],
            progress=True)
    genotype = search_dir / "genotype.geno"
    console.print(f"searched genotype: {genotype}", markup=False)

    runs = {"nasunet": out / "nasunet", "unet": out / "unet_small"}
    common = ["data.augment.flip=true", "train.batch_size=4", "train.lr=0.003"]
    for name, run in runs.items():
        _step(f"3. train {name} from scratch ({train_epochs} epochs)")
        if _done(run):
            continue
        resume = (run / "checkpoints" / "last.pt").is_file()
        network = json.loads((search_dir / "summary.json").read_text())["network"]
        train_cmd.train(
            geno=None if resume or name == "unet" else genotype,
            network=None if resume or name == "unet" else network,
            baseline="unet_small" if name == "unet" and not resume else None,
            data=None if resume else str(data), out=run, config=None,
            sets=[] if resume else common + [f"data.size={size}", f"train.seed={seed}"],
            epochs=None if resume else train_epochs, resume=resume,
            amp=None, channels_last=None, nproc=1)

    _step("4. evaluate on held-out images")
    for run in runs.values():
        train_cmd.evaluate(run=run, data=str(test), which="best", out=run / "eval")
    _step("5. compare")
    train_cmd.compare(runs=list(runs.values()))
    console.print(f"everything is in {out}: the genotype {genotype}, its cell drawings in "
                  f"{search_dir}, the runs' curves.png, eval/per_image.csv", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(demo)
