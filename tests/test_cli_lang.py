"""The language commands: check, fmt, compile (exit codes, output, files written)."""

from __future__ import annotations


import torch

from pathlib import Path

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"

BAD = """genotype G {
  cell down {
    input s0, s1
    node n2 = dep_cnv(s1) + down_conv(s0)
    output concat(n2)
  }
  cell up {
    input s0, s1
    node n2 = identity(s0) + up_conv(s1)
    output concat(n2)
  }
}
"""


def test_check_ok_on_shipped_files(cli):
    code, out, err = cli("check", GENOTYPES)
    assert code == 0, err
    assert out.count("ok  ") == len(list(GENOTYPES.glob("*.geno")))


def test_check_reports_error_with_place_and_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.geno"
    bad.write_text(BAD, encoding="utf-8")
    code, out, err = cli("check", bad)
    assert code == 2
    assert f"{bad}:4:15: error[E010]: unknown op 'dep_cnv'" in err
    assert "did you mean 'dep_conv'" in err
    assert "Traceback" not in err


def test_check_missing_file_is_a_user_error(cli, tmp_path):
    code, _, err = cli("check", tmp_path / "nope.geno")
    assert code == 2 and "no such file" in err and "Traceback" not in err


def test_fmt_check_and_rewrite(cli, tmp_path):
    messy = tmp_path / "m.geno"
    messy.write_text("# keep me\nopset   A=[conv,identity ,]  # and me\n", encoding="utf-8")
    code, out, _ = cli("fmt", "--check", messy)
    assert code == 1 and "would reformat" in out
    assert messy.read_text(encoding="utf-8").startswith("# keep me\nopset   A")  # --check writes nothing
    code, out, _ = cli("fmt", messy)
    assert code == 0
    assert messy.read_text(encoding="utf-8") == "# keep me\nopset A = [conv, identity]  # and me\n"
    code, out, _ = cli("fmt", "--check", messy)
    assert code == 0 and "all files are formatted" in out


def test_fmt_shipped_files_are_canonical(cli):
    code, out, _ = cli("fmt", "--check", GENOTYPES)
    assert code == 0, out


def test_compile_prints_summary(cli):
    code, out, err = cli("compile", GENOTYPES / "nasunet.geno", "--network", "nasunet_promise12",
                         "--input", "1x1x64x64")
    assert code == 0, err
    assert "485,742" in out  # the reference's count minus its 4 dead head weights
    assert "1×2×64×64" in out
    for stage in ("stem0", "stem1", "down_cells", "up_cells", "head"):
        assert stage in out


def test_compile_rejects_bad_input_shape(cli):
    code, _, err = cli("compile", GENOTYPES / "nasunet.geno", "-n", "nasunet_promise12",
                       "--input", "1x3x100x64")
    assert code == 2
    assert "error[E047]: channel mismatch" in err
    assert "error[E048]: spatial mismatch: input height 100 is not divisible by" in err


def test_compile_unknown_network(cli):
    code, _, err = cli("compile", GENOTYPES / "nasunet.geno", "-n", "nasunet_promis12")
    assert code == 2 and "did you mean 'nasunet_promise12'" in err


def test_import_from_builtin_folder_works_anywhere(cli, tmp_path):
    f = tmp_path / "mine.geno"
    f.write_text('import "nasunet.geno"\n\nnetwork mine {\n  cells = NASUNET\n  C = 8\n'
                 "  depth = 2\n}\n")
    code, out, err = cli("compile", f, "-n", "mine", "-i", "1x1x32x32")
    assert code == 0, err


def test_python_api_round_trip():
    import genodsl
    p = genodsl.load(GENOTYPES / "nasunet.geno")
    assert genodsl.loads(genodsl.dumps(p)) == p
    model = genodsl.build(p, "nasunet_tiny")
    assert isinstance(model, torch.nn.Module)


def test_allocator_tuning_can_be_turned_off(monkeypatch):
    from genodsl.runtime.allocator import tune_cpu_allocator

    monkeypatch.setenv("GENODSL_MALLOC_TUNING", "0")
    assert tune_cpu_allocator() is False
    monkeypatch.delenv("GENODSL_MALLOC_TUNING")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the user's own glibc setting wins
    assert tune_cpu_allocator() is False


def test_shipped_files_by_bare_name_from_any_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("check", "nasunet", "nasunet_space.geno")
    assert code == 0, err
    assert out.count("ok  ") == 2
    code, _, err = cli("check", "nasunt")
    assert code == 2 and "E031" in err and "nasunet.geno" in err  # the hint lists them


def test_a_symlink_loop_is_refused_by_type(cli, tmp_path):
    loop = tmp_path / "loop.geno"
    loop.symlink_to(loop)
    code, _, err = cli("check", loop)
    assert code == 2 and "E005" in err and "symbolic links" in err
