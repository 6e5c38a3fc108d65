"""Selection over seeds (``genodsl search --seeds N``): N searches, the best genotype kept.

A DARTS search is noisy: two seeds of one space on one dataset can derive cells of very
different quality.  :func:`run_selection` runs the search for seeds ``S, S+1, …, S+N-1`` (``S``
is ``runtime.seed``) one after another into ``OUT/seed_K/`` (each a complete search folder),
then trains each derived genotype from scratch for ``search.select_epochs`` epochs on the
search's weight half, with the ``train:`` section's optimiser and loss, validating on the alpha
half, and keeps the one with the best validation DSC (the mean over foreground classes, best
epoch; ties go to the lower seed):

* ``OUT/genotype.geno``: the winner's file, with a provenance header naming the winning seed,
  how the genotypes were scored, and every seed's score; the others stay in
  ``OUT/seed_K/genotype.geno`` beside it;
* ``OUT/selection.json``: the seeds, their scores and genotypes, the winner;
* ``OUT/seed_K/select/``: the scoring run of seed K (a training run folder).

Every search uses the same data split (``data.seed`` is pinned to ``S`` unless set), so every
genotype is trained on the same weight half and scored on the same alpha half.  The alpha half
is the data the search chose the alphas on: the scores rank the seeds, they are not a held-out
estimate (hold test cases out of ``--data`` for that).

Rerunning with ``--resume`` skips finished searches and scorings and resumes an interrupted one.
Distributed (torchrun): every rank runs every search and scoring together, rank 0 writes.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from rich.console import Console

from ..errors import ConfigError
from ..files import write_json_atomic, write_text_atomic
from ..runtime import distributed
from ..train.config import TrainConfig
from .runner import SearchJob, SearchResult, run_search

SELECTION_FILE = "selection.json"
GENOTYPE_FILE = "genotype.geno"
SCORE_DIR = "select"
DONE = ("completed", "stopped_early")

Claim = Callable[[Path, bool], None]  # (run folder, resume): claims a search folder (rank 0)
Search = Callable[..., SearchResult]
Scorer = Callable[["SelectionJob", int, Path], float | None]


@dataclass(frozen=True)
class SelectionJob:
    """``search``: the base job (its ``runtime.seed`` is the first seed, ``out`` the selection
    folder); ``seeds``: how many searches; ``train``: how each genotype is scored (its epochs
    replaced by ``search.select_epochs``)."""

    search: SearchJob
    seeds: int
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def out(self) -> Path:
        return self.search.out

    @property
    def seed_list(self) -> list[int]:
        return [self.search.runtime.seed + k for k in range(self.seeds)]

    def seed_dir(self, seed: int) -> Path:
        return self.out / f"seed_{seed}"

    def seed_job(self, seed: int) -> SearchJob:
        """The search of one seed: same data split for all (``data.seed`` pinned), own folder."""
        base = self.search
        data = base.data
        if "seed" not in data.model_fields_set:
            data = data.model_copy(update={"seed": base.runtime.seed})
        runtime = base.runtime.model_copy(update={"seed": seed})
        record: dict[str, Any] | None = None
        if base.record is not None:
            record = copy.deepcopy(dict(base.record))
            record.setdefault("runtime", {})["seed"] = seed
        return SearchJob(base.program, base.network, base.search, data, self.seed_dir(seed),
                         runtime=runtime, source=base.source, record=record)


@dataclass
class SelectionResult:
    status: str  # "completed" or "interrupted"
    winner: int | None
    scores: dict[int, float | None]
    genotype_file: Path | None
    record: dict[str, Any]


def _summary(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _done(folder: Path) -> bool:
    return (_summary(folder) or {}).get("status") in DONE


def score_genotype(job: SelectionJob, seed: int, folder: Path) -> float | None:
    """Train seed ``seed``'s derived genotype (``folder``) briefly; its best validation DSC.

    Weights start from ``torch.manual_seed(seed)``; the run goes to ``folder/select`` and
    resumes there when interrupted.
    """
    import torch

    from ..compile.discrete import build_discrete
    from ..lang.loader import load
    from ..train.checkpoint import RunPaths
    from ..train.loop import Trainer
    from .data import build_halves, search_data_config

    summary = _summary(folder) or {}
    program = load(folder / GENOTYPE_FILE)
    net = program.network(summary.get("network"))
    genotype = program.cells_for(net.name)
    torch.manual_seed(seed)
    model = build_discrete(net.settings, genotype)  # type: ignore[arg-type]
    sjob = job.seed_job(seed)
    data = search_data_config(sjob.data, program.network(net.name), sjob.runtime.seed)
    weight, alpha = build_halves(data, folder)  # re-reads the search's split.json
    cfg = job.train.model_copy(update={"epochs": job.search.search.select_epochs})
    run_dir = folder / SCORE_DIR
    resume = RunPaths(run_dir).last.is_file()
    if resume and _done(run_dir):
        return (_summary(run_dir) or {}).get("dsc")
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(model, weight, alpha, config=cfg, runtime=sjob.runtime, run_dir=run_dir,
                      num_classes=data.num_classes, class_names=data.class_names,
                      model_spec={"selection": summary.get("genotype"), "network": net.name})
    result = trainer.fit(resume=resume)
    if result.status not in DONE:
        raise KeyboardInterrupt
    return result.summary.get("dsc")


def pick_winner(scores: Mapping[int, float | None]) -> int:
    """The seed with the best score; ties and missing scores go to the lower seed."""
    if not scores:
        raise ConfigError("no seed was scored")
    return max(sorted(scores), key=lambda s: -1.0 if scores[s] is None else float(scores[s]))  # type: ignore[arg-type]


def header(job: SelectionJob, winner: int, scores: Mapping[int, float | None]) -> str:
    """The provenance lines put above the winner's own header in ``OUT/genotype.geno``."""
    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.4f}"

    others = [f"seed_{s}/{GENOTYPE_FILE}" for s in scores if s != winner]
    lines = [
        f"# Selected by `genodsl search --seeds {job.seeds}`: seed {winner} wins, validation "
        f"DSC {fmt(scores[winner])}.",
        f"#   scored by:   {job.search.search.select_epochs} training epochs on the weight "
        "half, DSC on the alpha half (the same split for every seed)",
        "#   scores:      " + ", ".join(f"seed {s}: {fmt(v)}" for s, v in scores.items()),
        "#   others:      " + (", ".join(others) or "none"),
        "#",
    ]
    return "\n".join(lines) + "\n"


def run_selection(job: SelectionJob, *, resume: bool = False, console: Console | None = None,
                  claim: Claim | None = None, search: Search | None = None,
                  score: Scorer | None = None) -> SelectionResult:
    """Run (or resume) the searches and scorings of ``job``; write the winner (module doc)."""
    console = console or Console(stderr=True, highlight=False)
    search, score = search or run_search, score or score_genotype
    main = distributed.is_main()
    path = job.out / SELECTION_FILE
    record: dict[str, Any] = {"seeds": job.seed_list, "select_epochs":
                              job.search.search.select_epochs, "status": "running",
                              "winner": None, "scores": {}, "genotypes": {}}
    if main:
        job.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, record)
    scores: dict[int, float | None] = {}
    for seed in job.seed_list:
        folder = job.seed_dir(seed)
        if not _done(folder):
            again = (folder / "checkpoints" / "last.pt").is_file()
            if main:
                console.print(f"seed {seed}: {'resuming' if again else 'starting'} the search "
                              f"in {folder}", markup=False)
            with distributed.main_first():
                if main and claim is not None:
                    claim(folder, again)
            result = search(job.seed_job(seed), resume=again, console=console)
            if result.status not in DONE:
                return _interrupted(job, record, scores, path, main)
        elif main:
            console.print(f"seed {seed}: search finished already ({folder})", markup=False)
        try:
            scores[seed] = score(job, seed, folder)
        except KeyboardInterrupt:
            return _interrupted(job, record, scores, path, main)
        genotype = (_summary(folder) or {}).get("genotype")
        record["scores"][str(seed)] = scores[seed]
        record["genotypes"][str(seed)] = genotype
        if main:
            console.print(f"seed {seed}: {genotype} scores validation DSC "
                          f"{'n/a' if scores[seed] is None else f'{scores[seed]:.4f}'}",
                          markup=False)
            write_json_atomic(path, record)
    winner = pick_winner(scores)
    target = job.out / GENOTYPE_FILE
    record.update(status="completed", winner=winner,
                  genotype_file=GENOTYPE_FILE, winner_file=f"seed_{winner}/{GENOTYPE_FILE}")
    if main:
        text = (job.seed_dir(winner) / GENOTYPE_FILE).read_text(encoding="utf-8")
        write_text_atomic(target, header(job, winner, scores) + text)
        write_json_atomic(path, record)
    return SelectionResult("completed", winner, scores, target, record)


def _interrupted(job: SelectionJob, record: dict[str, Any], scores: dict[int, float | None],
                 path: Path, main: bool) -> SelectionResult:
    record["status"] = "interrupted"
    if main:
        write_json_atomic(path, record)
    return SelectionResult("interrupted", None, scores, None, record)
