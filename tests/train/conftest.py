"""Tiny datasets and nets for the training tests (16x16 images, CPU, fixed seeds)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset


class TinySegDataset(Dataset):
    """Random images whose mask is (image > threshold); optional random flips (global RNG)."""

    def __init__(self, n: int, seed: int = 0, size: int = 16, channels: int = 1,
                 augment: bool = False, empty_every: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n, channels, size, size, generator=g)
        self.masks = (self.images[:, 0] > 0.6).long()
        if empty_every:
            self.masks[::empty_every] = 0
        self.augment = augment

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        image, mask = self.images[i], self.masks[i]
        if self.augment and torch.rand(()) < 0.5:  # uses the global torch RNG on purpose
            image, mask = image.flip(-1), mask.flip(-1)
        return {"image": image, "mask": mask, "name": f"img{i:02d}", "case": f"case{i // 2}"}


class TinyNet(nn.Module):
    def __init__(self, in_ch: int = 1, classes: int = 2, width: int = 4, dropout: float = 0.0):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_ch, width, 3, padding=1), nn.ReLU(),
                                  nn.Dropout2d(dropout), nn.Conv2d(width, classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.fixture
def dataset_cls():
    return TinySegDataset


@pytest.fixture
def make_net():
    def make(seed: int = 0, **kwargs) -> TinyNet:
        torch.manual_seed(seed)
        return TinyNet(**kwargs)
    return make
