"""Every input the fuzzer found breaking the tools gives one message and exit 2 through
``genodsl check`` (and a GenoError through the API): huge numbers, odd files, imports out of
the project, sizes that would ask PyTorch for absurd memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import genodsl
from genodsl.errors import GenoError
from genodsl.lang import limits

GENOTYPES = Path(__file__).resolve().parents[2] / "genotypes"
NET = "network N {{ cells = NASUNET  {entry} }}\n"


def _one_error(cli, *args) -> str:
    code, _, err = cli("check", *args)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("error[") == 1, err
    return err


def _file(tmp_path: Path, text: str, name: str = "f.geno") -> Path:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


@pytest.mark.parametrize("entry, code, words", [
    ("depth = " + "9" * 5000, "E006", "5,000 digits"),       # lark's VisitError before
    ("depth = 9223372036854775808", "E006", "19 digits"),   # 2**63: hung in build
    ("C = 100000", "E062", "C = 100000 is above the limit of 4096"),  # 160 GB at compile
    ("depth = 11", "E062", "depth = 11 is above the limit of 10"),
    ("C = 2000  depth = 10", "E062", "parameters"),
    ("C = 1e999", "E006", "too large"),
])
def test_numbers_out_of_range(cli, tmp_path, entry, code, words):
    f = _file(tmp_path, 'import "nasunet.geno"\n' + NET.format(entry=entry))
    err = _one_error(cli, f)
    assert f"{f}:2:" in err and f"error[{code}]" in err and words in err


def test_a_search_cell_with_a_billion_nodes(cli, tmp_path):
    f = _file(tmp_path, "space S { cell down { input s0, s1\n  nodes 1000000000 } }\n")
    err = _one_error(cli, f)
    assert f"{f}:2:9: error[E058]: too many nodes in one cell: 1,000,000,000" in err


def test_too_many_ops_in_one_list(cli, tmp_path):
    ops = ", ".join(f"conv(k={2 * i + 1})" for i in range(limits.MAX_OPS_PER_SET // 2 + 1))
    ops += ", " + ", ".join(f"dil_conv(dilation={i})" for i in range(1, 33))
    err = _one_error(cli, _file(tmp_path, f"opset A = [{ops}]\n"))
    assert "error[E059]" in err


def test_a_file_over_the_size_limit(cli, tmp_path):
    f = _file(tmp_path, "# x\n" * (limits.MAX_FILE_BYTES // 4 + 1))
    assert "error[E004]: the file is too large" in _one_error(cli, f)


def test_a_byte_order_mark_is_accepted(cli, tmp_path):
    f = tmp_path / "bom.geno"
    f.write_bytes(b"\xef\xbb\xbf" + (GENOTYPES / "nasunet.geno").read_bytes())
    code, out, err = cli("check", f)
    assert code == 0, err
    assert genodsl.load(f) == genodsl.load(GENOTYPES / "nasunet.geno")


@pytest.mark.parametrize("make, words", [
    (lambda p: os.mkfifo(p), "a named pipe (FIFO)"),         # opening it blocks forever
    (lambda p: p.symlink_to("/dev/zero"), "a character device"),  # reads until memory ends
    (lambda p: p.mkdir(), None),
    (lambda p: p.symlink_to(p.name), None),                 # a self-referencing symlink
])
def test_files_that_are_not_regular_files(cli, tmp_path, make, words):
    f = tmp_path / "odd.geno"
    make(f)
    err = _one_error(cli, f)
    if words:
        assert f"{f}: error[E005]: not a .geno file: this path is {words}" in err
    with pytest.raises(GenoError) as info:  # the API refuses each by type
        genodsl.load(f)
    assert info.value.diagnostics[0].code in ("E005",)


@pytest.mark.parametrize("target, words", [
    ("f.geno", "too many levels of symbolic links"),
    ("pipe.geno", "a named pipe (FIFO)"),
    ("folder.geno", "a folder"),
])
def test_imports_of_odd_files_point_at_the_import(cli, tmp_path, target, words):
    (tmp_path / "loop.geno").symlink_to("loop.geno")
    os.mkfifo(tmp_path / "pipe.geno")
    (tmp_path / "folder.geno").mkdir()
    f = _file(tmp_path, f'import "{"loop.geno" if target == "f.geno" else target}"\n', "top.geno")
    err = _one_error(cli, f)
    assert f"{f}:1:1: error[E005]" in err and words in err


def test_an_import_name_longer_than_the_os_allows(cli, tmp_path):
    f = _file(tmp_path, 'import "' + "a" * 5000 + '.geno"\n')
    err = _one_error(cli, f)
    assert f"{f}:1:1: error[E005]" in err and "file name too long" in err


def test_a_file_name_longer_than_the_os_allows(cli, tmp_path):
    err = _one_error(cli, tmp_path / ("a" * 5000 + ".geno"))
    assert "error[E005]" in err and "file name too long" in err


def test_import_of_an_absolute_path_is_refused_and_never_echoed(cli, tmp_path):
    f = _file(tmp_path, 'import "/etc/passwd"\n')
    err = _one_error(cli, f)
    assert f"{f}:1:1: error[E032]: import of an absolute path '/etc/passwd'" in err
    assert "--allow-outside-imports" in err
    first_line = Path("/etc/passwd").read_text(encoding="utf-8").split("\n")[0]
    err = _one_error(cli, "--allow-outside-imports", f)
    assert "/etc/passwd:1:" in err and "error[E001]: not .geno text" in err
    assert first_line not in err and first_line.split(":")[0] not in err.replace(
        "/etc/passwd", "")


def test_import_leaving_the_folder_is_refused(cli, tmp_path):
    f = _file(tmp_path, 'import "' + "../" * 12 + 'etc/hostname"\n')
    err = _one_error(cli, f)
    assert f"{f}:1:1: error[E032]" in err and "leads outside the folder" in err
    with pytest.raises(GenoError) as info:
        genodsl.loads(f.read_text(encoding="utf-8"), base_dir=tmp_path)
    assert info.value.diagnostics[0].code == "E032"


def test_a_symlink_out_of_the_folder_is_an_import_outside(cli, tmp_path):
    outside = _file(tmp_path, "opset Mine = [conv]\n", "outside.geno")
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.geno").symlink_to(outside)
    f = _file(project, 'import "link.geno"\n')
    assert "error[E032]" in _one_error(cli, f)
    assert "Mine" in genodsl.load(f, allow_outside_imports=True).opsets


def test_imports_inside_the_folder_and_shipped_ones_still_work(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    _file(sub, 'import "ops.geno"\nopset Mine = [conv]\n', "mine.geno")
    f = _file(tmp_path, 'import "sub/mine.geno"\nimport "nasunet.geno"\n')
    program = genodsl.load(f)
    assert "Mine" in program.opsets and "NASUNET" in program.genotypes


@pytest.mark.parametrize("data, words", [
    (b"opset A = [conv]\x00\n", "a NUL byte at byte 16"),
    (b"opset A = [conv]\xff\n", "not a UTF-8 text file"),
])
def test_binary_files_are_never_echoed(cli, tmp_path, data, words):
    f = tmp_path / "bin.geno"
    f.write_bytes(data)
    err = _one_error(cli, f)
    assert "error[E003]" in err and words in err and "opset A" not in err


def test_imports_nested_too_deep(cli, tmp_path):
    for i in range(limits.MAX_IMPORT_DEPTH + 2):
        _file(tmp_path, f'import "d{i + 1}.geno"\n', f"d{i}.geno")
    err = _one_error(cli, tmp_path / "d0.geno")
    assert "error[E033]: imports nested too deep" in err


def test_fmt_refuses_odd_files_with_exit_2(cli, tmp_path):
    os.mkfifo(tmp_path / "p.geno")
    code, _, err = cli("fmt", "--check", tmp_path / "p.geno")
    assert code == 2 and "error[E005]" in err and "Traceback" not in err


def test_shipped_networks_are_far_inside_the_limits():
    for f in GENOTYPES.glob("*.geno"):
        program = genodsl.load(f)
        for name, net in program.networks.items():
            bound = limits.estimate_parameters(net.settings, program.cells_for(name))
            assert bound < limits.MAX_PARAMETERS / 100


@pytest.mark.parametrize("file, network", [("nasunet.geno", "nasunet_tiny"),
                                           ("nasunet_space.geno", "nasunet_search_tiny")])
def test_the_parameter_estimate_bounds_the_real_count(file, network):
    program = genodsl.load(GENOTYPES / file)
    bound = limits.estimate_parameters(program.network(network).settings,
                                       program.cells_for(network))
    real = sum(p.numel() for p in genodsl.build(program, network).parameters())
    assert real <= bound <= 3 * real


def test_a_supernet_with_too_many_ops(cli, tmp_path):
    text = (GENOTYPES / "nasunet_space.geno").read_text(encoding="utf-8")
    f = _file(tmp_path, text.replace("nodes 3", "nodes 40", 1), "space.geno")
    code, _, err = cli("check", f)
    assert code == 2 and "Traceback" not in err
    assert "error[E062]: network 'nasunet_search' would build" in err
