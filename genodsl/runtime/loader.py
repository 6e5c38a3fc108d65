"""The one way genodsl builds DataLoaders (training, search halves, validation, evaluation).

A shuffled loader draws global batches from a seeded ``RandomSampler`` and gives this
process its slice of each (:class:`~.distributed.ShardedBatchSampler`), so N processes see
exactly the batches of one; workers are seeded from the loader's generator.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterator

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from .distributed import ShardedBatchSampler
from .seeding import seed_worker


def make_loader(dataset: Dataset, batch_size: int, generator: torch.Generator | None = None,
                *, shuffle: bool = True, drop_last: bool = False, num_workers: int = 0,
                pin_memory: bool = False) -> DataLoader:
    """Batches of ``batch_size`` (shuffled: the global batch, sharded over the processes;
    a shuffled loader needs its ``generator``, whose state decides the order)."""
    common = dict(num_workers=num_workers, worker_init_fn=seed_worker if num_workers else None,
                  pin_memory=pin_memory, generator=generator)
    if not shuffle:
        return DataLoader(dataset, batch_size=batch_size, shuffle=False, **common)
    if generator is None:
        raise ValueError("a shuffled loader needs a generator")
    batches = BatchSampler(RandomSampler(dataset, generator=generator),  # type: ignore[arg-type]
                           batch_size, drop_last=drop_last)
    return DataLoader(dataset, batch_sampler=ShardedBatchSampler(batches), **common)


def passes(loader: DataLoader) -> Iterator[Any]:
    """Endless batches of ``loader``: a fresh pass (reshuffled by its generator) when one ends.

    The first pass begins now (a loader's iterator draws from the generator when it is made,
    so the order depends only on the generator's state at this call), the next ones when the
    pass before ends.
    """
    return _passes(loader, iter(loader))


def _passes(loader: DataLoader, it: Iterator[Any]) -> Iterator[Any]:
    while True:
        empty = True
        for batch in it:
            empty = False
            yield batch
        if empty:
            raise ValueError("an empty loader has no batches to repeat")
        it = iter(loader)


def epoch_batches(loader: DataLoader, steps: int | None = None) -> Iterator[Any]:
    """One epoch's batches: one pass over ``loader``, or exactly ``steps`` batches (passes
    repeated or cut short: nnU-Net's fixed iterations per epoch, whatever the data's size)."""
    return iter(loader) if steps is None else islice(passes(loader), steps)
