"""``TrainConfig``: the ``train:`` section, with the NAS-Unet paper's defaults (torch-free).

How a run is carried out (device, amp, workers, seed, progress) is the shared ``runtime:``
section (:class:`genodsl.config.RuntimeConfig`); the whole file is
:class:`genodsl.runs.config.RunConfig`.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import Field, model_validator

from ..config import Section, resumable


class LossName(str, Enum):
    DICE = "dice"
    DICE_REF = "dice_ref"
    WEIGHTED_DICE = "weighted_dice"
    CE = "ce"
    DICE_CE = "dice_ce"


class EmptyMaskRule(str, Enum):
    SCORE = "score"    # an empty prediction of an empty mask scores 1, a false positive 0
    IGNORE = "ignore"  # images with an empty mask are left out of that class's mean


class TrainConfig(Section):
    """Training settings; defaults follow the NAS-Unet paper (Adam 3e-4, wd 5e-5, 200 epochs)."""

    epochs: int = Field(200, ge=1, description="training epochs")
    batch_size: int = Field(8, ge=1, description="images per step, over all processes")
    steps_per_epoch: int | None = Field(
        None, ge=1, description="optimizer steps per epoch, repeating or cutting short the "
                                "reshuffled training set (nnU-Net: 250); null: one pass")
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(3e-4, gt=0, description="initial learning rate")
    weight_decay: float = Field(5e-5, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD only")
    scheduler: Literal["cosine", "none"] = "cosine"
    eta_min: float = Field(0.0, ge=0, description="final lr of the cosine schedule")
    grad_clip: float | None = Field(5.0, gt=0, description="max grad norm; null disables")
    loss: LossName = LossName.DICE
    class_weights: tuple[float, ...] | None = Field(
        None, description="per-class loss weights; weighted_dice without them counts the "
                          "training masks and uses inverse class frequency")
    empty_mask_rule: EmptyMaskRule = EmptyMaskRule.SCORE
    surface_tolerance_mm: float = resumable(
        1.0, gt=0, description="surface Dice tolerance in mm (in pixels for 2D images "
                               "without a known spacing); used by evaluate")
    val_every: int = Field(1, ge=1, description="validate every N epochs (and the last)")
    count_flops: bool = Field(True, description="count forward FLOPs of one image at start")
    tensorboard: bool = resumable(False, description="also write TensorBoard scalars")
    log_every: int = resumable(10, ge=0, description="per-step log lines every N steps; "
                                                     "0: none")
    # -- speed and memory: the same result, computed differently --------------------------------
    compile: bool = resumable(
        False, description="torch.compile the model (CPU and CUDA; the first steps compile, "
                           "the compiled graphs are cached for later runs)")
    recompute: bool = resumable(
        False, description="recompute each cell's activations in backward instead of keeping "
                           "them (less memory, more time)")

    @model_validator(mode="after")
    def _weights_need_a_weighted_loss(self) -> "TrainConfig":
        if self.class_weights is not None and self.loss in (LossName.DICE, LossName.DICE_REF):
            raise ValueError(f"class_weights are not used by loss '{self.loss.value}'; "
                             f"use weighted_dice, ce or dice_ce")
        return self
