"""Splits by case: no leakage, seeded, contiguous mode, saved and re-read for resumed runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genodsl.data import (SplitConfig, SplitMode, build_datasets, load_split, make_split,
                          parse_data_config, save_split)
from genodsl.errors import DataError

CASES = [f"case{i}" for i in range(10)]


@settings(max_examples=60, deadline=None, database=None)
@given(cases=st.lists(st.text("abcxyz0123", min_size=1, max_size=6), min_size=2, max_size=30,
                      unique=True),
       fraction=st.floats(0.01, 0.9), seed=st.integers(0, 2**31 - 1),
       contiguous=st.booleans())
def test_split_is_a_partition_of_the_cases(cases, fraction, seed, contiguous) -> None:
    cfg = SplitConfig(val_fraction=fraction,
                      mode=SplitMode.CONTIGUOUS if contiguous else SplitMode.RANDOM)
    split = make_split(cases, cfg, seed)
    assert not set(split.train) & set(split.val)
    assert set(split.train) | set(split.val) == set(cases)
    assert len(split.train) >= 1 and len(split.val) >= 1


def test_same_seed_same_split_and_seeds_differ() -> None:
    cfg = SplitConfig(val_fraction=0.3)
    assert make_split(CASES, cfg, 7) == make_split(list(reversed(CASES)), cfg, 7)
    assert len({make_split(CASES, cfg, s).val for s in range(10)}) > 1
    assert len(make_split(CASES, cfg, 0).val) == 3


def test_contiguous_mode_takes_the_last_block_in_natural_order() -> None:
    slices = [str(i) for i in range(30)]
    split = make_split(slices, SplitConfig(mode=SplitMode.CONTIGUOUS, val_count=6), 0)
    assert split.val == tuple(str(i) for i in range(24, 30))
    assert split.train == tuple(str(i) for i in range(24))


def test_explicit_val_cases_and_count() -> None:
    split = make_split(CASES, SplitConfig(val_cases=("case3", "case5")))
    assert split.val == ("case3", "case5") and len(split.train) == 8
    assert len(make_split(CASES, SplitConfig(val_count=4), 1).val) == 4
    assert make_split(CASES, SplitConfig(val_fraction=0.0)).val == ()
    with pytest.raises(DataError, match="unknown cases: nope"):
        make_split(CASES, SplitConfig(val_cases=("nope",)))


def test_too_few_cases() -> None:
    with pytest.raises(DataError, match="cannot split 1 case"):
        make_split(["only"], SplitConfig(val_fraction=0.2))
    with pytest.raises(DataError, match="keep one for training"):
        make_split(CASES, SplitConfig(val_count=10))
    assert len(make_split(["a", "b"], SplitConfig(val_fraction=0.9)).train) == 1


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    split = make_split(CASES, SplitConfig(), 3)
    path = save_split(split, tmp_path / "run" / "split.json")
    assert load_split(path) == split
    assert json.loads(path.read_text(encoding="utf-8"))["val"] == list(split.val)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not a valid split file") as err:
        load_split(path)
    assert "split.json" in str(err.value)


def test_no_case_on_both_sides_with_many_slices_per_case(folder_data) -> None:
    root = folder_data(n=8, nested=True)  # 4 cases with 2 slices each
    cfg = parse_data_config({"root": str(root), "class_map": {0: 0, 255: 1}, "size": None,
                             "split": {"val_fraction": 0.5}})
    train, val = build_datasets(cfg)
    train_cases = {s["case"] for s in train}
    val_cases = {s["case"] for s in val}
    assert not train_cases & val_cases and len(train) == len(val) == 4
    assert train_cases | val_cases == {"case0", "case1", "case2", "case3"}


def test_resumed_run_reuses_the_stored_split(folder_data, tmp_path: Path) -> None:
    root = folder_data(n=8)
    run = tmp_path / "run"
    base = {"root": str(root), "class_map": {0: 0, 255: 1}, "size": None}
    train, val = build_datasets(parse_data_config({**base, "seed": 1}), run)
    stored = load_split(run / "split.json")
    assert set(stored.val) == set(val.cases) and set(stored.train) == set(train.cases)
    # another seed would give another split, but the run folder's split wins
    train2, val2 = build_datasets(parse_data_config({**base, "seed": 99}), run)
    assert val2.cases == val.cases and train2.cases == train.cases


def test_stored_split_must_match_the_data(folder_data, tmp_path: Path) -> None:
    root = folder_data(n=4)
    run = tmp_path / "run"
    save_split(make_split(["img00", "img01", "gone"], SplitConfig(), 0), run / "split.json")
    with pytest.raises(DataError, match="does not match the data") as err:
        build_datasets(parse_data_config({"root": str(root), "class_map": {0: 0, 255: 1},
                                          "size": None}), run)
    text = str(err.value)
    assert "not in the data: gone" in text and "img02" in text and "split.json" in text


@settings(max_examples=40, deadline=None, database=None)
@given(n=st.integers(5, 40), folds=st.integers(2, 5), seed=st.integers(0, 2**31 - 1),
       contiguous=st.booleans())
def test_folds_are_disjoint_by_case_and_cover_every_case(n, folds, seed, contiguous) -> None:
    cases = [f"case{i}" for i in range(n)]
    mode = SplitMode.CONTIGUOUS if contiguous else SplitMode.RANDOM
    splits = [make_split(cases, SplitConfig(folds=folds, fold=k, mode=mode), seed)
              for k in range(folds)]
    vals = [set(s.val) for s in splits]
    assert set().union(*vals) == set(cases)                       # every case validated once
    assert sum(len(v) for v in vals) == n                         # ... and only once
    assert max(map(len, vals)) - min(map(len, vals)) <= 1
    for s in splits:
        assert set(s.train) == set(cases) - set(s.val)            # disjoint, nothing lost
        assert s.fold is not None and s.folds == folds


def test_fold_splits_are_seeded_saved_and_checked(tmp_path: Path) -> None:
    cfg = SplitConfig(fold=1)  # 5 folds by default, as nnU-Net
    a, b = make_split(CASES, cfg, 3), make_split(CASES, cfg, 3)
    assert a == b and len(a.val) == 2
    assert make_split(CASES, cfg, 4).val != a.val or make_split(CASES, cfg, 5).val != a.val
    back = load_split(save_split(a, tmp_path / "split.json"))
    assert back == a and json.loads((tmp_path / "split.json").read_text(encoding="utf-8"))["fold"] == 1
    with pytest.raises(DataError, match="cannot make 5 folds of 3 cases"):
        make_split(CASES[:3], cfg, 0)
    with pytest.raises(Exception, match="fold 5 is not one of 0..4"):
        parse_data_config({"layout": "synthetic", "split": {"fold": 5}})


def test_train_folds_in_their_own_folders_and_compare_summarises_them(tmp_path, cli) -> None:
    out = tmp_path / "cv"
    tiny = ["--baseline", "unet_small", "--data", "synthetic", "--out", out, "--epochs", "1",
            "--set", "data.size=16", "--set", "data.synthetic.n_images=6",
            "--set", "data.split.folds=3", "--set", "train.batch_size=4",
            "--set", "train.count_flops=false"]
    vals = []
    for fold in (0, 1):
        code, _, err = cli("train", *tiny, "--fold", str(fold))
        assert code == 0, err
        split = json.loads((out / f"fold_{fold}" / "split.json").read_text(encoding="utf-8"))
        assert split["fold"] == fold and split["folds"] == 3 and len(split["val"]) == 2
        vals.append(set(split["val"]))
    assert not vals[0] & vals[1]
    code, text, err = cli("compare", out)
    assert code == 0, err
    assert "fold_0" in text and "fold_1" in text and "cv (folds 0, 1)" in text
    assert "mean ± std" in text and " ± " in text

    from genodsl.train.compare import compare_runs, summarise_folds

    rows = compare_runs([out])
    (summary,) = summarise_folds(rows)
    dscs = [r.dsc for r in rows]
    assert summary.folds == (0, 1)
    assert summary.dsc[0] == pytest.approx(sum(dscs) / 2)
    assert summary.dsc[1] == pytest.approx(abs(dscs[0] - dscs[1]) / 2 ** 0.5)
