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
from ..lang.ir import NetworkSettings, CellType, OpCall, OpEdge, edge_key
from ..ops.primitives import Zero
from ..ops.builders import build_op, param_count
from ..ops.registry import OpKind
from .config import CostConfig, CostMetric
from .derive import top_edges


@lru_cache(maxsize=None)
def op_flops(op: OpCall, role: OpKind, channels: int, size: tuple[int, int]) -> int:
    """Forward FLOPs of one op on a ``[1, channels, *size]`` input."""
    module = build_op(op.name, channels, role, op.arg_dict)
    if not any(True for _ in module.parameters()):
        return 0  # pools, identity, none: no conv or matmul
    return count_flops(module, (1, channels, *size)).total


def op_cost(op: OpCall, role: OpKind, channels: int, size: tuple[int, int],
            metric: CostMetric) -> float:
    if metric is CostMetric.PARAMS:
        return float(param_count(op.name, channels, op.args))
    return float(op_flops(op, role, channels, size))


def cell_plan(settings: NetworkSettings, image: tuple[int, int]) -> list[tuple[CellType, int, int]]:
    """(cell type, channels, H of s1 after preprocessing) for every cell of the backbone."""
    h = image[0]
    plan: list[tuple[CellType, int, int]] = []
    c = settings.C
    for i in range(settings.depth):
        c = c * 2 if settings.double_down_channel else c
        plan.append((CellType.DOWN, c, h // 2 ** (i + 1)))
    for j in range(settings.depth + 1):
        c = c // 2 if settings.double_down_channel else c
        plan.append((CellType.UP, c, h // 2 ** (settings.depth - j + 1)))
    return plan


def _edge_input_size(ctype: CellType, role: OpKind, s1: tuple[int, int]) -> tuple[int, int]:
    if ctype is CellType.DOWN and role is not OpKind.DOWN:
        return s1[0] // 2, s1[1] // 2  # node edges of a down cell: after the halving
    if ctype is CellType.UP and role is not OpKind.UP:
        return s1[0] * 2, s1[1] * 2  # the skip and node edges of an up cell
    return s1


def fixed_cost(settings: NetworkSettings, net: Supernet, metric: CostMetric, image: tuple[int, int]) -> float:
    """Stems (discrete width), preprocessing and head: everything but the edges."""
    def zero_edge(src: str, dst: str, edge: OpEdge, channels: int) -> nn.Module:
        return Zero(edge.role.scale)
    cells = net.space.cells
    bare = NasUnet(settings, cells[CellType.DOWN], cells[CellType.UP], zero_edge)
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
        ratio = image[1] / image[0]
        costs: dict[tuple[str, int], torch.Tensor] = {}
        self.nodes: list[tuple[int, list[tuple[str, int]]]] = []
        for ctype, channels, h in cell_plan(net.settings, image):
            cell = net.space.cells[ctype]
            for src, dst, edge in cell.op_edges():
                table, row = net.alphas.where(ctype, edge_key(src, dst))
                size = _edge_input_size(ctype, edge.role, (h, max(1, round(h * ratio))))
                vec = torch.tensor([op_cost(op, edge.role, channels, size, metric)
                                    for op in edge.ops], dtype=torch.float64)
                costs[(table, row)] = costs.get((table, row), 0) + vec
        for ctype in (CellType.DOWN, CellType.UP):
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
