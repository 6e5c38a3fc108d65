"""Discrete nets and supernets with the U's shape entries: shapes, parameters, alphas."""

from __future__ import annotations

import pytest
import torch

from genodsl import loads
from genodsl.compile.alphas import NORMAL_KEY
from genodsl.compile.discrete import build_discrete
from genodsl.compile.flops import count_params
from genodsl.compile.supernet import build_supernet
from genodsl.lang.ir import CellType
from genodsl.lang.plan import stage_plan

TEXT = """
import "ops.geno"
genotype G {
  cell down { input s0, s1  node n2 = down_conv(s0) + max_pool(s1)  output concat(n2) }
  cell up { input s0, s1  node n2 = conv(s0) + up_conv(s1)  output concat(n2) }
  cell normal { input s0, s1  node n2 = identity(s0) + identity(s1)
                node n3 = identity(n2) + identity(s1)  output concat(n2, n3) }
}
space S {
  cell down { input s0, s1  nodes 2  from s0 use Down  from s1 use Down  from nodes use Normal }
  cell up { input s0, s1  nodes 2  from s0 use Normal  from s1 use Up  from nodes use Normal }
  cell normal { input s0, s1  nodes 2  from s0 use Normal  from s1 use Normal
                from nodes use Normal }
}
network plain { cells = G  C = 4  depth = 2 }
network same { cells = G  C = 4  depth = 2  widths = [4, 4, 4] }
network shaped { cells = G  C = 4  depth = 2  widths = [6, 4, 8]  full_res_cells = 1
                 cells_per_level = [2, 2] }
network search_plain { cells = S  C = 4  depth = 2 }
network search_shaped { cells = S  C = 4  depth = 2  growth = 2  full_res_cells = 1
                        cells_per_level = 2 }
network volume { cells = G  C = 4  depth = 1  dims = 3  full_res_cells = 1  cells_per_level = 2 }
"""


@pytest.fixture(scope="module")
def program():
    return loads(TEXT)


def _net(program, name):
    torch.manual_seed(0)
    return build_discrete(program.networks[name].settings, program.genotypes["G"])


def test_widths_all_c_is_the_default_network(program) -> None:
    plain, same = _net(program, "plain"), _net(program, "same")
    assert {k: v.shape for k, v in plain.state_dict().items()} == \
        {k: v.shape for k, v in same.state_dict().items()}
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in plain.state_dict().items())
    assert not hasattr(plain, "normal_cells")  # no module (nor state-dict key) added


def test_shaped_network_runs_and_has_its_normal_cells(program) -> None:
    net = _net(program, "shaped")
    x = torch.randn(2, 1, 16, 16)
    assert net(x).shape == (2, 2, 16, 16)
    # full size 1, after down1 1, after down2 1 (deepest: encoder only), after up1 1
    assert len(net.normal_cells) == 4
    plan = stage_plan(program.networks["shaped"].settings, program.genotypes["G"])
    # identity edges have no weights: a normal cell is its two 1×1 conv → GN preprocessings
    expected = sum((c.c_prev_prev + c.c_prev) * c.C + 4 * c.C for c in plan.normal_cells)
    assert count_params(net.normal_cells) == expected
    assert count_params(net) > count_params(_net(program, "plain"))


def test_a_volume_places_normal_cells_too(program) -> None:
    net = _net(program, "volume")
    assert net(torch.randn(1, 1, 8, 8, 8)).shape == (1, 2, 8, 8, 8)


def test_supernet_with_normal_cells_trains_its_own_alphas(program) -> None:
    torch.manual_seed(0)
    net = build_supernet(program.networks["search_shaped"].settings, program.spaces["S"])
    assert "normal_cell" in net.alphas.specs and CellType.NORMAL in net.alphas.cell_types
    normal_keys = [k for k in net.alphas.edges_of(CellType.DOWN) if k.startswith(NORMAL_KEY)]
    assert normal_keys and net.alphas.where(CellType.DOWN, normal_keys[0])[0] == "normal_cell"
    down, up = net.alphas.edge_weights()
    assert set(normal_keys) <= set(down)
    out = net(torch.randn(2, 1, 16, 16))
    assert out.shape == (2, 2, 16, 16)
    out.square().mean().backward()
    grads = {k: t.grad for k, t in net.alphas.tables.items()}
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values()), grads
    assert sum(1 for t, _, _ in net.mixed_ops() if t is CellType.NORMAL) > 0


def test_a_space_normal_cell_the_network_does_not_place_gets_no_alphas(program) -> None:
    net = build_supernet(program.networks["search_plain"].settings, program.spaces["S"])
    assert list(net.alphas.specs) == ["down", "normal", "up"]
    assert CellType.NORMAL not in net.space.cells
    assert net(torch.randn(1, 1, 16, 16)).shape == (1, 2, 16, 16)
