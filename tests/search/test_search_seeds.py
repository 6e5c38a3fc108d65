"""`genodsl search --seeds N`: N searches, each genotype scored, the best kept with provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genodsl.cli import main
from genodsl.lang.loader import load
from genodsl.search import seeds as seeds_mod

TINY = ["--network", "tiny", "--data", "synthetic", "--epochs", "1", "--steps-per-epoch", "1",
        "--batch-size", "2", "--size", "16", "--no-progress",
        "--set", "search.warmup_epochs=0", "--set", "search.plots=false",
        "--set", "data.synthetic.n_images=8", "--set", "data.synthetic.size=[16, 16]",
        "--set", "data.augment.enabled=false", "--set", "train.batch_size=2",
        "--set", "train.count_flops=false", "--set", "search.select_epochs=1"]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _fixed_scores(monkeypatch, scores: dict[int, float]) -> list[int]:
    """Replace the scorer by a table: the answer is fixed (the seed scoring highest)."""
    calls: list[int] = []

    def score(job, seed: int, folder: Path) -> float:
        assert (folder / "genotype.geno").is_file()
        calls.append(seed)
        return scores[seed]

    monkeypatch.setattr(seeds_mod, "score_genotype", score)
    return calls


def test_seeds_keep_the_best_scored_genotype_and_name_it(space_file, tmp_path, monkeypatch,
                                                         capsys) -> None:
    calls = _fixed_scores(monkeypatch, {3: 0.41, 4: 0.93, 5: 0.72})
    out = tmp_path / "sel"
    code, stdout, err = run(["search", str(space_file), *TINY, "--seed", "3", "--seeds", "3",
                             "--out", str(out)], capsys)
    assert code == 0, err
    assert calls == [3, 4, 5]
    assert "selected seed 4" in stdout
    text = (out / "genotype.geno").read_text(encoding="utf-8")
    assert text.startswith("# Selected by `genodsl search --seeds 3`: seed 4 wins, "
                           "validation DSC 0.9300.")
    assert "seed 3: 0.4100, seed 4: 0.9300, seed 5: 0.7200" in text
    # the winner's own file, unchanged below the selection header; the others beside it
    assert text.endswith((out / "seed_4" / "genotype.geno").read_text(encoding="utf-8"))
    assert "NASUNET_SPACE_darts_s4" in load(out / "genotype.geno").genotypes
    for seed in (3, 5):
        assert f"NASUNET_SPACE_darts_s{seed}" in load(out / f"seed_{seed}" /
                                                       "genotype.geno").genotypes
    record = json.loads((out / "selection.json").read_text(encoding="utf-8"))
    assert record["winner"] == 4 and record["status"] == "completed"
    assert record["scores"] == {"3": 0.41, "4": 0.93, "5": 0.72}
    # every seed searched on the same split (and the same synthetic images)
    splits = {(out / f"seed_{s}" / "split.json").read_text(encoding="utf-8") for s in (3, 4, 5)}
    assert len(splits) == 1


def test_resume_skips_finished_seeds(space_file, tmp_path, monkeypatch, capsys) -> None:
    _fixed_scores(monkeypatch, {0: 0.8, 1: 0.5})
    out = tmp_path / "sel"
    code, _, err = run(["search", str(space_file), *TINY, "--seeds", "2", "--out", str(out)],
                       capsys)
    assert code == 0, err
    # seed 1's search looks unfinished; seed 0's is done
    (out / "seed_1" / "summary.json").unlink()
    (out / "genotype.geno").unlink()
    searched: list[Path] = []
    real = seeds_mod.run_search

    def counting(job, **kw):
        searched.append(job.out)
        return real(job, **kw)

    monkeypatch.setattr(seeds_mod, "run_search", counting)
    code, stdout, err = run(["search", "--resume", "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    assert searched == [out / "seed_1"]
    assert "seed 0: search finished already" in err
    assert "seed 0 wins" in (out / "genotype.geno").read_text(encoding="utf-8")
    # a new selection into the same folder is refused (exit 2), nothing overwritten
    before = (out / "genotype.geno").read_text(encoding="utf-8")
    code, _, err = run(["search", str(space_file), *TINY, "--seeds", "2", "--out", str(out)],
                       capsys)
    assert code == 2 and "already holds a selection" in err
    assert (out / "genotype.geno").read_text(encoding="utf-8") == before


def test_the_real_scorer_trains_each_genotype_briefly(space_file, tmp_path, capsys) -> None:
    out = tmp_path / "sel"
    code, stdout, err = run(["search", str(space_file), *TINY, "--seeds", "2", "--out",
                             str(out)], capsys)
    assert code == 0, err
    record = json.loads((out / "selection.json").read_text(encoding="utf-8"))
    scores = {int(k): v for k, v in record["scores"].items()}
    assert set(scores) == {0, 1} and all(0.0 <= v <= 1.0 for v in scores.values())
    assert record["winner"] == max(sorted(scores), key=lambda s: scores[s])
    for seed in (0, 1):
        summary = json.loads((out / f"seed_{seed}" / "select" / "summary.json").read_text(encoding="utf-8"))
        assert summary["epochs_completed"] == 1 and summary["dsc"] == scores[seed]


def test_pick_winner_ties_and_missing_scores_go_to_the_lower_seed() -> None:
    assert seeds_mod.pick_winner({2: 0.5, 0: 0.5, 1: None}) == 0
    assert seeds_mod.pick_winner({0: None, 1: 0.1}) == 1
