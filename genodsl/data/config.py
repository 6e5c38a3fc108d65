"""``DataConfig``: where the data is, how it is laid out, preprocessed, augmented and split.

Build one with :func:`parse_data_config` (a mapping from YAML/JSON): a typo'd key or a bad
value becomes a :class:`~genodsl.errors.ConfigError` that names the key.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from genodsl.config import config_error
from genodsl.errors import ConfigError


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Layout(str, Enum):
    """How files are arranged under ``root`` (see :mod:`genodsl.data.layouts`)."""

    AUTO = "auto"            # recognise one of the layouts below
    FOLDER = "folder"        # images/ + masks/ with matching stems (PNG, JPEG, BMP, TIFF)
    NNUNET = "nnunet"        # nnU-Net v2 raw: dataset.json + imagesTr/CASE_0000.ext + labelsTr/
    NIFTI = "nifti"          # imagesTr/ + labelsTr/ volumes (Medical Segmentation Decathlon)
    MHD = "mhd"              # CaseNN.mhd + CaseNN_segmentation.mhd (PROMISE12)
    DICOM = "dicom"          # images/<case>/*.dcm + labels/<case>.nii.gz|.mhd
    SYNTHETIC = "synthetic"  # generated shapes, no files


class Normalize(str, Enum):
    CT = "ct"                # nnU-Net's CT scheme: clip to the training foreground's 0.5 and
    #                          99.5 percentiles, then (x - its mean) / its std (data.ct_window)
    ZSCORE = "zscore"        # per image and channel: (x - mean) / std (MR, US, others)
    MINMAX = "minmax"        # per image and channel: to [0, 1]
    NONE = "none"            # keep the intensities (as float32)


class SplitMode(str, Enum):
    RANDOM = "random"            # cases shuffled with the seed
    CONTIGUOUS = "contiguous"    # the last block of the (naturally) ordered cases is validation


class SliceAxis(str, Enum):
    """The volume axis that 2D slices are cut across, in the (Z, Y, X) convention."""

    Z = "z"
    Y = "y"
    X = "x"

    @property
    def index(self) -> int:
        return {"z": 0, "y": 1, "x": 2}[self.value]


class AugmentConfig(_Frozen):
    """Random augmentation of training samples (MONAI dictionary transforms)."""

    enabled: bool = True
    prob: float = Field(0.5, ge=0.0, le=1.0)       # probability of each transform
    flip: bool = True                               # flips along rows and along columns
    rot90: bool = False                             # rotations by 90, 180, 270 degrees
    rotate_degrees: float = Field(10.0, ge=0.0, le=180.0)  # small rotations in ±degrees; 0: off
    elastic: bool = False                           # 2D elastic deformation
    elastic_spacing: int = Field(16, ge=2)          # pixels between deformation control points
    elastic_magnitude: tuple[float, float] = (0.0, 1.0)  # offset range of the control points
    # nnU-Net's spatial scaling and intensity transforms (its ranges: scale 0.7-1.4, gamma
    # 0.7-1.5, noise variance up to 0.1); each off by default
    scale: tuple[float, float] | None = None        # random zoom range, e.g. [0.85, 1.25]
    gamma: tuple[float, float] | None = None        # random gamma range of the image, e.g. [0.7, 1.5]
    noise_std: float = Field(0.0, ge=0.0)           # Gaussian noise std on the normalised image

    @field_validator("scale", "gamma")
    @classmethod
    def _positive_range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 < v[0] <= v[1]:
            raise ValueError(f"expected [low, high] with 0 < low <= high, got {list(v)}")
        return v


class SplitConfig(_Frozen):
    """Train/validation split by case; no case ever has slices on both sides."""

    mode: SplitMode = SplitMode.RANDOM
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    val_count: int | None = Field(None, ge=0)        # a number of cases; overrides val_fraction
    val_cases: tuple[str, ...] | None = None        # explicit validation cases; overrides both
    folds: int = Field(5, ge=2)                     # k of k-fold cross-validation (nnU-Net: 5)
    fold: int | None = Field(None, ge=0)            # this run's fold (--fold N); None: no CV

    @model_validator(mode="after")
    def _fold_in_range(self) -> "SplitConfig":
        if self.fold is not None and self.fold >= self.folds:
            raise ValueError(f"fold {self.fold} is not one of 0..{self.folds - 1} "
                             f"(folds = {self.folds})")
        if self.fold is not None and self.val_cases is not None:
            raise ValueError("give val_cases or a fold, not both")
        return self


class SyntheticConfig(_Frozen):
    """Random shapes on a noisy, smoothly biased background (``layout: synthetic``)."""

    n_images: int = Field(64, ge=1)
    size: tuple[int, int] = (64, 64)                # generated size (H, W) before any resize
    noise: float = Field(0.08, ge=0.0)              # Gaussian noise std on a [0, 1] scale
    max_shapes: int = Field(4, ge=1)                # shapes per image: 1 .. max_shapes

    @field_validator("size", mode="before")
    @classmethod
    def _square(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int) else v


class InferenceConfig(_Frozen):
    """Whole-image inference (MONAI ``sliding_window_inference``), the same in validation,
    evaluation and prediction; recorded in the run's config so they all agree.

    ``roi`` null: the training size, i.e. ``data.patch`` when patches were trained, else the
    whole image (at ``data.size``, or native). Windows and whole images are padded to a
    multiple of the network's size divisor and the output is cropped back.
    """

    roi: tuple[int, int] | tuple[int, int, int] | None = None  # window (H, W), 3D (D, H, W);
    #                                                 null: the training size
    overlap: float = Field(0.5, ge=0.0, lt=1.0)     # fraction of a window shared with the next
    mode: Literal["gaussian", "constant"] = "gaussian"  # blending of overlapping windows
    sw_batch_size: int = Field(4, ge=1)             # windows per forward pass
    mirror: bool = False  # test-time mirroring (nnU-Net's): the softmax averaged over the flips
    #                       along every subset of the spatial axes (4 passes in 2D, 8 in 3D);
    #                       evaluate and predict, not training's per-epoch validation

    @field_validator("roi", mode="before")
    @classmethod
    def _square(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int) else v

    @field_validator("roi")
    @classmethod
    def _positive(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is not None and min(v) < 1:
            raise ValueError("every side must be at least 1")
        return v

    def window(self, patch: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """The window to use: ``roi``, else the training patch, else None (whole image)."""
        return self.roi if self.roi is not None else patch


class DataConfig(_Frozen):
    """Everything the data pipeline needs; defaults suit a 2-class 2D problem."""

    root: Path | None = None                        # the data root (not needed for synthetic)
    layout: Layout = Layout.AUTO
    num_classes: int = Field(2, ge=2)               # derived from class_map when not given
    class_map: dict[int, int] | None = None         # mask value -> class index; None: identity
    class_names: tuple[str, ...] | None = None      # one per class (nnunet: from dataset.json)
    in_channels: int = Field(1, ge=1)               # 1: grayscale, 3: RGB (converted to match)
    size: tuple[int, int] | None = (256, 256)       # (H, W) after resizing; None: keep
    patch: tuple[int, int] | tuple[int, int, int] | None = None  # train on random (H, W)
    #   crops, or (D, H, W) for a 3D network (padded when the image is smaller); None: whole
    inference: InferenceConfig = InferenceConfig()
    clahe: bool = False                             # CLAHE as in NAS-Unet (skimage)
    clahe_clip_limit: float = Field(0.05, gt=0.0, le=1.0)
    intensity_clip: tuple[float, float] | None = None  # clip raw intensities (e.g. CT window)
    normalize: Normalize = Normalize.ZSCORE
    ct_window: tuple[tuple[float, float, float, float], ...] | None = None  # per channel
    #   (low, high, mean, std) of the training foreground; train computes it for normalize: ct
    slice_axis: SliceAxis = SliceAxis.Z             # volumes are cut into 2D slices across it
    mask_suffix: str | None = None                  # stem suffix of masks; None: layout default
    case_pattern: str | None = None                 # regex on a sample's name giving its case
    augment: AugmentConfig = AugmentConfig()
    split: SplitConfig = SplitConfig()
    synthetic: SyntheticConfig = SyntheticConfig()
    seed: int = Field(0, ge=0)                      # split, augmentation and synthetic data
    cache: bool = True                              # keep preprocessed slices in memory
    check_files: bool = True                        # read every file once when building

    @field_validator("size", "patch", mode="before")
    @classmethod
    def _square(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int) else v

    @field_validator("size", "patch")
    @classmethod
    def _positive(cls, v: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if v is not None and min(v) < 1:
            raise ValueError("every side must be at least 1")
        return v

    @field_validator("case_pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            rx = re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        if rx.groups == 0:
            raise ValueError("needs a group giving the case, e.g. '^(case\\d+)_' or "
                             "'(?P<case>...)'")
        return v

    @model_validator(mode="before")
    @classmethod
    def _classes_from_map(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("class_map") and "num_classes" not in data:
            try:
                data = {**data, "num_classes": max(int(v) for v in data["class_map"].values()) + 1}
            except (TypeError, ValueError, AttributeError):
                pass  # the field validators report the bad map
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "DataConfig":
        if self.class_map is not None:
            bad = sorted({v for v in self.class_map.values() if not 0 <= v < self.num_classes})
            if bad:
                raise ValueError(f"class_map targets {bad} are outside 0..{self.num_classes - 1}"
                                 f" (num_classes = {self.num_classes})")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(f"{len(self.class_names)} class_names for num_classes = "
                             f"{self.num_classes}")
        if self.layout is not Layout.SYNTHETIC and self.root is None:
            raise ValueError("root is required unless layout is 'synthetic'")
        if self.intensity_clip is not None and self.intensity_clip[0] >= self.intensity_clip[1]:
            raise ValueError("intensity_clip must be (low, high) with low < high")
        return self


def parse_data_config(data: Mapping[str, Any] | DataConfig | None = None, *,
                      source: str = "data") -> DataConfig:
    """Validate a mapping into a :class:`DataConfig`; problems become one ConfigError."""
    if isinstance(data, DataConfig):
        return data
    try:
        return DataConfig.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise config_error(exc, DataConfig, prefix=source) from None


def fit_to_model(cfg: DataConfig, in_channels: int, classes: int, model: str) -> DataConfig:
    """``cfg`` with its channels and classes taken from the model where it leaves them unset.

    A value the data gives (``data.num_classes``, or a ``data.class_map`` implying it) that
    differs from the model's is an error; its hint names the ``model.*`` key that rebuilds
    the network to fit the data (``--set model.classes=3``).
    """
    given = cfg.model_fields_set
    update: dict[str, int] = {}
    for key, model_key, value in (("in_channels", "in_channels", in_channels),
                                  ("num_classes", "classes", classes)):
        if key not in given:
            update[key] = value
        elif getattr(cfg, key) != value:
            mine = getattr(cfg, key)
            implied = " (given or implied by data.class_map)" if key == "num_classes" else ""
            raise ConfigError(f"data.{key} = {mine}{implied} but {model} has "
                              f"{model_key} = {value}",
                              hint=f"build the network for the data with --set model.{model_key}"
                                   f"={mine}, or change the data settings to {value}")
    return cfg.model_copy(update=update) if update else cfg
