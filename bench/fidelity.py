"""Does the search find good cells on real data?  Search → derive → train → evaluate, one table.

    python bench/fidelity.py --data ../shared/data/em-membrane --budget quick
    python bench/fidelity.py --data DIR --budget standard --seeds 3 --out runs/fidelity/em

Every step goes through the command line (``python -m genodsl ...``), as a user would run it:

1. ``search`` the NAS-Unet space (a supernet of the budget's C and depth) on the training cases
   (``--seeds N``: N searches, the best by a short training kept; ``genodsl search --seeds``);
2. ``train`` with identical epochs, data, split, size, seed and optimiser (Adam, cosine, Dice):
   the searched genotype, the published ``NASUNET`` genotype at the same C and depth, the
   ``unet_small`` baseline, and the 31M ``unet`` when the budget allows (on a GPU);
3. ``evaluate`` every run on the same validation cases (its split.json; checked equal);
4. one table (DSC, per-class DSC, HD95, params, FLOPs, train s/epoch, search s) as Markdown
   (``fidelity.md``) and JSON (``fidelity.json``).

The search never sees the validation cases: for an ``images/`` + ``masks/`` folder it runs on
a folder of links to the training cases (the split of the first training run); for other
layouts it searches all the data and the JSON says so (``search_saw_validation``).

Every step is resumable: rerun the same command and finished steps are skipped, an
interrupted one resumes.  ``quick`` is a smoke run (minutes on 2 CPU cores); ``standard`` is
sized for about 30 minutes per dataset on 2 CPU cores and runs unchanged on a GPU (where it
adds the 31M U-Net).  Extra ``--set KEY=VALUE`` go to every search and training command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

DONE = ("completed", "stopped_early")


@dataclass(frozen=True)
class Budget:
    size: int             # images resized to size × size
    C: int                # channels of the supernet and of every NAS-Unet trained
    depth: int
    search_epochs: int
    search_steps: int     # weight (and alpha) steps per search epoch
    search_batch: int
    warmup: int           # search epochs with frozen alphas
    alpha_lr: float       # a short search needs more than the paper's 3e-4 to decide anything
    select_epochs: int    # --seeds: training epochs of each candidate genotype
    train_epochs: int
    train_batch: int
    lr: float             # Adam, cosine to 0, for every model (see the README on the baselines)
    big_unet: str         # "never", "gpu" (only when CUDA is present) or "always"


BUDGETS: dict[str, Budget] = {
    # a smoke run: every step end to end in a few minutes on 2 CPU cores
    "quick": Budget(size=64, C=8, depth=3, search_epochs=2, search_steps=4, search_batch=4,
                    warmup=0, alpha_lr=3e-3, select_epochs=1, train_epochs=3, train_batch=4,
                    lr=1e-3, big_unet="never"),
    # about 30 minutes per dataset on 2 free CPU cores (30-120 images), sized from the quick
    # run's ~4 s per search step at 64² (a DARTS step at 96², C 8, depth 4 costs ~3x that):
    # search ~10 min, each NAS-Unet ~4 min, unet_small ~6 min; on a GPU add the 31M U-Net
    "standard": Budget(size=96, C=8, depth=4, search_epochs=10, search_steps=6,
                       search_batch=4, warmup=2, alpha_lr=3e-3, select_epochs=3,
                       train_epochs=30, train_batch=8, lr=1e-3, big_unet="gpu"),
}


@dataclass(frozen=True)
class Step:
    name: str                 # search, train:<model>, evaluate:<model>
    run: Path                 # the run folder it writes
    argv: tuple[str, ...]     # genodsl arguments of a fresh start
    resume: tuple[str, ...]   # genodsl arguments that continue it


def space_text(C: int, depth: int) -> str:
    return ('import "nasunet_space.geno"\n\n'
            "network fidelity_search {\n  cells = NASUNET_SPACE\n  in_channels = 1\n"
            f"  classes = 2\n  C = {C}\n  depth = {depth}\n  stem_multiplier = 3\n}}\n")


def nasunet_text(C: int, depth: int) -> str:
    return ('import "nasunet.geno"\n\n'
            "network fidelity_nasunet {\n  cells = NASUNET\n  in_channels = 1\n  classes = 2\n"
            f"  C = {C}\n  depth = {depth}\n}}\n")


def models(budget: Budget, gpu: bool) -> list[str]:
    names = ["searched", "nasunet", "unet_small"]
    if budget.big_unet == "always" or (budget.big_unet == "gpu" and gpu):
        names.append("unet")
    return names


def search_step(out: Path, data: str, b: Budget, seeds: int, seed: int,
                extra: Sequence[str]) -> Step:
    run = out / "search"
    argv = ["search", str(out / "space.geno"), "--network", "fidelity_search", "--data", data,
            "--epochs", str(b.search_epochs), "--steps-per-epoch", str(b.search_steps),
            "--batch-size", str(b.search_batch), "--size", str(b.size), "--seed", str(seed),
            "--no-progress", "--out", str(run),
            "--set", f"search.warmup_epochs={b.warmup}", "--set", f"search.alphas.lr={b.alpha_lr}",
            "--set", "search.patience=null", *extra]
    if seeds > 1:
        argv += ["--seeds", str(seeds), "--set", f"search.select_epochs={b.select_epochs}",
                 "--set", f"train.lr={b.lr}",
                 "--set", f"train.batch_size={b.train_batch}"]
    return Step("search", run, tuple(argv), ("search", "--resume", "--out", str(run),
                                             "--no-progress"))


def train_steps(out: Path, data: str, b: Budget, names: Sequence[str], seed: int,
                extra: Sequence[str], searched_network: str = "fidelity_search_derived"
                ) -> list[Step]:
    common = ["--data", data, "--epochs", str(b.train_epochs), "--batch-size", str(b.train_batch),
              "--size", str(b.size), "--seed", str(seed), "--no-progress",
              "--set", f"train.lr={b.lr}", *extra]
    model_args = {"searched": [str(out / "search" / "genotype.geno"), "--network",
                               searched_network],
                  "nasunet": [str(out / "published.geno"), "--network", "fidelity_nasunet"],
                  "unet_small": ["--baseline", "unet_small"], "unet": ["--baseline", "unet"]}
    steps = []
    for name in names:
        run = out / name
        steps.append(Step(f"train:{name}", run,
                          ("train", *model_args[name], *common, "--out", str(run)),
                          ("train", "--resume", "--out", str(run), "--no-progress")))
    return steps


def evaluate_step(run: Path) -> Step:
    argv = ("evaluate", str(run), "--no-progress", "--out", str(run / "eval"))
    return Step(f"evaluate:{run.name}", run / "eval", argv, argv)


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def state(step: Step) -> str:
    """``done``, ``resume`` (an interrupted run to continue) or ``start``."""
    if step.name.startswith("evaluate"):
        return "done" if (step.run / "metrics.json").is_file() else "start"
    if step.name == "search" and (step.run / "selection.json").is_file():
        record = _json(step.run / "selection.json") or {}
        return "done" if record.get("status") == "completed" else "resume"
    if (_json(step.run / "summary.json") or {}).get("status") in DONE:
        return "done"
    return "resume" if (step.run / "checkpoints" / "last.pt").is_file() else "start"


def run_step(step: Step, log: dict[str, Any]) -> None:
    todo = state(step)
    if todo == "done":
        print(f"== {step.name}: done already ({step.run})", flush=True)
        return
    argv = step.resume if todo == "resume" else step.argv
    print(f"== {step.name}: genodsl {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "genodsl", *argv])
    log[step.name] = round(time.perf_counter() - t0, 1)
    if code != 0:
        raise SystemExit(f"{step.name} failed (exit code {code}); rerun to resume")


def search_seconds(search: Path) -> float | None:
    """Wall time of the search (of every seed's search and scoring with --seeds)."""
    one = _json(search / "summary.json")
    if one is not None:
        return one.get("wall_time_s")
    total = 0.0
    for folder in sorted(search.glob("seed_*")):
        total += (_json(folder / "summary.json") or {}).get("wall_time_s") or 0.0
        sel = _json(folder / "select" / "summary.json") or {}
        total += (sel.get("time_per_epoch_s") or 0.0) * (sel.get("epochs_completed") or 0)
    return round(total, 1) if total else None


def row(name: str, run: Path, search_s: float | None) -> dict[str, Any]:
    train = _json(run / "summary.json") or {}
    ev = _json(run / "eval" / "metrics.json") or {}
    return {"model": name, "dsc": ev.get("dsc"), "dsc_per_class": ev.get("dsc_per_class"),
            "hd95": ev.get("hd95"), "unit": ev.get("unit"), "cases": ev.get("cases"),
            "params": train.get("params"), "flops": train.get("flops"),
            "train_s_per_epoch": train.get("time_per_epoch_s"),
            "epochs": train.get("epochs_completed"),
            "search_s": search_s if name == "searched" else None}


def _si(v: float | None) -> str:
    if v is None:
        return "—"
    for f, s in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= f:
            return f"{v / f:.2f}{s}"
    return f"{v:.0f}"


def _f(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| model | DSC | DSC per class | HD95 | params | FLOPs | train s/epoch | search s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        per = " / ".join(f"{k}: {_f(v, '.3f')}" for k, v in (r["dsc_per_class"] or {}).items())
        hd = _f(r["hd95"], ".2f") + (f" {r['unit']}" if r["hd95"] is not None and r["unit"]
                                     else "")
        lines.append(f"| {r['model']} | {_f(r['dsc'], '.4f')} | {per or '—'} | {hd} | "
                     f"{_si(r['params'])} | {_si(r['flops'])} | "
                     f"{_f(r['train_s_per_epoch'], '.1f')} | {_f(r['search_s'], '.0f')} |")
    return "\n".join(lines) + "\n"


def link_training_cases(data: Path, cases: Sequence[str], target: Path) -> bool:
    """A folder of links to the training cases of an images/ + masks/ folder (False: not
    that layout, or a case not found by its file stem)."""
    if not (data / "images").is_dir() or not (data / "masks").is_dir():
        return False
    wanted = set(cases)
    for sub in ("images", "masks"):
        (target / sub).mkdir(parents=True, exist_ok=True)
        found = set()
        for f in sorted((data / sub).iterdir()):
            stem = f.name.split(".")[0]
            if stem in wanted:
                found.add(stem)
                link = target / sub / f.name
                if not link.exists():
                    link.symlink_to(f.resolve())
        if found != wanted:
            return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a dataset folder genodsl reads")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="quick")
    p.add_argument("--seeds", type=int, default=1, help="searches; the best is kept")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="default runs/fidelity/<data>_<budget>")
    p.add_argument("--set", dest="sets", action="append", default=[],
                   help="KEY=VALUE for every search and training command")
    args = p.parse_args(argv)
    import torch

    data = Path(args.data)
    b = BUDGETS[args.budget]
    out = args.out or Path("runs/fidelity") / f"{data.resolve().name}_{args.budget}"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("space.geno", space_text(b.C, b.depth)),
                       ("published.geno", nasunet_text(b.C, b.depth))):
        if not (out / name).is_file():
            (out / name).write_text(text, encoding="utf-8")
    extra = [a for s in args.sets for a in ("--set", s)]
    names = models(b, torch.cuda.is_available())
    log: dict[str, Any] = {}
    t0 = time.perf_counter()
    # the baseline trains first: its split.json fixes the validation cases the search never sees
    first, *rest = train_steps(out, str(data), b, ["unet_small", *[n for n in names
                                                                   if n != "unet_small"]],
                               args.seed, extra)
    run_step(first, log)
    split = _json(first.run / "split.json") or {}
    search_data = out / "search_data"
    clean = link_training_cases(data, split.get("train", []), search_data)
    search = search_step(out, str(search_data if clean else data), b, args.seeds, args.seed,
                         extra)
    run_step(search, log)
    for step in rest:
        run_step(step, log)
    runs = {n: out / n for n in names}
    vals = {n: tuple((_json(r / "split.json") or {}).get("val", ())) for n, r in runs.items()}
    if len(set(vals.values())) != 1:
        raise SystemExit(f"the runs validate on different cases: {vals}")
    for r in runs.values():
        run_step(evaluate_step(r), log)
    s_search = search_seconds(out / "search")
    rows = [row(n, r, s_search) for n, r in runs.items()]
    table = markdown(rows)
    result = {"data": str(data), "budget": args.budget, "settings": asdict(b),
              "seeds": args.seeds, "seed": args.seed, "models": names,
              "validation_cases": list(vals[names[0]]), "search_saw_validation": not clean,
              "rows": rows, "step_seconds": log,
              "this_invocation_s": round(time.perf_counter() - t0, 1),
              "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "device": "cuda" if torch.cuda.is_available() else "cpu"}
    (out / "fidelity.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "fidelity.md").write_text(table, encoding="utf-8")
    print(table)
    print(f"wrote {out / 'fidelity.json'} and {out / 'fidelity.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
