"""One interface for the commands that run a model: shared options, enums, shipped names,
the model section and the run config every option maps to."""

from __future__ import annotations

import json
import re

import pytest

from genodsl.cli import options as o

MODEL_COMMANDS = ["search", "train", "evaluate", "predict", "export"]
SHARED = ["--device", "--seed", "--size", "--batch-size", "--no-progress", "--config", "--set"]
TINY = ["--set", "data.synthetic.n_images=8", "--size", "32", "--batch-size", "4",
        "--set", "train.count_flops=false", "--no-progress", "--epochs", "1"]


@pytest.fixture(autouse=True)
def _wide_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # no option name or choice list wrapped


def _help(cli, command: str) -> str:
    code, out, err = cli(command, "--help")
    assert code == 0, err
    return re.sub(r"\s+", " ", out)


@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_every_model_command_takes_the_shared_options(cli, command):
    text = _help(cli, command)
    for option in SHARED:
        assert option in text, (command, option)


@pytest.mark.parametrize("command, choices", [
    ("search", "<off|on|bf16|fp16>"), ("train", "<off|on|bf16|fp16>"),
    ("search", "<darts|darts2|proxyless>"), ("export", "<onnx|torchscript|pt2>"),
    ("evaluate", "<val|train|all>"),
])
def test_closed_choices_are_listed(cli, command, choices):
    assert choices in _help(cli, command)


def test_runs_resume_the_same_way(cli):
    for command in ("search", "train"):
        text = _help(cli, command)
        assert "--resume" in text and "--out" in text


def test_export_formats_are_the_exporters():
    from genodsl.export import FORMATS

    assert {f.value for f in o.ExportFormat} == set(FORMATS)


def test_shared_options_become_config_keys():
    assert o.shared("cpu", 3, 64, 8, True, section="search") == {
        "runtime.device": "cpu", "runtime.seed": 3, "data.size": 64,
        "search.batch_size": 8, "runtime.progress": False}
    assert o.shared(None, None, None, 2, False) == {"train.batch_size": 2}
    cfg = o.build_run_config(None, {**o.shared("cpu", 3, 64, 8, True), **o.data_keys("synthetic")},
                             ["runtime.seed=5", "model.classes=3"])
    assert (cfg.runtime.device, cfg.runtime.seed, cfg.runtime.progress) == ("cpu", 5, False)
    assert cfg.data.size == (64, 64) and cfg.train.batch_size == 8 and cfg.model.classes == 3


def test_a_bare_shipped_name_resolves(tmp_path, monkeypatch):
    from genodsl.errors import GenoError
    from genodsl.lang.loader import builtin_dir

    monkeypatch.chdir(tmp_path)
    assert o.geno_file(o.Path("nasunet_space.geno")) == builtin_dir() / "nasunet_space.geno"
    assert o.geno_file(o.Path("nasunet")) == builtin_dir() / "nasunet.geno"
    (tmp_path / "nasunet.geno").write_text("", encoding="utf-8")  # a file of the user's own wins
    assert o.geno_file(o.Path("nasunet.geno")) == o.Path("nasunet.geno")
    with pytest.raises(GenoError, match="no such file"):
        o.geno_file(o.Path("sub/nasunet_space.geno"))  # a path is never looked up elsewhere


def test_model_classes_fit_the_network_to_the_data(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    three = ["--set", "data.class_map={0: 0, 1: 1, 2: 2}"]
    args = ["train", "nasunet.geno", "-n", "nasunet_tiny", "--data", "synthetic", *TINY, *three]
    code, _, err = cli(*args, "--out", "bad")
    assert code == 2 and "data.num_classes = 3" in err and "--set model.classes=3" in err
    assert not (tmp_path / "bad").exists()  # refused before the run folder was made
    code, _, err = cli(*args, "--set", "model.classes=3", "--out", "r3")
    assert code == 0, err
    summary = json.loads((tmp_path / "r3" / "summary.json").read_text(encoding="utf-8"))
    assert summary["num_classes"] == 3
    code, out, err = cli("evaluate", "r3", "--no-progress", "--batch-size", "2")
    assert code == 0, err
    assert "dsc_2" in (tmp_path / "r3" / "eval" / "per_case.csv").read_text(encoding="utf-8")
