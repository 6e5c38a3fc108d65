"""Fixtures for the search tests; helpers live in search_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genodsl.lang.ir import Program
from genodsl.lang.loader import load
from search_helpers import TINY_GENO


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def space_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("space") / "tiny_space.geno"
    path.write_text(TINY_GENO, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def program(space_file: Path) -> Program:
    return load(space_file)


