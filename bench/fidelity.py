"""Does the search find good cells on real data?  Search → derive → train → evaluate, one table.

    python bench/fidelity.py --data ../shared/data/em-membrane --budget quick
    python bench/fidelity.py --data DIR --budget standard --seeds 3 --out runs/fidelity/em
    python bench/fidelity.py --data DIR --budget standard --train-epochs 80  # longer trainings
    python bench/fidelity.py --data DIR --budget standard --jobs 1  # one step at a time

Every step goes through the command line (``python -m genodsl ...``), as a user would run it:

1. ``search`` the NAS-Unet space (a supernet of the budget's C and depth) on the training cases
   (``--seeds N``: N searches, the best by a short training kept; ``genodsl search --seeds``);
2. ``train`` with identical epochs and steps per epoch (a fixed count whatever the data's
   size), data, split, size, augmentation and optimiser (Adam, cosine, Dice):
   the searched genotype and the published ``NASUNET`` genotype (both at the budget's training
   C and the search's depth), the ``unet_small`` baseline, and the 31M ``unet`` when the budget
   allows (on a GPU).  The same tuning effort for every model: each tries the budget's learning
   rates at the first seed, keeps its best and trains it again at the other seeds;
3. ``evaluate`` every run on the same validation cases (its split.json; checked equal), with
   test-time mirroring (``data.inference.mirror``, nnU-Net's final validation) for all;
4. one table (lr tried, DSC mean and per seed, per-class DSC, HD95, params, FLOPs, train
   s/epoch, search s) as Markdown (``fidelity.md``) and JSON (``fidelity.json``).  The lr and
   the best epoch are chosen on the validation cases, alike for every model.

The search never sees the validation cases: for an ``images/`` + ``masks/`` folder it runs on
a folder of links to the training cases (the split of the first training run); for other
layouts it searches all the data and the JSON says so (``search_saw_validation``).

``--jobs N`` (default 2 on a CPU of 2 or more cores, 1 on a GPU) runs up to N steps at once,
as their order allows (the search waits for the first training, whose split it needs; the
searched genotype's trainings wait for the search; a model's repeats wait for its lr sweep;
everything else, the published genotype's and the baselines' trainings included, runs beside
them), each child with the CPUs / N torch threads (``--threads``) and its output in
``OUT/logs/``. Small networks use 2 threads poorly: on 2 CPU cores two one-thread trainings
do about 1.5 times the work of one two-thread training. --jobs changes what runs when and on
how many threads, not what is computed; another thread count rounds floats differently, and a
search's argmax can follow such differences.

Every step is resumable: rerun the same command and finished steps are skipped, an
interrupted one resumes.  ``quick`` is a smoke run (minutes on 2 CPU cores); ``standard`` is
sized for about 30 minutes per dataset on 2 CPU cores (with its default ``--jobs 2``) and
runs unchanged on a GPU (where it adds the 31M U-Net).  Extra ``--set KEY=VALUE`` go to every
search and training command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

DONE = ("completed", "stopped_early")
EVAL = "eval_mirror"  # each run's evaluation folder (test-time mirroring; see evaluate_step)


@dataclass(frozen=True)
class Budget:
    size: int             # images resized to size × size
    C: int                # channels of the supernet
    depth: int
    search_epochs: int    # the warm-up is genodsl's default: min(10, epochs // 5)
    search_steps: int     # weight (and alpha) steps per search epoch
    search_batch: int
    alpha_lr: float       # a short search needs more than the paper's 3e-4 to decide anything:
    #                       Adam moves a logit by about lr per step, so 128 alpha steps at 3e-3
    #                       left every edge within 0.007 (total variation) of its random start
    select_epochs: int    # --seeds: training epochs of each candidate genotype
    train_C: int          # channels of every NAS-Unet trained (searched and published)
    train_epochs: int
    train_steps: int      # steps per training epoch, whatever the data's size (nnU-Net's
    #                       iterations per epoch): every dataset costs the same time
    train_batch: int
    lrs: tuple[float, ...]  # Adam, cosine to 0: every model tries each (seed 0), keeps its best
    train_seeds: int      # training seeds per model at its chosen lr; the table gives the mean
    big_unet: str         # "never", "gpu" (only when CUDA is present) or "always"
    augment: tuple[str, ...] = ()  # data.augment settings of every training, beyond the default
    #                                flips and ±10° rotations ("scale=[0.85,1.25]", ...)


BUDGETS: dict[str, Budget] = {
    # a smoke run: every step end to end in a few minutes on 2 CPU cores
    "quick": Budget(size=64, C=8, depth=3, search_epochs=2, search_steps=4, search_batch=4,
                    alpha_lr=3e-3, select_epochs=1, train_C=8, train_epochs=3, train_steps=4,
                    train_batch=4,
                    lrs=(1e-3,), train_seeds=1, big_unet="never"),
    # about 30 minutes per dataset on 2 free CPU cores, 2 jobs (24 and 27 minutes on the
    # shared sets; serially 35-40) at 96², whatever its size: a search of
    # 160 steps (~4 s each), then 480 training steps of 8 images per model (a NAS-Unet at C 32
    # ~0.5 s per step, unet_small ~0.3 s; one pass over hc18's 96 training images per
    # epoch, four over em-membrane's 24): the search at C 8 (as DARTS,
    # search narrow and train wide), then every model tries two learning rates and trains a
    # second seed at its best; the trained NAS-Unets stay under 25% of unet_small's weights.
    # On a GPU it runs unchanged and adds the 31M U-Net.
    "standard": Budget(size=96, C=8, depth=4, search_epochs=20, search_steps=8,
                       search_batch=4, alpha_lr=1e-2, select_epochs=3, train_C=32,
                       train_epochs=40, train_steps=12, train_batch=8, lrs=(1e-3, 3e-3),
                       train_seeds=2, big_unet="gpu",
                       # nnU-Net's zoom, gamma and noise, alike for every model: on hc18 they
                       # narrowed the gap to unet_small (0.032 -> 0.024), on em-membrane it
                       # stayed 0.016 (README); a fair, common recipe either way
                       augment=("scale=[0.85,1.25]", "gamma=[0.7,1.5]", "noise_std=0.1")),
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
            "--set", f"search.alphas.lr={b.alpha_lr}", "--set", "search.patience=null", *extra]
    if seeds > 1:
        argv += ["--seeds", str(seeds), "--set", f"search.select_epochs={b.select_epochs}",
                 "--set", f"train.lr={b.lrs[0]}",
                 "--set", f"train.batch_size={b.train_batch}"]
    return Step("search", run, tuple(argv), ("search", "--resume", "--out", str(run),
                                             "--no-progress"))


def train_step(out: Path, data: str, b: Budget, name: str, lr: float, seed: int,
               extra: Sequence[str], searched_network: str = "fidelity_search_derived") -> Step:
    """One training run of ``name`` at ``lr`` and ``seed`` (NAS-Unets at the budget's train_C)."""
    model_args = {"searched": [str(out / "search" / "genotype.geno"), "--network",
                               searched_network, "--set", f"model.C={b.train_C}"],
                  "nasunet": [str(out / "published.geno"), "--network", "fidelity_nasunet",
                              "--set", f"model.C={b.train_C}"],
                  "unet_small": ["--baseline", "unet_small"], "unet": ["--baseline", "unet"]}
    run = out / name / f"lr{lr:g}_seed{seed}"
    augment = [a for kv in b.augment for a in ("--set", f"data.augment.{kv}")]
    argv = ("train", *model_args[name], "--data", data, "--epochs", str(b.train_epochs),
            "--steps-per-epoch", str(b.train_steps), "--batch-size", str(b.train_batch),
            "--size", str(b.size), "--seed", str(seed), "--no-progress",
            "--set", f"train.lr={lr}", *augment, *extra, "--out", str(run))
    return Step(f"train:{name}:lr{lr:g}:seed{seed}", run, argv,
                ("train", "--resume", "--out", str(run), "--no-progress"))


@dataclass(frozen=True)
class Runner:
    """How a step's child runs: with ``threads`` torch threads (None: inherited); with ``logs``
    its output goes to ``logs/<step>.log`` instead of the console (steps side by side)."""
    threads: int | None = None
    logs: Path | None = None


SERIAL = Runner()


@dataclass(frozen=True)
class Task:
    name: str
    work: Callable[[], Any]
    after: tuple[str, ...] = ()


def run_tasks(tasks: Sequence[Task], jobs: int) -> dict[str, Any]:
    """Run every task once all its ``after`` have finished, at most ``jobs`` at a time; among
    the ready ones, in list order (the list is the priority). Returns each task's result.
    After a failure no task starts; the running ones end, then the first error is raised."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    names = [t.name for t in tasks]
    unknown = {d for t in tasks for d in t.after} - set(names)
    if len(set(names)) != len(names) or unknown:
        raise ValueError(f"tasks must have unique names and known dependencies ({unknown})")
    results: dict[str, Any] = {}
    pending, running = list(tasks), {}
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while pending or running:
            for t in [t for t in pending if all(d in results for d in t.after)]:
                if error is not None or len(running) >= max(1, jobs):
                    break
                pending.remove(t)
                running[pool.submit(t.work)] = t
            if not running:
                if error is None:
                    raise ValueError("tasks wait on each other: "
                                     + ", ".join(t.name for t in pending))
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                t = running.pop(f)
                try:
                    results[t.name] = f.result()
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    error = error or exc
    if error is not None:
        raise error
    return results


def train_and_evaluate(step: Step, log: dict[str, Any], runner: Runner = SERIAL) -> float:
    """Train (or resume, or skip a finished run), evaluate; the validation DSC."""
    run_step(step, log, runner)
    run_step(evaluate_step(step.run), log, runner)
    return float((_json(step.run / EVAL / "metrics.json") or {}).get("dsc") or 0.0)


def best_lr(sweep: dict[float, float]) -> float:
    """The lr of the best validation DSC; a tie goes to the first lr tried."""
    return max(sweep, key=lambda lr: sweep[lr])


def model_tasks(out: Path, data: str, b: Budget, name: str, seed: int, extra: Sequence[str],
                log: dict[str, Any], runner: Runner = SERIAL,
                after: tuple[str, ...] = ()) -> tuple[list[Task], Callable[[dict], dict]]:
    """The same tuning effort for every model: each lr at the first seed (after ``after``),
    the best lr kept (validation DSC) and trained again at the other seeds. Returns the tasks
    and a function of :func:`run_tasks`' results that gives the model's lr, sweep and runs."""
    sweep_steps = {lr: train_step(out, data, b, name, lr, seed, extra) for lr in b.lrs}
    scores: dict[float, float] = {}

    def try_lr(lr: float) -> float:
        scores[lr] = train_and_evaluate(sweep_steps[lr], log, runner)
        return scores[lr]

    def chosen() -> float:
        return best_lr({lr: scores[lr] for lr in b.lrs})  # in the budget's order: ties alike
    sweep = [Task(st.name, partial(try_lr, lr), after) for lr, st in sweep_steps.items()]
    repeats = []
    for k in range(1, b.train_seeds):
        def again(k: int = k) -> Path:
            step = train_step(out, data, b, name, chosen(), seed + k, extra)
            train_and_evaluate(step, log, runner)
            return step.run
        repeats.append(Task(f"train:{name}:best:seed{seed + k}", again,
                            tuple(t.name for t in sweep)))

    def collect(results: dict[str, Any]) -> dict[str, Any]:
        runs = [sweep_steps[chosen()].run] + [results[t.name] for t in repeats]
        return {"lr": chosen(), "sweep": {f"{lr:g}": round(scores[lr], 4) for lr in b.lrs},
                "runs": runs}
    return sweep + repeats, collect


def evaluate_step(run: Path) -> Step:
    """Every run evaluated alike, with nnU-Net's test-time mirroring (its final validation's)."""
    argv = ("evaluate", str(run), "--no-progress", "--out", str(run / EVAL), "--mirror")
    return Step(f"evaluate:{run.parent.name}:{run.name}", run / EVAL, argv, argv)


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


def trained_length(run: Path) -> tuple[int, int | None] | None:
    """(epochs, steps per epoch) an existing training run was asked for (its config.yaml),
    else None."""
    import yaml

    try:
        config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    train = config.get("train") or {}
    if not train:
        return None
    steps = train.get("steps_per_epoch")
    # one pass per epoch (steps unset): the steps its epochs made; a pass of exactly the
    # asked steps trains bit for bit what the asked steps would (tests/train)
    return train.get("epochs"), steps if steps is not None else steps_per_pass(run)


def steps_per_pass(run: Path) -> int | None:
    """Steps per epoch of a run that trained one pass per epoch (its last checkpoint), or
    None when it has none yet."""
    from genodsl.errors import CheckpointError
    from genodsl.train.checkpoint import load_checkpoint

    try:
        state = load_checkpoint(run / "checkpoints" / "last.pt")
    except CheckpointError:
        return None
    epoch, made = state.get("epoch"), state.get("global_step")
    return made // epoch if epoch and made and made % epoch == 0 else None


_SAY = threading.Lock()


def say(line: str) -> None:
    """One whole line on the console, also from the threads of --jobs."""
    with _SAY:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def run_step(step: Step, log: dict[str, Any], runner: Runner = SERIAL) -> None:
    if step.name.startswith("train:"):  # never count (or resume) a run of another length
        asked = tuple(int(step.argv[step.argv.index(flag) + 1])
                      for flag in ("--epochs", "--steps-per-epoch"))
        found = trained_length(step.run)
        if found is not None and found != asked:
            raise SystemExit(f"{step.run} was trained for {found[0]} epochs of {found[1]} "
                             f"steps, this benchmark asks {asked[0]} of {asked[1]}: give "
                             "another --out")
    todo = state(step)
    if todo == "done":
        say(f"== {step.name}: done already ({step.run})")
        return
    argv = step.resume if todo == "resume" else step.argv
    cmd = [sys.executable, "-m", "genodsl", *argv]
    env = None if runner.threads is None else {
        **os.environ, "OMP_NUM_THREADS": str(runner.threads),
        "MKL_NUM_THREADS": str(runner.threads)}
    t0 = time.perf_counter()
    if runner.logs is None:
        say(f"== {step.name}: genodsl {' '.join(argv)}")
        code = subprocess.call(cmd, env=env)
    else:
        runner.logs.mkdir(parents=True, exist_ok=True)
        path = runner.logs / (step.name.replace(":", "_") + ".log")
        say(f"== {step.name}: started (output in {path})")
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"== genodsl {' '.join(argv)}\n")
            fh.flush()
            code = subprocess.call(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    log[step.name] = round(time.perf_counter() - t0, 1)
    if code != 0:
        raise SystemExit(f"{step.name} failed (exit code {code}); rerun to resume")
    if runner.logs is not None:
        say(f"== {step.name}: done in {log[step.name]:.0f} s")


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


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def row(name: str, tuned: dict[str, Any], search_s: float | None) -> dict[str, Any]:
    """One model: the mean over its training seeds at its chosen lr."""
    trains = [_json(r / "summary.json") or {} for r in tuned["runs"]]
    evals = [_json(r / EVAL / "metrics.json") or {} for r in tuned["runs"]]
    classes = list((evals[0].get("dsc_per_class") or {}).keys())
    return {"model": name, "lr": tuned["lr"], "lr_sweep_dsc": tuned["sweep"],
            "dsc": _mean([e.get("dsc") for e in evals]),
            "dsc_seeds": [e.get("dsc") for e in evals],
            "dsc_per_class": {c: _mean([(e.get("dsc_per_class") or {}).get(c) for e in evals])
                              for c in classes},
            "hd95": _mean([e.get("hd95") for e in evals]), "unit": evals[0].get("unit"),
            "cases": evals[0].get("cases"), "params": trains[0].get("params"),
            "flops": trains[0].get("flops"),
            "train_s_per_epoch": _mean([t.get("time_per_epoch_s") for t in trains]),
            "epochs": trains[0].get("epochs_completed"),
            "search_s": search_s if name == "searched" else None,
            "runs": [str(r) for r in tuned["runs"]]}


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
    lines = ["| model | lr (DSC of each tried) | DSC, mean (each seed) | DSC per class | HD95 "
             "| params | FLOPs | train s/epoch | search s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        per = " / ".join(f"{k}: {_f(v, '.3f')}" for k, v in (r["dsc_per_class"] or {}).items())
        hd = _f(r["hd95"], ".2f") + (f" {r['unit']}" if r["hd95"] is not None and r["unit"]
                                     else "")
        tried = ", ".join(f"{lr}: {d:.3f}" for lr, d in r["lr_sweep_dsc"].items())
        seeds = ", ".join(_f(d, ".3f") for d in r["dsc_seeds"])
        lines.append(f"| {r['model']} | {r['lr']:g} ({tried}) | {_f(r['dsc'], '.4f')} ({seeds}) "
                     f"| {per or '—'} | {hd} | "
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


def default_jobs(cuda: bool, cpus: int) -> int:
    """Two steps at once on a CPU of 2 or more cores (small networks use the second thread
    of a step poorly); one on a GPU, whose step already has the device to itself."""
    return 1 if cuda or cpus < 2 else 2


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a dataset folder genodsl reads")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="quick")
    p.add_argument("--seeds", type=int, default=1, help="searches; the best is kept")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="default runs/fidelity/<data>_<budget>")
    p.add_argument("--lrs", type=float, nargs="+",
                   help="learning rates every model tries (default: the budget's)")
    p.add_argument("--train-seeds", type=int, help="training seeds per model (default: the "
                                                    "budget's)")
    p.add_argument("--train-epochs", type=int, help="training epochs of every model (default: "
                                                     "the budget's); a new --out (the default "
                                                     "one names it)")
    p.add_argument("--set", dest="sets", action="append", default=[],
                   help="KEY=VALUE for every search and training command")
    p.add_argument("--jobs", type=int, default=None,
                   help="steps run at once (trainings, evaluations and the search, as their "
                        "order allows); each child's output goes to OUT/logs/ (default: 2 on "
                        "a CPU of 2 or more cores, else 1)")
    p.add_argument("--threads", type=int,
                   help="torch threads of each child with --jobs > 1 (default: the CPUs / "
                        "jobs)")
    args = p.parse_args(argv)
    if (args.jobs is not None and args.jobs < 1) or (args.threads is not None
                                                     and args.threads < 1):
        p.error("--jobs and --threads take a number >= 1")
    import torch

    data = Path(args.data)
    b = BUDGETS[args.budget]
    if args.lrs or args.train_seeds or args.train_epochs:
        b = replace(b, lrs=tuple(args.lrs or b.lrs), train_seeds=args.train_seeds or b.train_seeds,
                    train_epochs=args.train_epochs or b.train_epochs)
    longer = f"_ep{b.train_epochs}" if args.train_epochs else ""
    out = args.out or Path("runs/fidelity") / f"{data.resolve().name}_{args.budget}{longer}"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("space.geno", space_text(b.C, b.depth)),
                       ("published.geno", nasunet_text(b.C, b.depth))):
        if not (out / name).is_file():
            (out / name).write_text(text, encoding="utf-8")
    extra = [a for s in args.sets for a in ("--set", s)]
    names = models(b, torch.cuda.is_available())
    log: dict[str, Any] = {}
    t0 = time.perf_counter()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if args.jobs is None:
        args.jobs = default_jobs(torch.cuda.is_available(), cpus or 1)
    threads = args.threads or max(1, (cpus or 1) // args.jobs)
    runner = Runner(threads, out / "logs") if args.jobs > 1 else SERIAL
    plans = {n: model_tasks(out, str(data), b, n, args.seed, extra, log, runner,
                            after=("search",) if n == "searched" else ()) for n in names}
    # the baseline's first training comes first: its split.json fixes the validation cases
    # the search never sees (the published genotype's trainings need no search: they run
    # beside the search with --jobs)
    first = train_step(out, str(data), b, "unet_small", b.lrs[0], args.seed, extra)
    seen: dict[str, bool] = {}

    def search() -> None:
        split = _json(first.run / "split.json") or {}
        search_data = out / "search_data"
        seen["clean"] = link_training_cases(data, split.get("train", []), search_data)
        run_step(search_step(out, str(search_data if seen["clean"] else data), b, args.seeds,
                             args.seed, extra), log, runner)
    tasks = [t for t in plans["unet_small"][0] if t.name == first.name]
    tasks.append(Task("search", search, (first.name,)))
    tasks += [t for n in names for t in plans[n][0] if t.name != first.name]
    results = run_tasks(tasks, args.jobs)
    clean = seen["clean"]
    tuned = {n: plans[n][1](results) for n in names}
    runs = [r for t in tuned.values() for r in t["runs"]]
    vals = {str(r): tuple((_json(r / "split.json") or {}).get("val", ())) for r in runs}
    if len(set(vals.values())) != 1:
        raise SystemExit(f"the runs validate on different cases: {vals}")
    s_search = search_seconds(out / "search")
    rows = [row(n, t, s_search) for n, t in tuned.items()]
    table = markdown(rows)
    result = {"data": str(data), "budget": args.budget, "settings": asdict(b),
              "seeds": args.seeds, "seed": args.seed, "models": names,
              "validation_cases": list(vals[str(runs[0])]), "search_saw_validation": not clean,
              "rows": rows, "step_seconds": log,
              "this_invocation_s": round(time.perf_counter() - t0, 1),
              "jobs": args.jobs,
              "threads": threads if args.jobs > 1 else torch.get_num_threads(), "cpus": cpus,
              "device": "cuda" if torch.cuda.is_available() else "cpu"}
    (out / "fidelity.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "fidelity.md").write_text(table, encoding="utf-8")
    print(table)
    print(f"wrote {out / 'fidelity.json'} and {out / 'fidelity.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
