"""Collapse remedies: what keeps a search from a cell of parameter-free ops (docs/search.md).

* β-DARTS (Ye et al., CVPR 2022), ``search.regularizer: beta``: the alpha loss gains
  ``λ(t) · L_β``, ``L_β = mean over edges (alpha rows) of logsumexp(α_edge)``; its gradient
  ``λ · softmax(α) / rows`` pulls the strongest alphas down most, so no candidate runs away
  early.  λ rises linearly from 0 at the first epoch by ``search.beta_lambda`` per 100 epochs.
* DARTS- (Chu et al., ICLR 2021), ``search.aux_skip: β0``: every normal edge of the supernet
  gains an auxiliary skip ``β · x`` outside the candidates, with ``β = β0 · (1 − (t−1)/T)``
  decaying linearly over the T epochs; it carries the residual path that otherwise lets
  ``identity`` win, and is never derived.  Normal edges only: down and up edges change the
  spatial size, so a skip there would not be parameter-free.

Both apply to every strategy; both are off by default.  :class:`Remedies` sets them up at the
start of each epoch (nothing to checkpoint: the epoch decides them).
"""

from __future__ import annotations

import torch

from ..compile.supernet import Supernet
from ..ops.registry import OpKind
from .config import Regularizer, SearchConfig


def beta_loss(tables: dict[str, torch.Tensor] | torch.nn.ParameterDict) -> torch.Tensor:
    """β-DARTS' L_β: the mean over all alpha rows of logsumexp of the row."""
    rows = torch.cat([torch.logsumexp(t, dim=-1) for t in tables.values()])
    return rows.mean()


BETA_RAMP_EPOCHS = 100  # β-DARTS: λ reaches beta_lambda at epoch 100 (the authors' code)


class Remedies:
    """The remedies a search config asks for, applied to one supernet epoch by epoch."""

    def __init__(self, cfg: SearchConfig, net: Supernet):
        self.cfg = cfg
        self.net = net
        self.lam = 0.0
        self.skip = 0.0

    def start_epoch(self, epoch: int) -> dict[str, float]:
        """Set this epoch's λ and skip weight; returns them for the log (empty when off)."""
        out: dict[str, float] = {}
        if self.cfg.regularizer is Regularizer.BETA:
            self.lam = self.cfg.beta_lambda * (epoch - 1) / BETA_RAMP_EPOCHS
            out["beta_lambda"] = self.lam
        if self.cfg.aux_skip > 0:
            self.skip = self.cfg.aux_skip * (1 - (epoch - 1) / self.cfg.epochs)
            out["aux_skip"] = self.skip
            set_aux_skip(self.net, self.skip)
        return out

    def alpha_loss(self) -> torch.Tensor | None:
        """The regularisation term added to an alpha step's loss, or None."""
        if self.cfg.regularizer is Regularizer.BETA and self.lam > 0:
            return self.lam * beta_loss(self.net.alphas.tables)
        return None


def set_aux_skip(net: Supernet, beta: float) -> None:
    """The auxiliary skip weight of every normal mixed op of ``net`` (0: none)."""
    for _, _, op in net.mixed_ops():
        if op.role is OpKind.NORMAL:
            op.aux_skip = beta
