"""Derivation on hand-made alphas: top-k edges, argmax op, `none` never kept, ties."""

from __future__ import annotations

import pytest
import torch

from genodsl.lang.ir import CellType
from genodsl.lang.ir import edge_key
from genodsl.search.derive import best_op, derive, top_edges
from search_helpers import make_supernet

NONE = torch.tensor([True, False, False])


def test_best_op_skips_none_even_when_strongest() -> None:
    assert best_op(torch.tensor([0.9, 0.04, 0.06]), NONE) == (2, pytest.approx(0.06))


def test_best_op_tie_takes_first_candidate() -> None:
    index, _ = best_op(torch.tensor([0.2, 0.4, 0.4]), NONE)
    assert index == 1


def test_best_op_all_none_is_an_error() -> None:
    with pytest.raises(ValueError):
        best_op(torch.tensor([1.0]), torch.tensor([True]))


@pytest.mark.parametrize("strengths, k, expected", [
    ([0.1, 0.5, 0.3], 2, [1, 2]),
    ([0.5, 0.5, 0.5], 2, [0, 1]),        # all tied: the first written win
    ([0.2, 0.4, 0.4, 0.1], 2, [1, 2]),
    ([0.3, 0.1, 0.3, 0.3], 2, [0, 2]),
    ([0.7], 2, [0]),                     # fewer edges than k
])
def test_top_edges(strengths: list[float], k: int, expected: list[int]) -> None:
    assert top_edges(strengths, k) == expected


def _set_edge(net, cell: CellType, src: str, dst: str, op: str, value: float) -> None:
    table, row = net.alphas.where(cell, edge_key(src, dst))
    labels = net.alphas.specs[table].labels
    with torch.no_grad():
        net.alphas.tables[table][row, labels.index(op)] = value


def test_derive_hand_made_alphas(program) -> None:
    net = make_supernet(program, share=False)
    with torch.no_grad():
        for t in net.alphas.tables.values():
            t.zero_()
    # n2 (down cell): s1 strongest via down_conv; s0 via max_pool.
    _set_edge(net, CellType.DOWN, "s1", "n2", "down_conv", 5.0)
    _set_edge(net, CellType.DOWN, "s0", "n2", "max_pool", 3.0)
    # n4: `none` dominates the n2 edge, yet the edge never derives `none`;
    # n3 → n4 has the strongest real op, s1 → n4 the second.
    _set_edge(net, CellType.DOWN, "n2", "n4", "none", 9.0)
    _set_edge(net, CellType.DOWN, "n3", "n4", "dep_conv", 6.0)
    _set_edge(net, CellType.DOWN, "s1", "n4", "avg_pool", 4.0)
    geno = derive(program.spaces["NASUNET_SPACE"], net.alphas, "G")
    down = geno.cells[CellType.DOWN]
    got = {n: [(s, e.op.name) for s, e in down.in_edges(n)] for n in down.nodes}
    assert got["n2"] == [("s0", "max_pool"), ("s1", "down_conv")]
    assert got["n4"] == [("s1", "avg_pool"), ("n3", "dep_conv")]
    # n3 has all-zero alphas: every edge ties, so the first two written (s0, s1) with the
    # first candidate of their op set are kept.
    assert got["n3"] == [("s0", "avg_pool"), ("s1", "avg_pool")]
    assert all(len(v) == 2 for v in got.values())


def test_none_never_derived_from_random_alphas(program) -> None:
    for seed in range(5):
        net = make_supernet(program, seed=seed)
        with torch.no_grad():
            for name, t in net.alphas.tables.items():
                t.normal_(0, 3)
                if net.alphas.specs[name].zero_mask.any():
                    t[:, net.alphas.specs[name].zero_mask] += 10  # `none` always strongest
        geno = derive(program.spaces["NASUNET_SPACE"], net.alphas, "G")
        for cell in geno.cells.values():
            assert all(e.op.name != "none" for _, _, e in cell.op_edges())
            assert all(len(cell.in_edges(n)) == 2 for n in cell.nodes)


def test_derived_cells_are_the_cells_their_text_lowers_to(program) -> None:
    """derive builds cells with the language's own builder: printing and reading back the
    genotype gives equal cells (same roles, slots and outputs) and the same text."""
    from genodsl.lang.ir import Program
    from genodsl.lang.loader import loads
    from genodsl.lang.printer import format_module, program_to_module

    net = make_supernet(program, seed=3)
    with torch.no_grad():
        for t in net.alphas.tables.values():
            t.normal_(0, 2)
    geno = derive(program.spaces["NASUNET_SPACE"], net.alphas, "G")
    text = format_module(program_to_module(Program(genotypes={"G": geno})))
    again = loads(text).genotypes["G"]
    assert again == geno
    assert format_module(program_to_module(Program(genotypes={"G": again}))) == text
