"""The primitive modules of NAS-Unet's ops (paper Table 1), with the reference's semantics.

Every conv is bias-free and followed by an affine GroupNorm; no op moves itself to a device.
Down ops halve H and W exactly, up ops double them exactly (transposed convs carry
``output_padding=1``, so no interpolation fix-up is ever needed).
"""

from __future__ import annotations

import torch
from torch import nn


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with C/16 groups when C is a multiple of 16, else a single group."""
    groups = channels // 16 if channels % 16 == 0 else 1
    return nn.GroupNorm(groups, channels, affine=True)


def _padding(k: int, dilation: int) -> int:
    return dilation * (k - 1) // 2


class ConvNorm(nn.Sequential):
    """conv (or stride-2 transposed conv) → GroupNorm → optional ReLU.

    ``depthwise`` makes it a separable conv: depthwise k×k (groups=C) then pointwise 1×1.
    """

    def __init__(self, channels: int, k: int = 3, stride: int = 1, dilation: int = 1,
                 transposed: bool = False, depthwise: bool = False, relu: bool = True):
        layers: list[nn.Module] = []
        pad = _padding(k, dilation)
        groups = channels if depthwise else 1
        if transposed:
            layers.append(nn.ConvTranspose2d(channels, channels, k, stride=2, padding=pad,
                                             output_padding=1, dilation=dilation, groups=groups,
                                             bias=False))
        else:
            layers.append(nn.Conv2d(channels, channels, k, stride=stride, padding=pad,
                                    dilation=dilation, groups=groups, bias=False))
        if depthwise:
            layers.append(nn.Conv2d(channels, channels, 1, bias=False))
        layers.append(group_norm(channels))
        if relu:
            layers.append(nn.ReLU(inplace=False))
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel attention: global average pool → Linear → ReLU → Linear → sigmoid → scale.

    The bottleneck is ``max(1, C // reduction)`` so it never drops to 0 channels.
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.mean(dim=(2, 3))  # [B, C]
        w = torch.sigmoid(self.fc2(torch.relu(self.fc1(w))))
        return x * w[:, :, None, None]


class SqueezeExciteConv(nn.Sequential):
    """down_cweight / up_cweight: SE scaling, then a stride-2 (transposed) conv and GN, no ReLU."""

    def __init__(self, channels: int, reduction: int = 16, k: int = 3, transposed: bool = False):
        super().__init__(SqueezeExcite(channels, reduction),
                         ConvNorm(channels, k=k, stride=2, transposed=transposed, relu=False))


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The ``none`` candidate: zeros of the edge's output shape, no weights (search only)."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale  # 0.5 on a down edge, 2 on an up edge, 1 on a normal edge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return torch.zeros_like(x)
        if self.scale < 1:
            return x[:, :, ::2, ::2] * 0.0
        b, c, h, w = x.shape
        return x.new_zeros(b, c, 2 * h, 2 * w)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"
