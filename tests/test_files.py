"""Outputs never clobber a user's files; atomic writes are whole or absent; stale temps go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genodsl.errors import ConfigError
from genodsl.files import (atomic_path, clean_stale_temps, json_safe, write_json_atomic,
                           write_text_atomic)
from genodsl.runs.folders import MARKER, claim_run_dir, run_kind

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"
TINY = ["--set", "data.size=16", "--set", "data.synthetic.n_images=4",
        "--set", "train.batch_size=2", "--set", "train.count_flops=false"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def users_folder(tmp_path) -> Path:
    folder = tmp_path / "mine"
    (folder / "notes").mkdir(parents=True)
    (folder / "config.yaml").write_text("my: own config\n", encoding="utf-8")
    (folder / "summary.json").write_text('{"mine": true}\n', encoding="utf-8")
    (folder / "notes" / "a.txt").write_text("keep me\n", encoding="utf-8")
    return folder


# ---------------------------------------------------------------- run folders

def test_train_out_into_a_users_folder_refuses_and_touches_nothing(cli, users_folder):
    before = _snapshot(users_folder)
    code, _, err = cli("train", "--baseline", "unet_small", "--data", "synthetic",
                       "--out", users_folder, "--epochs", "1", *TINY)
    assert code == 2
    assert "error[E401]" in err and "is not empty and is not a genodsl train run" in err
    assert "Traceback" not in err
    assert _snapshot(users_folder) == before


def test_search_out_into_a_users_folder_refuses_and_touches_nothing(cli, users_folder):
    before = _snapshot(users_folder)
    code, _, err = cli("search", GENOTYPES / "nasunet_space.geno", "--network",
                       "nasunet_search_tiny", "--data", "synthetic", "--epochs", "1",
                       "--out", users_folder)
    assert code == 2 and "error[E401]" in err and "not a genodsl search run" in err
    assert _snapshot(users_folder) == before


def test_claim_run_dir_kinds(tmp_path):
    run = claim_run_dir(tmp_path / "new" / "run", "train", resume=False)
    assert run_kind(run) == "train" and json.loads((run / MARKER).read_text(encoding="utf-8"))["kind"] == "train"
    assert claim_run_dir(run, "train", resume=False) == run  # same kind: its own checks decide
    assert claim_run_dir(run, "train", resume=True) == run
    with pytest.raises(ConfigError, match="holds a genodsl train run, not a search run"):
        claim_run_dir(run, "search", resume=False)
    with pytest.raises(ConfigError, match="cannot resume a search run .*genodsl train run"):
        claim_run_dir(run, "search", resume=True)
    (tmp_path / "empty").mkdir()
    assert run_kind(claim_run_dir(tmp_path / "empty", "search", resume=False)) == "search"
    with pytest.raises(ConfigError, match="not a genodsl run folder"):
        claim_run_dir(tmp_path / "nowhere", "train", resume=True)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file"):
        claim_run_dir(tmp_path / "file", "train", resume=False)


def test_resume_removes_stale_temporaries_only(tmp_path):
    run = claim_run_dir(tmp_path / "run", "train", resume=False)
    (run / "checkpoints").mkdir()
    stale = [run / "checkpoints" / ".last.pt.k2j_9xqa.tmp", run / ".summary.json.abcdefgh.tmp"]
    kept = [run / "checkpoints" / "last.pt", run / ".hidden.tmp", run / "notes.tmp"]
    for p in stale + kept:
        p.write_text("x", encoding="utf-8")
    claim_run_dir(run, "train", resume=True)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert clean_stale_temps(tmp_path / "absent") == []


def test_a_killed_writer_leaves_a_temp_that_resume_cleans(tmp_path):
    import subprocess
    import sys

    run = claim_run_dir(tmp_path / "run", "train", resume=False)
    write_text_atomic(run / "summary.json", "{}")
    killed = ("import os, sys\nfrom genodsl.files import atomic_path\n"
              "with atomic_path(sys.argv[1]) as tmp:\n"
              "    tmp.write_text('half')\n    os._exit(9)\n")  # dies before the rename
    done = subprocess.run([sys.executable, "-c", killed, str(run / "summary.json")],
                          timeout=60)
    assert done.returncode == 9
    leftovers = [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".summary.json.")
    assert (run / "summary.json").read_text(encoding="utf-8") == "{}"  # the old file is whole
    claim_run_dir(run, "train", resume=True)
    assert sorted(p.name for p in run.iterdir()) == [MARKER, "summary.json"]


# ---------------------------------------------------------------- single files

def test_render_refuses_an_existing_file_without_force(cli, tmp_path):
    out = tmp_path / "down.dot"
    out.write_text("my drawing\n", encoding="utf-8")
    args = ("render", GENOTYPES / "nasunet.geno", "--cell", "NASUNET.down", "-o", out)
    code, _, err = cli(*args)
    assert code == 2 and "already exists" in err and "--force" in err
    assert out.read_text(encoding="utf-8") == "my drawing\n"
    code, _, err = cli(*args, "--force")
    assert code == 0, err
    assert out.read_text(encoding="utf-8").startswith("digraph")


def test_compile_refuses_an_existing_file_without_force(cli, tmp_path):
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"precious")
    args = ("compile", GENOTYPES / "nasunet.geno", "-n", "nasunet_tiny", "-i", "1x1x32x32",
            "--out", out)
    code, _, err = cli(*args)
    assert code == 2 and "already exists" in err and out.read_bytes() == b"precious"
    code, _, err = cli(*args, "--force")
    assert code == 0, err
    import genodsl

    assert genodsl.load_model(out).spec.network == "nasunet_tiny"


def test_compile_out_must_be_safetensors(cli, tmp_path):
    code, _, err = cli("compile", GENOTYPES / "nasunet.geno", "-n", "nasunet_tiny",
                       "-i", "1x1x32x32", "--out", tmp_path / "model.pt")
    assert code == 2 and ".safetensors" in err and not (tmp_path / "model.pt").exists()


# ---------------------------------------------------------------- atomic writes

def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    write_text_atomic(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half of the new", encoding="utf-8")
            raise RuntimeError("crash while writing")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left
    with pytest.raises(TypeError):  # not JSON: nothing written
        write_json_atomic(tmp_path / "new.json", {"f": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names fds through /proc")
def test_atomic_write_fsyncs_the_file_and_its_folder(tmp_path, monkeypatch):
    import os

    import genodsl.files as files

    synced: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(files.os, "fsync", record)
    write_text_atomic(tmp_path / "a.txt", "x")
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".a.txt.")  # the new content, before the rename
    assert Path(synced[1]) == tmp_path  # the folder entry, after it


def test_json_safe():
    import numpy as np
    import torch

    data = {"nan": float("nan"), "t": torch.tensor(2.5), "v": torch.tensor([1, 2]),
            "n": np.float32(0.5), 3: [float("inf"), (1, 2)]}
    assert json_safe(data) == {"nan": None, "t": 2.5, "v": [1, 2], "n": 0.5, "3": [None, [1, 2]]}
