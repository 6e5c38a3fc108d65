"""The syntax-error catalogue is its own test table; lexing and parse errors never leak lark."""

from __future__ import annotations

import pytest

from genodsl.lang import ast
from genodsl.errors import GenoSyntaxError
from genodsl.lang.parse import parse
from genodsl.lang.syntax_errors import SYNTAX_CATALOGUE

EXAMPLES = [(label, ex) for label, exs in SYNTAX_CATALOGUE.items() for ex in exs]


def _hint(text: str) -> str:
    with pytest.raises(GenoSyntaxError) as info:
        parse(text, "t.geno")
    (diag,) = info.value.diagnostics
    assert diag.code == "E001" and diag.span is not None and diag.span.file == "t.geno"
    return diag.hint or ""


@pytest.mark.parametrize("label,example", EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_catalogue_example_gets_its_label(label, example):
    hint = _hint(example)
    if label.startswith("a keyword"):
        assert "is a keyword and cannot be used as a name" in hint
    else:
        assert hint.startswith(label)


@pytest.mark.parametrize("label,example", EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_label_does_not_depend_on_what_comes_before(label, example):
    """Earlier declarations deepen lark's parser stack; the label must still be found."""
    prefix = 'import "ops.geno"\nopset Z = [conv]\ngenotype E { keep 2 }\n'
    hint = _hint(prefix + example)
    if label.startswith("a keyword"):
        assert "is a keyword" in hint
    else:
        assert hint.startswith(label)


def test_label_found_for_a_later_statement_of_a_block():
    hint = _hint("genotype G {\n  cell down {\n    input s0, s1\n    node n2 conv(s0)\n  }\n}\n")
    assert hint == "a node needs '=' before its edges"


@pytest.mark.parametrize("text,keyword", [
    ("genotype G { cell down { node output = conv(s0) } }", "output"),
    ("network true { }", "true"),
    ("opset nodes = [conv]", "nodes"),
])
def test_keyword_used_as_a_name_is_named(text, keyword):
    assert _hint(text).startswith(f"'{keyword}' is a keyword and cannot be used as a name")


@pytest.mark.parametrize("text,name", [("genotype cella { }", "cella"),
                                       ("genotype cellcell { }", "cellcell"),
                                       ("genotype nodes_ { }", "nodes_"),
                                       ("genotype inputs { }", "inputs")])
def test_a_keyword_prefix_is_just_a_name(text, name):
    (decl,) = parse(text).items
    assert isinstance(decl, ast.GenotypeDecl) and decl.name.text == name


def test_glued_keyword_and_name_is_one_name_not_two_tokens():
    with pytest.raises(GenoSyntaxError) as info:
        parse("genotypeG { }")
    assert "unexpected 'genotypeG'" in str(info.value)


def test_unexpected_character_says_what_was_expected():
    with pytest.raises(GenoSyntaxError) as info:
        parse("opset A = [conv; identity]", "t.geno")
    assert str(info.value).splitlines()[0] == (
        "t.geno:1:16: error[E001]: unexpected character ';'; expected one of '(', ',', ']'")


def test_unclosed_block_names_the_innermost_open_block():
    text = "genotype G {\n  cell down {\n    input s0, s1\n"
    assert _hint(text).endswith("'cell down {' at line 2 is never closed")


def test_expected_tokens_are_only_those_that_fit():
    # LALR merges look-aheads of `value`; the message lists only what can follow here.
    with pytest.raises(GenoSyntaxError) as info:
        parse("network N { C = 3")
    assert "expected one of '}', a name" in str(info.value)


@pytest.mark.parametrize("text,what", [("genotype G { keep 0 }", "keep"),
                                       ("genotype G { keep 2.5 }", "keep"),
                                       ("space S { cell down { nodes -1 } }", "nodes")])
def test_counts_must_be_whole_and_positive(text, what):
    with pytest.raises(GenoSyntaxError) as info:
        parse(text)
    (diag,) = info.value.diagnostics
    assert diag.code == "E002" and diag.message.startswith(f"{what} must be a whole number ≥ 1")


def test_syntax_error_position_at_end_of_file_is_after_the_last_token():
    with pytest.raises(GenoSyntaxError) as info:
        parse("network N {\n  C = 3\n\n\n")
    span = info.value.diagnostics[0].span
    assert (span.line, span.col) == (2, 8)


def test_empty_and_comment_only_files_parse():
    assert parse("").items == ()
    module = parse("# only a note\n")
    assert module.items == () and module.end_comments == ("# only a note",)


@pytest.mark.parametrize("text", ["network N { C = 1e999 }", "opset A = [conv(k=-1e400)]"])
def test_infinite_numbers_are_rejected(text):
    # they would print back as the name `inf`, so fmt would change the program
    with pytest.raises(GenoSyntaxError) as info:
        parse(text)
    assert info.value.diagnostics[0].code == "E006"
    assert "is too large" in info.value.diagnostics[0].message


def test_numbers_keep_their_type():
    (net,) = parse("network N { a = 3\n b = 3.0\n c = -0.5\n d = 1e3\n e = 007 }").items
    values = [e.value for e in net.body]
    assert values == [3, 3.0, -0.5, 1000.0, 7]
    assert [type(v) for v in values] == [int, float, float, float, int]
