"""Peak memory and step time of the search strategies against one discrete training step.

Each case runs in its own fresh process (so peaks do not mix):

  (a) one training step of a discrete network derived from the space (same C, depth, stems)
  (b) darts weight step      (c) darts alpha step      (d) darts2 alpha step
  (e) proxyless weight step  (f) proxyless alpha step

Memory is the peak *above the memory held after setup* (model, optimizers, data on the
device): on CUDA ``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` after setup;
on CPU the process's peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``) after the steps minus
its current RSS (``/proc/self/statm``) after setup.  Time is the median of ``--steps`` steps
after one warm-up step.  Usage::

    python bench/search_memory.py                  # C=16, depth 4, M=3, batch 2, 128×128
    python bench/search_memory.py --C 8 --depth 2 --size 64 --steps 3
    python bench/search_memory.py --patch 32x64x64 --C 8 --depth 3 --batch 1 --cases abe

``--patch DxHxW`` runs the same space as a 3D network (``dims = 3``) on a volume patch of that
size (``--inplane-stages N`` keeps D for the first N halvings); the table's × (a) columns are
the ratios to the discrete step (the issue's target: a proxyless weight step ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {"a": "discrete train step", "b": "darts weight step", "c": "darts alpha step",
         "d": "darts2 alpha step", "e": "proxyless weight step", "f": "proxyless alpha step"}
ROOT = Path(__file__).resolve().parents[1]


def _rss_now_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run_case(case: str, args: argparse.Namespace) -> dict[str, float | str]:
    import torch

    from genodsl.compile.discrete import build_discrete
    from genodsl.compile.supernet import build_supernet
    from genodsl.lang.ir import NetworkSettings
    from genodsl.lang.loader import load
    from genodsl.search.config import SearchConfig
    from genodsl.search.derive import derive
    from genodsl.search.strategies import strategy_class
    from genodsl.search.strategy import Batch
    from genodsl.train.losses import build_loss
    from genodsl.runtime.device import pick_device

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = pick_device(args.device)
    program = load(args.space)
    net_bb = program.networks[args.network].settings
    update = {"C": args.C or net_bb.C, "depth": args.depth or net_bb.depth}
    if args.patch:
        update |= {"dims": 3, "inplane_stages": args.inplane_stages}
    # validated like a file entry (dims, inplane_stages): model_copy would not check them
    settings = NetworkSettings(**{**net_bb.model_dump(), **update})
    space = program.spaces[settings.cells]
    supernet = build_supernet(settings, space)
    loss_fn = build_loss("dice", settings.classes)
    g = torch.Generator().manual_seed(1)
    spatial = _spatial(args)
    batch = Batch(torch.randn(args.batch, settings.in_channels, *spatial,
                              generator=g).to(device),
                  torch.randint(0, settings.classes, (args.batch, *spatial),
                                generator=g).to(device))
    if case == "a":
        geno = derive(space, supernet.alphas, "BENCH")
        dbb = NetworkSettings(**{**settings.model_dump(), "cells": "BENCH",  # supernet stems
                                 "stem_multiplier": supernet.net.plan.stem_multiplier})
        model = build_discrete(dbb, geno).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.95, weight_decay=3e-4)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(batch.image), batch.mask).backward()
            opt.step()
    else:
        name = {"b": "darts", "c": "darts", "d": "darts2", "e": "proxyless",
                "f": "proxyless"}[case]
        supernet.to(device)
        strategy = strategy_class(name)(supernet, SearchConfig(strategy=name), loss_fn)
        if case in "be":
            def step() -> None:
                strategy.weight_step(batch)
        else:
            def step() -> None:
                strategy.alpha_step(batch, batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)
    else:
        base = _rss_now_mb()
    times = []
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20 - base
        method = "cuda max_memory_allocated - allocated after setup"
    else:
        peak = _peak_rss_mb() - base
        method = "peak RSS (ru_maxrss) - RSS after setup"
    return {"case": case, "what": CASES[case], "peak_mb": peak, "median_s": statistics.median(
        times), "method": method, "device": str(device), "C": settings.C, "depth": settings.depth,
        "M": len(space.cells[next(iter(space.cells))].nodes), "dims": settings.dims}


def _spatial(args: argparse.Namespace) -> tuple[int, ...]:
    """The sample's (H, W), or (D, H, W) with --patch."""
    if not args.patch:
        return args.size, args.size
    return tuple(int(n) for n in args.patch.lower().replace("×", "x").split("x"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--space", default=str(ROOT / "genotypes" / "nasunet_space.geno"))
    p.add_argument("--network", default="nasunet_search")
    p.add_argument("--C", type=int, default=None, help="default: the network's (16)")
    p.add_argument("--depth", type=int, default=None, help="default: the network's (4)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--patch", default=None, help="DxHxW: a 3D network on volume patches")
    p.add_argument("--inplane-stages", type=int, default=0,
                   help="with --patch: halvings that keep D")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--cases", default="abcdef")
    p.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = p.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args)))
        return
    rows = []
    for case in args.cases:
        cmd = [sys.executable, __file__, "--case", case] + sys.argv[1:]
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get(
            "PYTHONPATH", ""), "OMP_NUM_THREADS": str(args.threads)}
        out = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8",
                             errors="replace", env=env, check=False)
        if out.returncode:
            sys.exit(f"case {case} failed:\n{out.stderr}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  ran ({case}) {CASES[case]}", file=sys.stderr, flush=True)
    ref = next((r for r in rows if r["case"] == "a"), rows[0])
    r0 = rows[0]
    print(f"C={r0['C']} depth={r0['depth']} M={r0['M']} batch={args.batch} "
          f"{'x'.join(map(str, _spatial(args)))} ({r0['dims']}D), {rows[0]['device']}, "
          f"{args.threads} thread(s); "
          f"memory = {rows[0]['method']}")
    print(f"{'case':<28}{'peak MB':>10}{'× (a)':>8}{'median s':>10}{'× (a)':>8}")
    for r in rows:
        print(f"({r['case']}) {r['what']:<24}{r['peak_mb']:>10.1f}"
              f"{r['peak_mb'] / ref['peak_mb']:>8.2f}{r['median_s']:>10.3f}"
              f"{r['median_s'] / ref['median_s']:>8.2f}")


if __name__ == "__main__":
    main()
