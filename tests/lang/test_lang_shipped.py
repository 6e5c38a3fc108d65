"""Every shipped .geno file parses, validates, is canonical, round-trips and compiles.

Files are globbed at test time (``genotypes/*.geno`` and ``examples/*.geno``), so a new
genotype or example is covered the moment it is added.  Networks are compiled at a tiny
size (C=4, depth 2, a 32×32 image): the structure is the file's, only the width shrinks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from genodsl.compile import build
from genodsl.lang.ir import NetworkSettings, Network
from genodsl.lang.loader import load, loads
from genodsl.lang.parse import parse, parse_file
from genodsl.lang.printer import format_module, program_to_module

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(ROOT.glob("genotypes/*.geno")) + sorted(ROOT.glob("examples/*.geno"))
IDS = [str(p.relative_to(ROOT)) for p in SHIPPED]

TINY = dict(C=4, depth=2)
SIZE = 32  # divisible by 2^(depth+1) = 8


def test_the_shipped_genotypes_are_there():
    names = {p.name for p in SHIPPED}
    assert {"nasunet.geno", "nasunet_space.geno", "ops.geno"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_loads_without_errors_or_warnings(path):
    program = load(path)
    assert not program.warnings
    assert program.opsets or program.genotypes or program.spaces or program.networks


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_is_canonical_and_formats_round_trip(path):
    text = path.read_text(encoding="utf-8")
    module = parse_file(path)
    assert format_module(module) == text  # `genodsl fmt` leaves shipped files alone
    assert parse(format_module(module)) == module


@pytest.mark.parametrize("path", SHIPPED, ids=IDS)
def test_program_dumps_and_loads_back_equal(path):
    program = load(path)
    text = format_module(program_to_module(program))
    again = loads(text)
    assert again == program
    assert format_module(program_to_module(again)) == text  # dumping is deterministic


def _networks() -> list[tuple[Path, str]]:
    out = []
    for path in SHIPPED:
        program = load(path)
        out += [(path, name) for name, net in program.networks.items()
                if net.settings.cells in program.genotypes]
    return out


NETWORKS = _networks()


def _tiny_copy(program, name: str, **update):
    """``program`` with network ``name`` shrunk; every other setting kept."""
    net = program.networks[name]
    small = Network(net.name, net.settings.model_copy(update={**TINY, **update}), net.entries,
                    net.span)
    return dataclasses.replace(program, networks={name: small}), small.settings


def test_some_networks_bind_genotypes():
    assert len(NETWORKS) >= 4


def _run(model: torch.nn.Module, settings: NetworkSettings, batch: int = 2) -> None:
    torch.manual_seed(0)
    x = torch.randn(batch, settings.in_channels, SIZE, SIZE, requires_grad=True)
    y = model(x)
    assert y.shape == (batch, settings.classes, SIZE, SIZE)
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing[:5]}"


@pytest.mark.parametrize("path,name", NETWORKS, ids=[f"{p.name}:{n}" for p, n in NETWORKS])
def test_network_compiles_and_runs(path, name):
    program, settings = _tiny_copy(load(path), name)
    model = build(program, name)
    assert settings.classes == load(path).networks[name].settings.classes  # only the width changed
    _run(model, settings)


def _genotypes() -> list[tuple[Path, str]]:
    return [(p, g) for p in SHIPPED for g in load(p).genotypes]


GENOTYPES = _genotypes()


@pytest.mark.parametrize("path,name", GENOTYPES, ids=[f"{p.name}:{g}" for p, g in GENOTYPES])
def test_every_genotype_compiles_and_runs(path, name):
    program = load(path)
    settings = NetworkSettings(cells=name, in_channels=2, classes=3, **TINY)
    program = dataclasses.replace(program, networks={"t": Network("t", settings)})
    _run(build(program, "t"), settings, batch=1)


# ---- parameter parity with the reference (reference.md) ---------------------------------
# The reference also counts 2·classes = 4 dead GroupNorm weights in its head.
PARITY = [
    ("NASUNET", 16, 4, 101_095),
    ("NASUNET", 16, 5, 123_611),
    ("NASUNET", 32, 5, 485_746),
    ("NASUNET", 48, 5, 1_086_409),
    ("NASUNET", 64, 6, 2_278_320),
    ("NAS_UNET_V3", 32, 5, 863_442),
    ("NAS_UNET_NEW_V1", 32, 5, 421_520),
    ("NAS_UNET_V1_En", 48, 5, 747_130),
]


@pytest.mark.parametrize("genotype,C,depth,reference", PARITY,
                         ids=[f"{g}-C{c}-d{d}" for g, c, d, _ in PARITY])
def test_parameter_parity_with_the_reference(genotype, C, depth, reference):
    program = load(ROOT / "genotypes" / "nasunet.geno")
    settings = NetworkSettings(cells=genotype, C=C, depth=depth, in_channels=1, classes=2)
    program = dataclasses.replace(program, networks={"n": Network("n", settings)})
    with torch.device("meta"):  # count without allocating or running anything
        model = build(program, "n")
    assert sum(p.numel() for p in model.parameters()) == reference - 4
