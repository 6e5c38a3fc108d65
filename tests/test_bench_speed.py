"""bench/speed.py's pure helpers: pair statistics, alternation, the network blocks it compiles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import genodsl

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_speed", ROOT / "bench" / "speed.py")
speed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(speed)


def test_pair_speeds_are_a_over_b_per_pair():
    out = speed.pair_speeds([2.0, 3.0, 1.0], [1.0, 3.0, 2.0])  # speeds 2, 1, 0.5
    assert out == {"median": 1.0, "min": 0.5, "max": 2.0}


def test_pair_speeds_need_matching_pairs():
    with pytest.raises(ValueError):
        speed.pair_speeds([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        speed.pair_speeds([], [])


def test_pairs_alternate_which_side_runs_first():
    assert [speed.pair_order(i) for i in range(4)] == [("A", "B"), ("B", "A")] * 2


@pytest.mark.parametrize("row", [r for r in speed.ROWS if r != "augment"])
def test_each_row_block_compiles_to_the_asked_network(row):
    spec = speed.row_spec(row, quick=True)
    path = ROOT / "genotypes" / spec["file"]
    text = path.read_text(encoding="utf-8") + speed.network_block(spec)
    program = genodsl.loads(text, str(path), base_dir=path.parent)
    settings = program.network("bench_speed").settings
    assert (settings.C, settings.depth, settings.classes, settings.in_channels) == (
        spec["C"], spec["depth"], spec["classes"], spec["in_channels"])
    assert settings.dims == (3 if row == "3d" else 2)
    assert program.is_search("bench_speed") == (row in ("darts", "proxyless"))
    assert len(spec["input"]) == settings.dims + 2


def test_full_rows_keep_the_issue_settings():
    train = speed.row_spec("train")
    assert (train["C"], train["depth"], train["input"]) == (32, 5, (2, 1, 256, 256))
    darts = speed.row_spec("darts")
    assert (darts["C"], darts["depth"], darts["classes"], darts["input"]) == (
        16, 4, 21, (2, 3, 128, 128))


def test_augment_row_augments_every_sample_once_per_step_with_new_seeds(monkeypatch):
    from genodsl.data import Augmenter

    spec = speed.row_spec("augment", quick=True)
    seen: list[tuple[tuple[int, ...], int]] = []
    real = Augmenter.__call__

    def spy(self, image, mask, seed):
        out = real(self, image, mask, seed)
        assert out[0].shape == image.shape and out[1].shape == mask.shape
        seen.append((tuple(image.shape), seed))
        return out
    monkeypatch.setattr(Augmenter, "__call__", spy)
    step, counts = speed._augment_step(spec)
    step()
    step()
    n, c, h, w = spec["input"]
    assert counts == {"samples": n}
    assert [s for s, _ in seen] == [(c, h, w)] * (2 * n)
    assert len({seed for _, seed in seen}) == 2 * n
