"""Data-parallel runs on ``torch.distributed``: one process per device, launched by torchrun.

A run is distributed when it is started by ``torchrun`` (or ``genodsl ... --nproc N``, which
re-launches itself through ``torch.distributed.run``): the launcher sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address, and :func:`session` joins the
process group for the duration of a command: NCCL when the run's device is CUDA, gloo
otherwise, with a timeout (``GENODSL_DIST_TIMEOUT`` seconds, default 1800) so that a peer that
died or hangs ends the run with an error instead of a hang. In a plain process every helper
here is a no-op, so the search and training code has one path for one and many processes.

The global batch: ``batch_size`` in the config is the batch of one optimizer step over all
processes. :class:`ShardedBatchSampler` draws exactly the batches a single process would
draw (the same seeded ``RandomSampler``) and gives rank ``r`` its contiguous slice; the
slices differ by at most one image, so any batch size works. Gradients are averaged
weighted by each slice's size (:func:`weighted_mean_`), which equals the gradient of the
single-process batch for any loss that is a mean over images.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, Sampler

from ..errors import ConfigError, GenoError
from .device import pick_device

TIMEOUT_ENV = "GENODSL_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0


class DistributedError(GenoError):
    """A peer process failed, vanished or stopped answering; the whole run stops."""

    default_code = "E500"


@dataclass(frozen=True)
class World:
    rank: int        # this process, 0 .. size-1
    size: int        # processes in the run
    local_rank: int  # this process on its machine (its GPU index)

    @property
    def main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """True in a worker started by torchrun (or any launcher setting WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True while this process is in a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world() -> World:
    if not (dist.is_available() and dist.is_initialized()):
        return World(0, 1, 0)
    rank = dist.get_rank()
    return World(rank, dist.get_world_size(), int(os.environ.get("LOCAL_RANK", rank)))


def is_main() -> bool:
    """Rank 0, or a plain process: the one that writes files and shows progress."""
    return world().main


def check_joined() -> None:
    """Refuse to run a launcher's worker alone (every worker would write the same folder)."""
    if launched() and not (dist.is_available() and dist.is_initialized()):
        raise ConfigError("this process was started by torchrun but has not joined the run",
                          hint="run the search or training inside "
                               "genodsl.runtime.distributed.session()")


def timeout_s() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(f"{TIMEOUT_ENV} must be a positive number of seconds, got '{raw}'")
    return value


def device(name: str | None = None) -> torch.device:
    """:func:`~genodsl.runtime.device.pick_device`, then one GPU per local rank in a distributed run."""
    chosen = pick_device(name)
    w = world()
    if w.size > 1 and chosen.type == "cuda":
        if name and ":" in name:
            raise ConfigError(f"device '{name}' would put every process on one GPU",
                              hint="use device cuda (or auto): process N takes GPU LOCAL_RANK")
        chosen = torch.device("cuda", w.local_rank)
        torch.cuda.set_device(chosen)
    return chosen


def backend_for(device_name: str | None) -> str:
    """NCCL when the run's device is CUDA, gloo otherwise."""
    if pick_device(device_name).type == "cuda" and dist.is_nccl_available():
        return "nccl"
    return "gloo"


@contextmanager
def session(device_name: str | None = "auto", timeout: float | None = None) -> Iterator[World]:
    """Join the launcher's process group for the block; a no-op in a plain process.

    An error inside the block on one rank tears the group down at once, so the other ranks'
    next collective fails within seconds (or, if the failing rank hangs instead, after the
    timeout); they raise :class:`DistributedError` saying so. At a normal end every rank
    waits for the others (rank 0 may still be writing plots) before leaving.
    """
    if not launched() or (dist.is_available() and dist.is_initialized()):
        yield world()
        return
    backend = backend_for(device_name)
    seconds = timeout if timeout is not None else timeout_s()
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=seconds))
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(f"cannot join the distributed run ({backend}): {exc}",
                               hint="start it with torchrun (or genodsl ... --nproc N)") from None
    w = world()
    try:
        try:
            yield w
            barrier()
        except Exception as exc:
            converted = as_distributed_error(exc, w)
            if converted is exc:
                raise
            raise converted from exc
    finally:
        dist.destroy_process_group()


def as_distributed_error(exc: Exception, w: World | None = None) -> Exception:
    """A failed collective becomes a :class:`DistributedError`; anything else is kept."""
    if isinstance(exc, GenoError) or not _is_comm_failure(exc):
        return exc
    w = w or world()
    text = str(exc).strip()
    first = re.sub(r"^\[[^\]]*\]\s*", "", text.splitlines()[0]) if text else type(exc).__name__
    first = first.split(". ")[0]  # gloo adds advice (and an emoji) after the first sentence
    return DistributedError(
        f"rank {w.rank} of {w.size}: another process of the distributed run failed, exited "
        f"or stopped answering, so this one stops too ({first})",
        hint="the failing rank's own output names the cause; a hang ends after "
             f"{TIMEOUT_ENV} seconds")


_COMM_FAILURE_TEXT = ("gloo", "nccl", "connection closed", "connection reset", "timed out",
                      "timeout", "pair closure", "monitoredbarrier")


def _is_comm_failure(exc: BaseException) -> bool:
    """NCCL raises ``DistError``s; gloo a plain RuntimeError naming itself or the socket."""
    dist_error = getattr(dist, "DistError", ())
    if dist_error and isinstance(exc, dist_error):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(k in text for k in _COMM_FAILURE_TEXT)


# ------------------------------------------------------------------ collectives (no-ops alone)
def barrier() -> None:
    """Every rank waits here; on gloo a late rank is named in the error."""
    if not active():
        return
    if dist.get_backend() == "gloo":
        dist.monitored_barrier(wait_all_ranks=True)
    else:
        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (it writes shared files), then the others (they read)."""
    if active() and not is_main():
        barrier()
    yield
    if active() and is_main():
        barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank (picklable objects)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


@torch.no_grad()
def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into every rank's ``module``."""
    if not active():
        return
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=src)


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@torch.no_grad()
def weighted_mean_(tensors: Sequence[torch.Tensor | None], count: int,
                   scalars: Sequence[float | torch.Tensor] = ()) -> list[float]:
    """Average ``tensors`` in place over all ranks, weighted by each rank's ``count``.

    Each rank passes means over its own ``count`` images (gradients, losses); afterwards
    every rank holds ``Σ_r count_r · t_r / Σ_r count_r``, the mean over all images of the
    step, bit-identical on every rank. ``None`` entries (parameters no path used) are
    skipped and must be ``None`` on every rank. ``scalars`` are averaged the same way and
    returned; everything goes through one all-reduce.
    """
    values = [float(s) for s in scalars]
    if not active():
        return values
    present = [t for t in tensors if t is not None]
    ref = present[0] if present else None
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    where = ref.device if ref is not None else _comm_device()
    head = torch.tensor([*values, 1.0], dtype=dtype, device=where)
    flat = torch.cat([*(t.reshape(-1).to(dtype) for t in present), head]) * count
    dist.all_reduce(flat)
    flat /= flat[-1].clone()
    offset = 0
    for t in present:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()
    return flat[offset:offset + len(values)].tolist()


def all_sum(values: Sequence[float]) -> list[float]:
    """The sums of ``values`` over all ranks (float64; the values themselves alone)."""
    if not active():
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return t.tolist()


# ------------------------------------------------------------------ data
def shard_bounds(size: int, rank: int, ranks: int) -> tuple[int, int]:
    """``[lo, hi)`` of rank ``rank``'s contiguous slice of ``size`` items (sizes differ ≤ 1)."""
    q, r = divmod(size, ranks)
    lo = rank * q + min(rank, r)
    return lo, lo + q + (1 if rank < r else 0)


class ShardedBatchSampler(Sampler[list[int]]):
    """The global batches of ``batches``, each cut into one contiguous slice per rank.

    Every rank builds the same ``batches`` (same seeded generator), so together the ranks
    see exactly the batches of one process. A global batch with fewer images than ranks
    (only the last batch of a pass without ``drop_last``) is skipped by every rank; with one
    process nothing is ever skipped.
    """

    def __init__(self, batches: BatchSampler, rank: int | None = None,
                 ranks: int | None = None):
        w = world()
        self.batches = batches
        self.rank = w.rank if rank is None else rank
        self.ranks = w.size if ranks is None else ranks
        if batches.batch_size < self.ranks:
            raise ConfigError(f"batch size {batches.batch_size} is smaller than the "
                              f"{self.ranks} processes of the run",
                              hint="the batch size is global: use at least one image per "
                                   "process")

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            if len(batch) < self.ranks:
                continue
            lo, hi = shard_bounds(len(batch), self.rank, self.ranks)
            yield batch[lo:hi]

    def __len__(self) -> int:
        n = len(self.batches)
        last = len(self.batches.sampler) % self.batches.batch_size  # type: ignore[arg-type]
        if not self.batches.drop_last and 0 < last < self.ranks:
            n -= 1
        return n


# ------------------------------------------------------------------ launching
def strip_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def relaunch(argv: Sequence[str], nproc: int) -> int:
    """Run ``genodsl ARGV`` in ``nproc`` processes on this machine through PyTorch's launcher.

    Same as ``torchrun --standalone --nproc-per-node=N -m genodsl ARGV``; returns its exit
    code (non-zero as soon as one worker fails: the launcher stops the others).
    """
    if launched():
        raise ConfigError("--nproc inside a torchrun worker",
                          hint="give either torchrun's --nproc-per-node or --nproc, not both")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "genodsl", *strip_nproc(argv)]
    return subprocess.call(cmd)
