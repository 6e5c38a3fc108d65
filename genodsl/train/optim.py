"""What a training run optimises with: the loss (with its class weights), optimizer, schedule."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from ..runtime.seeding import preserve_rng
from .config import LossName, TrainConfig
from .losses import build_loss, class_pixel_counts, inverse_frequency_weights


def loss_weights(cfg: TrainConfig, train_data: Dataset, num_classes: int,
                 ckpt: Mapping[str, Any] | None) -> list[float] | None:
    """The class weights: given, saved in the checkpoint, or counted for weighted_dice."""
    if cfg.class_weights is not None:
        return list(cfg.class_weights)
    if ckpt is not None:
        return ckpt["loss_weights"]
    if cfg.loss is LossName.WEIGHTED_DICE:
        with preserve_rng():  # reading samples may draw augmentations
            counts = class_pixel_counts(
                (train_data[i]["mask"] for i in range(len(train_data))),  # type: ignore[arg-type]
                num_classes)
        return inverse_frequency_weights(counts)
    return None


def make_loss(cfg: TrainConfig, num_classes: int, weights: list[float] | None) -> nn.Module:
    opts = {"class_weights": weights} if weights is not None else {}
    return build_loss(cfg.loss, num_classes, **opts)


def make_optimizer(cfg: TrainConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    opt_cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return opt_cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer) -> Any:
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs,
                                                          eta_min=cfg.eta_min)
    return None
