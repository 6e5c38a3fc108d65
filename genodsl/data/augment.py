"""Random augmentation of training samples with MONAI dictionary transforms.

Image and mask go through the same spatial transforms (flips, rotations, elastic deformation,
``scale``: a random zoom, the size kept) with the same random draws; the image is interpolated
bilinearly and the mask by nearest neighbour, so the mask keeps its class indices. ``gamma``
and ``noise_std`` change the image only.
Every call is seeded explicitly, so a sample's augmentation is a pure function of its seed.
The transforms run on plain tensors (MONAI's meta-data tracking off for the call,
:func:`plain_tensors`): the same numbers, without the per-operation bookkeeping of its
``MetaTensor`` that cost more than half of a 96² sample's augmentation time.

With ``data.patch`` a random (H, W) window is cut first (MONAI ``RandSpatialCropd``), after
padding an image smaller than the patch (``SpatialPadd``: zeros, background in the mask), so
every training sample has the patch's size whatever the image's.

3D samples (a ``dims = 3`` network, :mod:`genodsl.data.volumes3d`) go through
:class:`VolumeAugmenter`: a ``(D, H, W)`` patch cut by MONAI ``RandCropByPosNegLabeld`` with
``pos = neg = 1`` (a patch is centred on a foreground voxel with probability 1/2, on a
background voxel otherwise, as nnU-Net's oversampling of foreground), after ``SpatialPadd``
pads a smaller volume (zeros, background); then random flips along each of the three axes
when ``augment.flip`` is on. Rotations and elastic deformation are 2D here and not applied
to volumes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from genodsl.data.config import AugmentConfig


@contextmanager
def plain_tensors() -> Iterator[None]:
    """MONAI transforms return plain tensors inside: no ``MetaTensor`` affine or
    transform-history tracking (genodsl reads neither back). The flag is MONAI's process-wide
    one; it is restored on exit, also after an error."""
    from monai.data import get_track_meta, set_track_meta

    before = get_track_meta()
    set_track_meta(False)
    try:
        yield
    finally:
        set_track_meta(before)


class Augmenter:
    """``(image [C, H, W] float, mask [H, W] int64, seed) -> (image, mask)``."""

    def __init__(self, cfg: AugmentConfig, patch: tuple[int, int] | None = None):
        from monai.transforms import (Compose, Rand2DElasticd, RandAdjustContrastd, RandFlipd,
                                      RandGaussianNoised, RandRotate90d, RandRotated,
                                      RandSpatialCropd, RandZoomd, SpatialPadd)

        keys = ("image", "mask")
        modes = ("bilinear", "nearest")
        steps: list = []
        rot90 = None
        self.patch = tuple(patch) if patch is not None else None
        self._crop = (Compose([SpatialPadd(keys, spatial_size=self.patch),
                               RandSpatialCropd(keys, roi_size=self.patch, random_size=False)])
                      if self.patch is not None else None)
        if cfg.enabled and cfg.flip:
            steps.append(RandFlipd(keys, prob=cfg.prob, spatial_axis=0))  # up-down (rows)
            steps.append(RandFlipd(keys, prob=cfg.prob, spatial_axis=1))  # left-right (cols)
        if cfg.enabled and cfg.rot90:
            rot90 = RandRotate90d(keys, prob=cfg.prob, max_k=3, spatial_axes=(0, 1))
            steps.append(rot90)
        if cfg.enabled and cfg.rotate_degrees > 0:
            angle = math.radians(cfg.rotate_degrees)
            steps.append(RandRotated(keys, range_x=angle, prob=cfg.prob, keep_size=True,
                                     mode=modes, padding_mode="reflection"))
        if cfg.enabled and cfg.elastic:
            steps.append(Rand2DElasticd(keys, spacing=cfg.elastic_spacing,
                                        magnitude_range=cfg.elastic_magnitude, prob=cfg.prob,
                                        mode=modes, padding_mode="reflection"))
        if cfg.enabled and cfg.scale is not None:
            steps.append(RandZoomd(keys, prob=cfg.prob, min_zoom=cfg.scale[0],
                                   max_zoom=cfg.scale[1], mode=("bilinear", "nearest-exact"),
                                   padding_mode="constant", keep_size=True))
        if cfg.enabled and cfg.gamma is not None:  # on the image only
            steps.append(RandAdjustContrastd("image", prob=cfg.prob, gamma=cfg.gamma))
        if cfg.enabled and cfg.noise_std > 0:
            steps.append(RandGaussianNoised("image", prob=cfg.prob, std=cfg.noise_std))
        self.cfg = cfg
        self._compose = Compose(steps) if steps else None
        # a 90-degree rotation would change the shape of a non-square image: skip it there
        rect = [s for s in steps if s is not rot90]
        self._compose_rect = Compose(rect) if rect else None

    @property
    def active(self) -> bool:
        return self._compose is not None or self._crop is not None

    def __call__(self, image: torch.Tensor, mask: torch.Tensor,
                 seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        out = {"image": image, "mask": mask[None].float()}
        with plain_tensors():
            if self._crop is not None:
                self._crop.set_random_state(seed=(seed + 1) % (2**32))
                out = self._crop(out)
            square = out["image"].shape[-1] == out["image"].shape[-2]
            compose = self._compose if square else self._compose_rect
            if compose is None and self._crop is None:
                return image, mask
            if compose is not None:
                compose.set_random_state(seed=seed % (2**32))
                out = compose(out)
        new_image = torch.as_tensor(out["image"]).as_subclass(torch.Tensor).float().contiguous()
        new_mask = torch.as_tensor(out["mask"]).as_subclass(torch.Tensor)[0].round().long()
        return new_image, new_mask.contiguous()


class VolumeAugmenter:
    """``(image [C, D, H, W], mask [D, H, W], seed) -> (image, mask)``: a patch (see the
    module doc) and flips; a pure function of the seed."""

    POS, NEG = 1.0, 1.0  # RandCropByPosNegLabeld: foreground-centred patches with p = 1/2

    def __init__(self, cfg: AugmentConfig, patch: tuple[int, int, int] | None = None):
        from monai.transforms import Compose, RandCropByPosNegLabeld, RandFlipd, SpatialPadd

        keys = ("image", "mask")
        self.cfg = cfg
        self.patch = tuple(int(v) for v in patch) if patch is not None else None
        self._crop = (Compose([SpatialPadd(keys, spatial_size=self.patch),
                               RandCropByPosNegLabeld(keys, label_key="mask",
                                                      spatial_size=self.patch, pos=self.POS,
                                                      neg=self.NEG, num_samples=1,
                                                      allow_smaller=False)])
                      if self.patch is not None else None)
        flips = [RandFlipd(keys, prob=cfg.prob, spatial_axis=a) for a in range(3)] \
            if cfg.enabled and cfg.flip else []
        self._flips = Compose(flips) if flips else None

    @property
    def active(self) -> bool:
        return self._crop is not None or self._flips is not None

    def __call__(self, image: torch.Tensor, mask: torch.Tensor,
                 seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        out = {"image": image, "mask": mask[None].float()}
        with plain_tensors():
            if self._crop is not None:
                self._crop.set_random_state(seed=(seed + 1) % (2**32))
                out = self._crop(out)
                out = out[0] if isinstance(out, list) else out  # num_samples = 1
            if self._flips is not None:
                self._flips.set_random_state(seed=seed % (2**32))
                out = self._flips(out)
        new_image = torch.as_tensor(out["image"]).as_subclass(torch.Tensor).float().contiguous()
        new_mask = torch.as_tensor(out["mask"]).as_subclass(torch.Tensor)[0].round().long()
        return new_image, new_mask.contiguous()


def build_volume_augmenter(cfg: AugmentConfig, patch: tuple[int, ...] | None = None
                           ) -> VolumeAugmenter | None:
    """A :class:`VolumeAugmenter` for 3D training samples, or None when there is nothing to do."""
    aug = VolumeAugmenter(cfg, patch) if cfg.enabled or patch is not None else None
    return aug if aug is not None and aug.active else None


def build_augmenter(cfg: AugmentConfig, patch: tuple[int, int] | None = None
                    ) -> Augmenter | None:
    """An :class:`Augmenter` (random ``patch`` crops and/or the enabled transforms), or None
    when there is nothing to do."""
    if not cfg.enabled and patch is None:
        return None
    aug = Augmenter(cfg, patch)
    return aug if aug.active else None
