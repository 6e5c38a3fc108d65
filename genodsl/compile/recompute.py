"""Activation recomputation: trade compute for memory, same values and gradients.

:func:`set_recompute` switches it on or off for every cell of a network:

* a discrete network: each cell keeps only its two inputs while training with gradients and
  runs its forward again in backward (``torch.utils.checkpoint``, non-reentrant);
* a supernet: each mixed edge keeps only its input and mixing weights; backward runs its
  candidates again one at a time (ProxylessNAS' trick), so the memory of a DARTS step no
  longer grows with the number of candidates; a sampled path (proxyless) is checkpointed.

Every op is deterministic, so gradients equal those without recomputation up to the order of
float additions.  Call it before ``torch.compile`` (the flag is read when the forward runs).
"""

from __future__ import annotations

from torch import nn

from .cell import CellModule
from .mixed import MixedOp


def set_recompute(net: nn.Module, on: bool) -> None:
    """Recompute activations in backward in every cell (or mixed edge) of ``net``."""
    for module in net.modules():
        if isinstance(module, MixedOp):
            module.recompute = bool(on)
        elif isinstance(module, CellModule):
            # a supernet cell recomputes per mixed edge instead of as a whole
            mixed = any(isinstance(e, MixedOp) for e in module.edges.values())
            module.recompute = bool(on) and not mixed
