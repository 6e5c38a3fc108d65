"""Run a function on N CPU processes joined by gloo on 127.0.0.1, the way torchrun would.

:func:`run_ranks` starts the processes with ``torch.multiprocessing`` (fork: a spawned child
re-imports torch, MONAI and genodsl, about 10 s per process on a 2-core machine; the tests
run torch with one thread, so forking is safe), sets the
launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and runs
``fn(rank, *args)`` inside :func:`genodsl.runtime.distributed.session`, as the CLI does. It fails the
test if a process fails or the whole group does not finish within ``timeout`` seconds.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launcher_env(rank: int, world: int, port: int) -> dict[str, str]:
    return {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}


def _entry(rank: int, world: int, port: int, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(launcher_env(rank, world, port))
    torch.set_num_threads(1)
    from genodsl.runtime import distributed

    with distributed.session("cpu", timeout=60):
        fn(rank, *args)


def run_ranks(fn: Callable[..., Any], world: int, *args: Any, timeout: float = 120) -> None:
    """``fn(rank, *args)`` on ``world`` processes."""
    ctx = mp.start_processes(_entry, args=(world, free_port(), fn, args), nprocs=world,
                             join=False, start_method="fork")
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=max(0.1, deadline - time.monotonic())):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            raise AssertionError(f"{world} processes did not finish within {timeout} s")


def state_hash(module: torch.nn.Module) -> str:
    """A digest of every parameter and buffer, bit for bit."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def tiny_geno(tmp: Path) -> Path:
    """The NAS-Unet search space on a tiny network (C=4, depth 1)."""
    path = tmp / "tiny_space.geno"
    path.write_text('import "nasunet_space.geno"\n\nnetwork tiny {\n  cells = NASUNET_SPACE\n'
                    "  in_channels = 1\n  classes = 2\n  C = 4\n  depth = 1\n"
                    "  stem_multiplier = 3\n}\n")
    return path
