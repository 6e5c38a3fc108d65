"""TrainConfig and RuntimeConfig defaults, RunConfig's YAML loader, dotted overrides and their
error messages, and which settings a resumed run may change."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict

from genodsl.config import (Amp, RuntimeConfig, build_config, changed_outcome, dump_config,
                            parse_overrides)
from genodsl.errors import ConfigError
from genodsl.runs.config import RunConfig, run_config as load_config
from genodsl.search.config import SearchConfig
from genodsl.train.config import LossName, TrainConfig


def test_paper_defaults():
    c = TrainConfig()
    assert (c.optimizer, c.lr, c.weight_decay, c.epochs) == ("adam", 3e-4, 5e-5, 200)
    assert c.scheduler == "cosine" and c.grad_clip == 5.0 and c.loss is LossName.DICE
    r = RuntimeConfig()
    assert (r.device, r.num_workers, r.amp, r.seed, r.progress) == ("auto", 0, Amp.OFF, 0, True)


def test_one_runtime_section_for_every_run():
    assert not set(RuntimeConfig.model_fields) & set(TrainConfig.model_fields)
    assert not set(RuntimeConfig.model_fields) & set(SearchConfig.model_fields)
    cfg = load_config(None, {"runtime.amp": "true", "runtime.seed": "3"})
    assert cfg.runtime.amp is Amp.ON and cfg.runtime.seed == 3  # YAML booleans still read


def test_resumable_settings_are_declared_once():
    old = RuntimeConfig()
    assert changed_outcome(old, RuntimeConfig(device="cpu", num_workers=2, progress=False,
                                              channels_last=True), "runtime") == []
    assert changed_outcome(old, RuntimeConfig(seed=1), "runtime") == ["runtime.seed: 0 -> 1"]
    assert changed_outcome(TrainConfig(), TrainConfig(log_every=0, tensorboard=True),
                           "train") == []
    assert changed_outcome(TrainConfig(), TrainConfig(lr=0.1), "train") == \
        ["train.lr: 0.0003 -> 0.1"]


def test_frozen():
    with pytest.raises(pydantic.ValidationError):
        TrainConfig().epochs = 3  # type: ignore[misc]


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  epochs: 50\n  lr: 1.0e-3\n  loss: dice_ref\n", encoding="utf-8")
    assert load_config(path).train.loss is LossName.DICE_REF
    cfg = load_config(path, {"train.epochs": "5", "train.grad_clip": "null",
                             "train.loss": "weighted_dice",
                             "train.class_weights": "[1, 2.5]", "runtime.device": "cpu"})
    assert isinstance(cfg, RunConfig)
    t = cfg.train
    assert (t.epochs, t.lr, t.loss, t.grad_clip) == (5, 1e-3, LossName.WEIGHTED_DICE, None)
    assert t.class_weights == (1.0, 2.5) and cfg.runtime.device == "cpu"
    assert load_config(None).train == TrainConfig()
    assert load_config(None, {"train.lr": 0.01}).train.lr == 0.01  # non-string values too


def test_parse_overrides():
    assert parse_overrides(["train.epochs=5", "runtime.device = cpu"]) == \
        {"train.epochs": "5", "runtime.device": "cpu"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["train.epochs"])


@pytest.mark.parametrize("key, needle", [
    ("train.epocs", "did you mean 'epochs'"),
    ("trian.epochs", "did you mean 'train'"),
    ("train.epochs.x", "is not a section"),
    ("train..lr", "bad override key"),
])
def test_typo_in_overrides_names_the_key(key, needle):
    with pytest.raises(ConfigError) as err:
        load_config(None, {key: "5"})
    assert needle in str(err.value)
    if "did you mean" in needle:
        assert key.split(".")[0] in str(err.value)


def test_typo_in_file_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: 3\n  weigth_decay: 0.1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "unknown key 'train.weigth_decay'" in text
    assert "did you mean 'weight_decay'" in text
    assert str(path) in text


@pytest.mark.parametrize("key, value", [
    ("train.epochs", "0"), ("train.lr", "-1"), ("train.loss", "dize"),
    ("runtime.device", "gpu"), ("train.batch_size", "many"), ("train.grad_clip", "0"),
    ("model.classes", "1"), ("runtime.amp", "fp8"),
])
def test_bad_values_are_config_errors(key, value):
    with pytest.raises(ConfigError) as err:
        load_config(None, {key: value})
    assert f"bad value for '{key}'" in str(err.value)


def test_bad_choice_gets_a_hint():
    with pytest.raises(ConfigError, match="did you mean 'dice'"):
        load_config(None, {"train.loss": "dise"})


def test_class_weights_need_a_weighted_loss():
    with pytest.raises(ConfigError, match="not used by loss 'dice'"):
        load_config(None, {"train.class_weights": "[1, 2]"})
    assert load_config(None, {"train.class_weights": "[1, 2]", "train.loss": "ce"}).train.loss \
        is LossName.CE


def test_every_problem_reported_at_once(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: -1\n  lrr: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert len(err.value.errors) == 2


@pytest.mark.parametrize("text, needle", [
    ("train: [1, 2\n", "not valid YAML"),
    ("- train\n", "mapping"),
])
def test_bad_files(tmp_path, text, needle):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_dump_round_trip(tmp_path):
    cfg = build_config({"train": {"epochs": 7, "loss": "ce", "class_weights": [1, 2]},
                        "model": {"classes": 3}}, model=RunConfig)
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(cfg), encoding="utf-8")
    assert load_config(path) == cfg


def test_a_new_section_needs_only_a_field():
    class SearchSection(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        epochs: int = 300

    class Extended(RunConfig):
        extra: SearchSection | None = None

    cfg = build_config({"extra": {"epochs": 10}}, {"train.epochs": "2"}, model=Extended)
    assert cfg.extra.epochs == 10 and cfg.train.epochs == 2
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        build_config({"extra": {"epoch": 10}}, model=Extended)
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        build_config({}, {"extra.epoch": "1"}, model=Extended)
