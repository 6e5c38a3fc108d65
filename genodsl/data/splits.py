"""Train/validation splits by case, saved as JSON so a resumed run reuses the same split.

A case (a patient, a volume, or a single image when nothing groups images) is always wholly on
one side.  ``random`` shuffles the naturally ordered cases with the seed; ``contiguous`` keeps
their order and puts the last block in validation (for one ordered stack such as EM slices,
where neighbouring slices are correlated).

K-fold cross-validation (``split.fold``, ``--fold N``): the cases, shuffled with the seed
(``random``) or in natural order (``contiguous``), are cut into ``split.folds`` blocks whose
sizes differ by at most one; fold ``N`` validates on block ``N`` and trains on the others.
The folds of one seed are disjoint and together cover every case (:func:`kfold`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from genodsl.data.config import SplitConfig, SplitMode
from genodsl.data.units import natural_key
from genodsl.data.problems import Code, data_error, preview
from genodsl.files import write_text_atomic

SPLIT_FILE = "split.json"
_VERSION = 1


@dataclass(frozen=True)
class Split:
    """Case names on each side; the two never overlap."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    mode: SplitMode = SplitMode.RANDOM
    seed: int = 0
    fold: int | None = None      # k-fold cross-validation: this split's fold, of ``folds``
    folds: int | None = None

    def __post_init__(self) -> None:
        both = set(self.train) & set(self.val)
        if both:
            raise data_error(Code.SPLIT, f"cases on both sides of the split: {preview(both)}")

    def to_json(self) -> str:
        cv = {} if self.fold is None else {"fold": self.fold, "folds": self.folds}
        return json.dumps({"version": _VERSION, "mode": self.mode.value, "seed": self.seed,
                           **cv, "train": list(self.train), "val": list(self.val)},
                          indent=2) + "\n"


def val_size(n_cases: int, cfg: SplitConfig) -> int:
    """How many cases go to validation: ``val_count``, else ``val_fraction`` of the cases
    rounded and kept within 1 .. n_cases - 1 (0 when the fraction is 0)."""
    if cfg.val_count is None and cfg.val_fraction == 0:
        return 0
    if n_cases < 2:
        raise data_error(Code.SPLIT, f"cannot split {n_cases} case into training and validation",
                         hint="add cases, or set data.split.val_fraction to 0")
    if cfg.val_count is None:
        return min(max(1, round(cfg.val_fraction * n_cases)), n_cases - 1)
    if cfg.val_count > n_cases - 1:
        raise data_error(Code.SPLIT, f"cannot put {cfg.val_count} of {n_cases} cases in "
                         "validation and keep one for training",
                         hint="lower data.split.val_count or add cases")
    return cfg.val_count


def kfold(cases: Sequence[str], folds: int, seed: int = 0,
          mode: SplitMode = SplitMode.RANDOM) -> list[tuple[str, ...]]:
    """The validation cases of each of ``folds`` folds (see the module doc)."""
    ordered = sorted(set(cases), key=natural_key)
    if len(ordered) < folds:
        raise data_error(Code.SPLIT, f"cannot make {folds} folds of {len(ordered)} cases",
                         hint="lower data.split.folds or add cases")
    if mode is SplitMode.RANDOM:
        random.Random(seed).shuffle(ordered)
    size, extra = divmod(len(ordered), folds)
    blocks, start = [], 0
    for k in range(folds):
        end = start + size + (1 if k < extra else 0)
        blocks.append(tuple(sorted(ordered[start:end], key=natural_key)))
        start = end
    return blocks


def make_split(cases: Sequence[str], cfg: SplitConfig, seed: int = 0) -> Split:
    """Split distinct case names; the same cases, config and seed give the same split."""
    ordered = sorted(set(cases), key=natural_key)
    if cfg.fold is not None:
        val = set(kfold(ordered, cfg.folds, seed, cfg.mode)[cfg.fold])
        return Split(tuple(c for c in ordered if c not in val),
                     tuple(c for c in ordered if c in val), cfg.mode, seed, cfg.fold, cfg.folds)
    if cfg.val_cases is not None:
        unknown = sorted(set(cfg.val_cases) - set(ordered), key=natural_key)
        if unknown:
            raise data_error(Code.SPLIT, f"data.split.val_cases names unknown cases: "
                             f"{preview(unknown)}", hint=f"cases are: {preview(ordered)}")
        val = set(cfg.val_cases)
        if len(val) == len(ordered):
            raise data_error(Code.SPLIT, "data.split.val_cases leaves no training case")
        return Split(tuple(c for c in ordered if c not in val),
                     tuple(c for c in ordered if c in val), cfg.mode, seed)
    n_val = val_size(len(ordered), cfg)
    if cfg.mode is SplitMode.CONTIGUOUS:
        cut = len(ordered) - n_val
        return Split(tuple(ordered[:cut]), tuple(ordered[cut:]), cfg.mode, seed)
    shuffled = list(ordered)
    random.Random(seed).shuffle(shuffled)
    val = set(shuffled[:n_val])
    return Split(tuple(c for c in ordered if c not in val),
                 tuple(c for c in ordered if c in val), cfg.mode, seed)


def save_split(split: Split, path: str | Path) -> Path:
    """Write the split as JSON (atomically) and return the path."""
    write_text_atomic(path, split.to_json())
    return Path(path)


def load_split(path: str | Path) -> Split:
    """Read a split written by :func:`save_split`."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        train, val = data["train"], data["val"]
        if not all(isinstance(c, str) for c in [*train, *val]):
            raise TypeError("case names must be strings")
        fold, folds = data.get("fold"), data.get("folds")
        return Split(tuple(train), tuple(val), SplitMode(data.get("mode", "random")),
                     int(data.get("seed", 0)), None if fold is None else int(fold),
                     None if folds is None else int(folds))
    except FileNotFoundError:
        raise data_error(Code.MISSING, "split file not found", file=p) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise data_error(Code.SPLIT, f"not a valid split file ({type(exc).__name__}: {exc})",
                         file=p, hint="delete it to make a new split") from None


def check_split(split: Split, cases: Sequence[str], file: str | Path | None = None) -> None:
    """A stored split must name exactly the cases of the data."""
    have, named = set(cases), set(split.train) | set(split.val)
    missing, new = sorted(named - have, key=natural_key), sorted(have - named, key=natural_key)
    if missing or new:
        parts = []
        if missing:
            parts.append(f"{len(missing)} cases of the split are not in the data: "
                         f"{preview(missing)}")
        if new:
            parts.append(f"{len(new)} cases of the data are not in the split: {preview(new)}")
        raise data_error(Code.SPLIT, "the stored split does not match the data; " +
                         "; ".join(parts), file=file,
                         hint="use the data the run started with, or a new run folder")
