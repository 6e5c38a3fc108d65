"""Random augmentation of training samples with MONAI dictionary transforms.

Image and mask go through the same transforms with the same random draws; the image is
interpolated bilinearly and the mask by nearest neighbour, so the mask keeps its class indices.
Every call is seeded explicitly, so a sample's augmentation is a pure function of its seed.
"""

from __future__ import annotations

import math

import torch

from genodsl.data.config import AugmentConfig


class Augmenter:
    """``(image [C, H, W] float, mask [H, W] int64, seed) -> (image, mask)``."""

    def __init__(self, cfg: AugmentConfig):
        from monai.transforms import (Compose, Rand2DElasticd, RandFlipd, RandRotate90d,
                                      RandRotated)

        keys = ("image", "mask")
        modes = ("bilinear", "nearest")
        steps: list = []
        rot90 = None
        if cfg.flip:
            steps.append(RandFlipd(keys, prob=cfg.prob, spatial_axis=0))  # up-down (rows)
            steps.append(RandFlipd(keys, prob=cfg.prob, spatial_axis=1))  # left-right (cols)
        if cfg.rot90:
            rot90 = RandRotate90d(keys, prob=cfg.prob, max_k=3, spatial_axes=(0, 1))
            steps.append(rot90)
        if cfg.rotate_degrees > 0:
            angle = math.radians(cfg.rotate_degrees)
            steps.append(RandRotated(keys, range_x=angle, prob=cfg.prob, keep_size=True,
                                     mode=modes, padding_mode="reflection"))
        if cfg.elastic:
            steps.append(Rand2DElasticd(keys, spacing=cfg.elastic_spacing,
                                        magnitude_range=cfg.elastic_magnitude, prob=cfg.prob,
                                        mode=modes, padding_mode="reflection"))
        self.cfg = cfg
        self._compose = Compose(steps) if steps else None
        # a 90-degree rotation would change the shape of a non-square image: skip it there
        rect = [s for s in steps if s is not rot90]
        self._compose_rect = Compose(rect) if rect else None

    @property
    def active(self) -> bool:
        return self._compose is not None

    def __call__(self, image: torch.Tensor, mask: torch.Tensor,
                 seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        compose = self._compose if image.shape[-1] == image.shape[-2] else self._compose_rect
        if compose is None:
            return image, mask
        compose.set_random_state(seed=seed % (2**32))
        out = compose({"image": image, "mask": mask[None].float()})
        new_image = torch.as_tensor(out["image"]).as_subclass(torch.Tensor).float().contiguous()
        new_mask = torch.as_tensor(out["mask"]).as_subclass(torch.Tensor)[0].round().long()
        return new_image, new_mask.contiguous()


def build_augmenter(cfg: AugmentConfig) -> Augmenter | None:
    """An :class:`Augmenter`, or None when augmentation is disabled or has no transforms."""
    if not cfg.enabled:
        return None
    aug = Augmenter(cfg)
    return aug if aug.active else None
