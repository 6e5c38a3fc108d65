"""The U's shape entries (widths, growth, full_res_cells, cells_per_level) and the normal cell:
round trips, the stage plan they give, and their errors with places."""

from __future__ import annotations

import pytest

from genodsl import dumps, loads
from genodsl.errors import GenoError, GenoValidationError
from genodsl.lang.ir import CellType, NetworkSettings
from genodsl.lang.parse import parse
from genodsl.lang.plan import stage_plan
from genodsl.lang.printer import format_module

CELLS = """
genotype G {
  cell down { input s0, s1  node n2 = down_conv(s0) + max_pool(s1)  output concat(n2) }
  cell up { input s0, s1  node n2 = conv(s0) + up_conv(s1)  output concat(n2) }
  cell normal { input s0, s1  node n2 = identity(s0) + identity(s1)  output concat(n2) }
}
genotype NO_NORMAL {
  cell down { input s0, s1  node n2 = down_conv(s0) + max_pool(s1)  output concat(n2) }
  cell up { input s0, s1  node n2 = conv(s0) + up_conv(s1)  output concat(n2) }
}
"""


def _net(entries: str, cells: str = "G") -> str:
    return CELLS + f"network N {{ cells = {cells}  C = 4  depth = 2  {entries} }}\n"


def _codes(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(GenoValidationError) as err:
        loads(text)
    return [(d.code, d.span.line if d.span else 0, d.message) for d in err.value.diagnostics]


def test_new_entries_print_and_parse_back() -> None:
    text = _net("widths = [4, 8,\n 16,]  full_res_cells = 2  cells_per_level = [2, 1]")
    module = parse(text)
    printed = format_module(module)
    assert "  widths          = [4, 8, 16]\n" in printed
    assert "  cells_per_level = [2, 1]\n" in printed
    assert parse(printed) == module
    program = loads(text)
    assert loads(dumps(program)) == program  # the IR's printer keeps the lists too
    settings = program.networks["N"].settings
    assert settings.widths == (4, 8, 16) and settings.cells_per_level == (2, 1)
    assert "cell normal {" in dumps(program)


def test_default_entries_give_the_plan_of_old() -> None:
    program = loads(_net(""))
    same = loads(_net("widths = [4, 4, 4]  full_res_cells = 0  cells_per_level = 1"))
    a, b = (stage_plan(p.networks["N"].settings, p.genotypes["G"]) for p in (program, same))
    assert a.cells == b.cells and a.stems == b.stems and a.head == b.head
    assert not a.normal_cells and [c.name for c in a.cells] == ["down1", "down2", "up1", "up2",
                                                                "up3"]


def test_growth_doubles_per_level_like_double_down_channel_in_the_encoder() -> None:
    program = loads(_net("growth = 2"))
    grow = stage_plan(program.networks["N"].settings, program.genotypes["G"])
    double = stage_plan(NetworkSettings(cells="G", C=4, depth=2, double_down_channel=True),
                        program.genotypes["G"])
    assert [c.C for c in grow.down_cells] == [c.C for c in double.down_cells] == [8, 16]
    assert [c.C for c in grow.up_cells] == [8, 4, 4]  # the last up cell keeps C (not C/2)
    assert [c.C for c in double.up_cells] == [8, 4, 2]


def test_normal_cells_are_placed_and_wired_by_the_plan() -> None:
    program = loads(_net("widths = [4, 8, 16]  full_res_cells = 2  cells_per_level = 2"))
    plan = stage_plan(program.networks["N"].settings, program.genotypes["G"], (32, 32))
    rows = [(c.name, c.C, c.size, c.s0, c.s1, c.s0_strides, c.decoder) for c in plan.cells]
    assert rows == [
        ("normal1", 4, (32, 32), "stem0", "stem0", (1, 1), False),  # full size, on stem0
        ("normal2", 4, (32, 32), "stem0", "normal1", (1, 1), False),
        ("down1", 8, (8, 8), "normal2", "stem1", (2, 2), False),
        ("normal3", 8, (8, 8), "stem1", "down1", (2, 2), False),  # two back, strided to H/4
        ("down2", 16, (4, 4), "down1", "normal3", (1, 1), False),
        ("normal4", 16, (4, 4), "normal3", "down2", (2, 2), False),  # the deepest: encoder only
        ("up1", 8, (8, 8), "normal3", "normal4", (1, 1), True),
        ("normal5", 8, (8, 8), "normal3", "up1", (1, 1), True),  # decoder: s0 is the skip
        ("up2", 4, (16, 16), "stem1", "normal5", (1, 1), True),
        ("up3", 4, (32, 32), "normal2", "up2", (1, 1), True),  # skip: the last full-size cell
    ]
    assert plan.head.in_channels == plan.cells[-1].out_channels


def test_a_normal_cell_keeps_the_size_and_takes_normal_ops_only() -> None:
    text = CELLS.replace("node n2 = identity(s0) + identity(s1)",
                         "node n2 = down_conv(s0) + identity(s1)")
    (code, line, message), = _codes(text)
    assert code == "E044" and line == 5 and "down op 'down_conv' on input s0 of a normal cell" \
        in message


@pytest.mark.parametrize("entries, expected", [
    ("widths = [4, 8, 16]  growth = 2", ("E064", "widths and growth each set the widths")),
    ("growth = 2  double_down_channel = true", ("E064", "growth and double_down_channel")),
    ("widths = [4, 8]", ("E064", "widths has 2 values, but a network of depth 2 has 3 levels")),
    ("widths = 8", ("E060", "bad value for 'widths': input should be a list")),
    ("widths = [4, 0, 8]", ("E060", "bad value for 'widths' (value 2 of the list)")),
    ("cells_per_level = [2, 1, 1]", ("E064", "cells_per_level has 3 values, but a network of "
                                             "depth 2 has 2 levels")),
    ("cells_per_level = 0", ("E060", "bad value for 'cells_per_level'")),
    ("growth = 2000", ("E062", "the widest level would have 16,000,000 channels")),
    ("cells_per_level = 17", ("E062", "cells_per_level: 17 cells at one level")),
])
def test_shape_errors_name_the_entry(entries: str, expected: tuple[str, str]) -> None:
    text = _net(entries)
    found = _codes(text)
    assert any(c == expected[0] and expected[1] in m for c, _, m in found), found
    network_line = text.count("\n", 0, text.index("network N")) + 1
    assert all(line == network_line for _, line, _ in found)  # at the entry, not elsewhere


@pytest.mark.parametrize("entries, key", [("full_res_cells = 1", "full_res_cells"),
                                          ("cells_per_level = [1, 2]", "cells_per_level")])
def test_normal_cells_need_a_normal_cell(entries: str, key: str) -> None:
    (code, _, message), = _codes(_net(entries, cells="NO_NORMAL"))
    assert code == "E065"
    assert message == (f"network 'N' places normal cells ({key}), but genotype 'NO_NORMAL' has "
                       "no normal cell")


def test_a_normal_cell_the_network_does_not_place_is_allowed() -> None:
    program = loads(_net(""))
    assert CellType.NORMAL in program.genotypes["G"].cells


def test_a_plan_made_by_hand_refuses_missing_normal_cells() -> None:
    program = loads(_net("", cells="NO_NORMAL"))
    settings = program.networks["N"].settings.model_copy(update={"full_res_cells": 1})
    with pytest.raises(GenoError) as err:
        stage_plan(settings, program.genotypes["NO_NORMAL"])
    assert [d.code for d in err.value.diagnostics] == ["E065"]
