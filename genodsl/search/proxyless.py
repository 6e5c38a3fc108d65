"""ProxylessNAS binary gates (Cai et al. 2019): one sampled path per edge, so a step needs
about the memory of one discrete network instead of one that grows with the candidates.

* weight step: per alpha row, sample one candidate from softmax(α); every edge reading the row
  runs only that op (all down cells share the row, so they share the sample);
* alpha step: per row, sample two distinct candidates from softmax(α), then one of the two from
  the softmax over their two alphas; that one runs with a graph, the other without, and the
  binary gates g = (1, 0) give the gradient ∂L/∂α_i = Σ_j ∂L/∂g_j · p_j (δ_ij − p_i) over the
  pair.  After the Adam step only the two sampled alphas of each row keep their change, shifted
  so that their joint softmax mass is unchanged (ProxylessNAS' rescaling); all other alphas are
  restored, so momentum or weight decay never moves a path that was not sampled.

Sampling uses the strategy's own CPU generator (saved in checkpoints), so a resumed run draws
the same paths as an uninterrupted one, on any device. In a distributed run that generator is
shared, not rank-local: every rank seeds it from ``runtime.seed``, draws from it the same number
of times per step, from the same alphas (kept identical by the averaged steps), and restores
rank 0's state on resume, so every rank samples the same paths at every step, as it must:
otherwise the ranks would average gradients of different sub-networks.

With ``search.compile`` the candidates (and the other parts with weights between the mixed
edges) are compiled one by one, since a whole-supernet graph would depend on the sampled path:
each distinct candidate shape is traced once per kind of call (with or without gradients),
then every sample reuses those graphs.
"""

from __future__ import annotations

from typing import Any

import torch

from ..compile.supernet import EdgeWeights
from ..runtime.distributed import weighted_mean_
from ..lang.ir import CellType
from ..compile.mixed import PathSample
from .strategy import BaseStrategy, Batch, StepResult

Samples = dict[tuple[str, int], PathSample]


class Proxyless(BaseStrategy):
    name = "proxyless"
    compile_parts = True  # one sampled path per step: compile the candidates, not the net

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gen = torch.Generator().manual_seed(self.runtime.seed + 1)

    def _probs(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().float().cpu() for k, v in self.net.alphas.probs().items()}

    def _edge_maps(self, samples: Samples) -> tuple[EdgeWeights, EdgeWeights]:
        maps: dict[CellType, dict[str, PathSample]] = {CellType.DOWN: {}, CellType.UP: {}}
        for cell in maps:
            for key in self.net.alphas.edges_of(cell):
                maps[cell][key] = samples[self.net.alphas.where(cell, key)]
        return maps[CellType.DOWN], maps[CellType.UP]

    def weight_step(self, batch: Batch) -> StepResult:
        samples: Samples = {}
        for name, p in self._probs().items():
            picks = torch.multinomial(p, 1, generator=self.gen)[:, 0]  # [rows]
            for row, i in enumerate(picks.tolist()):
                samples[(name, row)] = PathSample(i)
        logits = self.run(batch.image, *self._edge_maps(samples))
        loss = self.step_weights(self.loss(logits, batch.mask), len(batch))
        return StepResult(loss, logits.detach())

    def _pairs(self) -> tuple[Samples, dict[str, dict[int, tuple[int, int]]]]:
        samples: Samples = {}
        pairs: dict[str, dict[int, tuple[int, int]]] = {}
        for name, p in self._probs().items():
            table = self.net.alphas.tables[name]
            pairs[name] = {}
            if p.shape[1] < 2:
                for row in range(p.shape[0]):
                    samples[(name, row)] = PathSample(0)
                continue
            two = torch.multinomial(p, 2, replacement=False, generator=self.gen)  # [rows, 2]
            for row, (i, j) in enumerate(two.tolist()):
                pair_p = torch.softmax(table[row, [i, j]], dim=0)  # with the graph to α
                first = bool(torch.rand((), generator=self.gen) < float(pair_p[0].detach()))
                order = [0, 1] if first else [1, 0]
                p_ord = pair_p[order]  # (active, other)
                hard = torch.tensor([1.0, 0.0], device=p_ord.device, dtype=p_ord.dtype)
                gates = hard + p_ord - p_ord.detach()
                active, other = (i, j) if first else (j, i)
                samples[(name, row)] = PathSample(active, other, gates)
                pairs[name][row] = (i, j)
        return samples, pairs

    def alpha_step(self, val: Batch, train: Batch) -> StepResult:
        samples, pairs = self._pairs()
        logits = self.run_for_alphas(val.image, *self._edge_maps(samples))
        loss = self.loss(logits, val.mask)
        penalty, expected = self.penalty()
        extra, reg = self.alpha_extra(penalty)
        total = loss if extra is None else loss + extra
        self.a_opt.zero_grad(set_to_none=True)
        grads = self.alpha_grad(total)
        (mean,) = weighted_mean_(grads, len(val), [loss.detach()])
        self.check_finite(mean, "alpha")
        before = {k: t.detach().clone() for k, t in self.net.alphas.tables.items()}
        self.step_alphas(list(grads))
        self._rescale(before, pairs)
        return StepResult(mean, logits.detach(),
                          None if penalty is None else float(penalty.detach()), expected, reg)

    @torch.no_grad()
    def _rescale(self, before: dict[str, torch.Tensor],
                 pairs: dict[str, dict[int, tuple[int, int]]]) -> None:
        for name, table in self.net.alphas.tables.items():
            old = before[name]
            new = old.clone()
            for row, (i, j) in pairs[name].items():
                idx = [i, j]
                offset = torch.logsumexp(table[row, idx], 0) - torch.logsumexp(old[row, idx], 0)
                new[row, idx] = table[row, idx] - offset
            table.copy_(new)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "sampler": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.gen.set_state(state["sampler"])
