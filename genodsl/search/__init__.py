"""Architecture search over a ``.geno`` search space: DARTS, second-order DARTS, ProxylessNAS.

Stages, one module each:

* :mod:`.config`     ``SearchConfig`` (pydantic, the paper's defaults) and its YAML file model
* :mod:`.alphas`     alpha tables: one row per edge position, candidates as columns
* :mod:`.mixed`      ``MixedOp``: weighted sum (DARTS) or sampled path (binary gates)
* :mod:`genodsl.compile.supernet`  the supernet compiled from the IR (weights + alphas)
* :mod:`.strategy`   the ``Strategy`` protocol and the shared optimizers/penalty
* :mod:`.darts`, :mod:`.proxyless`  the strategies
* :mod:`.costs`      expected parameters/FLOPs of the derived network (cost-aware search)
* :mod:`.derive`     alphas → genotype (top-k edges, argmax op, never ``none``)
* :mod:`.emit`       the genotype file: canonical printer + provenance header
* :mod:`.data`, :mod:`.state`, :mod:`.setup`, :mod:`.runner`, :mod:`.plots`  the run

Public API (imported lazily, so ``genodsl.compile.supernet`` can import the stages)::

    from genodsl.search import SearchConfig, SearchJob, run_search
    from genodsl.search.derive import derive
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_API = {"SearchConfig": ".config", "SearchJob": ".runner",
        "SearchResult": ".runner", "run_search": ".runner", "STRATEGIES": ".runner",
        "AlphaSet": ".alphas", "MixedOp": ".mixed", "PathSample": ".mixed",
        "CostModel": ".costs"}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'genodsl.search' has no attribute '{name}'")
    return getattr(import_module(_API[name], __name__), name)
