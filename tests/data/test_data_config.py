"""DataConfig: defaults, derived values, and readable ConfigErrors."""

from __future__ import annotations

import pydantic
import pytest

from genodsl.data import DataConfig, Layout, Normalize, SliceAxis, parse_data_config
from genodsl.errors import ConfigError


def test_defaults() -> None:
    cfg = parse_data_config({"root": "data"})
    assert cfg.layout is Layout.AUTO and cfg.num_classes == 2 and cfg.in_channels == 1
    assert cfg.size == (256, 256) and cfg.normalize is Normalize.ZSCORE
    assert cfg.clahe is False and cfg.clahe_clip_limit == 0.05
    assert cfg.slice_axis is SliceAxis.Z and cfg.slice_axis.index == 0
    assert cfg.split.val_fraction == 0.2 and cfg.augment.flip is True


def test_typo_names_the_key_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as err:
        parse_data_config({"root": "d", "augment": {"flp": True}, "clahe_clip": 0.1})
    text = str(err.value)
    assert "unknown key 'data.augment.flp'" in text and "did you mean 'flip'?" in text
    assert "unknown key 'data.clahe_clip'" in text and "clahe_clip_limit" in text


def test_bad_values_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"bad value for 'data\.layout'.*'nifty'"):
        parse_data_config({"root": "d", "layout": "nifty"})
    with pytest.raises(ConfigError, match=r"data\.split\.val_fraction"):
        parse_data_config({"root": "d", "split": {"val_fraction": 1.5}})


def test_class_map_sets_num_classes_and_accepts_json_keys() -> None:
    cfg = parse_data_config({"root": "d", "class_map": {"0": 0, "63": 1, "126": 2}})
    assert cfg.class_map == {0: 0, 63: 1, 126: 2} and cfg.num_classes == 3
    with pytest.raises(ConfigError, match="outside 0..1"):
        parse_data_config({"root": "d", "class_map": {0: 0, 255: 3}, "num_classes": 2})


def test_root_required_unless_synthetic() -> None:
    with pytest.raises(ConfigError, match="root is required"):
        parse_data_config({})
    assert parse_data_config({"layout": "synthetic"}).root is None


def test_size_int_and_case_pattern_checks() -> None:
    assert parse_data_config({"root": "d", "size": 128}).size == (128, 128)
    with pytest.raises(ConfigError, match="needs a group"):
        parse_data_config({"root": "d", "case_pattern": "case\\d+"})
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        parse_data_config({"root": "d", "case_pattern": "(unclosed"})


def test_frozen() -> None:
    cfg = DataConfig(root="d")
    with pytest.raises(pydantic.ValidationError):
        cfg.seed = 3  # type: ignore[misc]
    assert parse_data_config(cfg) is cfg
