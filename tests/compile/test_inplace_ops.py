"""Ops that work in place (ReLU after GroupNorm) give the values and gradients of the same
ops run out of place, for every registry op, in 2D and 3D."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from genodsl.ops.builders import build_op
from genodsl.ops.registry import REGISTRY, OpKind

CASES = [(name, dims) for name, spec in REGISTRY.items() if spec.kind is not OpKind.ANY
         for dims in (2, 3)]


def _out_of_place(module: nn.Module) -> nn.Module:
    twin = copy.deepcopy(module)
    for m in twin.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return twin


@pytest.mark.parametrize("name,dims", CASES)
def test_in_place_ops_match_out_of_place(name: str, dims: int) -> None:
    torch.manual_seed(0)
    op = build_op(name, 4, REGISTRY[name].kind, dims=dims)
    twin = _out_of_place(op)
    shape = (2, 4, *(4,) * dims)
    x = torch.randn(shape, requires_grad=True)
    y, y_ref = op(x), twin(x)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, *op.parameters()], g)
    ref = torch.autograd.grad(y_ref, [x, *twin.parameters()], g)
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_conv_ops_relu_in_place() -> None:
    op = build_op("conv", 4, OpKind.NORMAL)
    assert [m.inplace for m in op.modules() if isinstance(m, nn.ReLU)] == [True]
