"""Configuration machinery shared by every section: YAML files, dotted overrides, errors,
and the one section every run shares, :class:`RuntimeConfig` (how a run is carried out).

Each concern (runtime, data, train, search) defines its own frozen :class:`Section` with
``extra="forbid"``; :class:`genodsl.runs.config.RunConfig` gathers them as sections of one
YAML file. A typo'd key anywhere becomes a :class:`~genodsl.errors.ConfigError` naming the
dotted key with a "did you mean" hint; every problem is reported at once.

A field declared with :func:`resumable` does not change the numbers a run produces (device,
workers, logging): a run may be resumed with another value. :func:`outcome` is a section
without those fields, what a resumed run must match.
"""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, Diagnostic, did_you_mean


class Section(BaseModel):
    """A config section: frozen, and a typo'd key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_RESUMABLE = "resumable"


def resumable(default: Any, **kwargs: Any) -> Any:
    """A field whose value may change when a run is resumed (it does not change results)."""
    return Field(default, json_schema_extra={_RESUMABLE: True}, **kwargs)


def outcome(section: BaseModel) -> dict[str, Any]:
    """The section as JSON data without its resumable fields (recursively)."""
    out: dict[str, Any] = {}
    for name, field in type(section).model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and extra.get(_RESUMABLE):
            continue
        value = getattr(section, name)
        out[name] = (outcome(value) if isinstance(value, BaseModel)
                     else section.model_dump(mode="json", include={name})[name])
    return out


def changed_outcome(saved: BaseModel, now: BaseModel, prefix: str) -> list[str]:
    """``["train.lr: 0.1 -> 0.2", ...]``: the non-resumable settings that differ."""
    old, new = outcome(saved), outcome(now)
    return [f"{prefix}.{k}: {old.get(k)!r} -> {new.get(k)!r}"
            for k in new if old.get(k) != new.get(k)]


# ------------------------------------------------------------------ the runtime section
class Amp(str, Enum):
    """Mixed precision: off, on (fp16 + loss scaling on CUDA, bf16 elsewhere), bf16 or fp16."""

    OFF = "off"
    ON = "on"
    BF16 = "bf16"
    FP16 = "fp16"


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class RuntimeConfig(Section):
    """How a run is carried out; shared by search, training and the commands using a model."""

    device: str = resumable("auto", description="auto (CUDA when present, else CPU), cpu, "
                                                "cuda, cuda:N or mps")
    amp: Amp = Field(Amp.OFF, description="mixed precision: off, on, bf16 or fp16 (GPU)")
    num_workers: int = resumable(0, ge=0, description="DataLoader worker processes")
    channels_last: bool = resumable(False, description="NHWC memory format (faster on GPU)")
    seed: int = Field(0, ge=0, description="seed of weights, alphas, data order and sampling")
    progress: bool = resumable(True, description="show progress bars")
    deterministic: bool = Field(False, description="torch.use_deterministic_algorithms")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
        return value

    @field_validator("amp", mode="before")
    @classmethod
    def _amp_bool(cls, value: Any) -> Any:
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) \
            else value


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML file holding a mapping of sections (an empty file is an empty mapping)."""
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
    return data


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
                 source: str | None = None, *, prefix: str = "") -> ConfigError:
    """A pydantic error as one ConfigError: each bad key dotted, unknown keys with hints."""
    diags = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join([prefix] * bool(prefix) + [str(p) for p in loc])
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
                 model: type[BaseModel], source: str | None = None) -> Any:
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
                model: type[BaseModel]) -> Any:
    """Read a YAML config (or only defaults when ``path`` is None) and apply overrides."""
    data = read_yaml(path) if path is not None else {}
    return build_config(data, overrides, model=model,
                        source=str(path) if path is not None else None)


def dump_config(config: BaseModel | Mapping[str, Any]) -> str:
    """YAML text that :func:`load_config` reads back to an equal config."""
    data = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
    return yaml.safe_dump(data, sort_keys=False)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
