"""A tiny search on a space with a normal cell: every strategy derives a genotype with its
normal cell and a network with the search network's shape, which reloads and compiles."""

from __future__ import annotations

import pytest
import torch

from genodsl.compile import build
from genodsl.lang.ir import CellType
from genodsl.lang.loader import load
from genodsl.search.runner import run_search
from genodsl.search.strategies import STRATEGIES
from search_helpers import tiny_job

SHAPED = '''import "nasunet_space.geno"

network tiny {
  cells           = NASUNET_NORMAL_SPACE
  C               = 4
  depth           = 2
  stem_multiplier = 3
  widths          = [4, 4, 8]
  full_res_cells  = 1
  cells_per_level = 2
}
'''


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_search_derives_the_normal_cell_and_the_shape(tmp_path, name) -> None:
    space = tmp_path / "shaped.geno"
    space.write_text(SHAPED, encoding="utf-8")
    res = run_search(tiny_job(space, tmp_path / name, strategy=name, epochs=1))
    assert res.status == "completed"
    assert all(torch.isfinite(torch.tensor(r["weight_loss"])) for r in res.history)
    program = load(res.genotype_file)  # the file as written, no import
    (genotype,) = program.genotypes.values()
    assert set(genotype.cells) == {CellType.DOWN, CellType.UP, CellType.NORMAL}
    settings = program.networks["tiny_derived"].settings
    assert (settings.widths, settings.full_res_cells, settings.cells_per_level) == \
        ((4, 4, 8), 1, 2)
    model = build(program, "tiny_derived")
    assert len(model.normal_cells) == 4
    assert model(torch.randn(1, 1, 16, 16)).shape == (1, 2, 16, 16)
    assert set(res.history[-1]["param_free_share"]) == {"down", "up", "normal"}


def test_plots_and_renders_cover_the_normal_cell(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    space = tmp_path / "shaped.geno"
    space.write_text(SHAPED, encoding="utf-8")
    run_search(tiny_job(space, tmp_path / "p", epochs=1, plots=True))
    assert (tmp_path / "p" / "alphas_normal.png").is_file()
    assert {p.name.split(".")[0] for p in (tmp_path / "p" / "cells").iterdir()} >= \
        {"normal", "normal_alphas"}
