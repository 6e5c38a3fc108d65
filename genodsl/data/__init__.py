"""Data: readers, layouts, preprocessing, augmentation, splits and synthetic data.

Sample contract shared with training, search and evaluation::

    {"image": torch.float32 [C, H, W], "mask": torch.int64 [H, W], "name": str, "case": str}

Axis convention: 2D images are ``(H, W[, C])``, volumes ``(Z, Y, X[, C])`` (see
:mod:`genodsl.data.io`).
"""

from genodsl.data.augment import Augmenter, build_augmenter
from genodsl.data.build import (PredictionInput, build_dataset, build_datasets, load_input,
                                resolve_split)
from genodsl.data.config import (AugmentConfig, DataConfig, Layout, Normalize, SliceAxis,
                                 SplitConfig, SplitMode, SyntheticConfig, parse_data_config)
from genodsl.data.datasets import SegmentationDataset
from genodsl.data.io import read_image, read_volume, volume_shape
from genodsl.data.layouts import detect_layout, discover
from genodsl.data.preprocess import ClassMap, Preprocess
from genodsl.data.splits import SPLIT_FILE, Split, load_split, make_split, save_split
from genodsl.data.synthetic import SyntheticDataset, SyntheticSpec, generate, write_folder

__all__ = [
    "AugmentConfig", "Augmenter", "ClassMap", "DataConfig", "Layout", "Normalize",
    "PredictionInput", "Preprocess", "SPLIT_FILE", "SegmentationDataset", "SliceAxis", "Split",
    "SplitConfig", "SplitMode", "SyntheticConfig", "SyntheticDataset", "SyntheticSpec",
    "build_augmenter", "build_dataset", "build_datasets", "detect_layout", "discover",
    "generate", "load_input", "load_split", "make_split", "parse_data_config", "read_image",
    "read_volume", "resolve_split", "save_split", "volume_shape", "write_folder",
]
