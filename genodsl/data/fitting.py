"""What the data says about a run's channels, classes and class names, fitted into its config.

:func:`fit_to_data` reads it from an nnU-Net ``dataset.json`` (channel_names, labels), a
Decathlon ``dataset.json`` whose ``labels`` map values to names (``{"0": "background",
"1": "tumour"}``), or a volume with a channel axis (a 4D NIfTI: x, y, z, modality).
"""

from __future__ import annotations

import json
from pathlib import Path

from genodsl.data import io
from genodsl.data.config import DataConfig, Layout, Normalize
from genodsl.data.layouts import detect_layout, discover
from genodsl.data.nnunet import DATASET_JSON, read_dataset_json
from genodsl.errors import ConfigError


def decathlon_class_names(root: Path) -> tuple[str, ...] | None:
    """Class names of a Decathlon dataset.json (``"labels": {"0": "background", ...}``)."""
    try:
        labels = json.loads((root / DATASET_JSON).read_text(encoding="utf-8"))["labels"]
        keys = sorted(labels, key=int)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if [int(k) for k in keys] != list(range(len(keys))):
        return None
    return tuple(str(labels[k]) for k in keys)


def fit_to_data(cfg: DataConfig) -> DataConfig:
    """``cfg`` with channels, classes and class names taken from the data where it leaves
    them unset: an nnU-Net ``dataset.json`` (channel_names, labels), a Decathlon one (label
    names), or a volume with a channel axis (a 4D NIfTI); CT channels (channel_names "CT")
    get ``normalize: ct`` unless it is set.  A value set in ``cfg`` that the
    data contradicts is an error naming the file."""
    if cfg.layout is Layout.SYNTHETIC or cfg.root is None:
        return cfg
    root = Path(cfg.root).expanduser()
    layout = detect_layout(root) if cfg.layout is Layout.AUTO else cfg.layout
    facts: dict[str, object] = {}
    where: Path = root
    if layout is Layout.NNUNET:
        meta = read_dataset_json(root)
        where = meta.path
        facts = {"in_channels": len(meta.channel_names), "num_classes": len(meta.labels),
                 "class_names": meta.class_names}
        if meta.class_map is not None:
            facts["class_map"] = meta.class_map
        if all(c.strip().upper() == "CT" for c in meta.channel_names):
            facts["normalize"] = Normalize.CT  # nnU-Net's scheme for CT channels
    elif layout in (Layout.NIFTI, Layout.MHD, Layout.DICOM):
        first = discover(cfg)[1][0]
        shape = io.volume_shape(first.image)
        if len(shape) == 4:
            facts["in_channels"], where = shape[3], first.image
        names = decathlon_class_names(root) if layout is Layout.NIFTI else None
        if names and "class_map" not in cfg.model_fields_set:
            facts["num_classes"], facts["class_names"] = len(names), names
    given, update = cfg.model_fields_set, {}
    for key, value in facts.items():
        if key not in given:
            update[key] = value
        elif key not in ("class_names", "normalize") and getattr(cfg, key) != value:
            raise ConfigError(f"data.{key} = {getattr(cfg, key)} but the data has {value}",
                              file=str(where), hint=f"leave data.{key} unset: it follows the "
                                                    "data")
    if "class_names" in given and "num_classes" in update:
        update.pop("class_names", None)
    return cfg.model_copy(update=update) if update else cfg
