"""Alphas → a discrete genotype: top-k incoming edges per node, argmax op per edge.

An edge's strength is the largest softmax weight among its non-``none`` candidates; each
node keeps the ``k`` strongest incoming edges (k = the space's ``keep``), each with that
strongest op.  ``none`` is therefore never derived.  Ties are broken by position, so the
result is deterministic: among equally strong ops the first candidate of the op set wins,
among equally strong edges the one written first (s0, s1, then nodes in order).  The kept
edges are listed in that written order.
"""

from __future__ import annotations

import torch

from ..lang.ir import Cell, Genotype, SearchSpace, edge_key
from ..lang.lower import lower_discrete_cell
from ..compile.alphas import AlphaSet, TableSpec


def best_op(probs: torch.Tensor, zero_mask: torch.Tensor) -> tuple[int, float]:
    """(index, weight) of the strongest non-``none`` candidate; the first one on ties."""
    masked = probs.detach().double().masked_fill(zero_mask, float("-inf"))
    if bool(torch.isinf(masked).all()):
        raise ValueError("an edge whose candidates are all 'none' cannot be derived")
    best = float(masked.max())
    index = int((masked == best).nonzero()[0, 0])
    return index, best


def top_edges(strengths: list[float], k: int) -> list[int]:
    """Indices of the ``k`` largest strengths, in their original order (earlier wins ties)."""
    ranked = sorted(range(len(strengths)), key=lambda i: (-strengths[i], i))
    return sorted(ranked[:k])


def derive_cell(cell: Cell, probs: dict[str, torch.Tensor], alphas: AlphaSet, k: int) -> Cell:
    """The discrete cell the alphas select in the search ``cell`` (built as .geno text is)."""
    nodes = []
    for node in cell.nodes:
        choices = []
        for src, _ in cell.in_edges(node):
            table, row = alphas.where(cell.type, edge_key(src, node))
            spec: TableSpec = alphas.specs[table]
            index, strength = best_op(probs[table][row], spec.zero_mask)
            choices.append((src, spec.candidates[index], strength))
        kept = top_edges([c[2] for c in choices], k)
        nodes.append((node, [choices[i][:2] for i in kept]))
    return lower_discrete_cell(cell.type, nodes, cell.outputs, cell.inputs)


def derive(space: SearchSpace, alphas: AlphaSet, name: str) -> Genotype:
    """The genotype called ``name`` that ``alphas`` select in ``space``."""
    probs = {t: p.detach().cpu() for t, p in alphas.probs().items()}
    cells = {ctype: derive_cell(space.cells[ctype], probs, alphas, space.keep)
             for ctype in alphas.cell_types}  # down, up and a normal cell the net places
    return Genotype(name, cells, keep=space.keep, keep_given=space.keep != 2)
