"""Every op of the registry builds, keeps its documented shape at its kind and back-propagates.

Parametrised over ``REGISTRY`` so a new op is tested the moment it is registered.
"""

from __future__ import annotations

import pytest
import torch

from genodsl.errors import GenoError
from genodsl.ops.builders import build_op, param_count
from genodsl.ops.registry import ALIASES, REGISTRY, OpKind, check_args, get_op

H = 8
SCALE = {OpKind.NORMAL: 1.0, OpKind.DOWN: 0.5, OpKind.UP: 2.0}


def _roles(kind: OpKind) -> list[OpKind]:
    return list(SCALE) if kind is OpKind.ANY else [kind]


def _variants() -> list[tuple[str, OpKind, tuple]]:
    """(op, role, args): defaults, plus each argument at a non-default value."""
    out = []
    for name, spec in REGISTRY.items():
        for role in _roles(spec.kind):
            out.append((name, role, ()))
            names = {p.name for p in spec.params}
            if "k" in names:
                out.append((name, role, (("k", 5),)))
            if "dilation" in names:
                out.append((name, role, (("dilation", 3),)))
                out.append((name, role, (("k", 5), ("dilation", 3))))
            if "reduction" in names:
                out.append((name, role, (("reduction", 4),)))
    return out


VARIANTS = _variants()


def _id(v) -> str:
    name, role, args = v
    return f"{name}-{role.value}" + "".join(f"-{k}{a}" for k, a in args)


def test_registry_has_the_paper_ops():
    down = {"avg_pool", "max_pool", "down_cweight", "down_dil_conv", "down_dep_conv", "down_conv"}
    up = {"up_cweight", "up_dep_conv", "up_conv", "up_dil_conv"}
    normal = {"identity", "cweight", "dil_conv", "dep_conv", "conv"}
    for kind, names in ((OpKind.DOWN, down), (OpKind.UP, up), (OpKind.NORMAL, normal)):
        assert {n for n, s in REGISTRY.items() if s.kind is kind} == names
    assert REGISTRY["none"].kind is OpKind.ANY and REGISTRY["none"].search_only
    assert ALIASES == {"shuffle_conv": "conv"} and get_op("shuffle_conv") is REGISTRY["conv"]


@pytest.mark.parametrize("channels", [4, 16])
@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_op_shape_and_gradient(variant, channels):
    name, role, args = variant
    spec = REGISTRY[name]
    assert check_args(spec, dict(args)) == []
    torch.manual_seed(0)
    module = build_op(spec.name, channels, role, dict(args))
    has_params = any(True for _ in module.parameters())
    assert has_params == spec.has_weights
    x = torch.randn(2, channels, H, H + 4, requires_grad=True)  # non-square on purpose
    y = module(x)
    s = SCALE[role]
    assert y.shape == (2, channels, int(H * s), int((H + 4) * s))
    assert torch.isfinite(y).all()
    if name == "none":
        assert not y.any()  # zeros, whatever the role
        return
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if "cweight" in n])
@pytest.mark.parametrize("channels", [1, 4, 8, 15, 16, 32])
def test_cweight_bottleneck_is_never_zero(name, channels):
    module = build_op(name, channels, REGISTRY[name].kind)
    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2
    assert linears[0].out_features == max(1, channels // 16) >= 1
    assert linears[1].out_features == channels


def test_kernel_and_dilation_arguments_reach_the_conv():
    conv = next(m for m in build_op("dil_conv", 8, OpKind.NORMAL, {"k": 5, "dilation": 3})
                .modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.kernel_size == (5, 5) and conv.dilation == (3, 3) and conv.bias is None


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_param_count_matches_the_built_module(name):
    spec = REGISTRY[name]
    role = OpKind.NORMAL if spec.kind is OpKind.ANY else spec.kind
    module = build_op(name, 16, role)
    assert param_count(name, 16) == sum(p.numel() for p in module.parameters())


def test_unknown_op_suggests_close_names():
    with pytest.raises(GenoError) as info:
        get_op("dep_cnv")
    assert "did you mean 'dep_conv'" in str(info.value)
