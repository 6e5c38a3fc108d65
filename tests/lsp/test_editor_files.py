"""editors/vscode: valid JSON, and a grammar that knows every keyword of geno.lark and every op
of the registry (and no op the registry does not have)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genodsl.ops.registry import ALIASES, REGISTRY

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "geno.tmLanguage.json").read_text("utf-8"))
KEYWORDS = sorted(set(re.findall(r'"([a-z]+)"', (ROOT / "grammars" / "geno.lark").read_text(encoding="utf-8"))))


def _rules() -> list[dict]:
    """Every rule of the grammar that matches (top-level patterns resolve through includes)."""
    repo = GRAMMAR["repository"]
    out = []
    for pattern in GRAMMAR["patterns"]:
        rule = repo[pattern["include"][1:]] if "include" in pattern else pattern
        out.append(rule)
    return out


def _scoped(prefixes: tuple[str, ...]) -> list[re.Pattern]:
    return [re.compile(r["match"]) for r in _rules()
            if "match" in r and r.get("name", "").startswith(prefixes)]


def test_package_json_wires_the_language_grammar_and_configuration():
    package = json.loads((VSCODE / "package.json").read_text("utf-8"))
    [language] = package["contributes"]["languages"]
    [grammar] = package["contributes"]["grammars"]
    assert language["extensions"] == [".geno"] and grammar["language"] == language["id"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"] == "source.geno"
    assert (VSCODE / grammar["path"]).is_file()
    config = json.loads((VSCODE / language["configuration"]).read_text("utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert {tuple(b) for b in config["brackets"]} == {("{", "}"), ("[", "]"), ("(", ")")}
    assert {p["open"] for p in config["autoClosingPairs"]} == {"{", "[", "(", '"'}


def test_every_include_resolves_and_every_regex_compiles():
    for pattern in GRAMMAR["patterns"]:
        assert pattern["include"][1:] in GRAMMAR["repository"]
    for rule in _rules():
        re.compile(rule["match"])


@pytest.mark.parametrize("word", KEYWORDS)
def test_every_keyword_of_the_grammar_is_highlighted(word):
    assert any(p.fullmatch(word) for p in _scoped(("keyword.", "constant.language."))), word


def test_the_op_rule_lists_exactly_the_registry():
    [rule] = [r for r in _rules() if r.get("name") == "support.function.op.geno"]
    listed = set(re.fullmatch(r"\\b\((.*)\)\\b", rule["match"]).group(1).split("|"))
    assert listed == set(REGISTRY) | set(ALIASES)


def test_comments_strings_and_numbers():
    [comment] = _scoped(("comment.",))
    [string] = _scoped(("string.",))
    [number] = _scoped(("constant.numeric",))
    assert comment.search("  node n2 = conv(s0)  # a note").group() == "# a note"
    assert string.fullmatch('"ops.geno"')
    for text in ("3", "-1.5", "2e-3", ".5"):
        assert number.fullmatch(text), text
    assert not number.search("n2")  # a digit inside a name is not a number
