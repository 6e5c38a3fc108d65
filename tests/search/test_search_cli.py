"""`genodsl search` end to end, and one clear message (exit 2) for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genodsl.cli import main
from genodsl.lang.loader import load

TINY = ["--network", "tiny", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
        "--size", "16", "--no-progress", "--set", "search.warmup_epochs=0",
        "--set", "search.plots=false"]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _folder(root: Path, n: int = 4, corrupt: bool = False, mismatch: bool = False) -> Path:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(
            root / "images" / f"{i:02d}.png")
        side = 8 if mismatch and i == 1 else 16
        mask = (rng.random((side, side)) > 0.5).astype(np.uint8) * 255
        Image.fromarray(mask).save(root / "masks" / f"{i:02d}.png")
    if corrupt:
        (root / "images" / "02.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


def test_search_on_a_folder_then_reload(space_file, tmp_path, capsys) -> None:
    data = _folder(tmp_path / "data")
    out = tmp_path / "run"
    code, stdout, err = run(["search", str(space_file), *TINY, "--data", str(data),
                             "--set", "data.class_map={0: 0, 255: 1}", "--strategy",
                             "proxyless", "--seed", "7", "--out", str(out)], capsys)
    assert code == 0, err
    assert "completed: 1 epochs" in stdout
    program = load(out / "genotype.geno")
    assert "NASUNET_SPACE_proxyless_s7" in program.genotypes
    code, stdout, err = run(["search", "--resume", "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err  # a finished run resumes to its result at once
    code, _, err = run(["check", str(out / "genotype.geno")], capsys)
    assert code == 0, err


@pytest.mark.parametrize("args, message", [
    (["--data", "/no/such/folder"], "data folder not found: /no/such/folder"),
    (["--data", "synthetic", "--strategy", "dart"], "'dart' is not one of"),
    (["--data", "synthetic", "--set", "search.strategy=dart"], "did you mean 'darts'"),
    (["--data", "synthetic", "--set", "search.epoch=3"], "did you mean 'epochs'"),
    ([], "no data"),
    (["--data", "synthetic", "--network", "nasunet_search_tiny", "--size", "20"],
     "not divisible"),
])
def test_bad_input_one_message(space_file, tmp_path, capsys, args, message) -> None:
    argv = ["search", str(space_file), *TINY, "--out", str(tmp_path / "r"), *args]
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind, message", [
    ("corrupt", "02.png"),
    ("mismatch", "01"),
])
def test_bad_data_one_message(space_file, tmp_path, capsys, kind, message) -> None:
    data = _folder(tmp_path / "data", corrupt=kind == "corrupt", mismatch=kind == "mismatch")
    code, _, err = run(["search", str(space_file), *TINY, "--data", str(data), "--set",
                        "data.class_map={0: 0, 255: 1}", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and message in err and "error[E3" in err, err


def test_a_genotype_is_not_a_space(tmp_path, capsys) -> None:
    geno = tmp_path / "g.geno"
    geno.write_text('import "nasunet.geno"\n\nnetwork n {\n  cells = NASUNET\n  C = 4\n'
                    '  depth = 1\n}\n')
    code, _, err = run(["search", str(geno), "--network", "n", "--data", "synthetic",
                        "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "not a search space" in err, err


def test_a_space_lacking_op_kinds(tmp_path, capsys) -> None:
    space = tmp_path / "bad.geno"
    space.write_text('import "ops.geno"\n\nspace S {\n  cell down {\n    input s0, s1\n'
                     '    nodes 2\n    from s0 use Normal\n    from s1 use Down\n'
                     '    from nodes use Normal\n  }\n  cell up {\n    input s0, s1\n'
                     '    nodes 2\n    from s0 use Normal\n    from s1 use Up\n'
                     '    from nodes use Normal\n  }\n}\n\nnetwork n {\n  cells = S\n'
                     '  C = 4\n  depth = 1\n}\n')
    code, _, err = run(["search", str(space), "--data", "synthetic", "--out",
                        str(tmp_path / "r")], capsys)
    assert code == 2 and "E054" in err and "no down op" in err, err


def test_a_shipped_space_by_bare_name(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # outside the repository: no nasunet_space.geno here
    code, stdout, err = run(["search", "nasunet_space.geno", "--network", "nasunet_search_tiny",
                             "--data", "synthetic", "--epochs", "1", "--steps-per-epoch", "1",
                             "--batch-size", "2", "--size", "16", "--no-progress",
                             "--set", "search.plots=false", "--out", "r"], capsys)
    assert code == 0, err
    # the default warm-up scales with the epochs (none for 1), and one epoch at the paper's
    # alpha lr barely moves the alphas: the run says so
    assert "covers all" not in err and "the alphas barely moved" in err
    assert "NASUNET_SPACE_darts_s0" in (tmp_path / "r" / "genotype.geno").read_text(encoding="utf-8")
    code, _, err = run(["search", "no_such_space.geno", "--data", "synthetic", "--out", "s"],
                       capsys)
    assert code == 2 and "no such file: no_such_space.geno" in err
    assert "nasunet_space.geno" in err  # the hint lists the shipped files


def test_search_help_lists_the_strategies(capsys) -> None:
    from genodsl.search.strategies import STRATEGIES

    code, out, _ = run(["search", "--help"], capsys)
    assert code == 0
    for name, info in STRATEGIES.items():
        assert name in out
