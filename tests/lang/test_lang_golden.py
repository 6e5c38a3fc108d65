"""Golden error messages: each bad ``.geno`` file → the exact text the user sees.

The cases live in ``golden/bad/NAME.geno`` with their message in ``NAME.expected``
(regenerate with ``python tests/lang/regen_golden.py``, then read every diff).  Files
starting with ``_`` are helpers (the other half of an import cycle).
"""

from __future__ import annotations

import re

import pytest

from genodsl.errors import GenoError, GenoImportError, GenoSyntaxError, GenoValidationError
from genodsl.lang.loader import load, loads
from genodsl.lang.validate import check_input
from genodsl.errors import render_all
from genodsl.lang.ir import CellType

from regen_golden import GOLDEN, cases, render

CASES = cases()


def test_enough_distinct_golden_cases():
    assert len(CASES) >= 30
    texts = [(GOLDEN / f"{c}.geno").read_text(encoding="utf-8") for c in CASES]
    assert len(set(texts)) == len(texts), "two golden cases share one input"
    assert not [c for c in CASES if not (GOLDEN / f"{c}.expected").exists()]


@pytest.mark.parametrize("name", CASES)
def test_golden_message(name):
    expected = (GOLDEN / f"{name}.expected").read_text(encoding="utf-8")
    assert render(name) == expected


_HEAD = re.compile(r"^(?P<file>[\w.]+\.geno):(?P<line>\d+):(?P<col>\d+): "
                   r"(error|warning)\[[EW]\d{3}\]: \S")


@pytest.mark.parametrize("name", CASES)
def test_every_message_points_at_a_token(name):
    """Each diagnostic names file:line:col (relative), quotes that line and puts a caret
    under the column it names."""
    text = (GOLDEN / f"{name}.expected").read_text(encoding="utf-8")
    blocks = [b for b in text.rstrip("\n").split("\n\n") if not re.fullmatch(r"\d+ \w+.*", b)]
    assert blocks
    for block in blocks:
        lines = block.split("\n")
        head = _HEAD.match(lines[0])
        assert head, lines[0]
        assert not head["file"].startswith("/")
        line, col = int(head["line"]), int(head["col"])
        source = (GOLDEN / head["file"]).read_text(encoding="utf-8").splitlines()
        gutter = f"{line:>4} | "
        assert lines[1] == gutter + source[line - 1]
        caret = lines[2][len(gutter):]
        assert caret.index("^") == col - 1
        assert set(caret.strip()) == {"^"}


# The kind of error each case raises (what the CLI and API callers catch).
SYNTAX = {c for c in CASES if c.startswith("syntax_")}
IMPORT = {"import_cycle", "missing_import"}


@pytest.mark.parametrize("name", sorted(set(CASES) - {"warn_shuffle_conv"}))
def test_error_class(name, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(GenoError) as info:
        load(f"{name}.geno")
    kind = (GenoSyntaxError if name in SYNTAX else GenoImportError if name in IMPORT
            else GenoValidationError)
    assert type(info.value) is kind
    assert info.value.errors, "an error is raised only with at least one error diagnostic"


def test_two_problems_are_reported_in_order_with_a_count():
    text = (GOLDEN / "two_problems.expected").read_text(encoding="utf-8")
    first, second = text.index("error[E010]"), text.index("error[E015]")
    assert first < second
    assert text.rstrip().endswith("2 errors")


def test_warning_does_not_stop_loading(monkeypatch):
    monkeypatch.chdir(GOLDEN)
    program = load("warn_shuffle_conv.geno")
    (warning,) = program.warnings
    assert warning.code == "W001"
    up = program.genotypes["G"].cells[CellType.UP]
    (edge,) = [e for src, _, e in up.op_edges() if src == "s0"]
    assert (edge.op.name, edge.op.written) == ("conv", "shuffle_conv")


# ---- the input checks happen later, against a concrete tensor shape ---------------------
NET = '''import "nasunet.geno"

network N {
  cells       = NASUNET
  in_channels = 1
  depth       = 3
}
'''


def _net():
    return loads(NET, file="net.geno").networks["N"]


def test_check_input_accepts_a_fitting_shape():
    assert check_input(_net(), (2, 1, 64, 48)) == []


def test_check_input_channel_mismatch():
    assert render_all(check_input(_net(), (2, 3, 64, 64))) == """\
net.geno:5:17: error[E047]: channel mismatch: the input has 3 channels but network 'N' takes in_channels = 1
   5 |   in_channels = 1
     |                 ^
   hint: use an input of 1 channel or change in_channels"""


def test_check_input_size_not_divisible():
    assert render_all(check_input(_net(), (1, 1, 100, 64))) == """\
net.geno:6:17: error[E048]: spatial mismatch: input height 100 is not divisible by 2^(depth+1) = 16 (depth 3)
   6 |   depth       = 3
     |                 ^
   hint: use 96 or 112, or a smaller depth"""


def test_check_input_reports_both_dimensions_and_channels_at_once():
    diags = check_input(_net(), (1, 2, 20, 40))
    assert [d.code for d in diags] == ["E047", "E048", "E048"]
    assert "input width 40" in diags[2].message and "use 32 or 48" in diags[2].hint
    assert render_all(diags).endswith("\n\n3 errors")


def test_check_input_wants_four_dimensions():
    (diag,) = check_input(_net(), (1, 64, 64))
    assert diag.render() == "error[E048]: the input must be N×C×H×W, got 1×64×64"
