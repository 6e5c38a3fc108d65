#!/usr/bin/env python
"""Data-parallel scaling of a NASUNET training step: images/s on 1 vs N processes.

Each process count runs under PyTorch's launcher (``python -m torch.distributed.run
--standalone --nproc-per-node=N``), exactly as ``genodsl train --nproc N`` does: one process
per GPU on CUDA (NCCL), else CPU processes (gloo) that share the machine's cores
(``cores // N`` threads each, so every row uses the whole machine). One process runs the
plain model; more wrap it in ``DistributedDataParallel``. A step is forward + Dice loss +
backward (gradients all-reduced) + Adam, as in :class:`genodsl.train.loop.Trainer`.

``--batch`` is the batch of one process (weak scaling: the global batch grows with N), so
the ideal is N times the images/s of one process; efficiency = images/s(N) / (N · images/s(1)).
Timed: ``--steps`` steps after ``--warmup`` untimed ones, between barriers, on rank 0.

    python bench/ddp_scaling.py                          # CPU, small, ~2 min on 2 cores
    python bench/ddp_scaling.py --procs 1 2 4 8 --size 256 --batch 8 --C 32 --depth 5 \\
        --amp bf16 --channels-last                       # a GPU node
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

try:
    import genodsl  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

RESULT_TAG = "RESULT "


def _model(args: argparse.Namespace) -> torch.nn.Module:
    """The shipped NASUNET genotype at the requested width and depth."""
    import genodsl
    from genodsl.lang.ir import Network
    from genodsl.lang.loader import load_builtin

    program = load_builtin()
    settings = program.networks["nasunet_promise12"].settings.model_copy(
        update={"in_channels": 1, "classes": 2, "C": args.C, "depth": args.depth})
    program.networks["bench"] = Network("bench", settings)
    return genodsl.build(program, "bench")


def _worker(args: argparse.Namespace) -> None:
    from genodsl.runtime import distributed
    from genodsl.train.losses import build_loss
    from genodsl.runtime.device import amp_dtype, autocast

    with distributed.session(args.device) as world:
        device = distributed.device(args.device)
        if device.type == "cpu":
            torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // world.size))
        torch.manual_seed(0)
        model = _model(args).to(device)
        fmt = torch.channels_last if args.channels_last else torch.contiguous_format
        model.to(memory_format=fmt)
        net: torch.nn.Module = model
        if world.size > 1:
            ids = [device.index] if device.type == "cuda" else None
            net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        opt = torch.optim.Adam(model.parameters(), lr=3e-4)
        loss_fn = build_loss("dice", 2)
        dtype = amp_dtype(args.amp or False, device)
        scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
        g = torch.Generator().manual_seed(1 + world.rank)
        x = torch.randn(args.batch, 1, args.size, args.size, generator=g).to(
            device, memory_format=fmt)
        y = (torch.rand(args.batch, args.size, args.size, generator=g) > 0.7).long().to(device)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            with autocast(device, dtype):
                logits = net(x)
            scaler.scale(loss_fn(logits.float(), y)).backward()
            scaler.step(opt)
            scaler.update()

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            distributed.barrier()

        for _ in range(args.warmup):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        elapsed = time.perf_counter() - start
        if world.main:
            print(RESULT_TAG + json.dumps({
                "procs": world.size, "device": str(device), "threads": torch.get_num_threads(),
                "step_s": elapsed / args.steps,
                "images_per_s": args.steps * args.batch * world.size / elapsed}), flush=True)


def _run(args: argparse.Namespace, nproc: int) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", str(Path(__file__).resolve()), "--_worker",
           "--size", str(args.size), "--batch", str(args.batch), "--C", str(args.C),
           "--depth", str(args.depth), "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--device", args.device, "--threads", str(args.threads)]
    if args.amp:
        cmd += ["--amp", args.amp]
    if args.channels_last:
        cmd.append("--channels-last")
    proc = subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"procs": nproc, "error": f"exit {proc.returncode}: {tail}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2],
                        help="process counts to measure (the first is the baseline)")
    parser.add_argument("--size", type=int, default=128, help="image height and width")
    parser.add_argument("--batch", type=int, default=4, help="images per process per step")
    parser.add_argument("--C", type=int, default=8, help="NASUNET channels per cell node")
    parser.add_argument("--depth", type=int, default=3, help="NASUNET down cells")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads per process (default: cores // processes)")
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        _worker(args)
        return 0

    print(f"NASUNET C={args.C} depth={args.depth}, {args.size}x{args.size}, batch "
          f"{args.batch} per process, {args.warmup} warm-up + {args.steps} timed steps, "
          f"amp {args.amp or 'off'}, channels-last {args.channels_last}; "
          f"{os.cpu_count()} CPU cores, torch {torch.__version__}")
    rows = [_run(args, n) for n in args.procs]
    base = rows[0].get("images_per_s")
    head = (f"{'procs':>5} {'device':>8} {'threads':>7} {'global batch':>12} {'step s':>8} "
            f"{'images/s':>9} {'speed-up':>8} {'efficiency':>10}")
    print(head + "\n" + "-" * len(head))
    for row in rows:
        if "error" in row:
            print(f"{row['procs']:>5} failed: {row['error']}")
            continue
        ips = row["images_per_s"]
        scale = ips / base if base else None
        eff = scale * args.procs[0] / row["procs"] if scale else None
        print(f"{row['procs']:>5} {row['device']:>8} {row['threads']:>7} "
              f"{args.batch * row['procs']:>12} {row['step_s']:>8.3f} {ips:>9.2f} "
              f"{scale:>7.2f}x {100 * eff:>9.1f}%")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows}, indent=2))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
