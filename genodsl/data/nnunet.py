"""The nnU-Net v2 raw layout, read directly (``nnunetv2`` itself is not needed)::

    root/dataset.json                 channel_names, labels, numTraining, file_ending
    root/imagesTr/<CASE>_0000<ext>    one file per channel: _0000, _0001, ...
    root/labelsTr/<CASE><ext>         class labels
    root/imagesTs/<CASE>_0000<ext>    test cases (no labels): ``genodsl predict RUN
                                      imagesTs/CASE_0000.nii.gz`` reads the case's other
                                      channel files beside it (:func:`stack_channel_files`)

``labels`` maps class names to label values (``{"background": 0, "PZ": 1, "TZ": 2}``); the
names become the run's class names (tables, metrics, exports).  Region labels (a list of
values) and an ``ignore`` label are refused with a clear error.  A channel file may itself
hold several channels (an RGB PNG); the channels of a case, in file order, must add up to
the entries of ``channel_names``.

:func:`genodsl.data.fitting.fit_to_data` takes channels, classes and names from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genodsl.data import io
from genodsl.data.units import RawSlice, case_of, natural_key
from genodsl.data.problems import Code, Problems, data_error, preview

DATASET_JSON = "dataset.json"
_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


@dataclass(frozen=True)
class DatasetJson:
    """The keys of an nnU-Net v2 ``dataset.json`` that genodsl uses."""

    path: Path
    channel_names: tuple[str, ...]         # in channel order
    labels: tuple[tuple[str, int], ...]    # (name, value), by value
    file_ending: str

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.labels)

    @property
    def class_map(self) -> dict[int, int] | None:
        """Label value → class index; None when the values already are 0..K-1."""
        values = [v for _, v in self.labels]
        return None if values == list(range(len(values))) else \
            {v: i for i, v in enumerate(values)}


def is_nnunet(root: Path) -> bool:
    """True for a folder whose dataset.json has nnU-Net v2's ``channel_names``."""
    try:
        data = json.loads((root / DATASET_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "channel_names" in data and "file_ending" in data


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise data_error(Code.MISSING, "dataset.json not found", file=path,
                         hint="an nnU-Net v2 raw dataset has root/dataset.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise data_error(Code.UNREADABLE, f"not valid JSON: {exc}", file=path) from None
    if not isinstance(data, dict):
        raise data_error(Code.UNREADABLE, "dataset.json must hold an object", file=path)
    return data


def read_dataset_json(root: Path) -> DatasetJson:
    """Read and check ``root/dataset.json`` (nnU-Net v2)."""
    path = root / DATASET_JSON
    data = _load_json(path)
    missing = [k for k in ("channel_names", "labels", "file_ending") if k not in data]
    if missing:
        raise data_error(Code.LAYOUT, f"dataset.json lacks {', '.join(missing)}", file=path,
                         hint="nnU-Net v2 needs channel_names, labels and file_ending")
    channels, labels = data["channel_names"], data["labels"]
    try:
        order = sorted(channels, key=int)
        if [int(k) for k in order] != list(range(len(order))) or not order:
            raise ValueError
    except (TypeError, ValueError):
        raise data_error(Code.LAYOUT, f"channel_names keys must be 0, 1, ... (got "
                         f"{preview(map(str, channels))})", file=path) from None
    if not isinstance(labels, dict) or len(labels) < 2:
        raise data_error(Code.LAYOUT, "labels must map at least two class names to values",
                         file=path, hint='e.g. "labels": {"background": 0, "tumour": 1}')
    problems = Problems()
    if "ignore" in labels:
        problems.add(Code.CLASS_MAP, "the 'ignore' label is not supported", file=path,
                     hint="relabel those voxels as background, or remove the key")
    regions = [n for n, v in labels.items() if isinstance(v, (list, tuple))]
    if regions:
        problems.add(Code.CLASS_MAP, f"region labels are not supported: {preview(regions)}",
                     file=path, hint="give every class one label value")
    problems.raise_if_any()
    pairs = sorted(((str(n), v) for n, v in labels.items()), key=lambda p: p[1])
    values = [v for _, v in pairs]
    if not all(isinstance(v, int) and v >= 0 for v in values) or len(set(values)) != len(values):
        raise data_error(Code.CLASS_MAP, f"labels values must be distinct integers >= 0, got "
                         f"{values}", file=path)
    ending = str(data["file_ending"])
    if ending not in io.SUFFIXES:
        raise data_error(Code.SUFFIX, f"file_ending {ending!r} is not a format genodsl reads",
                         file=path, hint="supported: " + ", ".join(sorted(io.SUFFIXES)))
    return DatasetJson(path, tuple(str(channels[k]) for k in order), tuple(pairs), ending)


@dataclass(frozen=True)
class ChannelUnit:
    """One case of the nnU-Net layout: its channel files and its label file."""

    case: str
    channels: tuple[Path, ...]
    mask: Path
    expected_channels: int

    def _names(self, n: int, axis: int) -> list[str]:
        return [f"{self.case}_{'zyx'[axis]}{k:03d}" for k in range(n)]

    def slice_names(self, axis: int) -> list[str]:
        return self._names(io.volume_shape(self.channels[0])[axis], axis)

    def image(self) -> np.ndarray:
        """The case's channels stacked last: ``(Z, Y, X, C)``."""
        parts = []
        for f in self.channels:
            vol = io.read_volume(f)
            parts.append(vol if vol.ndim == 4 else vol[..., None])
        shapes = {p.shape[:3] for p in parts}
        if len(shapes) != 1:
            raise data_error(Code.SHAPE, f"the channel files of case '{self.case}' have "
                             f"different shapes {sorted(shapes)}", file=self.channels[0])
        image = np.concatenate(parts, axis=-1)
        if image.shape[-1] != self.expected_channels:
            raise data_error(Code.SHAPE, f"case '{self.case}' has {image.shape[-1]} channels, "
                             f"dataset.json's channel_names {self.expected_channels}",
                             file=self.channels[0], hint="one file per channel: "
                             f"{self.case}_0000, {self.case}_0001, ...")
        return image

    def load(self, axis: int) -> list[RawSlice]:
        image, mask = self.image(), io.read_volume(self.mask)
        if mask.ndim != 3 or image.shape[:3] != mask.shape:
            raise data_error(Code.SHAPE, f"label shape {mask.shape} differs from its image "
                             f"{image.shape[:3]} (Z, Y, X)", file=self.mask,
                             hint="an image and its label must have the same voxel grid")
        return [RawSlice(name, np.take(image, k, axis=axis), np.take(mask, k, axis=axis),
                         f"{self.channels[0]}[{'zyx'[axis]}={k}]",
                         f"{self.mask}[{'zyx'[axis]}={k}]")
                for k, name in enumerate(self._names(image.shape[axis], axis))]


def channel_files(folder: Path, ending: str) -> dict[str, list[Path]]:
    """``{case: [channel files in order]}`` of an images folder; gaps are errors."""
    if not folder.is_dir():
        raise data_error(Code.MISSING, f"{folder.name}/ folder not found", file=folder)
    problems = Problems()
    found: dict[str, dict[int, Path]] = {}
    strays = []
    for f in sorted(folder.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        m = _CHANNEL.match(f.name[: -len(ending)]) if f.name.endswith(ending) else None
        if m is None:
            strays.append(f.name)
            continue
        found.setdefault(m["case"], {})[int(m["channel"])] = f
    if strays:
        problems.add(Code.UNMATCHED, f"{len(strays)} files are not <CASE>_<XXXX>{ending}: "
                     f"{preview(strays)}", file=folder,
                     hint=f"nnU-Net names channel files CASE_0000{ending}, CASE_0001{ending}")
    out = {}
    for case, files in found.items():
        if sorted(files) != list(range(len(files))):
            problems.add(Code.UNMATCHED, f"case '{case}' has channel files {sorted(files)}; "
                         f"expected 0..{len(files) - 1} without gaps", file=folder)
        out[case] = [files[k] for k in sorted(files)]
    problems.raise_if_any()
    return out


def nnunet_units(root: Path, case_pattern: str | None = None) -> list[ChannelUnit]:
    """The training cases of an nnU-Net v2 raw dataset (imagesTr + labelsTr)."""
    meta = read_dataset_json(root)
    images = channel_files(root / "imagesTr", meta.file_ending)
    labels_dir = root / "labelsTr"
    if not labels_dir.is_dir():
        raise data_error(Code.MISSING, "labelsTr/ folder not found", file=labels_dir)
    labels = {f.name[: -len(meta.file_ending)]: f for f in labels_dir.iterdir()
              if f.is_file() and f.name.endswith(meta.file_ending) and f.name[0] != "."}
    problems = Problems()
    lonely = sorted(set(images) - set(labels), key=natural_key)
    orphans = sorted(set(labels) - set(images), key=natural_key)
    if lonely:
        problems.add(Code.UNMATCHED, f"{len(lonely)} cases have no label: {preview(lonely)}",
                     file=labels_dir, hint=f"labelsTr/<CASE>{meta.file_ending} for each case")
    if orphans:
        problems.add(Code.UNMATCHED, f"{len(orphans)} labels have no image: {preview(orphans)}",
                     file=root / "imagesTr")
    problems.raise_if_any()
    n = len(meta.channel_names)
    return [ChannelUnit(case_of(c, case_pattern, images[c][0]), tuple(images[c]), labels[c], n)
            for c in sorted(images, key=natural_key)]


def stack_channel_files(path: Path, array: np.ndarray, spatial_dims: int, in_channels: int,
                        read) -> np.ndarray:
    """For prediction: ``array`` read from ``CASE_0000<ext>`` with the case's other channel
    files beside it (``CASE_0001<ext>``, ...) stacked last, when the model takes more
    channels than the file holds (nnU-Net's imagesTs).  Any other input is returned as is."""
    name = Path(path).name
    stem = io.stem_of(name)
    m = _CHANNEL.match(stem)
    have = array.shape[-1] if array.ndim > spatial_dims else 1
    if m is None or m["channel"] != "0000" or have >= in_channels:
        return array
    parts, k = [array if array.ndim > spatial_dims else array[..., None]], 1
    while have < in_channels:
        f = Path(path).with_name(f"{m['case']}_{k:04d}{name[len(stem):]}")
        if not f.is_file():
            raise data_error(Code.MISSING, f"the model takes {in_channels} channels; channel "
                             f"file {f.name} is missing", file=f,
                             hint=f"nnU-Net cases are {m['case']}_0000, {m['case']}_0001, ... "
                                  "side by side")
        more = read(f)
        more = more if more.ndim > spatial_dims else more[..., None]
        if more.shape[:spatial_dims] != parts[0].shape[:spatial_dims]:
            raise data_error(Code.SHAPE, f"shape {more.shape[:spatial_dims]} differs from "
                             f"{name}'s {parts[0].shape[:spatial_dims]}", file=f)
        parts.append(more)
        have, k = have + more.shape[-1], k + 1
    return np.concatenate(parts, axis=-1)
