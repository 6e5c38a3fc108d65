"""Expected cost (parameters or FLOPs) of the derived network, differentiable in the alphas.

Op costs come from the op registry: parameters by :func:`genodsl.ops.builders.param_count`,
FLOPs by :func:`genodsl.compile.flops.count_flops` on one op at the size its edge sees.  An edge
position's cost vector is summed over every cell that uses it (all down cells read the same
alphas), so the channels and resolution of each cell count.

For one node with incoming edges ``e`` the derived cell keeps ``k`` edges and, on each, the
best non-``none`` op.  The differentiable estimate is::

    p̃_e = softmax(α_e) without none, renormalised     (which op an edge would get)
    s_e = the largest non-none softmax weight          (the edge's strength, as in derivation)
    keep_e = 1 for the k strongest edges, else 0 (the derivation's choice), with the gradient
             of k · s_e / Σ s (straight through), so the penalty can also move edge choices
    E[node] = Σ_e keep_e · (p̃_e · cost_e)

plus the fixed cost of the stems, preprocessing and head of the derived (discrete-stem)
network.  The penalty is ``weight · max(0, E / target − 1)``.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from ..compile.network import NasUnet
from ..compile.supernet import Supernet
from ..compile.flops import count_flops
from ..lang.ir import Genotype, NetworkSettings, OpCall, OpEdge, edge_key
from ..lang.plan import stage_plan
from ..ops.primitives import Zero
from ..ops.builders import build_op, param_count
from ..ops.registry import OpKind
from .config import CostConfig, CostMetric
from .derive import top_edges


@lru_cache(maxsize=None)
def op_flops(op: OpCall, role: OpKind, channels: int, size: tuple[int, ...]) -> int:
    """Forward FLOPs of one op on a ``[1, channels, *size]`` input (2D or 3D by ``size``)."""
    module = build_op(op.name, channels, role, op.arg_dict, dims=len(size))
    if not any(True for _ in module.parameters()):
        return 0  # pools, identity, none: no conv or matmul
    return count_flops(module, (1, channels, *size)).total


def op_cost(op: OpCall, role: OpKind, channels: int, size: tuple[int, ...],
            metric: CostMetric) -> float:
    if metric is CostMetric.PARAMS:
        return float(param_count(op.name, channels, op.args, dims=len(size)))
    return float(op_flops(op, role, channels, size))


def fixed_cost(settings: NetworkSettings, net: Supernet, metric: CostMetric,
               image: tuple[int, int]) -> float:
    """Stems, preprocessing and head of the derived network: everything but the edges.

    The derived genotype has the space's nodes and outputs, so the space's cells in a
    genotype give its stage plan (genotype stems unless ``settings`` sets others).
    """
    def zero_edge(src: str, dst: str, edge: OpEdge, channels: int,
                  stride: tuple[int, ...]) -> nn.Module:
        return Zero(edge.role.scale, stride)
    derived = Genotype(settings.cells, net.space.cells, net.space.keep)
    bare = NasUnet(settings, derived, zero_edge)
    if metric is CostMetric.PARAMS:
        return float(sum(p.numel() for p in bare.parameters()))
    return float(count_flops(bare, (1, settings.in_channels, *image)).total)


class CostModel(nn.Module):
    """``forward(alphas) → expected cost`` of the network the alphas derive."""

    def __init__(self, net: Supernet, derived: NetworkSettings, metric: CostMetric,
                 image: tuple[int, int]):
        super().__init__()
        self.metric = metric
        self.fixed = fixed_cost(derived, net, metric, image)
        costs: dict[tuple[str, int], torch.Tensor] = {}
        self.nodes: list[tuple[int, list[tuple[str, int]]]] = []
        for place in stage_plan(net.settings, net.space, image).cells:
            cell = net.space.cells[place.type]
            for src, dst, edge in cell.op_edges():
                table, row = net.alphas.where(place.type, edge_key(src, dst))
                size = place.edge_input_size(edge.role)
                vec = torch.tensor([op_cost(op, edge.role, place.C, size, metric)
                                    for op in edge.ops], dtype=torch.float64)
                costs[(table, row)] = costs.get((table, row), 0) + vec
        for ctype in net.alphas.cell_types:
            cell = net.space.cells[ctype]
            for node in cell.nodes:
                refs = [net.alphas.where(ctype, edge_key(src, node))
                        for src, _ in cell.in_edges(node)]
                self.nodes.append((min(net.space.keep, len(refs)), refs))
        self._costs = costs
        self._zero = {name: spec.zero_mask for name, spec in net.alphas.specs.items()}

    def forward(self, probs: dict[str, torch.Tensor]) -> torch.Tensor:
        device = next(iter(probs.values())).device
        total = torch.tensor(self.fixed, dtype=torch.float64, device=device)
        for k, refs in self.nodes:
            strengths, costs = [], []
            for table, row in refs:
                p = probs[table][row].double().masked_fill(self._zero[table].to(device), 0.0)
                strengths.append(p.max())
                cost = self._costs[(table, row)].to(device)
                costs.append((p / p.sum().clamp_min(1e-12) * cost).sum())
            s = torch.stack(strengths)
            soft = k * s / s.sum()
            hard = torch.zeros_like(s)
            hard[top_edges(s.tolist(), k)] = 1.0
            keep = hard + soft - soft.detach()  # value: the derived top-k; gradient: soft
            total = total + (keep * torch.stack(costs)).sum()
        return total


def cost_penalty(model: CostModel, cfg: CostConfig, probs: dict[str, torch.Tensor]
                 ) -> tuple[torch.Tensor, float]:
    """(penalty to add to the alpha loss, expected cost)."""
    expected = model(probs)
    if cfg.weight <= 0 or cfg.target is None:
        return expected.new_zeros(()).float(), float(expected.detach())
    penalty = cfg.weight * torch.relu(expected / cfg.target - 1.0)
    return penalty.float(), float(expected.detach())
