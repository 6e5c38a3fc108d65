"""Architecture weights (alphas): one table per edge role, one row per edge position.

All down cells share one set of alphas and all up cells another (the cells of one type are
the same search cell).  A table is a ``[rows, candidates]`` parameter kept next to its
candidate list, so column ``i`` always means candidate ``i``:

* ``down``: the down-op edges of the down cell (from s0 and s1);
* ``up``: the up-op edges of the up cell (from s1);
* ``normal``: the normal-op edges of both cells when ``share_normal`` is on: the edge
  ``n2 → n3`` of the down cell and of the up cell read the same row; otherwise
  ``down_normal`` and ``up_normal``, one per cell type.

* ``normal_cell``: the edges of the normal cell, when the space declares one (its own table,
  never shared with the down and up cells' edges).

Strategies pass two weight maps, the down cells' and the up cells': the normal cell's edges
ride in the down map under ``normal.SRC__DST`` keys (:data:`NORMAL_KEY`; no state name has a
dot), and :meth:`AlphaSet.edges_of` / :meth:`AlphaSet.where` answer for those keys too, so a
strategy that fills the down map from ``edges_of(CellType.DOWN)`` covers the normal cell.

Every row belongs to exactly one edge position (the reference allocates rows for every edge
in every table and leaves most unused).  Edges whose candidate lists differ never share a
table: a table with other candidates gets a numbered name (``normal_2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from ..lang.ir import CellType, OpCall, SearchSpace, edge_key
from ..ops.registry import OpKind, get_op

EdgeId = tuple[CellType, str]  # (cell type, edge key "src__dst")
Position = tuple[int, int]     # (source state index, node index), the paper's numbering
NORMAL_KEY = "normal."         # the prefix of a normal-cell edge in the down weight map


def normal_weights(down: Mapping[str, object] | None) -> dict[str, object] | None:
    """The normal cell's weights (edge key → weights) out of a down weight map."""
    if down is None:
        return None
    return {k[len(NORMAL_KEY):]: v for k, v in down.items() if k.startswith(NORMAL_KEY)}


def _edge_id(cell: CellType, key: str) -> EdgeId:
    """A normal-cell edge asked for through the down map is the normal cell's."""
    if cell is CellType.DOWN and key.startswith(NORMAL_KEY):
        return CellType.NORMAL, key[len(NORMAL_KEY):]
    return cell, key


@dataclass(frozen=True)
class TableSpec:
    """What the rows and columns of one alpha table mean."""

    name: str
    role: OpKind
    candidates: tuple[OpCall, ...]      # column i is candidate i
    rows: tuple[Position, ...]          # row r is the edge position rows[r]
    edges: tuple[tuple[EdgeId, ...], ...]  # the edges of the space that read row r

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(op.label() for op in self.candidates)

    @property
    def zero_mask(self) -> torch.Tensor:
        """True for the `none` candidates (zero output; never derived)."""
        return torch.tensor([get_op(op.name).name == "none" for op in self.candidates])


class AlphaSet(nn.Module):
    """The alpha tables of a search space and the map edge → (table, row)."""

    def __init__(self, space: SearchSpace, share_normal: bool = True, init_std: float = 1e-3):
        super().__init__()
        groups: dict[tuple[str, tuple[OpCall, ...]], list[tuple[Position, EdgeId]]] = {}
        role_of: dict[tuple[str, tuple[OpCall, ...]], OpKind] = {}
        for ctype in (t for t in CellType if t in space.cells):
            cell = space.cells[ctype]
            for src, dst, edge in cell.op_edges():
                scope = edge.role.value
                if ctype is CellType.NORMAL:
                    scope = "normal_cell"
                elif edge.role is OpKind.NORMAL and not share_normal:
                    scope = f"{ctype.value}_normal"
                key = (scope, edge.ops)
                pos = (cell.state(src).index, cell.state(dst).index)
                groups.setdefault(key, []).append((pos, (ctype, edge_key(src, dst))))
                role_of[key] = edge.role
        self.specs: dict[str, TableSpec] = {}
        self.tables = nn.ParameterDict()
        self._where: dict[EdgeId, tuple[str, int]] = {}
        used: dict[str, int] = {}
        for (scope, ops), members in groups.items():
            used[scope] = used.get(scope, 0) + 1
            name = scope if used[scope] == 1 else f"{scope}_{used[scope]}"
            rows: list[Position] = []
            edges: list[list[EdgeId]] = []
            for pos, eid in members:
                if pos not in rows:
                    rows.append(pos)
                    edges.append([])
                r = rows.index(pos)
                edges[r].append(eid)
                self._where[eid] = (name, r)
            self.specs[name] = TableSpec(name, role_of[(scope, ops)], ops, tuple(rows),
                                         tuple(tuple(e) for e in edges))
            self.tables[name] = nn.Parameter(init_std * torch.randn(len(rows), len(ops)))

    def where(self, cell: CellType, key: str) -> tuple[str, int]:
        """The (table, row) that the edge ``key`` of a ``cell``-type cell reads."""
        return self._where[_edge_id(cell, key)]

    @property
    def cell_types(self) -> tuple[CellType, ...]:
        """The cell types with alphas: down, up and, when the network places one, normal."""
        return tuple(t for t in CellType if any(c is t for c, _ in self._where))

    def edges_of(self, cell: CellType) -> list[str]:
        """The keys of ``cell``'s edges in its weight map (the down map: with the normal
        cell's, prefixed)."""
        keys = [k for (c, k) in self._where if c is cell]
        if cell is CellType.DOWN:
            keys += [NORMAL_KEY + k for (c, k) in self._where if c is CellType.NORMAL]
        return keys

    def probs(self) -> dict[str, torch.Tensor]:
        """Softmax over each row's candidates (differentiable)."""
        return {name: torch.softmax(t, dim=-1) for name, t in self.tables.items()}

    def edge_weights(self, detach: bool = False
                     ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(down-cell, up-cell) maps edge key → mixing weights ``[candidates]`` (DARTS)."""
        probs = self.probs()
        if detach:
            probs = {k: v.detach() for k, v in probs.items()}
        out: dict[CellType, dict[str, torch.Tensor]] = {CellType.DOWN: {}, CellType.UP: {}}
        for (cell, key), (name, row) in self._where.items():
            if cell is CellType.NORMAL:  # rides in the down map
                cell, key = CellType.DOWN, NORMAL_KEY + key
            out[cell][key] = probs[name][row]
        return out[CellType.DOWN], out[CellType.UP]

    def snapshot(self) -> dict[str, torch.Tensor]:
        """A detached CPU copy of every table's probabilities (for the history and plots)."""
        return {k: v.detach().cpu().clone() for k, v in self.probs().items()}
