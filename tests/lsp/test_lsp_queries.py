"""The language queries behind `genodsl lsp`, in-process: completion by edge role (parsed and
mid-edit text), names across imports, hover and definition, diagnostics of imported files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lsprotocol")

from genodsl.lsp.analysis import analyse  # noqa: E402
from genodsl.lsp.complete import completion  # noqa: E402
from genodsl.lsp.hover import definition, hover  # noqa: E402
from genodsl.lsp.symbols import formatted  # noqa: E402
from genodsl.ops.registry import REGISTRY, OpKind, ops_of_kind  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DOWN = {s.name for s in ops_of_kind(OpKind.DOWN)}
UP = {s.name for s in ops_of_kind(OpKind.UP)}
NORMAL = {s.name for s in ops_of_kind(OpKind.NORMAL)}

LIB = """\
opset Pools = [avg_pool, max_pool]

genotype BASE {
  cell down {
    input s0, s1
    node n2 = down_conv(s1) + down_dep_conv(s0)
    output concat(n2)
  }
  cell up {
    input s0, s1
    node n2 = identity(s0) + up_conv(s1)
    output concat(n2)
  }
}
"""

# mid-edit: `node n3 = ` has no edge yet, so the text does not parse
EDITING = """\
import "lib.geno"

genotype G {
  cell down {
    input a, b
    node n2 = (b) + down_conv(a)
    node n3 = (n2) + avg_pool(a)
    output concat(n2, n3)
  }
  cell up {
    input skip, prev
    node n2 = (skip) + up_conv(prev)
    node n3 = identity(n2) + (prev)
    node n4 =
  }
}

space S {
  cell up {
    input s0, s1
    nodes 2
    from s1 use [up_conv, ]
    from nodes use [ ]
    from s0 use 
  }
}

network N {
  cells = 
}

network M { cells = BASE }
"""


def _at(text: str, needle: str, after: str = "") -> tuple[int, int]:
    """0-based (line, col) of ``needle`` (+ the length of ``after`` into it)."""
    for i, line in enumerate(text.split("\n")):
        if needle in line:
            return i, line.index(needle) + len(after)
    raise AssertionError(needle)


def _labels(analysis, needle: str, after: str = "") -> set[str]:
    return {i.label for i in completion(analysis, *_at(analysis.text, needle, after))}


@pytest.fixture
def editing(tmp_path):
    (tmp_path / "lib.geno").write_text(LIB, encoding="utf-8")
    main = tmp_path / "main.geno"
    return analyse(EDITING, str(main), tmp_path)


def test_mid_edit_text_does_not_parse_but_is_understood(editing):
    assert not editing.parsed and editing.diagnostics[0].code == "E001"
    assert {"Pools", "BASE", "G", "S", "N"} <= set(editing.decls)


@pytest.mark.parametrize("needle, expected", [
    ("(b) + down_conv", DOWN),            # down cell, from its second input
    ("(n2) + avg_pool", NORMAL),          # down cell, between nodes
    ("(skip) + up_conv", NORMAL),         # up cell, from s0 (named `skip` here)
    ("(prev)", UP),                       # up cell, from s1 (named `prev`)
])
def test_op_completion_follows_the_role_of_the_edge_being_typed(editing, needle, expected):
    assert _labels(editing, needle) == expected


def test_op_completion_without_a_source_offers_what_fits_the_cell(editing):
    line, _ = _at(EDITING, "node n4 =")
    got = {i.label for i in completion(editing, line, len("    node n4 = "))}
    assert got == UP | NORMAL  # an up cell; `none` only in search spaces


def test_search_lists_offer_the_role_and_none(editing):
    assert _labels(editing, "from s1 use [up_conv, ]", "from s1 use [up_conv, ") == UP | {"none"}
    assert _labels(editing, "from nodes use [ ]", "from nodes use [ ") == NORMAL | {"none"}


def test_names_across_imports(editing):
    assert _labels(editing, "from s0 use ", "from s0 use ") == {"Pools"}
    assert _labels(editing, "cells = ", "cells = ") == {"BASE", "G", "S"}
    assert _labels(editing, 'import "lib.geno"', 'import "') >= {"lib.geno", "ops.geno"}


def test_op_completion_in_parsed_text_uses_the_ast(tmp_path):
    a = analyse(LIB, str(tmp_path / "lib.geno"), tmp_path)
    assert a.parsed
    assert _labels(a, "identity(s0)", "iden") == NORMAL
    assert _labels(a, "up_conv(s1)", "up_") == UP
    assert _labels(a, "down_dep_conv(s0)", "down_") == DOWN


def test_hover_and_definition_in_text_that_does_not_parse(editing, tmp_path):
    text, _ = hover(editing, *_at(EDITING, "down_conv(a)", "down"))
    assert text.startswith("**down_conv**: down op, has weights")
    [target] = definition(editing, *_at(EDITING, "cells = BASE", "cells = BA"))
    assert (target.file, target.span.line, target.span.col) == (str(tmp_path / "lib.geno"), 3, 10)
    assert definition(editing, *_at(EDITING, "network M", "netw")) == []  # a keyword


def test_hover_and_definition_of_names(tmp_path):
    (tmp_path / "lib.geno").write_text(LIB, encoding="utf-8")
    text = 'import "lib.geno"\n\nnetwork N {\n  cells = BASE\n  C = 4\n}\n'
    a = analyse(text, str(tmp_path / "main.geno"), tmp_path)
    assert a.parsed and a.diagnostics == []
    shown, _ = hover(a, *_at(text, "BASE", "BA"))
    assert shown.startswith("genotype **BASE** (lib.geno:3)") and "node n2 = " in shown
    [target] = definition(a, *_at(text, "BASE", "B"))
    assert (target.file, target.span.line, target.span.col) == (str(tmp_path / "lib.geno"), 3, 10)
    [target] = definition(a, *_at(text, '"lib.geno"', '"li'))
    assert target.file == str((tmp_path / "lib.geno").resolve()) and target.span is None
    shown, _ = hover(a, *_at(text, "C = 4"))
    assert shown.startswith("network entry **C** (default `16`)")
    # a state: its declaration in the same cell
    b = analyse(LIB, str(tmp_path / "lib.geno"), tmp_path)
    [target] = definition(b, *_at(LIB, "output concat(n2)", "output concat("))
    assert (target.span.line, target.span.col) == (6, 10)
    shown, _ = hover(b, *_at(LIB, "up_conv(s1)", "up_conv("))
    assert shown == "input **s1** of the up cell: plays s1, the previous cell"


def test_problems_of_an_imported_file_show_on_the_import_line(tmp_path):
    (tmp_path / "lib.geno").write_text(LIB.replace("max_pool", "max_pol"), encoding="utf-8")
    text = 'import "lib.geno"\n'
    a = analyse(text, str(tmp_path / "main.geno"), tmp_path)
    [diag] = a.diagnostics
    col = LIB.split("\n")[0].index("max_pool") + 1
    assert diag.code == "E010" and diag.message == f"lib.geno:1:{col}: unknown op 'max_pol'"
    assert (diag.span.line, diag.span.col, diag.span.end_col) == (1, 1, len(text))
    assert diag.hint.startswith("did you mean 'max_pool'")


def test_formatting_leaves_text_that_does_not_parse_alone(editing):
    assert formatted(EDITING, editing.file) is None
    assert formatted(LIB, "lib.geno") == LIB


def test_every_op_has_hover_text():
    from genodsl.lsp.hover import op_markdown
    for name, spec in REGISTRY.items():
        text = op_markdown(name)
        assert spec.doc in text and f"{spec.kind.value} op" in text
        assert all(f"| `{p.name}` | {p.default} |" in text for p in spec.params)


def test_the_server_modules_never_import_torch():
    probe = ("import sys, genodsl.lsp.server\n"
             "print(sorted(m for m in ('torch', 'monai', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_ranges_reach_the_client_in_utf16_units(tmp_path):
    pytest.importorskip("pygls")
    from pygls.workspace import TextDocument

    from genodsl.lsp.server import _diagnostic

    text = 'network N { in_channels = "😀"  classes = "x"  cells = G }\n'
    a = analyse(text, str(tmp_path / "n.geno"), tmp_path)
    [bad] = [d for d in a.diagnostics if "'classes'" in d.message]
    rng = _diagnostic(bad, TextDocument((tmp_path / "n.geno").as_uri(), text)).range
    assert bad.span.col - 1 == text.index('"x"')
    assert rng.start.character == text.index('"x"') + 1  # 😀 is one character, two UTF-16 units
