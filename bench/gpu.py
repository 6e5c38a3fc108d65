#!/usr/bin/env python
"""GPU speed: train, inference and search steps with each speed option, and the paper's search.

    python bench/gpu.py                           # on a CUDA machine: every row and config
    python bench/gpu.py --rows train darts --configs plain bf16,channels_last,compile
    python bench/gpu.py --json gpu.json --budget-s 480
    python bench/gpu.py --smoke                   # tiny sizes: the same code path, anywhere

Rows are bench/speed.py's (the same networks, inputs and step functions): ``train`` (one
NASUNET training step, C=32, depth 5, batch 2, 256², SGD), ``infer`` (the same network under
``no_grad``), ``darts`` and ``proxyless`` (one search iteration, an alpha step then a weight
step, of the supernet C=16, depth 4, M=3, 3 → 21 classes, batch 2, 128²). Each row runs under
every ``--configs`` entry, a comma-joined set of run options (``bf16`` autocast,
``channels_last``, ``compile``, ``recompute``; ``plain`` for none). The default ladder, plain →
bf16 → + channels_last → + compile, gives each option's own ratio (× prev) and the total
(× plain); leave-one-out sets work too (``bf16,channels_last`` against
``bf16,channels_last,compile``).

Then the paper's search setting (NAS-Unet on PASCAL VOC: 480², batch 2, C=16, depth 4, M=3,
3 → 21 classes) runs a few iterations of darts and proxyless under ``--paper-configs``, and the
time of 120 epochs is projected: the reference searches on the 1,464 training images, half for
the weights and half for the alphas, so an epoch is 732 / 2 = 366 iterations (an alpha step and
a weight step each; validation and derivation are not counted), against the paper's 1.5 days.

Every measurement builds its model afresh after ``torch._dynamo.reset()``, warms up (with
``compile``: until a step traces no new graph; the warm-up time is the compile time, graphs
cached on disk from an earlier run compile faster), then times ``--steps`` steps (CUDA is
synchronised after each) and reads the peak of ``torch.cuda.max_memory_allocated``. GF/s counts
the plain step's model FLOPs (FlopCounterMode: conv/matmul, 2 per multiply-add) for every
config of its row, against a bf16 matmul measured in the same run. Results are printed as they
come and written to ``--json`` after each, so a run stopped by a time limit keeps what it has;
``--budget-s`` skips what would start after that many seconds.

Without CUDA the script says so, runs a tiny CPU smoke of the same code path and exits 0; a
smoke traces with the ``aot_eager`` backend unless ``GENODSL_COMPILE_BACKEND`` says otherwise
(generating C++ for a smoke would take minutes).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_speed", Path(__file__).with_name("speed.py"))
speed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(speed)  # type: ignore[union-attr]

ROWS = ("train", "infer", "darts", "proxyless")
LADDER = ("plain", "bf16", "bf16,channels_last", "bf16,channels_last,compile")
PAPER = dict(file="nasunet_space.geno", cells="NASUNET_SPACE", in_channels=3, classes=21, C=16,
             depth=4, stem_multiplier=3, input=(2, 3, 480, 480))
PAPER_SMOKE = dict(C=4, depth=2, input=(1, 3, 32, 32))
VOC_TRAIN_IMAGES = 1464  # PASCAL VOC 2012 train; half for the weights, half for the alphas
EPOCHS = 120
PAPER_HOURS = 1.5 * 24


def iterations_per_epoch(images: int = VOC_TRAIN_IMAGES, batch: int = 2) -> int:
    """Search iterations per epoch: the weight half in batches (one alpha batch each)."""
    return -(-(images // 2) // batch)


def projected_hours(seconds_per_iteration: float, epochs: int = EPOCHS,
                    images: int = VOC_TRAIN_IMAGES, batch: int = 2) -> float:
    return seconds_per_iteration * iterations_per_epoch(images, batch) * epochs / 3600


def ratios(rows: list[dict]) -> None:
    """× plain and × prev (time ratios, > 1: faster) for consecutive configs of one row."""
    plain = next((r["seconds"] for r in rows if not r["options"] and "seconds" in r), None)
    prev = None
    for r in rows:
        t = r.get("seconds")
        r["x_plain"] = plain / t if plain and t else None
        r["x_prev"] = prev / t if prev and t else None
        prev = t if t else prev


# --------------------------------------------------------------------------- measuring
def measure(spec: dict, options: tuple[str, ...], device: str, steps: int,
            count_flops: bool) -> dict:
    import torch

    torch._dynamo.reset()
    gc.collect()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    model = speed._build(spec, ROOT)
    step, params = speed._step_fn(spec, model, options, device)
    t0 = time.perf_counter()
    warm = speed.warm_up(step, 2, "compile" in options)
    warm_s = time.perf_counter() - t0
    times = speed._median_time(step, 0, steps)
    out = {"seconds": statistics.median(times), "times": times, "warmup_steps": warm,
           "warmup_s": warm_s, "params": params,
           "peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None}
    if count_flops:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            step()
        out["flops"] = int(counter.get_total_flops())
    del model, step
    return out


def matmul_tflops(device: str, n: int) -> float:
    import torch

    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)

    def mm():
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    times = speed._median_time(mm, 3, 10)
    return 2 * n**3 / statistics.median(times) / 1e12


class Runner:
    """Runs measurements within a time budget, printing and saving each result."""

    def __init__(self, args: argparse.Namespace, report: dict):
        self.args, self.report = args, report
        self.start = time.monotonic()

    def run(self, name: str, spec: dict, options: tuple[str, ...], count_flops: bool) -> dict:
        label = speed.option_label(options)
        row = {"row": name, "config": label, "options": list(options)}
        if time.monotonic() - self.start > self.args.budget_s:
            row["skipped"] = "over --budget-s"
        else:
            try:
                row.update(measure(spec, options, self.args.device, self.args.steps,
                                   count_flops))
            except Exception as exc:  # noqa: BLE001 - one failed config (OOM...) is a result
                lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
                # the first line names the failing stage, the last one its root cause
                row["error"] = f"{type(exc).__name__}: " + " … ".join(
                    dict.fromkeys([lines[0][:200], lines[-1][:300]] if lines else [""]))
        shown = (f"{row['seconds']:.4f} s, warm-up {row['warmup_steps']} steps "
                 f"{row['warmup_s']:.1f} s" if "seconds" in row
                 else row.get("error") or row.get("skipped"))
        print(f"  {name:<16} {label:<28} {shown}", file=sys.stderr, flush=True)
        return row

    def save(self) -> None:
        if self.args.json:
            self.args.json.write_text(json.dumps(self.report, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------- printing
def _f(v, spec: str) -> str:
    return speed._f(v, spec)


def print_rows(rows: list[dict], ceiling: float | None) -> None:
    head = (f"{'row':<11}{'config':<30}{'s/step':>9}{'× plain':>8}{'× prev':>8}{'peak MB':>9}"
            f"{'GF/s':>9}{'%':>5}{'warm-up':>9}{'compile s':>10}")
    print(head + "\n" + "-" * len(head))
    for r in rows:
        gf = r.get("gflops_per_s")
        pct = 100 * gf / (ceiling * 1e3) if gf and ceiling else None
        print(f"{r['row']:<11}{r['config']:<30}{_f(r.get('seconds'), '9.4f')}"
              f"{_f(r.get('x_plain'), '8.2f')}{_f(r.get('x_prev'), '8.2f')}"
              f"{_f(r.get('peak_mb'), '9.0f')}{_f(gf, '9.1f')}{_f(pct, '5.1f')}"
              f"{_f(r.get('warmup_steps'), '9d')}"
              f"{_f(r.get('warmup_s') if 'compile' in r['options'] else None, '10.1f')}"
              + (f"  {r.get('error') or r.get('skipped')}" if "seconds" not in r else ""))


def print_paper(rows: list[dict], smoke: bool) -> None:
    per_epoch = iterations_per_epoch()
    sizes = "tiny smoke sizes instead of " if smoke else ""
    print(f"\nPaper search setting ({sizes}480², batch 2, C=16, depth 4, M=3, 3 → 21 classes): "
          f"{EPOCHS} epochs × {per_epoch} iterations (PASCAL VOC {VOC_TRAIN_IMAGES} train "
          f"images, half weights, half alphas) against the paper's {PAPER_HOURS:.0f} h")
    head = f"{'strategy':<11}{'config':<30}{'s/iter':>9}{'peak MB':>9}{'hours':>8}{'× paper':>9}"
    print(head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r['row']:<11}{r['config']:<30}{_f(r.get('seconds'), '9.4f')}"
              f"{_f(r.get('peak_mb'), '9.0f')}{_f(r.get('hours'), '8.1f')}"
              f"{_f(r.get('hours') and r['hours'] / PAPER_HOURS, '9.2f')}"
              + (f"  {r.get('error') or r.get('skipped')}" if "seconds" not in r else ""))


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="*", choices=ROWS, default=list(ROWS))
    p.add_argument("--configs", nargs="+", default=list(LADDER),
                   help="run option sets, comma-joined (plain: none); default: the ladder")
    p.add_argument("--paper-configs", nargs="*", default=["plain", LADDER[-1]],
                   help="option sets of the paper-setting search rows (none: skip them)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 10; smoke 1)")
    p.add_argument("--paper-steps", type=int, default=None, help="default 5; smoke 1")
    p.add_argument("--budget-s", type=float, default=float("inf"),
                   help="start no measurement after this many seconds")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (CPU without CUDA)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    import torch

    configs = [speed.parse_options(c) for c in args.configs]
    paper_configs = [speed.parse_options(c) for c in args.paper_configs]
    cuda = torch.cuda.is_available()
    if not cuda:
        print("CUDA is not available: running a tiny CPU smoke of the same code path "
              "(its times mean nothing)", flush=True)
        args.smoke = True
    args.device = "cuda" if cuda else "cpu"
    if not cuda:
        torch.set_num_threads(1)  # a smoke on a shared CPU: many threads of tiny ops just spin
    if args.smoke:
        os.environ.setdefault("GENODSL_COMPILE_BACKEND", "aot_eager")
    args.steps = args.steps or (1 if args.smoke else 10)
    args.paper_steps = args.paper_steps or (1 if args.smoke else 5)
    torch._dynamo.config.automatic_dynamic_local_pgo = False  # each config compiles afresh
    if cuda:
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if cuda else "CPU"
    ceiling = matmul_tflops(args.device, 512 if args.smoke else 8192)
    report: dict = {"device": name, "torch": torch.__version__, "smoke": args.smoke,
                    "bf16_matmul_tflops": ceiling, "rows": [], "paper": []}
    runner = Runner(args, report)
    print(f"{name}, torch {torch.__version__}; bf16 matmul {ceiling:.1f} TFLOP/s",
          file=sys.stderr, flush=True)
    for row in args.rows:
        spec = speed.row_spec(row, quick=args.smoke)
        results, flops = [], None
        for options in configs:
            r = runner.run(row, spec, options, count_flops=not options)
            flops = r.pop("flops", flops)
            results.append(r)
        ratios(results)
        for r in results:
            r["flops"] = flops
            r["gflops_per_s"] = flops / r["seconds"] / 1e9 if flops and "seconds" in r else None
        report["rows"] += results
        runner.save()
    steps, args.steps = args.steps, args.paper_steps
    for strategy in ("darts", "proxyless"):
        spec = {**PAPER, **(PAPER_SMOKE if args.smoke else {}), "row": strategy}
        for options in paper_configs:
            r = runner.run(strategy, spec, options, count_flops=False)
            if "seconds" in r:
                r["hours"] = projected_hours(r["seconds"], batch=spec["input"][0])
            report["paper"].append(r)
            runner.save()
    args.steps = steps
    print(f"\n{name}, torch {torch.__version__}; {args.steps} timed steps after the warm-up; "
          f"× = time ratio (> 1: faster); % of a bf16 matmul ({ceiling:.1f} TFLOP/s)")
    print_rows(report["rows"], ceiling)
    print_paper(report["paper"], args.smoke)
    print("\n" + json.dumps(report))
    failed = [r for r in report["rows"] + report["paper"] if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
