"""3D samples for 3D networks (``dims = 3``): whole volumes, and random patches for training.

Whether a run slices its volumes into 2D samples or keeps them whole is not a data setting:
it follows the network (``dims`` in the .geno network, the built model's ``dims``), the one
source of truth; :func:`genodsl.data.build.build_datasets` takes it from the caller.

Sample contract of :class:`VolumeDataset` (the 3D form of the 2D one)::

    {"image": torch.float32 [C, D, H, W], "mask": torch.int64 [D, H, W], "name": str,
     "case": str}

A volume ``(Z, Y, X[, C])`` is preprocessed as one sample with the 2D pieces of
:mod:`genodsl.data.preprocess`: the class map, the channel conversion, the intensity clip and
the normalisation (per volume z-score / min-max, or the training foreground's CT window).
There is no resizing (``data.size`` applies to 2D slices only; a 3D network sees the volume's
own voxel grid) and no CLAHE (a 2D filter; refused).

Training with ``data.patch: [d, h, w]`` draws ``PATCHES_PER_VOLUME`` patches per volume and
epoch (see :class:`genodsl.data.augment.VolumeAugmenter`: MONAI ``RandCropByPosNegLabeld``,
half the patches centred on foreground, after ``SpatialPadd`` for a smaller volume). Without
a patch, training samples are whole volumes (batch size 1 unless all volumes have one shape).
Validation, evaluation and prediction always take whole volumes, inferred by sliding windows
of the patch size (:func:`genodsl.train.infer.infer_image`).
"""

from __future__ import annotations

import copy
from typing import Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from genodsl.data.geometry import Geometry, align_label, read_with_geometry
from genodsl.data.units import VolumeUnit
from genodsl.data.preprocess import Preprocess, normalize, to_channels
from genodsl.data.problems import Code, Problems, data_error
from genodsl.errors import ConfigError, DataError

PATCHES_PER_VOLUME = 4  # training patches drawn from each volume per epoch


def volume_image(pre: Preprocess, volume: np.ndarray, file: object = None) -> torch.Tensor:
    """A raw volume ``(Z, Y, X[, C])`` → float32 ``[C, D, H, W]`` (channels, clip, normalise)."""
    if pre.clahe_clip_limit is not None:
        raise ConfigError("data.clahe is a 2D filter; a 3D network takes the volume as it is",
                          hint="set data.clahe=false")
    arr = volume[..., None] if volume.ndim == 3 else volume
    if arr.ndim != 4:
        raise data_error(Code.SHAPE, f"volume has shape {volume.shape}; expected (Z, Y, X) or "
                         "(Z, Y, X, C)", file=str(file) if file is not None else None)
    z, y, x, c = arr.shape  # the 2D channel rules, applied to every voxel at once
    arr = to_channels(arr.reshape(z * y, x, c), pre.in_channels, str(file) if file else None)
    arr = arr.reshape(z, y, x, -1).astype(np.float32)
    if pre.intensity_clip is not None:
        arr = np.clip(arr, *pre.intensity_clip)
    t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(arr, -1, 0)))
    return normalize(t, pre.normalize, pre.ct_window)


def volume_mask(pre: Preprocess, mask: np.ndarray, file: object = None) -> torch.Tensor:
    """A raw label volume ``(Z, Y, X)`` → class indices int64 ``[D, H, W]``."""
    return torch.from_numpy(pre.class_map.apply(mask, str(file) if file else None))


class VolumeDataset(Dataset):
    """Whole preprocessed volumes, or (an augmented view with a patch) random 3D patches."""

    def __init__(self, units: Sequence[object], preprocess: Preprocess, *, cache: bool = True,
                 check_files: bool = True):
        bad = [u for u in units if not isinstance(u, VolumeUnit)]
        if bad:
            raise ConfigError("a 3D network (dims = 3) trains on volumes, but the data holds "
                              f"2D images (e.g. case '{getattr(bad[0], 'case', '?')}')",
                              hint="use volume data (NIfTI, NRRD, MetaImage, DICOM), or a 2D "
                                   "network (dims = 2)")
        self.preprocess = preprocess
        self.augment = None  # a VolumeAugmenter (training view)
        self.seed = 0
        self._units: list[VolumeUnit] = list(units)  # type: ignore[arg-type]
        self._keep = list(range(len(self._units)))
        self._use_cache = cache
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._geometry: dict[int, Geometry] = {}
        self._epoch: int | None = None
        if not self._units:
            raise data_error(Code.MISSING, "the data holds no volumes")
        if check_files:
            self._check_all()

    def _check_all(self) -> None:
        problems = Problems()
        for u in range(len(self._units)):
            try:
                self._volume(u)
            except DataError as err:
                problems.add_error(err)
        problems.raise_if_any()

    def _volume(self, u: int) -> tuple[torch.Tensor, torch.Tensor]:
        if u in self._cache:
            return self._cache[u]
        unit = self._units[u]
        image, grid = read_with_geometry(unit.image)        # (Z, Y, X[, C])
        mask, mask_grid = read_with_geometry(unit.mask)     # (Z, Y, X)
        if mask.ndim != 3:
            raise data_error(Code.SHAPE, f"label volume has shape {mask.shape}; expected "
                             "(Z, Y, X) without channels", file=unit.mask)
        mask = align_label(mask, mask_grid, grid, label_file=unit.mask, image_file=unit.image)
        out = (volume_image(self.preprocess, image, unit.image),
               volume_mask(self.preprocess, mask, unit.mask))
        self._geometry[u] = grid
        if self._use_cache:
            self._cache[u] = out
        return out

    # ---------------------------------------------------------------- views

    def subset(self, cases: Iterable[str], augment=None, seed: int | None = None
               ) -> "VolumeDataset":
        """The volumes of ``cases`` (sharing this dataset's cache), optionally augmented."""
        keep = set(cases)
        view = copy.copy(self)
        view._keep = [u for u in self._keep if self._units[u].case in keep]
        view.augment = augment
        view.seed = self.seed if seed is None else seed
        view._epoch = None
        return view

    def with_native_masks(self) -> "VolumeDataset":
        """Volumes are never resized: the masks already are their files' own (not augmented)."""
        view = copy.copy(self)
        view.augment = None
        return view

    def case_spacing(self, case: str) -> tuple[float, ...] | None:
        """The voxel spacing (z, y, x) in mm of ``case``'s volume."""
        u = next((u for u in self._keep if self._units[u].case == case), None)
        if u is None:
            return None
        if u not in self._geometry:
            self._geometry[u] = read_with_geometry(self._units[u].image)[1]
        return tuple(float(v) for v in self._geometry[u].spacing[::-1])  # (x,y,z) → (z,y,x)

    @property
    def cases(self) -> list[str]:
        return [self._units[u].case for u in self._keep]

    @property
    def names(self) -> list[str]:
        return self.cases

    def set_epoch(self, epoch: int) -> None:
        """Make the patches a function of (seed, epoch, index); call once per epoch."""
        self._epoch = int(epoch)

    # ---------------------------------------------------------------- access

    @property
    def _per_volume(self) -> int:
        patch = getattr(self.augment, "patch", None)
        return PATCHES_PER_VOLUME if patch is not None else 1

    def __len__(self) -> int:
        return len(self._keep) * self._per_volume

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range (the dataset has {len(self)})")
        i %= len(self)
        u = self._keep[i // self._per_volume]
        image, mask = self._volume(u)
        if self.augment is not None:
            image, mask = self.augment(image, mask, self._augment_seed(i))
        else:
            image, mask = image.clone(), mask.clone()
        case = self._units[u].case
        return {"image": image, "mask": mask, "name": case, "case": case}

    def _augment_seed(self, i: int) -> int:
        if self._epoch is None:
            return int(torch.randint(0, 2**31 - 1, ()).item())
        return int(np.random.SeedSequence([self.seed, self._epoch, i]).generate_state(1)[0])
