"""The primitive modules of NAS-Unet's ops (paper Table 1), with the reference's semantics.

Every conv is bias-free and followed by an affine GroupNorm; no op moves itself to a device.
Each module is 2D (H×W) or 3D (D×H×W), chosen by ``dims``; strides are per axis (a volume's
first stages may halve H and W only, stride (1, 2, 2)).  Down ops divide each axis by its
stride exactly, up ops multiply it exactly (transposed convs carry ``output_padding`` =
stride − 1 per axis, so no interpolation fix-up is ever needed).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

Stride = int | Sequence[int]

CONV = {2: nn.Conv2d, 3: nn.Conv3d}
CONV_T = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
AVG_POOL = {2: nn.AvgPool2d, 3: nn.AvgPool3d}
MAX_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with C/16 groups when C is a multiple of 16, else a single group."""
    groups = channels // 16 if channels % 16 == 0 else 1
    return nn.GroupNorm(groups, channels, affine=True)


def per_axis(stride: Stride, dims: int) -> tuple[int, ...]:
    """``stride`` as one value per spatial axis."""
    out = (stride,) * dims if isinstance(stride, int) else tuple(int(s) for s in stride)
    if len(out) != dims:
        raise ValueError(f"a {dims}D op needs {dims} strides, got {out}")
    return out


def _padding(k: int, dilation: int) -> int:
    return dilation * (k - 1) // 2


def conv(c_in: int, c_out: int, k: int, stride: Stride = 1, dims: int = 2,
         **kw) -> nn.Module:
    """A bias-free ``dims``-D conv with 'same' padding (before the stride)."""
    return CONV[dims](c_in, c_out, k, stride=_plain(stride, dims), padding=k // 2, bias=False,
                      **kw)


def _plain(stride: Stride, dims: int) -> int | tuple[int, ...]:
    """An int when every axis has the same stride (the 2D modules' own form), else a tuple."""
    s = per_axis(stride, dims)
    return s[0] if len(set(s)) == 1 else s


class ConvNorm(nn.Sequential):
    """conv (or transposed conv, ``stride`` > 1) → GroupNorm → optional ReLU.

    ``depthwise`` makes it a separable conv: depthwise k×k (groups=C) then pointwise 1×1.
    """

    def __init__(self, channels: int, k: int = 3, stride: Stride = 1, dilation: int = 1,
                 transposed: bool = False, depthwise: bool = False, relu: bool = True,
                 dims: int = 2):
        layers: list[nn.Module] = []
        pad = _padding(k, dilation)
        groups = channels if depthwise else 1
        if transposed:
            strides = per_axis(stride, dims)
            layers.append(CONV_T[dims](channels, channels, k, stride=_plain(strides, dims),
                                       padding=pad,
                                       output_padding=_plain([s - 1 for s in strides], dims),
                                       dilation=dilation, groups=groups, bias=False))
        else:
            layers.append(CONV[dims](channels, channels, k, stride=_plain(stride, dims),
                                     padding=pad, dilation=dilation, groups=groups, bias=False))
        if depthwise:
            layers.append(CONV[dims](channels, channels, 1, bias=False))
        layers.append(group_norm(channels))
        if relu:  # in place: GroupNorm's backward reads its input, never its output
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def pool(kind: str, stride: Stride, dims: int) -> nn.Module:
    """A window = stride pool ('avg' or 'max'): each axis divided by its stride."""
    s = _plain(stride, dims)
    if kind == "avg":
        return AVG_POOL[dims](s, s, count_include_pad=False)
    return MAX_POOL[dims](s, s)


class SqueezeExcite(nn.Module):
    """Channel attention: global average pool (over H×W or D×H×W) → Linear → ReLU →
    Linear → sigmoid → scale.  The bottleneck is ``max(1, C // reduction)`` so it never drops to 0."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = tuple(range(2, x.dim()))
        w = x.mean(dim=spatial)  # [B, C]
        w = torch.sigmoid(self.fc2(torch.relu(self.fc1(w))))
        return x * w.reshape(*w.shape, *(1,) * len(spatial))  # [B, C, 1, 1(, 1)]


class SqueezeExciteConv(nn.Sequential):
    """down_cweight / up_cweight: SE scaling, then a strided (transposed) conv and GN, no ReLU."""

    def __init__(self, channels: int, reduction: int = 16, k: int = 3, transposed: bool = False,
                 stride: Stride = 2, dims: int = 2):
        super().__init__(SqueezeExcite(channels, reduction),
                         ConvNorm(channels, k=k, stride=stride, transposed=transposed,
                                  relu=False, dims=dims))


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The ``none`` candidate: zeros of the edge's output shape, no weights (search only)."""

    def __init__(self, scale: float, stride: Sequence[int] | None = None):
        super().__init__()
        self.scale = scale  # 0.5 on a down edge, 2 on an up edge, 1 on a normal edge
        self.stride = None if stride is None else tuple(stride)  # per axis; default 2 on each

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return torch.zeros_like(x)
        stride = self.stride or (2,) * (x.dim() - 2)
        if self.scale < 1:
            return x[(slice(None), slice(None), *(slice(None, None, s) for s in stride))] * 0.0
        return x.new_zeros(*x.shape[:2], *(n * s for n, s in zip(x.shape[2:], stride)))

    def extra_repr(self) -> str:
        return f"scale={self.scale}" + (f", stride={self.stride}" if self.stride else "")
