"""Comments survive ``fmt``: leading, trailing, end-of-block and blank-line groups.

``golden/fmt/commented.geno`` is a deliberately untidy file; ``commented.expected`` is
its canonical form.  Every comment must come through, in order, and formatting twice must
change nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genodsl.lang import ast
from genodsl.lang.loader import load
from genodsl.lang.parse import parse
from genodsl.lang.printer import format_module

FMT = Path(__file__).resolve().parent / "golden" / "fmt"
SOURCE = (FMT / "commented.geno").read_text(encoding="utf-8")
EXPECTED = (FMT / "commented.expected").read_text(encoding="utf-8")


def _comments(text: str) -> list[str]:
    return [m.group(0).rstrip() for m in re.finditer(r"#[^\n]*", text)]


def test_canonical_form():
    assert format_module(parse(SOURCE)) == EXPECTED


def test_every_comment_survives_in_order():
    assert _comments(EXPECTED) == _comments(SOURCE)


def test_formatting_is_idempotent_and_round_trips():
    module = parse(SOURCE)
    assert parse(format_module(module)) == module
    assert format_module(parse(EXPECTED)) == EXPECTED


def test_the_commented_file_is_a_valid_program():
    program = load(FMT / "commented.geno")
    assert set(program.genotypes) >= {"G"} and "S" in program.spaces and "N" in program.networks


def test_where_each_comment_lands():
    module = parse(SOURCE)
    imp, _, geno, space, net = module.items
    assert imp.leading == ("# file header comment", "# second header line", "",
                           "# a group after a blank line")
    assert imp.trailing == "# trailing on import"
    assert geno.leading == ("# leading comment of the genotype",)
    assert geno.trailing == "# on the header line"
    keep, down, up = geno.body
    assert down.leading == ("# before the down cell", "", "# a second group, after two blank lines")
    inputs, node, output = down.body
    assert inputs.trailing == "# the inputs"
    assert node.leading == ("", "# node comment after a blank line", "# inside the node")
    assert down.end_comments == ("# end of the down cell", "", "# and a second end group")
    assert geno.end_comments == ("# end of the genotype",)
    assert space.body[0].body[2].trailing == "# trailing on a use line"
    assert space.body[0].body[4].leading == ("# before the nodes line",)
    cells, c = net.body
    assert cells.leading == ("# leading of cells",) and cells.trailing == "# trailing of cells"
    assert c.leading == ("",)  # one blank line between entries is kept
    assert net.end_comments == ("# end of network",)
    assert module.end_comments == ("# end of file 1", "", "# end of file 2")


@pytest.mark.parametrize("text", [
    "genotype G {\n  cell down {  # c\n  }\n}\n",
    "opset A = [\n  conv,  # first\n  identity,\n]  # after\n",
    "network N {\n  C = 3\n\n\n\n  # far below\n}\n",
    "# only\n# comments\n\n# here\n",
])
def test_small_commented_files_round_trip(text):
    module = parse(text)
    once = format_module(module)
    assert parse(once) == module
    assert format_module(parse(once)) == once
    assert _comments(once) == _comments(text)


def test_blank_lines_inside_a_block_collapse_to_one():
    text = "network N {\n  C = 3\n\n\n\n  depth = 2\n}\n"
    assert format_module(parse(text)) == "network N {\n  C     = 3\n\n  depth = 2\n}\n"


def test_a_block_header_comment_stays_on_the_header():
    (geno,) = parse("genotype G {  # why\n  keep 2\n}\n").items
    assert isinstance(geno, ast.GenotypeDecl) and geno.trailing == "# why"
    assert geno.body[0].leading == ()
