"""Configuration machinery shared by every section: YAML files, dotted overrides, errors.

Each concern (train, data, search) defines its own frozen pydantic model with
``extra="forbid"``; :class:`genodsl.train.config.RunConfig` gathers them as sections of one
YAML file. A typo'd key anywhere becomes a :class:`~genodsl.errors.ConfigError` naming the
dotted key with a "did you mean" hint; every problem is reported at once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError, Diagnostic, did_you_mean


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
