"""Shared fixtures: the repo's folders and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

# CI explores the same examples every run (a failure there is reproducible here with CI=true);
# local runs keep hypothesis' random exploration.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
GENOTYPES = ROOT / "genotypes"
SHARED_DATA = ROOT.parent / "shared" / "data"

torch.set_num_threads(1)  # two pytest workers on two cores


@pytest.fixture
def cli(capsys):
    """Run ``genodsl ARGS``; return (exit code, stdout, stderr)."""
    from genodsl.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
