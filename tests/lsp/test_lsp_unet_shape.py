"""The editor knows the U's shape entries and the normal cell."""

from __future__ import annotations

import pytest

pytest.importorskip("lsprotocol")

from genodsl.lsp.analysis import analyse  # noqa: E402
from genodsl.lsp.complete import completion  # noqa: E402
from genodsl.lsp.hover import hover  # noqa: E402
from genodsl.ops.registry import OpKind, ops_of_kind  # noqa: E402

NORMAL = {s.name for s in ops_of_kind(OpKind.NORMAL)}

VALID = """\
genotype G {
  cell down { input s0, s1  node n2 = down_conv(s0) + max_pool(s1)  output concat(n2) }
  cell up { input s0, s1  node n2 = conv(s0) + up_conv(s1)  output concat(n2) }
  cell normal { input s0, s1  node n2 = conv(s0) + identity(s1)  output concat(n2) }
}

network N {
  cells          = G
  depth          = 2
  widths         = [8, 16, 16]
  full_res_cells = 1
}
"""

# mid-edit (does not parse): an edge without its op, an empty statement in each block
EDITING = """\
genotype G {
  cell normal {
    input s0, s1
    node n2 = (s1) + identity(s0)
    output concat(n2)
  }
  cell 
}

network N {
  cells = G
  
}
"""


def _at(text: str, needle: str, after: str = "") -> tuple[int, int]:
    for i, line in enumerate(text.split("\n")):
        if needle in line:
            return i, line.index(needle) + len(after)
    raise AssertionError(needle)


def test_network_entries_complete_with_the_shape_keys(tmp_path):
    a = analyse(EDITING, str(tmp_path / "main.geno"), tmp_path)
    line = EDITING.split("\n").index("  ", EDITING.split("\n").index("network N {"))
    got = {i.label for i in completion(a, line, 2)}
    assert {"widths", "growth", "full_res_cells", "cells_per_level"} <= got


def test_cell_kinds_include_normal_and_its_edges_take_normal_ops(tmp_path):
    a = analyse(EDITING, str(tmp_path / "main.geno"), tmp_path)
    assert {i.label for i in completion(a, *_at(EDITING, "  cell ", "  cell "))} == \
        {"down", "up", "normal"}
    got = {i.label for i in completion(a, *_at(EDITING, "(s1) + identity", ""))}
    assert got == NORMAL  # every edge of a normal cell is a normal op


def test_shape_keys_and_the_normal_cell_have_hover_text(tmp_path):
    a = analyse(VALID, str(tmp_path / "main.geno"), tmp_path)
    assert a.parsed and a.diagnostics == []
    text, _ = hover(a, *_at(VALID, "widths ", "wid"))
    assert text.startswith("network entry **widths** (default `None`): node channels per level")
    text, _ = hover(a, *_at(VALID, "full_res_cells", "full"))
    assert "normal cells at full resolution" in text
    text, _ = hover(a, *_at(VALID, "cell normal", "cell nor"))
    assert text.startswith("the **normal** cell (optional)")
