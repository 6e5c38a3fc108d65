"""The command line on 2 processes: a failing or hanging rank ends the run, ``--nproc`` works."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dist_helpers import free_port, launcher_env, tiny_geno
from genodsl.cli import main
from genodsl.search import runner  # imported here, so the forked ranks start at once


def _argv(space: Path, out: Path) -> list[str]:
    return ["search", str(space), "--network", "tiny", "--data", "synthetic", "--size", "16",
            "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "2", "--no-progress",
            "--set", "search.warmup_epochs=0", "--set", "search.plots=false",
            "--set", "data.synthetic.n_images=8", "--out", str(out)]


def _cli_rank(rank: int, port: int, argv: list[str], fail: str, stderr: Path) -> None:
    """``genodsl ARGV`` as torchrun's worker ``rank``; rank 1 fails at its 3rd weight step."""
    fd = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 2)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8")
    os.environ.update(launcher_env(rank, 2, port))
    os.environ["GENODSL_DIST_TIMEOUT"] = "5"
    if rank == 1:
        darts = runner.strategy_class("darts")

        class Failing(darts):  # type: ignore[misc, valid-type]
            steps = 0

            def weight_step(self, batch):
                Failing.steps += 1
                if Failing.steps == 3:
                    if fail == "hangs":
                        time.sleep(600)
                    raise RuntimeError("rank 1 broke on purpose")
                return super().weight_step(batch)
        runner.strategy_class = lambda name: Failing
    main(argv)


@pytest.mark.parametrize("fail", ["raises", "hangs"])
def test_a_failing_rank_stops_the_run(tmp_path: Path, fail: str) -> None:
    argv = _argv(tiny_geno(tmp_path), tmp_path / "run")
    port = free_port()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_cli_rank, args=(r, port, argv, fail, tmp_path / f"err{r}"))
             for r in (0, 1)]
    start = time.monotonic()
    for p in procs:
        p.start()
    procs[0].join(timeout=60)
    elapsed = time.monotonic() - start
    if fail == "raises":
        procs[1].join(timeout=10)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    err0 = (tmp_path / "err0").read_text(encoding="utf-8")
    assert procs[0].exitcode == 2, err0  # not killed by the test: it stopped by itself
    assert "[rank 0] error[E500]: rank 0 of 2: another process of the distributed run" in err0
    assert ("stopped answering" in err0) and elapsed < 60
    if fail == "raises":
        assert procs[1].exitcode == 1
        assert "rank 1 broke on purpose" in (tmp_path / "err1").read_text(encoding="utf-8")
    # the epoch rank 0 finished before the failure is a resume point
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_nproc_relaunches_through_torch_distributed_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "genodsl", *_argv(tiny_geno(tmp_path), out),
                           "--nproc", "2"], capture_output=True, encoding="utf-8",
                          errors="replace", env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("completed: 2 epochs") == 1  # rank 0 alone reports
    assert (out / "genotype.geno").is_file() and (out / "summary.json").is_file()
