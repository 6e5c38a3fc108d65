"""3D networks (dims = 3): every op's 3D form, anisotropic halvings, hand parameter counts."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genodsl import dumps
from genodsl.compile import build
from genodsl.compile.flops import count_flops
from genodsl.errors import ConfigError, GenoValidationError
from genodsl.lang.ir import Network, NetworkSettings
from genodsl.lang.limits import estimate_parameters
from genodsl.lang.loader import loads
from genodsl.lang.plan import size_divisors, stage_plan
from genodsl.lang.validate import check_input
from genodsl.ops.builders import build_op, param_count
from genodsl.ops.registry import REGISTRY, OpKind

C = 4
ROLES = {OpKind.DOWN: [OpKind.DOWN], OpKind.UP: [OpKind.UP], OpKind.NORMAL: [OpKind.NORMAL],
         OpKind.ANY: [OpKind.DOWN, OpKind.NORMAL, OpKind.UP]}
CASES = [(name, role, stride) for name, spec in REGISTRY.items() for role in ROLES[spec.kind]
         for stride in ((2, 2, 2), (1, 2, 2))]


@pytest.mark.parametrize("name,role,stride", CASES)
def test_every_op_in_3d_keeps_its_shape_at_each_stride(name, role, stride):
    x = torch.randn(2, C, 4, 6, 8, requires_grad=True)
    op = build_op(name, C, role, dims=3, stride=stride)
    y = op(x)
    grow = {OpKind.DOWN: lambda n, s: n // s, OpKind.UP: lambda n, s: n * s,
            OpKind.NORMAL: lambda n, s: n}[role]
    assert tuple(y.shape) == (2, C, *(grow(n, s) for n, s in zip(x.shape[2:], stride)))
    if name != "none":
        y.sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()


# By hand, C = 4, k = 3: a conv is C·C·k³ weights (no bias), a depthwise one C·k³ plus the
# 1×1 pointwise C·C, GroupNorm 2·C; SE (reduction 16): Linear 4→1 (4 + 1) and 1→4 (4 + 4).
SE = (4 * 1 + 1) + (1 * 4 + 4)
CONV3 = 4 * 4 * 27 + 2 * 4
DEP3 = 4 * 27 + 4 * 4 + 2 * 4
HAND_3D = {"none": 0, "identity": 0, "avg_pool": 0, "max_pool": 0, "cweight": SE,
           "conv": CONV3, "dil_conv": CONV3, "dep_conv": DEP3,
           "down_conv": CONV3, "down_dil_conv": CONV3, "down_dep_conv": DEP3,
           "up_conv": CONV3, "up_dil_conv": CONV3, "up_dep_conv": DEP3,
           "down_cweight": SE + CONV3, "up_cweight": SE + CONV3}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_3d_parameters_by_hand(name):
    assert param_count(name, C, dims=3) == HAND_3D[name]
    spec = REGISTRY[name]
    for stride in ((2, 2, 2), (1, 2, 2)):  # the stride never changes the weights
        role = OpKind.NORMAL if spec.kind is OpKind.ANY else spec.kind
        module = build_op(name, C, role, dims=3, stride=stride)
        assert sum(p.numel() for p in module.parameters()) == HAND_3D[name]


def _window_weights(name: str, c: int) -> int:
    """The weights that multiply the kernel window: c·c for a full conv, c for a depthwise one."""
    if REGISTRY[name].param("k") is None:
        return 0
    return c if "dep_conv" in name else c * c


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("k", [1, 3, 5])
def test_a_2d_op_and_its_3d_twin_differ_by_k2_to_k3(name, k):
    args = (("k", k),) if REGISTRY[name].param("k") else ()
    c = 8
    p2, p3 = param_count(name, c, args, dims=2), param_count(name, c, args, dims=3)
    assert p3 - p2 == (k ** 3 - k ** 2) * _window_weights(name, c)


def test_2d_ops_are_unchanged_by_the_3d_option():
    for name, spec in REGISTRY.items():
        role = OpKind.NORMAL if spec.kind is OpKind.ANY else spec.kind
        default, explicit = build_op(name, C, role), build_op(name, C, role, dims=2,
                                                               stride=(2, 2))
        assert repr(default) == repr(explicit)
    with pytest.raises(ValueError, match="3 strides"):
        build_op("down_conv", C, OpKind.DOWN, dims=3, stride=(2, 2))


def test_3d_conv_flops_by_hand():
    op = build_op("conv", C, OpKind.NORMAL, dims=3)
    # 2 FLOPs per multiply-add: out voxels × C_out × C_in × k³
    assert count_flops(op, (1, C, 4, 6, 8)).total == 2 * (4 * 6 * 8) * C * C * 27


TINY = """
genotype T {
  cell down {
    input s0, s1
    node n2 = down_conv(s1) + avg_pool(s0)
    output concat(n2)
  }
  cell up {
    input s0, s1
    node n2 = up_conv(s1) + identity(s0)
    output concat(n2)
  }
}
network flat { cells = T  C = 4  depth = 1  classes = 2 }
network vol { cells = T  C = 4  depth = 1  classes = 2  dims = 3 }
network thick { cells = T  C = 4  depth = 3  classes = 2  dims = 3  inplane_stages = 2 }
"""


@pytest.fixture(scope="module")
def tiny():
    return loads(TINY)


def test_a_tiny_3d_network_by_hand(tiny):
    # stems 16 wide (4·C): stem0 1×1×1 (16 + GN 32), stem1 3×3×3 (16·27 + GN 32)
    stems = (16 + 32) + (16 * 27 + 32)
    # down1: preprocess stem0 and stem1 (16 → 4 each, + GN) and down_conv; avg_pool is free
    down1 = (16 + 16) * 4 + 2 * 8 + CONV3
    # up1 (skip stem1, s1 down1: 4 ch) and up2 (skip stem0, s1 up1): preprocess + up_conv
    up = (16 + 4) * 4 + 2 * 8 + CONV3
    head = 4 * 2
    total = stems + down1 + 2 * up + head
    assert total == 2176
    model = build(tiny, "vol")
    assert sum(p.numel() for p in model.parameters()) == total
    assert model(torch.randn(1, 1, 4, 8, 8)).shape == (1, 2, 4, 8, 8)
    # its 2D twin: every k×k×k conv becomes k×k (here only k = 3 convs differ: 3 of them
    # in cells, one stem), the rest is the same
    flat = build(tiny, "flat")
    assert sum(p.numel() for p in flat.parameters()) == total - (27 - 9) * (16 + 3 * 16)
    assert estimate_parameters(tiny.network("vol").settings, tiny.genotypes["T"]) >= total


def test_anisotropic_halvings_keep_d_for_the_first_stages(tiny):
    settings = tiny.network("thick").settings
    assert size_divisors(settings) == (4, 16, 16)
    plan = stage_plan(settings, tiny.genotypes["T"], (4, 32, 32))
    assert [s.size for s in plan.stems] == [(4, 32, 32), (4, 16, 16)]
    assert [(c.name, c.size, c.stride) for c in plan.cells] == [
        ("down1", (4, 8, 8), (1, 2, 2)),      # the second halving: in plane only
        ("down2", (2, 4, 4), (2, 2, 2)),
        ("down3", (1, 2, 2), (2, 2, 2)),
        ("up1", (2, 4, 4), (2, 2, 2)),
        ("up2", (4, 8, 8), (2, 2, 2)),
        ("up3", (4, 16, 16), (1, 2, 2)),      # mirrors down1
        ("up4", (4, 32, 32), (1, 2, 2)),      # mirrors stem1
    ]
    assert plan.stage("down2").s0_strides == (1, 2, 2)  # s0 = stem1: same D, twice H, W
    model = build(tiny, "thick")
    seen = {}
    for name, cell in zip([c.name for c in plan.cells],
                          (*model.down_cells, *model.up_cells)):
        cell.register_forward_hook(lambda _m, _i, out, n=name: seen.__setitem__(n, out.shape))
    out = model(torch.randn(1, 1, 4, 32, 32))
    assert out.shape == (1, 2, 4, 32, 32)
    assert {n: tuple(s[2:]) for n, s in seen.items()} == {c.name: c.size for c in plan.cells}


def test_the_3d_supernet_runs_and_keeps_the_volume():
    program = loads('import "nasunet_space.geno"\n'
                    "network s3 { cells = NASUNET_SPACE  C = 2  depth = 1  dims = 3 "
                    " inplane_stages = 1 }")
    model = build(program, "s3")
    assert model(torch.randn(1, 1, 2, 8, 8)).shape == (1, 2, 2, 8, 8)


def test_a_depth_the_volume_cannot_take(tiny):
    net = tiny.network("vol")
    (diag,) = check_input(net, (1, 1, 6, 8, 8))
    assert diag.code == "E048" and "input depth (D) 6 is not divisible by 2^(depth+1) = 4" \
        in diag.message
    (diag,) = check_input(tiny.network("thick"), (1, 1, 6, 32, 32))
    assert "2^(depth+1-inplane_stages) = 4" in diag.message
    assert "inplane_stages = 3 (halve D once only)" in diag.hint
    assert check_input(tiny.network("thick"), (1, 1, 4, 32, 32)) == []
    (diag,) = check_input(net, (1, 1, 8, 8))
    assert diag.code == "E048" and "N×C×D×H×W" in diag.message
    with pytest.raises(ConfigError, match="has 2 axes but the network is 3D"):
        stage_plan(net.settings, tiny.genotypes["T"], (8, 8))
    with pytest.raises(ConfigError, match="does not fit depth 1"):
        stage_plan(net.settings, tiny.genotypes["T"], (6, 8, 8))


@pytest.mark.parametrize("entries,message", [
    ("inplane_stages = 1", "this network is 2D"),
    ("dims = 3  inplane_stages = 3", "halves only 2 times"),
])
def test_bad_inplane_stages(entries, message):
    with pytest.raises(GenoValidationError) as info:
        loads(TINY.split("network")[0] + f"network n {{ cells = T  depth = 1  {entries} }}")
    assert info.value.diagnostics[0].code == "E063" and message in str(info.value)


def test_dims_round_trips_and_is_printed_only_when_set(tiny):
    text = dumps(tiny)
    assert "dims           = 3" in text and "inplane_stages = 2" in text
    assert loads(text) == tiny
    flat = dataclasses.replace(tiny, networks={"flat": tiny.networks["flat"]})
    assert "dims" not in dumps(flat)
    assert NetworkSettings(cells="T").dims == 2
    assert isinstance(tiny.networks["vol"], Network)


def test_compile_prints_a_3d_summary(cli, tmp_path):
    f = tmp_path / "t.geno"
    f.write_text(TINY, encoding="utf-8")
    code, out, _ = cli("compile", f, "-n", "thick", "--input", "1x1x4x32x32")
    assert code == 0, out
    assert "1×2×4×32×32" in out and "3D" in out
    assert "parameters: " + f"{sum(p.numel() for p in build(loads(TINY), 'thick').parameters()):,}" \
        in out
    code, _, err = cli("compile", f, "-n", "thick", "--input", "1x1x6x32x32")
    assert code == 2 and "E048" in err and "inplane_stages = 3" in err
    code, out, _ = cli("compile", f, "-n", "vol")  # the default input: a 64×128×128 volume
    assert code == 0 and "1×2×64×128×128" in out


def test_render_shows_3d_sizes(tiny):
    from genodsl.render import render_network

    source = render_network(tiny.network("thick"), tiny).source
    assert "stem1 (3×3×3 conv, stride 1×2×2)\\nD×H/2×W/2" in source
    assert "down cell 3\\nD/4×H/16×W/16" in source
    sized = render_network(tiny.network("thick"), tiny, (4, 32, 32)).source
    assert "down cell 3\\n1×2×2" in sized and "input\\n4×32×32" in sized
