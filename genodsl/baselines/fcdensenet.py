"""FC-DenseNet, "The One Hundred Layers Tiramisu" (Jegou et al., 2017).

Dense layers are BN -> ReLU -> 3x3 conv -> dropout. The down path keeps each block's input
and new features (that concatenation is the skip); transitions down are BN -> ReLU -> 1x1
conv -> dropout -> 2x2 max pool. In the up path only a block's *new* features are upsampled
(3x3 stride-2 transposed conv, exactly 2H), concatenated with the skip and fed to the next
block; the last block keeps everything, and a 1x1 conv gives the class logits.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from ._common import check_input_size, check_positive

#: (growth_rate, layers per down block, bottleneck layers) of the paper's three networks;
#: the up path mirrors the down path. With 3 input channels and 11 classes these have
#: 1,376,795 / 3,463,243 / 9,322,091 trainable parameters; the paper quotes 1.5M / 3.5M /
#: 9.4M. Adding the BatchNorm running statistics gives 1.40M / 3.50M / 9.43M, which may be
#: how the paper counted; the layer structure here follows the paper's description.
PRESETS: dict[str, tuple[int, tuple[int, ...], int]] = {
    "fcdensenet56": (12, (4, 4, 4, 4, 4), 4),
    "fcdensenet67": (16, (5, 5, 5, 5, 5), 5),
    "fcdensenet103": (16, (4, 5, 7, 10, 12), 15),
}


class DenseLayer(nn.Sequential):
    def __init__(self, in_channels: int, growth_rate: int, dropout: float):
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, growth_rate, 3, padding=1),
            nn.Dropout2d(dropout) if dropout > 0 else nn.Identity(),
        )


class DenseBlock(nn.Module):
    """``n_layers`` dense layers; each sees the block input and all earlier new maps.

    Returns the input and the new maps (``keep_input=True``) or only the new maps.
    """

    def __init__(self, in_channels: int, growth_rate: int, n_layers: int, dropout: float,
                 keep_input: bool):
        super().__init__()
        self.keep_input = keep_input
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, dropout)
            for i in range(n_layers))
        self.out_channels = (in_channels if keep_input else 0) + n_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))  # (N, growth, H, W) each
        return torch.cat(feats if self.keep_input else feats[1:], dim=1)


class TransitionDown(nn.Sequential):
    def __init__(self, channels: int, dropout: float):
        super().__init__(
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
            nn.Dropout2d(dropout) if dropout > 0 else nn.Identity(),
            nn.MaxPool2d(2),
        )


class TransitionUp(nn.ConvTranspose2d):
    """3x3 stride-2 transposed conv; ``output_padding=1`` makes it exactly 2H (no cropping)."""

    def __init__(self, channels: int):
        super().__init__(channels, channels, 3, stride=2, padding=1, output_padding=1)


class FCDenseNet(nn.Module):
    """FC-DenseNet; returns logits of shape (N, classes, H, W).

    Args:
        in_channels: image channels.
        classes: output channels.
        growth_rate: new feature maps per dense layer (k in the paper).
        down_blocks: dense layers per down block; H and W must be divisible by
            ``2**len(down_blocks)``.
        bottleneck_layers: dense layers in the bottleneck block.
        up_blocks: dense layers per up block; defaults to ``down_blocks`` reversed.
        first_conv: channels of the first 3x3 conv.
        dropout: dropout after each conv (0.2 in the paper; 0 disables it).
    """

    def __init__(self, in_channels: int, classes: int, growth_rate: int = 16,
                 down_blocks: Sequence[int] = (4, 5, 7, 10, 12), bottleneck_layers: int = 15,
                 up_blocks: Sequence[int] | None = None, first_conv: int = 48,
                 dropout: float = 0.2):
        super().__init__()
        down_blocks = tuple(down_blocks)
        up_blocks = tuple(reversed(down_blocks)) if up_blocks is None else tuple(up_blocks)
        check_positive(in_channels=in_channels, classes=classes, growth_rate=growth_rate,
                       bottleneck_layers=bottleneck_layers, first_conv=first_conv)
        if not down_blocks or len(up_blocks) != len(down_blocks):
            raise ConfigError(
                f"FCDenseNet needs as many up blocks as down blocks (at least one), got "
                f"down_blocks={down_blocks}, up_blocks={up_blocks}")
        for i, n in enumerate(down_blocks + up_blocks):
            check_positive(**{f"block {i} layers": n})
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        self.size_divisor = 2 ** len(down_blocks)

        self.first_conv = nn.Conv2d(in_channels, first_conv, 3, padding=1)
        channels = first_conv
        skip_channels = []
        self.down_blocks = nn.ModuleList()
        self.trans_down = nn.ModuleList()
        for n in down_blocks:
            block = DenseBlock(channels, growth_rate, n, dropout, keep_input=True)
            channels = block.out_channels
            skip_channels.append(channels)
            self.down_blocks.append(block)
            self.trans_down.append(TransitionDown(channels, dropout))
        self.bottleneck = DenseBlock(channels, growth_rate, bottleneck_layers, dropout,
                                     keep_input=False)
        upsampled = self.bottleneck.out_channels
        self.trans_up = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i, n in enumerate(up_blocks):
            last = i == len(up_blocks) - 1
            self.trans_up.append(TransitionUp(upsampled))
            block = DenseBlock(upsampled + skip_channels[-1 - i], growth_rate, n, dropout,
                               keep_input=last)
            self.up_blocks.append(block)
            upsampled = block.out_channels
        self.head = nn.Conv2d(upsampled, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(x.shape, self.size_divisor, type(self).__name__)
        y = self.first_conv(x)
        skips = []
        for block, down in zip(self.down_blocks, self.trans_down):
            y = block(y)
            skips.append(y)
            y = down(y)  # half resolution
        y = self.bottleneck(y)  # only the new maps
        for up, block in zip(self.trans_up, self.up_blocks):
            y = torch.cat([up(y), skips.pop()], dim=1)  # (N, new + skip, 2H, 2W)
            y = block(y)
        return self.head(y)


def fcdensenet(preset: str, in_channels: int, classes: int, **kwargs) -> FCDenseNet:
    """One of the paper's presets (``fcdensenet56``, ``fcdensenet67``, ``fcdensenet103``)."""
    growth, down, bottleneck = PRESETS[preset]
    args = dict(growth_rate=growth, down_blocks=down, bottleneck_layers=bottleneck)
    args.update(kwargs)
    return FCDenseNet(in_channels, classes, **args)
