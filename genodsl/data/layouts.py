"""Find the samples under a data root: one *unit* per image file or per volume.

Layouts (``DataConfig.layout``; ``auto`` recognises them in this order):

``nnunet``  (nnU-Net v2 raw, see :mod:`genodsl.data.nnunet`)::

    root/dataset.json   root/imagesTr/<case>_0000.nii.gz ...   root/labelsTr/<case>.nii.gz

``nifti``  (Medical Segmentation Decathlon)::

    root/imagesTr/<case>.nii.gz    root/labelsTr/<case>.nii.gz      (or .nii)

``dicom``::

    root/images/<case>/*.dcm       root/labels/<case>.nii.gz        (or .nii, .mhd, .mha, .nrrd)

``folder``  (2D; PNG, JPEG, BMP, TIFF; nested sub-folders allowed)::

    root/images/<name>.png         root/masks/<name><mask_suffix>.png

``mhd``  (PROMISE12; searched recursively, also .mha and .nrrd)::

    root/**/<case>.mhd             root/**/<case>_segmentation.mhd

A volume is cut into 2D slices across ``slice_axis``.  A sample's case (the unit of the
train/validation split) is, in this order: the group of ``case_pattern`` matched in its name
(file or volume name without suffix, so several volumes can share a patient), its first
sub-folder in the ``folder`` layout (``images/<case>/<slice>.png``), or the name itself (each
volume, or each 2D image, is its own case).  Hidden files (``.name``) are ignored everywhere.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from genodsl.data import io
from genodsl.data.config import DataConfig, Layout
from genodsl.data.nnunet import is_nnunet, nnunet_units
from genodsl.data.problems import Code, Problems, data_error, preview
from genodsl.data.units import PairUnit, VolumeUnit, case_of, natural_key
from genodsl.errors import DataError

_NIFTI = (".nii", ".nii.gz")
_LABEL_VOLUMES = (".nii", ".nii.gz", ".mhd", ".mha", ".nrrd")
_MHD = (".mhd", ".mha", ".nrrd")
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", "readme", "readme.md", "readme.txt",
                  "dataset.json", "license", "license.txt"}


def detect_layout(root: Path) -> Layout:
    """Recognise the layout of ``root`` (see the module doc)."""
    _require_dir(root, "data root")
    if (root / "imagesTr").is_dir() and (root / "labelsTr").is_dir():
        return Layout.NNUNET if is_nnunet(root) else Layout.NIFTI
    if (root / "images").is_dir() and (root / "labels").is_dir():
        return Layout.DICOM
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return Layout.FOLDER
    if any(f.name.lower().endswith(("_segmentation.mhd", "_segmentation.mha",
                                    "_segmentation.nrrd")) for f in root.rglob("*")):
        return Layout.MHD
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir()
                     if not p.name.startswith("."))
    raise data_error(Code.LAYOUT, "cannot recognise the data layout (found: "
                     f"{preview(entries) or 'nothing'})", file=root,
                     hint="expected images/ + masks/ (folder), imagesTr/ + labelsTr/ (nifti), "
                          "images/<case>/*.dcm + labels/ (dicom), <case>_segmentation.mhd "
                          "(mhd) or dataset.json + imagesTr/ + labelsTr/ (nnunet); or set "
                          "data.layout")


_LAYOUT_HINTS = {
    Layout.FOLDER: "the folder layout is root/images/<name>.png + root/masks/<name>.png",
    Layout.NNUNET: "the nnunet layout is root/dataset.json + root/imagesTr/<case>_0000.nii.gz "
                   "(one file per channel) + root/labelsTr/<case>.nii.gz",
    Layout.NIFTI: "the nifti layout is root/imagesTr/<case>.nii.gz + root/labelsTr/<case>.nii.gz",
    Layout.MHD: "the mhd layout is root/**/<case>.mhd + root/**/<case>_segmentation.mhd",
    Layout.DICOM: "the dicom layout is root/images/<case>/*.dcm + root/labels/<case>.nii.gz",
}


def discover(cfg: DataConfig) -> tuple[Layout, list]:
    """The layout and the units under ``cfg.root``, in natural order of their names."""
    if cfg.root is None or cfg.layout is Layout.SYNTHETIC:
        raise ValueError("discover() needs a file layout; synthetic data has no files")
    root = Path(cfg.root).expanduser()
    layout = detect_layout(root) if cfg.layout is Layout.AUTO else cfg.layout
    _require_dir(root, "data root")
    try:
        units = _units(root, layout, cfg)
    except DataError as err:  # name the expected layout where the problem has no hint yet
        diags = [d if d.hint else replace(d, hint=_LAYOUT_HINTS[layout]) for d in err.diagnostics]
        raise DataError(diags) from None
    if not units:
        raise data_error(Code.MISSING, f"no samples found for layout '{layout.value}'", file=root)
    return layout, units


def _units(root: Path, layout: Layout, cfg: DataConfig) -> list:
    if layout is Layout.FOLDER:
        units: list = _folder_units(root, cfg.mask_suffix or "", cfg.case_pattern)
    elif layout is Layout.NNUNET:
        units = nnunet_units(root, cfg.case_pattern)
    elif layout is Layout.NIFTI:
        units = _volume_units(_index_files(root / "imagesTr", _NIFTI),
                              _index_files(root / "labelsTr", _NIFTI, cfg.mask_suffix or ""),
                              root / "imagesTr", root / "labelsTr", cfg.case_pattern)
    elif layout is Layout.MHD:
        units = _mhd_units(root, cfg.mask_suffix or "_segmentation", cfg.case_pattern)
    else:
        images_dir = root / "images"
        _require_dir(images_dir, "DICOM images folder")
        cases = {p.name: p for p in images_dir.iterdir() if p.is_dir() and not _hidden(p.name)}
        units = _volume_units(cases, _index_files(root / "labels", _LABEL_VOLUMES,
                                                  cfg.mask_suffix or ""),
                              images_dir, root / "labels", cfg.case_pattern)
    return units


# --------------------------------------------------------------------------------------------


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _require_dir(path: Path, what: str = "") -> None:
    what = what or f"{path.name}/ folder"
    if not path.exists():
        raise data_error(Code.MISSING, f"{what} not found", file=path)
    if not path.is_dir():
        raise data_error(Code.MISSING, f"{what} is not a folder", file=path)


def _index_files(folder: Path, suffixes: Sequence[str], strip: str = "", *,
                 recursive: bool = False) -> dict[str, Path]:
    """``{key: path}`` for files with ``suffixes``; the key is the relative path without suffix
    (and without ``strip`` at its end).  Unknown suffixes and duplicate keys raise."""
    _require_dir(folder)
    problems = Problems()
    found: dict[str, Path] = {}
    unknown: list[Path] = []
    files = folder.rglob("*") if recursive else folder.iterdir()
    for f in sorted(files):
        rel = f.relative_to(folder)
        if any(_hidden(part) for part in rel.parts) or not f.is_file():
            continue
        suffix = io.suffix_of(f)
        if suffix not in suffixes:
            if f.name.lower() not in _IGNORED_NAMES:
                unknown.append(f)
            continue
        key = str(rel.parent / io.stem_of(f)) if rel.parent != Path(".") else io.stem_of(f)
        key = key.replace("\\", "/")
        if strip and key.endswith(strip):
            key = key[: -len(strip)]
        if key in found:
            problems.add(Code.UNMATCHED, f"two files for '{key}': {found[key].name} and {f.name}",
                         file=f, hint="keep one file per name")
        found[key] = f
    if unknown:
        plural = "s" if len(unknown) != 1 else ""
        problems.add(Code.SUFFIX, f"{len(unknown)} file{plural} of unknown type: "
                     f"{preview(u.relative_to(folder) for u in unknown)}", file=folder,
                     hint="supported here: " + ", ".join(suffixes))
    problems.raise_if_any()
    if not found:
        raise data_error(Code.MISSING, "folder holds no " + "/".join(suffixes) + " files",
                         file=folder)
    return found


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'} {'has' if n == 1 else 'have'}"


def _match(images: dict[str, Path], masks: dict[str, Path], images_dir: Path,
           masks_dir: Path, what: str = "mask", hint: str | None = None) -> None:
    problems = Problems()
    lonely = sorted(set(images) - set(masks), key=natural_key)
    orphans = sorted(set(masks) - set(images), key=natural_key)
    if lonely:
        problems.add(Code.UNMATCHED, f"{_count(len(lonely), 'image')} no {what}: "
                     f"{preview(lonely)}", file=images_dir,
                     hint=hint or f"each image needs a {what} of the same name in {masks_dir}")
    if orphans:
        problems.add(Code.UNMATCHED, f"{_count(len(orphans), what)} no image: "
                     f"{preview(orphans)}", file=masks_dir,
                     hint=hint or f"names must match those in {images_dir}")
    problems.raise_if_any()


def _cases(keys: Iterable[str], pattern: str | None, files: dict[str, Path]) -> dict[str, str]:
    problems = Problems()
    out: dict[str, str] = {}
    for key in keys:
        try:
            out[key] = case_of(key, pattern, files[key])
        except DataError as err:
            problems.add_error(err)
    problems.raise_if_any()
    return out


def _folder_units(root: Path, mask_suffix: str, pattern: str | None) -> list[PairUnit]:
    images_dir, masks_dir = root / "images", root / "masks"
    images = _index_files(images_dir, io.IMAGE_SUFFIXES, recursive=True)
    masks = _index_files(masks_dir, io.IMAGE_SUFFIXES, mask_suffix, recursive=True)
    _match(images, masks, images_dir, masks_dir)
    keys = sorted(images, key=natural_key)
    cases = _cases(keys, pattern, images)
    return [PairUnit(cases[k], k, images[k], masks[k]) for k in keys]


def _volume_units(images: dict[str, Path], labels: dict[str, Path], images_dir: Path,
                  labels_dir: Path, pattern: str | None) -> list[VolumeUnit]:
    _match(images, labels, images_dir, labels_dir, what="label")
    keys = sorted(images, key=natural_key)
    cases = _cases(keys, pattern, images)
    return [VolumeUnit(cases[k], images[k], labels[k]) for k in keys]


def _mhd_units(root: Path, seg_suffix: str, pattern: str | None) -> list[VolumeUnit]:
    problems = Problems()
    images: dict[str, Path] = {}
    labels: dict[str, Path] = {}
    for f in sorted(root.rglob("*")):
        if not f.is_file() or any(_hidden(p) for p in f.relative_to(root).parts):
            continue
        if io.suffix_of(f) not in _MHD:
            continue
        stem = io.stem_of(f)
        is_label = stem.lower().endswith(seg_suffix.lower())
        key = stem[: len(stem) - len(seg_suffix)] if is_label else stem
        target = labels if is_label else images
        if key in target:
            problems.add(Code.UNMATCHED, f"two files for '{key}': {target[key]} and {f}", file=f,
                         hint="case names must be unique under the data root")
        target[key] = f
    problems.raise_if_any()
    if not images:
        raise data_error(Code.MISSING, "no .mhd/.mha/.nrrd volumes found", file=root)
    _match(images, labels, root, root, what="segmentation",
           hint=f"each <case>.mhd needs a <case>{seg_suffix}.mhd beside it")
    keys = sorted(images, key=natural_key)
    cases = _cases(keys, pattern, images)
    return [VolumeUnit(cases[k], images[k], labels[k]) for k in keys]
