#!/usr/bin/env python
"""Speed and peak memory of a git revision of genodsl against the working tree, side by side.

    python bench/speed.py                          # 49563b2 (A) vs the working tree (B)
    python bench/speed.py --rev main --pairs 5 --rows train infer --json speed.json
    python bench/speed.py --quick                  # tiny sizes: a smoke run
    python bench/speed.py --options compile recompute channels_last,compile
                                                   # + a row per option set (B only)

Rows (the issue's settings; ``--quick`` shrinks them):

* ``train``: one training step of NASUNET (C=32, depth 5, stems as nasunet_promise12),
  1 → 2 classes, batch 2, 256², cross-entropy, SGD (momentum 0.9);
* ``infer``: the same network, batch 2, ``eval()`` under ``torch.no_grad()``;
* ``darts`` / ``proxyless``: one search iteration (alpha step on one batch, then weight step
  on another) of the supernet nasunet_search (genotypes/nasunet_space.geno: C=16, depth 4,
  M=3), 3 → 21 classes, batch 2, 128², cross-entropy, each revision's own first-order
  ``Darts`` / ``Proxyless`` strategy with its default SearchConfig;
* ``3d``: the train step of NASUNET with ``dims = 3`` (C=8, depth 3) on 1×1×32×64×64; a
  revision whose language has no ``dims`` skips it (said in the table);
* ``augment``: the data path's share: one "step" augments 96 samples of 96² (an epoch of
  hc18-ultrasound at the fidelity benchmark's size) with the fidelity benchmark's recipe
  (flips, ±10° rotation, zoom 0.85-1.25, gamma 0.7-1.5, noise 0.1), one sample at a time as
  the training loader does; no network, no options.

Revision A is checked out with ``git worktree add`` in a temporary folder (removed
afterwards). Every measurement is a fresh child process (this file with ``--worker``, the
same measuring code for both sides) with PYTHONPATH at its tree, ``--threads`` threads and
the tree's own glibc allocator tuning (as its CLI does); each child builds the model, runs 2
warm-up steps and reports the median of ``--steps`` timed steps and its peak RSS growth (VmHWM
reset after the imports, before the model is built). Children alternate A, B / B, A for
``--pairs`` pairs, so drift on a shared machine hits both sides alike. Speed = A time ÷ B
time per pair (> 1: the working tree is faster), median and [min, max]. The first pair's
children also count the step's FLOPs (FlopCounterMode over one whole step: conv/matmul,
forward and backward, 2 per multiply-add); GFLOP/s = those FLOPs ÷ the median step time, and
% of a 2048² float32 matmul measured in the same run with the same threads.

``--options`` adds rows where B runs with run options (:data:`OPTIONS`; A never has them):
``compile`` (``genodsl.runtime.compiling.prepare``, the strategies' ``search.compile``; the
warm-up goes on until a step traces no new graph, and RSS then includes the compiler's own),
``recompute``, ``channels_last``, ``bf16`` (autocast), ``lean`` (glibc's own
``MALLOC_MMAP_THRESHOLD_=1048576`` in B's children, which genodsl's allocator tuning leaves
alone: buffers over 1 MiB go back to the system when freed, so RSS follows the live tensors,
at the price of mapping them again every step). One set per row, comma-joined
(``--options compile,channels_last`` is one row with both). Option rows count no FLOPs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT_TAG = "SPEED-RESULT "
ROWS = ("train", "infer", "darts", "proxyless", "3d", "augment")
#: run options of the working tree (``--options``): torch.compile, activation recomputation,
#: channels-last memory format, bf16 autocast, glibc's plain mmap threshold (memory first)
OPTIONS = ("bf16", "channels_last", "compile", "lean", "recompute")
LEAN_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}

#: Per row: network settings, input shape [B, C, (D,) H, W], and whether a supernet.
FULL = {
    "train": dict(file="nasunet.geno", cells="NASUNET", in_channels=1, classes=2, C=32,
                  depth=5, stem_multiplier=4, input=(2, 1, 256, 256)),
    "infer": dict(file="nasunet.geno", cells="NASUNET", in_channels=1, classes=2, C=32,
                  depth=5, stem_multiplier=4, input=(2, 1, 256, 256)),
    "darts": dict(file="nasunet_space.geno", cells="NASUNET_SPACE", in_channels=3, classes=21,
                  C=16, depth=4, stem_multiplier=3, input=(2, 3, 128, 128)),
    "proxyless": dict(file="nasunet_space.geno", cells="NASUNET_SPACE", in_channels=3,
                      classes=21, C=16, depth=4, stem_multiplier=3, input=(2, 3, 128, 128)),
    "3d": dict(file="nasunet.geno", cells="NASUNET", in_channels=1, classes=2, C=8, depth=3,
               stem_multiplier=4, dims=3, input=(1, 1, 32, 64, 64)),
    "augment": dict(augment=dict(scale=(0.85, 1.25), gamma=(0.7, 1.5), noise_std=0.1),
                    input=(96, 1, 96, 96)),
}
QUICK = {"train": dict(C=4, depth=2, input=(1, 1, 32, 32)),
         "infer": dict(C=4, depth=2, input=(1, 1, 32, 32)),
         "darts": dict(C=4, depth=2, input=(1, 3, 32, 32)),
         "proxyless": dict(C=4, depth=2, input=(1, 3, 32, 32)),
         "3d": dict(C=4, depth=2, input=(1, 1, 8, 16, 16)),
         "augment": dict(input=(8, 1, 32, 32))}


# --------------------------------------------------------------------------- pure helpers
def row_spec(row: str, quick: bool = False) -> dict:
    """The settings of one row (``--quick``: tiny sizes, same networks)."""
    spec = dict(FULL[row], row=row)
    if quick:
        spec.update(QUICK[row])
    return spec


def network_block(spec: dict, name: str = "bench_speed") -> str:
    """A .geno ``network`` block for ``spec`` (appended to the genotype file's own text)."""
    keys = ["cells", "in_channels", "classes", "C", "depth", "stem_multiplier"]
    if spec["cells"] == "NASUNET":
        keys.append("double_down_channel")  # nasunet_promise12's backbone
    if "dims" in spec:
        keys.append("dims")
    values = {**spec, "double_down_channel": "false"}
    body = "".join(f"  {k} = {values[k]}\n" for k in keys)
    return f"\nnetwork {name} {{\n{body}}}\n"


def pair_speeds(a: list[float], b: list[float]) -> dict[str, float]:
    """Speed of B over A per pair (A time ÷ B time): median, min and max."""
    if not a or len(a) != len(b):
        raise ValueError("need the same number (> 0) of A and B times")
    speeds = [ta / tb for ta, tb in zip(a, b)]
    return {"median": statistics.median(speeds), "min": min(speeds), "max": max(speeds)}


def pair_order(pair: int) -> tuple[str, str]:
    """Which side runs first in a pair: A, B on even pairs, B, A on odd ones."""
    return ("A", "B") if pair % 2 == 0 else ("B", "A")


# --------------------------------------------------------------------------- worker side
def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> int:
    """Reset VmHWM to the current RSS where Linux allows it; return that baseline (bytes)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return (_status_kib("VmRSS") or 0) * 1024


def _peak() -> int:
    import resource

    hwm = _status_kib("VmHWM")
    return (hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _tune_allocator() -> bool:
    """The tree's own allocator tuning, wherever this revision keeps it."""
    for mod in ("genodsl.runtime.allocator", "genodsl.utils"):
        try:
            return bool(__import__(mod, fromlist=["x"]).tune_cpu_allocator())
        except (ImportError, AttributeError):
            continue
    return False


def _build(spec: dict, tree: Path):
    import genodsl

    path = tree / "genotypes" / spec["file"]
    text = path.read_text(encoding="utf-8") + network_block(spec)
    program = genodsl.loads(text, str(path), base_dir=path.parent)
    return genodsl.build(program, "bench_speed")


def parse_options(text: str) -> tuple[str, ...]:
    """``"compile,channels_last"`` → ``("channels_last", "compile")``; ``"plain"`` → ``()``."""
    opts = tuple(sorted({o.strip() for o in text.split(",") if o.strip()} - {"plain", "none"}))
    bad = [o for o in opts if o not in OPTIONS]
    if bad:
        raise ValueError(f"unknown option(s) {', '.join(bad)}; choose from {', '.join(OPTIONS)}")
    return opts


def option_label(options: tuple[str, ...] | list[str]) -> str:
    return "+".join(options) if options else "plain"


def _step_fn(spec: dict, model, options: tuple[str, ...] = (), device: str = "cpu"):
    """(step function, parameter counts) for the row; ``options`` (:data:`OPTIONS`) only for
    trees that have them (the working tree). On CUDA the step waits for the device."""
    import contextlib

    import torch
    from torch import nn

    dev, opts = torch.device(device), set(options)
    g = torch.Generator().manual_seed(1)
    shape = tuple(spec["input"])
    k = spec["classes"]
    fmt = {4: torch.channels_last, 5: torch.channels_last_3d}.get(len(shape)) \
        if "channels_last" in opts else None
    model.to(dev)
    if fmt is not None:
        model.to(memory_format=fmt)

    def batch():
        x = torch.randn(*shape, generator=g).to(dev)
        return (x if fmt is None else x.contiguous(memory_format=fmt),
                torch.randint(0, k, (shape[0], *shape[2:]), generator=g).to(dev))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    x, y = batch()
    row = spec["row"]
    if row in ("darts", "proxyless"):
        from genodsl.search.config import SearchConfig
        from genodsl.search.strategy import Batch
        cls = {"darts": ("genodsl.search.darts", "Darts"),
               "proxyless": ("genodsl.search.proxyless", "Proxyless")}[row]
        kw, extra = {}, {o: True for o in ("compile", "recompute") if o in opts}
        if opts:
            from genodsl.config import RuntimeConfig
            kw["runtime"] = RuntimeConfig(device=device, channels_last=fmt is not None,
                                          amp="bf16" if "bf16" in opts else "off")
        strategy = getattr(__import__(cls[0], fromlist=[cls[1]]), cls[1])(
            model, SearchConfig(strategy=row, **extra), nn.CrossEntropyLoss(), **kw)
        w_batch, (xa, ya) = Batch(x, y), batch()
        a_batch = Batch(xa, ya)

        def step():
            strategy.alpha_step(a_batch, w_batch)
            strategy.weight_step(w_batch)
            sync()
        params = {"weights": sum(p.numel() for p in model.weight_parameters()),
                  "alphas": sum(p.numel() for p in model.alpha_parameters())}
        return step, params
    params = {"weights": sum(p.numel() for p in model.parameters())}
    if row == "infer":
        model.eval()
    net = model
    if opts & {"compile", "recompute"}:
        from genodsl.runtime.compiling import prepare
        net = prepare(model, compile="compile" in opts, recompute="recompute" in opts)

    def forward(inp):
        with (torch.autocast(dev.type, dtype=torch.bfloat16) if "bf16" in opts
              else contextlib.nullcontext()):
            return net(inp).float()
    if row == "infer":
        def step():
            with torch.no_grad():
                forward(x)
            sync()
        return step, params
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(forward(x), y).backward()
        opt.step()
        sync()
    return step, params


def _augment_step(spec: dict):
    """(step, counts) of the ``augment`` row: every sample of a fixed batch augmented once
    per step, each with a new seed (a training epoch's data path without the network)."""
    import torch

    from genodsl.data import AugmentConfig, Augmenter

    aug = Augmenter(AugmentConfig(**spec["augment"]))
    n, c, h, w = spec["input"]
    images = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(1))
    masks = (images[:, 0] > 0.5).long()
    seeds = iter(range(1 << 30))

    def step():
        for i in range(n):
            aug(images[i], masks[i], next(seeds))
    return step, {"samples": n}


def _median_time(fn, warmup: int, steps: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def warm_up(fn, warmup: int, compiled: bool, limit: int = 40) -> int:
    """Run ``fn`` ``warmup`` times; when ``compiled``, go on (up to ``limit`` runs) until a run
    traces no new graph (proxyless meets new candidate shapes for a while). Returns the runs."""
    runs = 0
    graphs = -1
    while runs < warmup or (compiled and runs < limit and _graphs() != graphs):
        graphs = _graphs()
        fn()
        runs += 1
    return runs


def _graphs() -> int:
    try:
        from torch._dynamo.utils import counters
    except ImportError:
        return 0
    return int(counters["stats"]["unique_graphs"])


def worker(job: dict) -> dict:
    tuned = _tune_allocator()
    import torch

    torch.set_num_threads(job["threads"])
    import genodsl

    tree = Path(job["tree"]).resolve()
    if tree not in Path(genodsl.__file__).resolve().parents:
        raise SystemExit(f"genodsl came from {genodsl.__file__}, not from {tree}")
    if job["row"] == "matmul":
        n = job["n"]
        a, b = torch.randn(n, n), torch.randn(n, n)
        times = _median_time(lambda: a @ b, 3, 10)
        return {"seconds": statistics.median(times),
                "gflops": 2 * n**3 / statistics.median(times) / 1e9}
    spec = job["spec"]
    torch.manual_seed(0)
    base = _reset_peak()
    options = tuple(job.get("options", ()))
    if job["row"] == "augment":
        step, params = _augment_step(spec)
    else:
        try:
            model = _build(spec, tree)
        except Exception as exc:  # noqa: BLE001 - an old language without dims
            if "dims" in spec:
                return {"unsupported": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
            raise
        step, params = _step_fn(spec, model, options)
    warm = warm_up(step, job["warmup"], "compile" in options)
    times = _median_time(step, 0, job["steps"])
    out = {"seconds": statistics.median(times), "times": times, "params": params,
           "peak_mb": (_peak() - base) / 2**20, "allocator_tuned": tuned,
           "threads": torch.get_num_threads(), "warmup_steps": warm}
    if job.get("flops") and job["row"] != "augment":
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            step()
        out["flops"] = int(counter.get_total_flops())
    return out


# --------------------------------------------------------------------------- parent side
def child_env(tree: Path, job: dict) -> dict[str, str]:
    """The environment of a measuring child: its tree, its threads, ``lean``'s allocator."""
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": str(job["threads"]), "MKL_NUM_THREADS": str(job["threads"]),
            **(LEAN_MALLOC if "lean" in job.get("options", ()) else {})}


def run_child(tree: Path, job: dict) -> dict:
    env = child_env(tree, job)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker",
           json.dumps({**job, "tree": str(tree)})]
    proc = subprocess.run(cmd, cwd=tempfile.gettempdir(), env=env, capture_output=True,
                          text=True, encoding="utf-8", errors="replace")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-1500:] or 'no output'}"}


def measure_row(row: str, trees: dict[str, Path], args: argparse.Namespace,
                options: tuple[str, ...] = ()) -> dict:
    """A (the revision, plain) against B (the working tree with ``options``) on ``row``."""
    spec = row_spec(row, args.quick)
    job = {"row": row, "spec": spec, "threads": args.threads, "warmup": 2, "steps": args.steps}
    label = row if not options else f"{row}+{option_label(options)}"
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    skip: dict[str, str] = {}
    for pair in range(args.pairs):
        for side in pair_order(pair):
            if side in skip:
                continue
            extra = {"options": list(options), "flops": False} if side == "B" and options \
                else {"flops": not runs[side]}  # FLOPs: counted eager; compiled steps hide them
            res = run_child(trees[side], {**job, **extra})
            if "unsupported" in res or "error" in res:
                skip[side] = res.get("unsupported") or "FAILED " + res["error"]
                print(f"  {label} {side}: {'skipped' if 'unsupported' in res else 'FAILED'}: "
                      f"{skip[side].splitlines()[-1]}", file=sys.stderr, flush=True)
                continue
            runs[side].append(res)
        print(f"  {label}: pair {pair + 1}/{args.pairs} done", file=sys.stderr, flush=True)
    out: dict = {"row": row, "label": label, "options": list(options), "spec": spec,
                 "skipped": skip}
    for side in ("A", "B"):
        rs = runs[side]
        if not rs:
            continue
        flops = next((r["flops"] for r in rs if "flops" in r), None)
        t = statistics.median(r["seconds"] for r in rs)
        out[side] = {"seconds": t, "per_pair": [r["seconds"] for r in rs],
                     "peak_mb": statistics.median(r["peak_mb"] for r in rs),
                     "peak_mb_range": [min(r["peak_mb"] for r in rs),
                                       max(r["peak_mb"] for r in rs)],
                     "params": rs[0]["params"], "flops": flops,
                     "gflops_per_s": flops / t / 1e9 if flops else None,
                     "allocator_tuned": rs[0]["allocator_tuned"]}
    if "A" in out and "B" in out:
        out["speed"] = pair_speeds(out["A"]["per_pair"], out["B"]["per_pair"])
        out["memory_ratio"] = out["B"]["peak_mb"] / out["A"]["peak_mb"]
        out["same_params"] = out["A"]["params"] == out["B"]["params"]
    return out


def _f(v, spec: str) -> str:
    """``format(v, spec)``, or a dash as wide as the spec says."""
    if v is None:
        width = spec.split(".")[0]
        return "-".rjust(int(width) if width.isdigit() else 0)
    return format(v, spec)


def print_table(results: list[dict], ceiling: dict, labels: dict[str, str]) -> None:
    w = max([10] + [len(r.get("label", r["row"])) + 1 for r in results])
    head = (f"{'row':<{w}}{'A s':>8}{'B s':>8}{'speed':>7} {'[min, max]':<14}"
            f"{'A MB':>7}{'B MB':>7}{'B/A':>6}{'A GF/s':>8}{'%':>5}{'B GF/s':>8}{'%':>5}  params")
    print(f"A = {labels['A']}, B = {labels['B']}; speed = A time / B time (> 1: B faster)")
    print(f"ceiling ({ceiling.get('n')}² float32 matmul): A {_f(ceiling['A'], '.1f')}, "
          f"B {_f(ceiling['B'], '.1f')} GFLOP/s; % below is of the mean of the two")
    print(head + "\n" + "-" * len(head))
    ceil = statistics.mean(v for v in (ceiling["A"], ceiling["B"]) if v) \
        if ceiling["A"] or ceiling["B"] else None
    for r in results:
        a, b = r.get("A", {}), r.get("B", {})
        sp = r.get("speed")
        rng = f"[{sp['min']:.2f}, {sp['max']:.2f}]" if sp else ""
        pct = {s: (100 * d["gflops_per_s"] / ceil if d.get("gflops_per_s") and ceil else None)
               for s, d in (("A", a), ("B", b))}
        params = "A " + (", ".join(f"{k} {v:,}" for k, v in a["params"].items()) if a else "-")
        params += ("; B same" if r.get("same_params") else "; B " + (", ".join(
            f"{k} {v:,}" for k, v in b["params"].items()) if b else "-") +
            (" (DIFFERENT)" if a and b else ""))
        print(f"{r.get('label', r['row']):<{w}}{_f(a.get('seconds'), '8.3f')}{_f(b.get('seconds'), '8.3f')}"
              f"{_f(sp and sp['median'], '7.2f')} {rng:<14}{_f(a.get('peak_mb'), '7.0f')}"
              f"{_f(b.get('peak_mb'), '7.0f')}{_f(r.get('memory_ratio'), '6.2f')}"
              f"{_f(a.get('gflops_per_s'), '8.1f')}{_f(pct['A'], '5.0f')}"
              f"{_f(b.get('gflops_per_s'), '8.1f')}{_f(pct['B'], '5.0f')}  {params}")
        for side, why in r["skipped"].items():
            print(f"{'':<{w}}{side} skipped: {why.splitlines()[-1][:150]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rev", default="49563b2", help="git revision A (default: 49563b2)")
    p.add_argument("--pairs", type=int, default=None, help="A/B pairs per row (default 7)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per child (default 5)")
    p.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny sizes (2 pairs, 2 steps)")
    p.add_argument("--options", nargs="*", type=parse_options, default=[],
                   help="extra rows: B with these run options, one comma-joined set per row "
                        f"({', '.join(OPTIONS)}), e.g. compile recompute "
                        "bf16,channels_last,compile")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(RESULT_TAG + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    args.pairs = args.pairs or (2 if args.quick else 7)
    args.steps = args.steps or (2 if args.quick else 5)
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.rev],
                         capture_output=True, text=True, check=True).stdout.strip()
    labels = {"A": f"{args.rev} ({sha})", "B": "working tree"}
    with tempfile.TemporaryDirectory(prefix="genodsl-speed-") as tmp:
        wt = Path(tmp) / "rev"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(wt),
                        sha], check=True)
        trees = {"A": wt, "B": ROOT}
        try:
            n = 256 if args.quick else 2048
            mm = {s: run_child(trees[s], {"row": "matmul", "n": n, "threads": args.threads})
                  for s in ("A", "B")}
            ceiling = {"n": n, **{s: mm[s].get("gflops") for s in mm}}
            results = [measure_row(row, trees, args, opts) for row in args.rows
                       for opts in ([(), *args.options] if row != "augment" else [()])]
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(wt)],
                           check=False)
    import torch

    print(f"\ntorch {torch.__version__}, {os.cpu_count()} CPUs, {args.threads} threads; "
          f"{args.pairs} pairs (A,B / B,A alternating), each child 2 warm-up + median of "
          f"{args.steps} steps; peak = RSS growth over the child's RSS before the build")
    print_table(results, ceiling, labels)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()
                                                  if k != "worker"}, "labels": labels,
                                         "ceiling": ceiling, "rows": results}, indent=2),
                             encoding="utf-8")
    bad = [r["label"] for r in results if any(w.startswith("FAILED") for w in r["skipped"].values())
           or (r.get("same_params") is False)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
