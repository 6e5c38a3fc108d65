"""Optional paths without their extra: one clear message naming the extra, or a warning."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from genodsl.errors import ConfigError, DataError


def test_clahe_without_scikit_image_names_the_images_extra(monkeypatch):
    from genodsl.data.config import DataConfig
    from genodsl.data.preprocess import Preprocess

    monkeypatch.setitem(sys.modules, "skimage.exposure", None)  # as if not installed
    cfg = DataConfig(layout="synthetic", clahe=True)
    with pytest.raises(ConfigError, match="data.clahe needs scikit-image") as info:
        Preprocess.from_config(cfg)  # when the pipeline is made, not in a loader worker
    assert 'pip install "genodsl[images]"' in str(info.value)
    Preprocess.from_config(DataConfig(layout="synthetic"))  # no CLAHE, no need


def test_tiff_without_tifffile_names_the_images_extra(monkeypatch, tmp_path):
    import tifffile

    from genodsl.data.io import read_image

    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8))
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(DataError, match="needs the 'tifffile' package") as info:
        read_image(path)
    assert 'pip install "genodsl[images]"' in str(info.value) and str(path) in str(info.value)


def test_curves_without_matplotlib_warn_and_skip(monkeypatch, tmp_path):
    from genodsl.train.runlog import write_curves

    rows = [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "val_dsc": 0.6, "val_miou": 0.5}]
    assert write_curves(rows, tmp_path / "curves.png") == tmp_path / "curves.png"
    (tmp_path / "curves.png").unlink()
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.warns(UserWarning, match=r'genodsl\[plots\]'):
        assert write_curves(rows, tmp_path / "curves.png") is None
    assert not (tmp_path / "curves.png").exists()


def test_alpha_plots_without_matplotlib_warn_and_skip(monkeypatch, tmp_path):
    from genodsl.lang.ir import CellType
    from genodsl.search.plots import plot_alpha_history

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert plot_alpha_history([], None, None, CellType.DOWN, tmp_path / "a.png") is None
    assert any("genodsl[plots]" in str(w.message) for w in caught)
    assert not (tmp_path / "a.png").exists()


def test_nothing_imports_torchmetrics():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "genodsl"
    assert not [p for p in root.rglob("*.py") if "torchmetrics" in p.read_text(encoding="utf-8")]
