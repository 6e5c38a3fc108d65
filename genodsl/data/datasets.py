"""``SegmentationDataset``: 2D samples from units (file pairs, volumes, synthetic images).

Sample contract (shared with training, search and evaluation; do not change)::

    {"image": torch.float32 [C, H, W], "mask": torch.int64 [H, W], "name": str, "case": str}

Augmentation is seeded per sample.  After ``set_epoch(e)`` the draw for sample ``i`` is a pure
function of ``(seed, e, i)``, whatever the number of DataLoader workers; before any
``set_epoch`` the seed comes from torch's global generator (which ``torch.manual_seed`` and
DataLoader's per-worker seeding make reproducible).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from genodsl.data.augment import Augmenter
from genodsl.data.units import RawSlice, Unit, VolumeUnit
from genodsl.data.preprocess import Preprocess
from genodsl.data.problems import Code, Problems, data_error, preview
from genodsl.errors import DataError

Sample = dict  # {"image": Tensor, "mask": Tensor, "name": str, "case": str}


@dataclass(frozen=True)
class SampleRef:
    """Where sample ``i`` comes from: slice ``index`` of unit ``unit``."""

    unit: int
    index: int
    name: str
    case: str


class SegmentationDataset(Dataset):
    """2D segmentation samples; see the module doc for the contract."""

    def __init__(self, units: Sequence[Unit], preprocess: Preprocess, *, slice_axis: int = 0,
                 cache: bool = True, check_files: bool = True):
        self.preprocess = preprocess
        self.slice_axis = slice_axis
        self.augment: Augmenter | None = None
        self.seed = 0
        self._units = list(units)
        self._use_cache = cache
        self._cache: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._recent: tuple[int, list[RawSlice]] | None = None  # the last unit read
        self._epoch: int | None = None
        self._native_masks = False  # True: masks at their file's own size (evaluation)
        self._spacing: dict[str, tuple[float, ...] | None] = {}
        self._refs = self._check_all() if check_files else self._peek_all()

    # ---------------------------------------------------------------- construction

    def _peek_all(self) -> list[SampleRef]:
        problems = Problems()
        refs: list[SampleRef] = []
        for u, unit in enumerate(self._units):
            try:
                names = unit.slice_names(self.slice_axis)
            except DataError as err:
                problems.add_error(err)
                continue
            refs += [SampleRef(u, k, name, unit.case) for k, name in enumerate(names)]
        problems.raise_if_any()
        return refs

    def _check_all(self) -> list[SampleRef]:
        """Read and preprocess every slice once; report every bad file together."""
        problems = Problems()
        refs: list[SampleRef] = []
        shapes: dict[tuple[int, ...], str] = {}
        for u, unit in enumerate(self._units):
            try:
                raw = unit.load(self.slice_axis)
            except DataError as err:
                problems.add_error(err)
                continue
            for k, item in enumerate(raw):
                try:
                    image, mask = self._process(item)
                except DataError as err:
                    problems.add_error(err)
                    break  # one problem per unit is enough
                shapes.setdefault(tuple(image.shape), str(item.image_file))
                if self._use_cache:
                    self._cache[(u, k)] = (image, mask)
                refs.append(SampleRef(u, k, item.name, unit.case))
        problems.raise_if_any()
        if len(shapes) > 1:
            raise data_error(Code.SHAPE, "images have different sizes [C, H, W]: " +
                             preview(f"{s} ({f})" for s, f in shapes.items()),
                             hint="set data.size so that every sample is resized to one size")
        if not refs:
            raise data_error(Code.MISSING, "the data holds no slices")
        return refs

    def _process(self, item: RawSlice) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.preprocess.pair(item.image, item.mask, image_file=item.image_file,
                                           mask_file=item.mask_file)
        if self._native_masks and self.preprocess.size is not None:
            mask = replace(self.preprocess, size=None, clahe_clip_limit=None).mask(
                item.mask, item.mask_file)
        return image, mask

    # ---------------------------------------------------------------- views

    def subset(self, cases: Iterable[str], augment: Augmenter | None = None,
               seed: int | None = None) -> "SegmentationDataset":
        """The samples of ``cases`` (sharing this dataset's cache), optionally augmented."""
        keep = set(cases)
        view = copy.copy(self)
        view._refs = [r for r in self._refs if r.case in keep]
        view.augment = augment
        view.seed = self.seed if seed is None else seed
        view._epoch = None
        return view

    def with_native_masks(self) -> "SegmentationDataset":
        """A view (not augmented, own cache) whose masks keep their file's own size while
        images are preprocessed as in training: evaluation at the ground truth's resolution."""
        view = copy.copy(self)
        view.augment = None
        view._native_masks = True
        view._cache = {}
        view._recent = None
        return view

    def case_spacing(self, case: str) -> tuple[float, ...] | None:
        """The voxel spacing in mm of ``case``'s slices stacked in order, slice axis first
        (a volume's geometry); None when unknown (2D images: sizes are in pixels)."""
        if case not in self._spacing:
            ref = next((r for r in self._refs if r.case == case), None)
            unit = self._units[ref.unit] if ref is not None else None
            spacing = None
            if isinstance(unit, VolumeUnit):
                from genodsl.data.geometry import read_with_geometry

                zyx = read_with_geometry(unit.image)[1].spacing[::-1]  # (x, y, z) → (z, y, x)
                a = self.slice_axis
                spacing = (float(zyx[a]), *(float(v) for i, v in enumerate(zyx) if i != a))
            self._spacing[case] = spacing
        return self._spacing[case]

    @property
    def cases(self) -> list[str]:
        """Distinct case names in sample order."""
        return list(dict.fromkeys(r.case for r in self._refs))

    @property
    def names(self) -> list[str]:
        return [r.name for r in self._refs]

    def set_epoch(self, epoch: int) -> None:
        """Make augmentation a function of (seed, epoch, index); call once per epoch."""
        self._epoch = int(epoch)

    # ---------------------------------------------------------------- access

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, i: int) -> Sample:
        if not -len(self._refs) <= i < len(self._refs):
            raise IndexError(f"sample {i} out of range (the dataset has {len(self)})")
        i %= len(self._refs)
        ref = self._refs[i]
        image, mask = self._slice(ref)
        if self.augment is not None:
            image, mask = self.augment(image, mask, self._augment_seed(i))
        else:
            image, mask = image.clone(), mask.clone()
        return {"image": image, "mask": mask, "name": ref.name, "case": ref.case}

    def _slice(self, ref: SampleRef) -> tuple[torch.Tensor, torch.Tensor]:
        key = (ref.unit, ref.index)
        if key in self._cache:
            return self._cache[key]
        if self._recent is None or self._recent[0] != ref.unit:
            self._recent = (ref.unit, self._units[ref.unit].load(self.slice_axis))
        raw = self._recent[1]
        if ref.index >= len(raw):
            raise data_error(Code.SHAPE, f"'{ref.name}' no longer exists: the file now has "
                             f"{len(raw)} slices", file=str(raw[0].image_file) if raw else None)
        out = self._process(raw[ref.index])
        if self._use_cache:
            self._cache[key] = out
        return out

    def _augment_seed(self, i: int) -> int:
        if self._epoch is None:
            return int(torch.randint(0, 2**31 - 1, ()).item())
        return int(np.random.SeedSequence([self.seed, self._epoch, i]).generate_state(1)[0])
