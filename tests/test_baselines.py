"""Baselines: parameter counts, shapes, gradients and the input-size check."""

from __future__ import annotations

import pytest
import torch

from genodsl.baselines import (BASELINES, FCDenseNet, InputSizeError, UNet, build_baseline,
                               check_input_size)
from genodsl.errors import ConfigError
from genodsl.compile.flops import count_params

# Tiny widths per registered baseline so a forward pass on 32x32 takes milliseconds.
TINY = {
    "unet": dict(base=4, depth=3),
    "unet_small": dict(base=2, depth=2),
    "fcdensenet56": dict(growth_rate=3, first_conv=6, down_blocks=(2, 2), bottleneck_layers=2),
    "fcdensenet67": dict(growth_rate=3, first_conv=6, down_blocks=(2, 1, 1)),
    "fcdensenet103": dict(growth_rate=2, first_conv=4),
}


def _meta(fn):
    with torch.device("meta"):  # build without allocating weights
        return fn()


def test_unet_64_matches_the_paper_parameter_count():
    # reference.md: a plain U-Net (64..1024 channels) has 31.0M parameters.
    model = _meta(lambda: build_baseline("unet", in_channels=1, classes=2))
    n = count_params(model)
    assert n == 31_036_546  # with BatchNorm (the default), transposed-conv up
    assert round(n / 1e6, 1) == 31.0
    no_bn = _meta(lambda: UNet(1, 2, base=64, depth=4, batch_norm=False))
    assert count_params(no_bn) == 31_030_658
    assert round(count_params(no_bn) / 1e6, 1) == 31.0


@pytest.mark.parametrize("name,expected", [
    ("fcdensenet56", 1_376_795), ("fcdensenet67", 3_463_243), ("fcdensenet103", 9_322_091)])
def test_fcdensenet_presets_parameter_counts(name, expected):
    # Paper (3 input channels, 11 classes): 1.5M, 3.5M and 9.4M; see fcdensenet.PRESETS.
    model = _meta(lambda: build_baseline(name, in_channels=3, classes=11))
    assert count_params(model) == expected


def test_tiny_variants_cover_the_registry():
    assert set(TINY) == set(BASELINES)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_forward_shape_and_backward(name):
    torch.manual_seed(0)
    model = build_baseline(name, in_channels=1, classes=3, **TINY[name])
    x = torch.randn(2, 1, 32, 32, requires_grad=True)
    y = model(x)
    assert y.shape == (2, 3, 32, 32)
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("up_mode", ["transpose", "bilinear"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_unet_options(up_mode, batch_norm):
    model = UNet(2, 1, base=4, depth=2, batch_norm=batch_norm, up_mode=up_mode)
    assert model(torch.randn(1, 2, 16, 24)).shape == (1, 1, 16, 24)  # non-square is fine


def test_output_size_equals_input_size_for_any_multiple():
    model = FCDenseNet(1, 2, growth_rate=2, down_blocks=(1, 1), bottleneck_layers=1,
                       first_conv=4).eval()
    for size in (4, 8, 20):
        assert model(torch.randn(1, 1, size, size)).shape[-2:] == (size, size)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_non_divisible_input_raises_before_running(name):
    model = build_baseline(name, 1, 2, **TINY[name])
    with pytest.raises(InputSizeError, match="divisible by") as info:
        model(torch.randn(1, 1, 30, 32))
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)
    assert "hint" in str(info.value)


def test_check_input_size_on_a_shape_alone():
    check_input_size((1, 1, 256, 256), 32, "m")
    with pytest.raises(InputSizeError, match="256x250"):
        check_input_size((1, 1, 256, 250), 32, "m")
    with pytest.raises(InputSizeError, match="4-D"):
        check_input_size((1, 256, 256), 32, "m")


def test_unknown_baseline_name_suggests_close_match():
    with pytest.raises(ConfigError, match="unknown baseline 'unte'") as info:
        build_baseline("unte", 1, 2)
    assert "did you mean 'unet'" in str(info.value)


def test_unknown_option_and_bad_values_are_config_errors():
    with pytest.raises(ConfigError, match="did you mean 'base'"):
        build_baseline("unet", 1, 2, bsae=8)
    with pytest.raises(ConfigError, match="up_mode"):
        UNet(1, 2, up_mode="bilinar")
    with pytest.raises(ConfigError, match="depth"):
        UNet(1, 2, depth=0)
    with pytest.raises(ConfigError, match="dropout"):
        FCDenseNet(1, 2, dropout=1.5)
    with pytest.raises(ConfigError, match="up blocks"):
        FCDenseNet(1, 2, down_blocks=(1, 1), up_blocks=(1,))


def test_model_code_has_no_cuda_calls():
    from pathlib import Path

    import genodsl.baselines as pkg

    for src in Path(pkg.__file__).parent.glob("*.py"):
        assert ".cuda(" not in src.read_text(encoding="utf-8"), src
