"""U-Net (Ronneberger et al., 2015) with 'same' padding, so the output size equals the input.

At ``base=64, depth=4`` the widths are 64, 128, 256, 512, 1024 as in the paper; with the
default transposed-conv upsampling that is the 31.0M-parameter network the NAS-Unet paper
compares against.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError, did_you_mean
from ._common import check_input_size, check_positive

UP_MODES = ("transpose", "bilinear")


class DoubleConv(nn.Sequential):
    """Two 3x3 'same' convolutions, each followed by (BatchNorm and) ReLU."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            # A bias before BatchNorm is redundant, so convs carry one only without BN.
            layers.append(nn.Conv2d(c_in, out_channels, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Down(nn.Sequential):
    """2x2 max pool, then a double conv."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, batch_norm))


class Up(nn.Module):
    """Upsample x2 to half the channels, concatenate the skip, then a double conv.

    ``transpose``: a 2x2 stride-2 transposed conv (the paper's "up-conv").
    ``bilinear``: bilinear x2 resize then a 1x1 conv (fewer weights, same channel plan).
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True,
                 up_mode: str = "transpose"):
        super().__init__()
        if up_mode == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, out_channels, 1),
            )
        self.conv = DoubleConv(2 * out_channels, out_channels, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)  # (N, out, 2H, 2W), the skip's size
        return self.conv(torch.cat([skip, x], dim=1))  # (N, 2*out, 2H, 2W) -> (N, out, 2H, 2W)


class UNet(nn.Module):
    """U-Net for 2-D segmentation; returns logits of shape (N, classes, H, W).

    Args:
        in_channels: image channels.
        classes: output channels (one logit map per class).
        base: width of the first level; level i has ``base * 2**i`` channels.
        depth: number of 2x down-samplings; H and W must be divisible by ``2**depth``.
        batch_norm: BatchNorm after every 3x3 conv (the 2015 paper had none).
        up_mode: ``"transpose"`` (2x2 transposed conv) or ``"bilinear"``.
    """

    def __init__(self, in_channels: int, classes: int, base: int = 64, depth: int = 4, *,
                 batch_norm: bool = True, up_mode: str = "transpose"):
        super().__init__()
        check_positive(in_channels=in_channels, classes=classes, base=base, depth=depth)
        if up_mode not in UP_MODES:
            raise ConfigError(f"unknown up_mode {up_mode!r}", hint=did_you_mean(up_mode, UP_MODES))
        self.depth = depth
        self.size_divisor = 2**depth
        widths = [base * 2**i for i in range(depth + 1)]
        self.stem = DoubleConv(in_channels, widths[0], batch_norm)
        self.down = nn.ModuleList(
            Down(widths[i], widths[i + 1], batch_norm) for i in range(depth))
        self.up = nn.ModuleList(
            Up(widths[i + 1], widths[i], batch_norm, up_mode) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x.shape, self.size_divisor, type(self).__name__)
        skips = [self.stem(x)]  # level 0: (N, base, H, W)
        for down in self.down:
            skips.append(down(skips[-1]))  # level i: (N, base*2^i, H/2^i, W/2^i)
        y = skips.pop()
        for up in self.up:
            y = up(y, skips.pop())
        return self.head(y)  # (N, classes, H, W)
