"""The supernet: alpha tables (rows used once, sharing), mixed ops, expected cost."""

from __future__ import annotations

import pytest
import torch

from genodsl.compile import build
from genodsl.compile.discrete import build_discrete
from genodsl.compile.flops import count_flops
from genodsl.lang.ir import CellType
from genodsl.search.config import CostMetric
from genodsl.search.costs import CostModel
from genodsl.search.derive import derive
from genodsl.search.genotype_file import derived_settings
from genodsl.compile.mixed import PathSample
from search_helpers import make_supernet


@pytest.mark.parametrize("share, rows", [
    (True, {"down": 6, "normal": 6, "up": 3}),
    (False, {"down": 6, "down_normal": 3, "up_normal": 6, "up": 3}),
])
def test_alpha_tables(program, share: bool, rows: dict[str, int]) -> None:
    net = make_supernet(program, share=share)
    assert {k: t.shape[0] for k, t in net.alphas.tables.items()} == rows
    seen = set()
    for name, spec in net.alphas.specs.items():
        assert net.alphas.tables[name].shape[1] == len(spec.candidates)
        assert len(set(spec.rows)) == len(spec.rows)  # one edge position per row
        for edges in spec.edges:
            assert edges  # no row left unused
            assert len({cell for cell, _ in edges}) == len(edges)  # once per cell type
            seen.update(edges)
    n_edges = sum(len(list(c.op_edges()))
                  for c in program.spaces["NASUNET_SPACE"].cells.values())
    assert len(seen) == n_edges == 18  # every edge reads exactly one row


def test_shared_normal_rows_serve_both_cells(program) -> None:
    net = make_supernet(program, share=True)
    assert net.alphas.where(CellType.DOWN, "n2__n3") == net.alphas.where(CellType.UP, "n2__n3")
    assert net.alphas.where(CellType.UP, "s0__n2")[0] == "normal"


def test_parameter_groups_are_disjoint(program) -> None:
    net = make_supernet(program)
    weights = {id(p) for p in net.weight_parameters()}
    alphas = {id(p) for p in net.alpha_parameters()}
    assert not weights & alphas
    assert weights | alphas == {id(p) for p in net.parameters()}


def test_build_dispatches_to_the_supernet(program) -> None:
    net = build(program, "tiny")
    out = net(torch.randn(2, 1, 16, 16))
    assert out.shape == (2, 2, 16, 16)


def test_mixed_op_weighted_sum_and_paths(program) -> None:
    net = make_supernet(program)
    op = next(o for _, k, o in net.mixed_ops() if k == "n2__n3")
    x = torch.randn(2, 4, 4, 4)
    w = torch.softmax(torch.randn(len(op.ops)), 0)
    manual = sum(w[i] * m(x) for i, m in enumerate(op.ops))
    assert torch.allclose(op(x, w), manual, atol=1e-6)
    assert torch.equal(op(x, PathSample(3)), op.ops[3](x))
    assert torch.count_nonzero(op(x, PathSample(0))) == 0  # `none`
    gates = torch.tensor([1.0, 0.0], requires_grad=True)
    assert torch.allclose(op(x, PathSample(2, 4, gates)), op.ops[2](x))


@pytest.mark.parametrize("metric", list(CostMetric))
def test_expected_cost_equals_derived_network_for_peaked_alphas(program, metric) -> None:
    net = make_supernet(program)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, t in net.alphas.tables.items():
            low = 1 if net.alphas.specs[name].zero_mask[0] else 0
            pick = torch.randint(low, t.shape[1], (t.shape[0],))
            t.zero_()
            t[torch.arange(t.shape[0]), pick] = 40 + 5 * torch.rand(t.shape[0])
    geno = derive(program.spaces["NASUNET_SPACE"], net.alphas, "G")
    settings = derived_settings(program.networks["tiny"].settings, "G")
    derived = build_discrete(settings, geno)
    model = CostModel(net, settings, metric, (16, 16))
    expected = float(model(net.alphas.probs()).detach())
    if metric is CostMetric.PARAMS:
        actual = sum(p.numel() for p in derived.parameters())
    else:
        actual = count_flops(derived, (1, 1, 16, 16)).total
    assert expected == pytest.approx(actual, rel=1e-6)


def test_cost_gradient_prefers_cheaper_ops(program) -> None:
    net = make_supernet(program)
    settings = derived_settings(program.networks["tiny"].settings, "G")
    model = CostModel(net, settings, CostMetric.PARAMS, (16, 16))
    model(net.alphas.probs()).backward()
    spec = net.alphas.specs["down"]
    grad = net.alphas.tables["down"].grad
    # raising a parameter-free pool lowers the cost; raising down_conv raises it
    assert (grad[:, spec.labels.index("max_pool")] < 0).all()
    assert (grad[:, spec.labels.index("down_conv")] > 0).all()
