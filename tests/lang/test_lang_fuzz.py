"""A quick slice of bench/fuzz_geno.py: mutated and special inputs end in a program or a
GenoError, never another exception and never a hang (the full run: 100k inputs in a child
process with a memory limit, and builds)."""

from __future__ import annotations

import importlib.util
import random
import time
from pathlib import Path

import pytest

from genodsl.errors import GenoError

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fuzz_geno", ROOT / "bench" / "fuzz_geno.py")
fuzz_geno = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz_geno)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    fuzz_geno.prepare(folder)
    return folder


def _outcome(kind, payload, index, work) -> str:
    start = time.perf_counter()
    try:
        fuzz_geno.load_input(kind, payload, index, work, cli=False)
        outcome = "ok"
    except GenoError as exc:
        assert exc.diagnostics and str(exc)
        outcome = "GenoError"
    assert time.perf_counter() - start < 5.0, (kind, payload)
    return outcome


def test_mutated_inputs_end_in_a_program_or_a_geno_error(work):
    rng = random.Random(1234)
    seeds = [f.read_text(encoding="utf-8") for f in fuzz_geno.SEED_FILES]
    outcomes = [_outcome(*fuzz_geno.make_input(rng, seeds, i), i, work) for i in range(1, 301)
                if i % 97]  # the special files have their own test
    # the mutations reach both sides: some stay valid, most are caught
    assert outcomes.count("ok") >= 10 and outcomes.count("GenoError") >= 150


@pytest.mark.parametrize("name", fuzz_geno.SPECIALS)
def test_special_files_end_in_a_program_or_a_geno_error(name, work):
    outcome = _outcome("special", name, 0, work)
    assert outcome == ("ok" if name in ("bom", "empty") else "GenoError")


def test_mutators_change_their_input():
    rng = random.Random(0)
    text = fuzz_geno.SEED_FILES[0].read_text(encoding="utf-8")
    assert fuzz_geno.byte_flips(rng, text.encode()) != text.encode()
    assert fuzz_geno.network_edit(rng, "network N { C = 32 }") != "network N { C = 32 }"
    assert "".join(fuzz_geno._tokens(text)) == text  # the tokenizer loses nothing
