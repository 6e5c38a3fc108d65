"""The language reference documents every diagnostic code and every op of the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genodsl.ops.registry import ALIASES, REGISTRY

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
LANGUAGE_MODULES = ["lang/parse.py", "lang/syntax_errors.py", "lang/grammar.py", "lang/lower.py",
                    "lang/validate.py", "lang/loader.py", "lang/limits.py",
                    "compile/__init__.py", "cli/common.py"]


def _codes() -> set[str]:
    found: set[str] = set()
    for name in LANGUAGE_MODULES:
        text = (ROOT / "genodsl" / name).read_text(encoding="utf-8")
        found |= set(re.findall(r'"([EW]0\d\d)"', text))
    return found


@pytest.mark.parametrize("code", sorted(_codes()))
def test_every_language_diagnostic_is_documented(code):
    assert re.search(rf"^\| {code} \|", DOC, re.M), f"{code} missing from docs/language.md"


@pytest.mark.parametrize("op", sorted(REGISTRY) + sorted(ALIASES))
def test_every_op_is_documented(op):
    assert f"`{op}`" in DOC


def test_tour_shows_every_construct():
    tour = (ROOT / "examples" / "tour.geno").read_text(encoding="utf-8")
    for construct in ("import ", "opset ", "genotype ", "keep ", "cell down", "cell up",
                      "input ", "node ", "output concat", "space ", "nodes ", "from s0 use",
                      "from nodes use", "use [", "network ", "backbone", "#"):
        assert construct in tour, construct
