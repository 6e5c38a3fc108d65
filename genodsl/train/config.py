"""Training configuration (pydantic v2) and the YAML loader with dotted-key overrides.

One YAML file holds one section per concern::

    train:
      epochs: 200
      lr: 3.0e-4
    # data: ...    (added by genodsl.data)
    # search: ...  (added by genodsl.search)

:class:`RunConfig` is the top-level model; each section is its own frozen model with
``extra="forbid"``, so a typo'd key anywhere is a :class:`~genodsl.errors.ConfigError` naming
the key with a "did you mean" hint. Adding a section is one field on :class:`RunConfig`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from ..errors import ConfigError, Diagnostic, did_you_mean
from .losses import LossName
from .metrics import EmptyMaskRule

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class TrainConfig(BaseModel):
    """Training settings; defaults follow the NAS-Unet paper (Adam 3e-4, wd 5e-5, 200 epochs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(200, ge=1, description="training epochs")
    batch_size: int = Field(8, ge=1, description="images per step")
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(3e-4, gt=0, description="initial learning rate")
    weight_decay: float = Field(5e-5, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD only")
    scheduler: Literal["cosine", "none"] = "cosine"
    eta_min: float = Field(0.0, ge=0, description="final lr of the cosine schedule")
    grad_clip: float | None = Field(5.0, gt=0, description="max grad norm; null disables")
    loss: LossName = LossName.DICE
    class_weights: tuple[float, ...] | None = Field(
        None, description="per-class loss weights; weighted_dice without them counts the "
                          "training masks and uses inverse class frequency")
    empty_mask_rule: EmptyMaskRule = EmptyMaskRule.SCORE
    seed: int = Field(0, ge=0)
    deterministic: bool = Field(False, description="torch.use_deterministic_algorithms")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    num_workers: int = Field(0, ge=0, description="DataLoader workers")
    amp: bool = Field(False, description="mixed precision (bf16 on CPU, fp16 + scaler on CUDA)")
    tensorboard: bool = Field(False, description="also write TensorBoard scalars")
    log_every: int = Field(10, ge=0, description="per-step log lines every N steps; 0: none")
    val_every: int = Field(1, ge=1, description="validate every N epochs (and the last)")
    count_flops: bool = Field(True, description="count forward FLOPs of one image at start")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
        return value

    @model_validator(mode="after")
    def _weights_need_a_weighted_loss(self) -> "TrainConfig":
        if self.class_weights is not None and self.loss in (LossName.DICE, LossName.DICE_REF):
            raise ValueError(f"class_weights are not used by loss '{self.loss.value}'; "
                             f"use weighted_dice, ce or dice_ce")
        return self


class RunConfig(BaseModel):
    """The whole YAML file: one optional section per concern."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: TrainConfig = Field(default_factory=TrainConfig)
    # ---------------------------------------------------------------------------------------
    # LEAD: add the other sections here, e.g.
    #     data: DataConfig | None = None      (from genodsl.data.config import DataConfig)
    #     search: SearchConfig | None = None
    # Nothing else in this module needs to change: overrides and error messages are generic.
    # ---------------------------------------------------------------------------------------


# Keys that may differ when resuming a run (they do not change the numbers it produces).
RESUMABLE_CHANGES = frozenset({"device", "num_workers", "tensorboard", "log_every"})


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The sub-model class reached by following field names ``loc`` from ``model``."""
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        sub = next((c for c in candidates
                    if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if sub is None:
            return None
        model = sub
    return model


def config_error(exc: ValidationError, model: type[BaseModel],
                 source: str | None = None) -> ConfigError:
    """A pydantic error as one ConfigError: each bad key dotted, unknown keys with hints."""
    diags = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            choices = list(parent.model_fields) if parent else []
            diags.append(Diagnostic("E201", f"unknown key '{key}'", file=source,
                                    hint=did_you_mean(str(loc[-1]), choices)))
        else:
            shown = repr(err.get("input"))
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            hint = None
            if err["type"] in ("enum", "literal_error") and isinstance(err.get("input"), str):
                choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
                hint = did_you_mean(err["input"], choices)
            where = f"bad value for '{key}'" if key else "bad config"
            if err["type"] == "value_error" and isinstance(err.get("input"), dict):
                diags.append(Diagnostic("E202", f"{where}: {err['msg']}", file=source))
                continue
            diags.append(Diagnostic("E202", f"{where}: {err['msg']} (got {shown})", file=source,
                                    hint=hint))
    return ConfigError(diags)


def _set_dotted(data: dict[str, Any], key: str, value: object,
                model: type[BaseModel]) -> None:
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"bad override key '{key}'", hint="use dotted keys like train.epochs=5")
    node: dict[str, Any] = data
    for i, part in enumerate(parts[:-1]):
        sub = _model_at(model, tuple(parts[:i]))
        if sub is not None and part not in sub.model_fields:
            raise ConfigError(f"unknown key '{'.'.join(parts[:i + 1])}' in override '{key}'",
                              hint=did_you_mean(part, sub.model_fields))
        if sub is not None and _model_at(model, tuple(parts[:i + 1])) is None:
            raise ConfigError(f"override '{key}': '{'.'.join(parts[:i + 1])}' is not a section")
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{key}': '{'.'.join(parts[:i + 1])}' is not a section")
        node = child
    parent = _model_at(model, tuple(parts[:-1]))
    if parent is not None and parts[-1] not in parent.model_fields:
        raise ConfigError(f"unknown key '{key}' in overrides",
                          hint=did_you_mean(parts[-1], parent.model_fields))
    node[parts[-1]] = _scalar(value)


def _scalar(value: object) -> object:
    """Read a string override as a YAML scalar (``5`` -> 5, ``null`` -> None, ``[1, 2]``)."""
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def parse_overrides(items: list[str]) -> dict[str, object]:
    """``["train.epochs=5", ...]`` (CLI ``--set`` style) -> ``{"train.epochs": "5", ...}``."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad override '{item}'", hint="write key=value, e.g. train.epochs=5")
        out[key.strip()] = value.strip()
    return out


def build_config(data: Mapping[str, Any] | None = None,
                 overrides: Mapping[str, object] | None = None, *,
                 model: type[BaseModel] = RunConfig, source: str | None = None) -> Any:
    """Validate a mapping plus dotted overrides (string values are read as YAML scalars)."""
    raw = _deep_copy(dict(data or {}))
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value, model)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, model, source) from None


def load_config(path: str | os.PathLike[str] | None,
                overrides: Mapping[str, object] | None = None, *,
                model: type[BaseModel] = RunConfig) -> Any:
    """Read a YAML config (or only defaults when ``path`` is None) and apply overrides."""
    data: Any = {}
    source = None
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config: {exc.strerror}", file=source) from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", file=source) from None
        if not isinstance(data, dict):
            raise ConfigError("the config file must be a mapping of sections", file=source)
    return build_config(data, overrides, model=model, source=source)


def dump_config(config: BaseModel) -> str:
    """YAML text that :func:`load_config` reads back to an equal config."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
