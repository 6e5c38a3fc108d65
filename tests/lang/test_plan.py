"""The stage plan: channels, scales, sizes, skip sources and stem widths of the backbone."""

from __future__ import annotations

import pytest

from genodsl.errors import ConfigError
from genodsl.lang.ir import CellType, NetworkSettings
from genodsl.lang.loader import loads
from genodsl.lang.plan import size_divisor, stage_plan
from genodsl.ops.registry import OpKind

# down cells concatenate two nodes, up cells one: out channels tell the cell types apart
TINY = """
genotype G {
  cell down {
    input s0, s1
    node n2 = down_conv(s1) + down_dep_conv(s0)
    node n3 = down_conv(s0) + conv(n2)
    output concat(n2, n3)
  }
  cell up {
    input s0, s1
    node n2 = conv(s0) + up_conv(s1)
    output concat(n2)
  }
}
space S {
  cell down {
    input s0, s1
    nodes 3
    from s0 use [max_pool, down_conv]
    from s1 use [avg_pool]
    from nodes use [none, identity]
  }
  cell up {
    input s0, s1
    nodes 3
    from s0 use [identity]
    from s1 use [up_conv]
    from nodes use [identity]
  }
}
"""


@pytest.fixture(scope="module")
def program():
    return loads(TINY)


def settings(cells: str = "G", **kw) -> NetworkSettings:
    return NetworkSettings(**{"cells": cells, "in_channels": 1, "classes": 3, "C": 4,
                              "depth": 2, **kw})


def rows(plan) -> list[tuple]:
    return [(c.name, c.C, c.c_prev_prev, c.c_prev, c.out_channels, c.scale, c.s0, c.s1)
            for c in plan.cells]


def test_genotype_plan_by_hand(program):
    plan = stage_plan(settings(), program.genotypes["G"])
    assert plan.stem_multiplier == 4 and plan.stem_channels == 16
    assert [(s.name, s.kernel, s.stride, s.in_channels, s.out_channels, s.scale)
            for s in plan.stems] == [("stem0", 1, 1, 1, 16, 1), ("stem1", 3, 2, 1, 16, 2)]
    assert rows(plan) == [
        # name    C  c_pp c_p out scale s0       s1
        ("down1", 4, 16, 16, 8, 4, "stem0", "stem1"),
        ("down2", 4, 16, 8, 8, 8, "stem1", "down1"),
        ("up1", 4, 8, 8, 4, 4, "down1", "down2"),    # skip: the encoder stage at H/4
        ("up2", 4, 16, 4, 4, 2, "stem1", "up1"),
        ("up3", 4, 16, 4, 4, 1, "stem0", "up2"),     # the last up cell takes stem0
    ]
    assert [c.index for c in plan.cells] == [0, 1, 2, 3, 4]
    assert [c.type for c in plan.cells] == [CellType.DOWN] * 2 + [CellType.UP] * 3
    assert (plan.head.in_channels, plan.head.out_channels) == (4, 3)
    assert all(c.size is None for c in plan.cells) and plan.stage("up2").number == 2


def test_sizes_and_what_each_edge_reads(program):
    plan = stage_plan(settings(), program.genotypes["G"], (16, 32))
    assert [s.size for s in plan.stems] == [(16, 32), (8, 16)]
    assert [c.size for c in plan.cells] == [(4, 8), (2, 4), (4, 8), (8, 16), (16, 32)]
    down1, up1 = plan.stage("down1"), plan.stage("up1")
    # a down cell: its down edges read s1 (H/2), the edges between nodes the output (H/4)
    assert down1.edge_input_size(OpKind.DOWN) == (8, 16)
    assert down1.edge_input_size(OpKind.NORMAL) == (4, 8)
    # an up cell: its up edges read s1 (H/8), the skip and node edges the output (H/4)
    assert up1.edge_input_size(OpKind.UP) == (2, 4)
    assert up1.edge_input_size(OpKind.NORMAL) == (4, 8)
    assert (down1.s0_stride, up1.s0_stride) == (2, 1)
    with pytest.raises(ValueError, match="input size"):
        stage_plan(settings(), program.genotypes["G"]).cells[0].edge_input_size(OpKind.DOWN)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_every_skip_is_at_its_cell_size(program, depth):
    plan = stage_plan(settings(depth=depth), program.genotypes["G"])
    assert len(plan.down_cells) == depth and len(plan.up_cells) == depth + 1
    for cell in plan.down_cells:  # s0 twice s1's size, s1 twice the output's
        assert plan.stage(cell.s0).scale * 2 == plan.stage(cell.s1).scale == cell.s1_scale
        assert cell.scale == cell.s1_scale * 2
    for cell in plan.up_cells:
        assert plan.stage(cell.s0).scale == cell.scale  # the skip is at the output size
        assert plan.stage(cell.s1).scale == cell.s1_scale == cell.scale * 2
        assert not plan.stage(cell.s0).name.startswith("up")  # skips come from the encoder
    assert plan.up_cells[-1].scale == 1 and plan.down_cells[-1].scale == size_divisor(
        plan.settings) == 2 ** (depth + 1)


def test_space_stems_are_m_times_c(program):
    space = program.spaces["S"]
    assert stage_plan(settings("S"), space).stem_channels == 3 * 4  # M = 3 nodes
    assert stage_plan(settings("S", stem_multiplier=2), space).stem_channels == 2 * 4
    assert stage_plan(settings(stem_multiplier=2), program.genotypes["G"]).stem_channels == 8
    plan = stage_plan(settings("S"), space)
    assert [c.out_channels for c in plan.cells] == [12] * 5  # three nodes concatenated
    assert plan.stage("down1").c_prev_prev == plan.stage("up3").c_prev_prev == 12


def test_double_down_channel(program):
    plan = stage_plan(settings(double_down_channel=True), program.genotypes["G"])
    assert rows(plan) == [
        ("down1", 8, 16, 16, 16, 4, "stem0", "stem1"),
        ("down2", 16, 16, 16, 32, 8, "stem1", "down1"),
        ("up1", 8, 16, 32, 8, 4, "down1", "down2"),
        ("up2", 4, 16, 8, 4, 2, "stem1", "up1"),
        ("up3", 2, 16, 4, 2, 1, "stem0", "up2"),     # halved once more than doubled
    ]
    assert plan.head.in_channels == 2


@pytest.mark.parametrize("size", [(100, 64), (64, 20), (0, 8)])
def test_an_input_that_does_not_fit_the_depth(program, size):
    with pytest.raises(ConfigError, match="does not fit depth 2") as info:
        stage_plan(settings(), program.genotypes["G"], size)
    assert "multiple of 8" in str(info.value)


def _hand_params(plan, genotype) -> int:
    """Parameters from the plan's widths alone: convs are in × out × k², GroupNorm 2 × c."""
    from genodsl.ops.builders import param_count

    total = sum(s.in_channels * s.out_channels * s.kernel ** 2 + 2 * s.out_channels
                for s in plan.stems)
    for cell in plan.cells:
        total += (cell.c_prev_prev + cell.c_prev) * cell.C + 4 * cell.C  # two preprocesses
        total += sum(param_count(e.op.name, cell.C, e.op.args)
                     for _, _, e in genotype.cells[cell.type].op_edges())
    return total + plan.head.in_channels * plan.head.out_channels


@pytest.mark.parametrize("extra", [{}, {"double_down_channel": True}, {"stem_multiplier": 3}])
def test_plan_parameter_count_equals_the_built_module(program, extra):
    import dataclasses

    from genodsl.compile import build
    from genodsl.lang.ir import Network

    s = settings(**extra)
    built = build(dataclasses.replace(program, networks={"n": Network("n", s)}), "n")
    genotype = program.genotypes["G"]
    assert sum(p.numel() for p in built.parameters()) == _hand_params(stage_plan(s, genotype),
                                                                      genotype)
