#!/usr/bin/env python
"""Training and inference throughput of segmentation models, against the machine's ceiling.

For each model: images/s of a training step (forward + cross-entropy + backward + Adam step)
and of inference (``torch.inference_mode``), the forward FLOPs per image (FlopCounterMode on
the meta device: conv/matmul only, 2 FLOPs per multiply-add), the achieved GFLOP/s, and the
peak memory. The ceiling is the GFLOP/s of one large float32 matmul measured in the same run.

Every measurement runs in its own subprocess, one after another, so peaks never mix and runs
do not compete for cores. Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA, else
the growth of the process's peak RSS over its RSS just before the model is built (the
peak mark is reset there through /proc/self/clear_refs): weights, optimizer state,
activations and allocator overhead. Timings: ``--warmup`` untimed steps, then the
median of ``--steps`` timed ones.

    python bench/train_throughput.py --model unet_small unet --size 256 --batch 2
    python bench/train_throughput.py --model unet_small unet --size 128 --steps 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

try:
    import genodsl  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from genodsl.baselines import build_baseline, check_input_size
from genodsl.compile.flops import count_flops, count_params
from genodsl.files import write_text_atomic
from genodsl.runtime.allocator import tune_cpu_allocator
from genodsl.runtime.device import pick_device

ModelFactory = Callable[[int, int], nn.Module]  # (in_channels, classes) -> model

def _nasunet(in_channels: int, classes: int) -> nn.Module:
    """NASUNET (C=32, depth 5) from the shipped genotypes; input sizes must divide by 64."""
    import genodsl
    from genodsl.lang.ir import Network
    from genodsl.lang.loader import load_builtin

    program = load_builtin()
    net = program.networks["nasunet_promise12"]
    settings = net.settings.model_copy(update={"in_channels": in_channels, "classes": classes})
    program.networks["bench"] = Network("bench", settings)
    return genodsl.build(program, "bench")


#: The models this script can measure.
MODEL_FACTORIES: dict[str, ModelFactory] = {
    "nasunet": _nasunet,
    "unet": lambda i, c: build_baseline("unet", i, c),
    "unet_small": lambda i, c: build_baseline("unet_small", i, c),
    "fcdensenet56": lambda i, c: build_baseline("fcdensenet56", i, c),
    "fcdensenet67": lambda i, c: build_baseline("fcdensenet67", i, c),
    "fcdensenet103": lambda i, c: build_baseline("fcdensenet103", i, c),
}

RESULT_TAG = "RESULT "


# --------------------------------------------------------------------------- worker side
def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_baseline() -> int:
    """Reset the peak-RSS mark to the current RSS where Linux allows it; return the baseline.

    Without the reset, the peak left by importing torch can hide a small model's peak.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (Linux >= 4.0)
        current = _proc_status_kib("VmRSS")
        if current is not None:
            return current * 1024
    except OSError:
        pass
    return _peak_rss_bytes()


def _peak_rss_bytes() -> int:
    hwm = _proc_status_kib("VmHWM")
    if hwm is not None:
        return hwm * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], object], warmup: int, steps: int, device: torch.device) -> list[float]:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def _measure_model(args: argparse.Namespace, name: str, mode: str) -> dict:
    device = pick_device(args.device)
    torch.manual_seed(0)
    rss0 = _rss_baseline()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = MODEL_FACTORIES[name](args.in_channels, args.classes).to(device)
    x = torch.randn(args.batch, args.in_channels, args.size, args.size, device=device)
    if mode == "train":
        model.train()
        target = torch.randint(0, args.classes, (args.batch, args.size, args.size), device=device)
        opt = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=5e-5)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), target)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step() -> None:
            with torch.inference_mode():
                model(x)

    times = _time(step, args.warmup, args.steps, device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = _peak_rss_bytes() - rss0
    return {"seconds": statistics.median(times), "peak_bytes": peak, "device": str(device),
            "threads": torch.get_num_threads()}


def _measure_matmul(args: argparse.Namespace) -> dict:
    device = pick_device(args.device)
    n = args.matmul_size
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    times = _time(lambda: a @ b, 3, max(args.steps, 10), device)
    seconds = statistics.median(times)
    return {"seconds": seconds, "gflops": 2 * n**3 / seconds / 1e9, "n": n}


# --------------------------------------------------------------------------- parent side
def _train_step_flops(factory: ModelFactory, args: argparse.Namespace) -> int:
    """FLOPs of forward + backward of one batch (meta device); 3x forward if that fails."""
    with torch.device("meta"):
        model = factory(args.in_channels, args.classes)
        x = torch.empty(args.batch, args.in_channels, args.size, args.size)
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            model(x).float().mean().backward()
        return int(counter.get_total_flops())
    except Exception:  # noqa: BLE001 - an op without a meta kernel
        return 3 * count_flops(model, tuple(x.shape)).total


def _run_worker(args: argparse.Namespace, job: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", job,
           "--size", str(args.size), "--batch", str(args.batch), "--warmup", str(args.warmup),
           "--steps", str(args.steps), "--device", args.device, "--in-channels",
           str(args.in_channels), "--classes", str(args.classes),
           "--matmul-size", str(args.matmul_size)]
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"{job} failed (exit {proc.returncode}): {tail}"}


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["nasunet", "unet"],
                        choices=sorted(MODEL_FACTORIES), metavar="NAME",
                        help=f"models to measure: {', '.join(MODEL_FACTORIES)}")
    parser.add_argument("--size", type=int, default=256, help="image height and width")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first (the first CPU calls are slow and erratic)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--matmul-size", type=int, default=None,
                        help="n of the n x n matmul ceiling (default 2048 on CPU, 8192 on CUDA)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    if args.matmul_size is None:
        args.matmul_size = 8192 if device.type == "cuda" else 2048

    if args._worker:  # one measurement, in its own process
        tune_cpu_allocator()  # as the genodsl CLI does (GENODSL_MALLOC_TUNING=0: off)
        if args._worker == "matmul":
            result = _measure_matmul(args)
        else:
            name, mode = args._worker.split(":")
            result = _measure_model(args, name, mode)
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0

    shape = (args.batch, args.in_channels, args.size, args.size)
    rows = []
    for name in args.model:
        with torch.device("meta"):
            meta_model = MODEL_FACTORIES[name](args.in_channels, args.classes)
        check_input_size(shape, getattr(meta_model, "size_divisor", 1), name)
        fwd = count_flops(meta_model, shape).total
        rows.append({"model": name, "params": count_params(meta_model), "fwd_flops": fwd,
                     "train_flops": _train_step_flops(MODEL_FACTORIES[name], args)})

    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"input {args.batch}x{args.in_channels}x{args.size}x{args.size}; "
          f"{args.warmup} warm-up + median of {args.steps} steps; each in its own process")
    matmul = _run_worker(args, "matmul")
    ceiling = matmul.get("gflops")
    if ceiling:
        print(f"ceiling: {args.matmul_size}x{args.matmul_size} float32 matmul "
              f"{ceiling:.1f} GFLOP/s")
    for row in rows:
        for mode in ("train", "infer"):
            res = _run_worker(args, f"{row['model']}:{mode}")
            if "error" in res:
                print(res["error"], file=sys.stderr)
                continue
            flops = row["train_flops"] if mode == "train" else row["fwd_flops"]
            row[mode] = {**res, "images_per_s": args.batch / res["seconds"],
                         "gflops_per_s": flops / res["seconds"] / 1e9}

    mem = "CUDA max allocated" if device.type == "cuda" else "peak RSS growth"
    head = (f"{'model':<14}{'params':>9}{'GFLOP/img':>10} | {'train img/s':>11}"
            f"{'GFLOP/s':>9}{'%ceil':>7}{'MiB':>8} | {'infer img/s':>11}{'GFLOP/s':>9}"
            f"{'%ceil':>7}{'MiB':>8}")
    print(f"\n(train = fwd+bwd+Adam, FLOPs fwd+bwd; MiB = {mem})\n{head}\n{'-' * len(head)}")
    for row in rows:
        cells = [f"{row['model']:<14}{row['params'] / 1e6:>8.2f}M"
                 f"{row['fwd_flops'] / args.batch / 1e9:>10.2f}"]
        for mode in ("train", "infer"):
            r = row.get(mode, {})
            ips, gfs = r.get("images_per_s"), r.get("gflops_per_s")
            pct = 100 * gfs / ceiling if gfs and ceiling else None
            mib = r["peak_bytes"] / 2**20 if r else None
            cells.append(f"{_fmt(ips, '11.2f')}{_fmt(gfs, '9.1f')}{_fmt(pct, '6.1f')}%"
                         f"{_fmt(mib, '8.0f')}")
        print(" | ".join(cells))

    base = rows[0]
    for row in rows[1:]:
        parts = [f"params {row['params'] / base['params']:.3g}x",
                 f"FLOPs {row['fwd_flops'] / base['fwd_flops']:.3g}x"]
        for mode in ("train", "infer"):
            if mode in row and mode in base:
                speed = row[mode]["images_per_s"] / base[mode]["images_per_s"]
                parts.append(f"{mode} speed {speed:.3g}x")
        print(f"{row['model']} vs {base['model']}: " + ", ".join(parts))

    if args.json:
        write_text_atomic(args.json, json.dumps(
            {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                      if not k.startswith("_")},
             "matmul": matmul, "models": rows}, indent=2))
    return 0 if all("train" in r and "infer" in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
