"""FLOP and parameter counting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genodsl.baselines import build_baseline
from genodsl.compile.flops import count_flops, count_params


def test_single_conv_matches_the_hand_formula():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    n, h, w = 2, 16, 12
    report = count_flops(conv, (n, 3, h, w))
    # 2 FLOPs per multiply-add: 2 * N * C_out * H_out * W_out * C_in * k * k (bias not counted)
    assert report.total == 2 * n * 8 * h * w * 3 * 3 * 3
    assert report.device == "meta"
    assert report.per_op == {"convolution": report.total}
    assert report.per_sample == report.total / n


def test_strided_transposed_and_linear():
    model = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1),
                          nn.ConvTranspose2d(6, 5, 2, stride=2))
    report = count_flops(model, (1, 4, 8, 8))
    conv = 2 * 6 * 4 * 4 * 4 * 9  # output 4x4
    tconv = 2 * 5 * 6 * 4 * 4 * 4  # every input pixel meets the 2x2 kernel once
    assert report.total == conv + tconv
    assert report.per_module == {"0": conv, "1": tconv}
    assert count_flops(nn.Linear(10, 7), (3, 10)).total == 2 * 3 * 10 * 7


def test_meta_count_leaves_model_untouched():
    model = build_baseline("unet", 1, 2, base=4, depth=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_flops(model, (2, 1, 32, 32))
    assert all(p.device.type == "cpu" for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training


def test_fallback_runs_for_real_and_agrees():
    model = build_baseline("unet", 1, 2, base=4, depth=2)
    meta = count_flops(model, (1, 1, 32, 32))
    real = count_flops(model, (1, 1, 32, 32), use_meta=False)
    assert real.device == "cpu" and real.total == meta.total
    assert real.per_module == meta.per_module
    assert model.training


def test_per_module_counts_add_up_for_nested_children():
    model = build_baseline("fcdensenet56", 1, 2, growth_rate=3, first_conv=6,
                           down_blocks=(2, 2), bottleneck_layers=2)
    report = count_flops(model, (1, 1, 16, 16))
    assert sum(report.per_module.values()) == report.total
    assert "(other)" not in report.per_module
    assert set(report.per_module) == {n for n, _ in model.named_children()}
    assert "down_blocks" in report.table()


def test_unet_64_flops_match_the_paper_on_meta():
    # reference.md: 96.2 GFLOPs forward at 256x256 (conv/matmul only, 2 FLOPs per MAC).
    with torch.device("meta"):
        model = build_baseline("unet", 1, 2)
    report = count_flops(model, (1, 1, 256, 256))
    assert report.total == 96_192_167_936
    assert round(report.gflops, 1) == 96.2


@pytest.mark.parametrize("trainable_only,expected", [(False, 3 * 2 + 2), (True, 3 * 2)])
def test_count_params(trainable_only, expected):
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.BatchNorm1d(1))
    model[1].requires_grad_(False)
    assert count_params(model, trainable_only=trainable_only) == expected
