"""Property tests: random valid programs round-trip, grammar-generated texts never leak
lark, corrupted files only ever raise GenoError (and quickly)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import lark
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from genodsl.lang import ast
from genodsl.compile import build
from genodsl.errors import GenoError
from genodsl.lang.ir import NetworkSettings, Network
from genodsl.lang.loader import builtin_dir, loads
from genodsl.lang.grammar import grammar_text
from genodsl.lang.parse import parse
from genodsl.lang.printer import format_module, program_to_module

from geno_strategies import corrupt, genotype, names, programs

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("genotypes/*.geno"))
         + sorted(ROOT.glob("examples/*.geno"))
         + [Path(__file__).parent / "golden" / "fmt" / "commented.geno"]]

def fast(examples: int) -> settings:
    """Few examples, no per-example deadline: each property stays within a few seconds."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- (a) random valid programs ------------------------------------------------------------
@fast(60)
@given(programs())
def test_random_valid_programs_round_trip(module):
    text = format_module(module)
    assert parse(text) == module                      # the printer loses nothing
    assert format_module(parse(text)) == text         # and is a fixed point
    program = loads(text)                             # validation accepts it
    assert set(program.genotypes) | set(program.spaces) | set(program.networks) | set(
        program.opsets) == {d.name.text for d in module.items}
    dumped = format_module(program_to_module(program))
    assert loads(dumped) == program                   # loads(dumps(p)) == p
    assert format_module(program_to_module(loads(dumped))) == dumped


@fast(12)
@given(st.data())
def test_random_genotypes_compile_and_keep_the_image_size(data):
    decl = data.draw(genotype(data.draw(names)))
    program = loads(format_module(ast.Module((decl,))))
    (name,) = program.genotypes
    settings = NetworkSettings(cells=name, C=2, depth=data.draw(st.integers(1, 2)), in_channels=1,
                  classes=2)
    program = dataclasses.replace(program, networks={"t": Network("t", settings)})
    model = build(program, "t")
    x = torch.randn(1, 1, 16, 16)
    assert model(x).shape == (1, 2, 16, 16)


# ---- (b) texts generated from the grammar ---------------------------------------------
GRAMMAR = lark.Lark(grammar_text(), parser="lalr", lexer="basic")


def _padded(strategy):
    """from_lark only sometimes draws whitespace between tokens; `genotypeG` is one name,
    so words get a space on each side (gluing is tested on its own in test_lang_syntax)."""
    return strategy.map(lambda t: f" {t} ")


_WORDS = {t.name: _padded(st.just(t.pattern.value)) for t in GRAMMAR.terminals
          if isinstance(t.pattern, lark.lexer.PatternStr) and t.pattern.value.isalpha()}
GENERATED = from_lark(GRAMMAR, explicit={
    **_WORDS,
    "COMMENT": st.from_regex(r"#[ -~]{0,8}\n", fullmatch=True),
    # (a keyword where a name goes is covered by test_lang_syntax and the corruptions)
    "NAME": _padded(names),
    "NUMBER": _padded(st.from_regex(r"[+-]?[0-9]{1,3}(\.[0-9]{0,2})?", fullmatch=True)
                      | st.sampled_from(["1e999", "-0.0", "1e16", ".5", "5.", "2E-3", "007"])),
})


@fast(150)
@given(GENERATED)
def test_grammar_generated_texts_parse_or_raise_geno_errors(text):
    try:
        module = parse(text, "gen.geno")
    except GenoError as exc:
        assert exc.diagnostics and str(exc)
        return
    once = format_module(module)
    assert parse(once) == module
    assert format_module(parse(once)) == once


def test_grammar_generator_mostly_yields_parseable_texts():
    """Guard against a generator that only exercises the error path."""
    ok = 0

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(GENERATED)
    def count(text):
        nonlocal ok
        try:
            parse(text)
            ok += 1
        except GenoError:
            pass

    count()
    assert ok >= 20


# ---- (c) corrupted files ----------------------------------------------------------------
def _check_spans(exc: GenoError, text: str) -> None:
    lines = text.split("\n")
    for d in exc.diagnostics:
        if d.span is None or d.span.file != "bad.geno":
            continue
        assert 1 <= d.span.line <= len(lines), d.render()
        assert d.span.line_text == lines[d.span.line - 1].rstrip("\r"), d.render()
        assert d.span.col >= 1


@fast(200)
@given(st.sampled_from(SEEDS).flatmap(corrupt))
def test_corrupted_files_only_raise_geno_errors(text):
    start = time.perf_counter()
    try:
        program = loads(text, file="bad.geno", base_dir=builtin_dir())
    except GenoError as exc:
        assert exc.diagnostics
        assert str(exc)
        _check_spans(exc, text)
    else:  # the edit left a valid file (e.g. a swapped comment): it must still round-trip
        module = parse(text)
        assert parse(format_module(module)) == module
        assert loads(format_module(program_to_module(program))) == program
    assert time.perf_counter() - start < 5.0  # never hangs


@pytest.mark.parametrize("text", [
    "opset A = [conv(k=1e400)]",         # an infinite float
    "network N { cells = X\n C = 1e999 }",
    "genotype G { keep 99999999999999999999 }",
    'import "' + "../" * 40 + 'x.geno"',
    "\ufeffopset A = [conv]",            # a byte-order mark
    "opset A = [conv]\x0cnetwork",       # a form feed
    "genotype G {" * 200,                # deep nesting
])
def test_odd_inputs_only_raise_geno_errors(text):
    try:
        loads(text, file="bad.geno", base_dir=builtin_dir())
    except GenoError as exc:
        _check_spans(exc, text)
