"""The Python API (create_model, list_genotypes, load_model, load_run) and the saved format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import genodsl
from genodsl.errors import CheckpointError, ConfigError

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"
TINY = ["--set", "data.size=16", "--set", "data.synthetic.n_images=6",
        "--set", "train.batch_size=2", "--set", "train.count_flops=false"]


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _network(cells: str, **settings: object) -> torch.nn.Module:
    """The module of a network written in .geno text (the reference for create_model)."""
    entries = "  ".join(f"{k} = {v}" for k, v in settings.items())
    text = f'import "nasunet.geno"\nnetwork ref {{ cells = {cells}  {entries} }}\n'
    return genodsl.build(genodsl.loads(text), "ref")


# ---------------------------------------------------------------- create_model

def test_create_model_from_a_shipped_name():
    model = genodsl.create_model("NAS_UNET_V3", in_channels=3, classes=4, C=4, depth=2)
    assert _params(model) == _params(_network("NAS_UNET_V3", in_channels=3, classes=4, C=4,
                                              depth=2))
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 4, 16, 16)
    # the language's defaults when nothing is overridden
    assert _params(genodsl.create_model("NASUNET")) == _params(_network("NASUNET"))


def test_create_model_from_a_path_and_a_program():
    program = genodsl.load(GENOTYPES / "nasunet.geno")
    tiny = program.network("nasunet_tiny").settings
    reference = genodsl.build(program, "nasunet_tiny")
    assert _params(genodsl.create_model(GENOTYPES / "nasunet.geno", "nasunet_tiny")) \
        == _params(reference)
    assert _params(genodsl.create_model(str(GENOTYPES / "nasunet.geno"),
                                        network="nasunet_tiny")) == _params(reference)
    assert _params(genodsl.create_model(program, "nasunet_tiny")) == _params(reference)
    # overrides keep the network's other settings
    over = genodsl.create_model(program, "nasunet_tiny", classes=5, C=4)
    assert _params(over) == _params(_network("NASUNET", in_channels=tiny.in_channels, classes=5,
                                             C=4, depth=tiny.depth))
    # a shipped name placed in a shipped network's settings
    v2 = genodsl.create_model("NAS_UNET_V2", network="nasunet_tiny")
    assert _params(v2) == _params(_network("NAS_UNET_V2", in_channels=tiny.in_channels,
                                           classes=tiny.classes, C=tiny.C, depth=tiny.depth))


def test_create_model_from_a_file_with_one_genotype(tmp_path):
    text = genodsl.dumps(genodsl.load(GENOTYPES / "nasunet.geno").subprogram("nasunet_tiny"))
    f = tmp_path / "one.geno"
    f.write_text(text.split("network ")[0], encoding="utf-8")  # the genotype alone, no network
    assert _params(genodsl.create_model(f, C=4, depth=2)) == _params(_network("NASUNET", C=4,
                                                                              depth=2))


def test_create_model_errors():
    with pytest.raises(ConfigError, match="did you mean 'NASUNET'"):
        genodsl.create_model("NASUNT")
    with pytest.raises(ConfigError, match="network.C"):
        genodsl.create_model("NASUNET", C=0)
    with pytest.raises(ConfigError, match="unknown network setting 'dept'"):
        genodsl.create_model("NASUNET", dept=3)
    with pytest.raises(ConfigError, match="name the network"):
        genodsl.create_model(GENOTYPES / "nasunet.geno")
    with pytest.raises(genodsl.GenoError, match="unknown network 'nasunet_tiy'"):
        genodsl.create_model("NASUNET", network="nasunet_tiy")


def test_list_genotypes():
    shipped = genodsl.load(GENOTYPES / "nasunet.geno").genotypes
    names = genodsl.list_genotypes()
    assert names == list(shipped) and names[0] == "NASUNET"
    v3 = genodsl.list_genotypes("*v3*")
    assert v3 and all("V3" in n for n in v3) and set(v3) < set(names)
    assert genodsl.list_genotypes("nothing*") == []


# ---------------------------------------------------------------- saved models

def test_compile_out_round_trip(cli, tmp_path):
    from safetensors import safe_open

    out = tmp_path / "model.safetensors"
    code, _, err = cli("compile", GENOTYPES / "nasunet.geno", "-n", "nasunet_tiny",
                       "-i", "1x1x32x32", "--out", out, "--seed", "3")
    assert code == 0, err
    with safe_open(str(out), framework="pt") as fh:
        meta = fh.metadata()
    assert meta["format"] == "genodsl-model" and meta["format_version"] == "1"
    assert meta["kind"] == "nasunet" and meta["network"] == "nasunet_tiny"
    assert meta["genodsl_version"] == genodsl.__version__
    program = genodsl.loads(meta["geno"])  # self-contained: only what the network uses
    assert list(program.genotypes) == ["NASUNET"] and list(program.networks) == ["nasunet_tiny"]

    saved = genodsl.load_model(out)
    torch.manual_seed(3)
    fresh = genodsl.build(genodsl.load(GENOTYPES / "nasunet.geno"), "nasunet_tiny").eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(saved.model(x), fresh(x))
    assert saved.genotype == meta["geno"] and saved.class_names is None


def test_baseline_round_trip(tmp_path):
    from genodsl.baselines import build_baseline
    from genodsl.runs.saved import ModelSpec, save_model

    model = build_baseline("unet", 1, 3, base=2, depth=2).eval()
    spec = ModelSpec.of_baseline("unet", 1, 3, base=2, depth=2)
    path = save_model(tmp_path / "u.safetensors", model, spec, class_names=["bg", "a", "b"])
    saved = genodsl.load_model(path)
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(saved.model(x), model(x))
    assert saved.spec == spec and saved.class_names == ["bg", "a", "b"] and saved.genotype is None


def test_corrupt_or_foreign_files_are_one_clear_error(tmp_path):
    from safetensors.torch import save_file

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 not a model at all")
    pt = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(1)}, pt)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"author": "someone"})
    for path, message in ((garbage, "cannot read model file"), (pt, "cannot read model file"),
                          (foreign, "not a genodsl model file"),
                          (tmp_path / "absent.safetensors", "no such model file"),
                          (tmp_path, "is a folder")):
        with pytest.raises(CheckpointError, match=message) as info:
            genodsl.load_model(path)
        assert str(path) in str(info.value) and "Traceback" not in str(info.value)


def test_weights_that_do_not_fit_or_a_newer_format(tmp_path, cli):
    from safetensors import safe_open
    from safetensors.torch import save_file

    out = tmp_path / "m.safetensors"
    cli("compile", GENOTYPES / "nasunet.geno", "-n", "nasunet_tiny", "-i", "1x1x32x32", "-o", out)
    with safe_open(str(out), framework="pt") as fh:
        meta, tensors = fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}
    wider = dict(meta, geno=meta["geno"].replace("C           = 8", "C           = 16"))
    assert wider["geno"] != meta["geno"]
    save_file(tensors, str(out), metadata=wider)
    with pytest.raises(CheckpointError, match="do not fit"):
        genodsl.load_model(out)
    save_file(tensors, str(out), metadata=dict(meta, format_version="2"))
    with pytest.raises(CheckpointError, match="format version '2'"):
        genodsl.load_model(out)


# ---------------------------------------------------------------- runs

@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A 1-epoch NASUNET run on tiny synthetic data, made with the CLI."""
    from genodsl.cli import main

    out = tmp_path_factory.mktemp("api") / "run"
    try:
        main(["train", str(GENOTYPES / "nasunet.geno"), "-n", "nasunet_tiny", "--data",
              "synthetic", "--out", str(out), "--epochs", "1", *TINY])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return out


def test_load_run(run):
    loaded = genodsl.load_run(run)
    assert loaded.config.train.epochs == 1 and loaded.epoch == 1
    assert loaded.selected == "best" and loaded.summary["status"] == "completed"
    assert loaded.class_names == ["0", "1"]
    assert "nasunet_tiny" in genodsl.loads(loaded.genotype).networks
    assert not loaded.model.training
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        assert loaded.model(x).shape == (1, 2, 16, 16)


def test_a_runs_model_file_loads_alone_and_matches_its_checkpoint(run):
    saved = genodsl.load_model(run / "model.safetensors")
    assert saved.spec.network == "nasunet_tiny" and saved.run["epoch"] == 1
    assert saved.config["train"]["epochs"] == 1  # the file alone can predict
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    state = saved.model.state_dict()
    assert state.keys() == last["model"].keys()
    assert all(torch.equal(state[k], last["model"][k]) for k in state)  # 1 epoch: best = last


def test_load_run_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no run folder"):
        genodsl.load_run(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no model.safetensors"):
        genodsl.load_run(tmp_path / "empty")


def test_import_genodsl_stays_torch_free():
    import subprocess
    import sys

    probe = ("import sys, genodsl; genodsl.list_genotypes(); "
             "print(sorted(m for m in ('torch', 'monai', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         encoding="utf-8", timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().replace("'", '"')) == []
