"""The one saved-model format: safetensors weights plus what it takes to rebuild the module.

A ``.safetensors`` file holds the state dict as tensors; its string metadata holds:

=================  ==========================================================================
``format``         ``genodsl-model`` (a file without it is not a genodsl model)
``format_version`` ``1``
``genodsl_version`` the version that wrote it
``kind``           ``nasunet`` (a genotype in the NAS-Unet backbone) or ``baseline``
``network``        the network's name (nasunet) or the baseline's registry name
``geno``           nasunet: the self-contained .geno text of that network (imports inlined)
``baseline_args``  baseline: JSON of the arguments that override its preset (``{}`` if none)
``in_channels``    input channels
``classes``        output classes
``class_names``    JSON list of class names, when known (training runs)
``run``            JSON: epoch, selected (``best``/``last``), score, of a training run
``config``         JSON of the run's configuration (training runs), so the file alone predicts
=================  ==========================================================================

Loading reads the metadata, rebuilds the module (re-parsing the .geno text, or the baseline
from its registry), checks every weight fits it and loads them.  ``compile --out`` and training
runs (``RUN/model.safetensors``) write it; ``predict``, ``evaluate``, ``export``,
:func:`genodsl.load_model` and :func:`genodsl.load_run` read it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import torch
from torch import nn

from ..version import __version__
from ..errors import CheckpointError, ConfigError
from ..files import atomic_path, json_safe
from ..lang.ir import Program

FORMAT = "genodsl-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
_HINT = "genodsl reads the .safetensors files written by `genodsl compile --out` and by " \
        "training runs (RUN/model.safetensors)"
Kind = Literal["nasunet", "baseline"]


@dataclass(frozen=True)
class ModelSpec:
    """What rebuilds a model: a network of a genotype (its .geno text) or a baseline."""

    kind: Kind
    network: str                  # network name (nasunet) or baseline name
    in_channels: int
    classes: int
    geno: str | None = None       # nasunet: self-contained .geno text of the network
    baseline_args: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_network(cls, program: Program, network: str | None = None) -> "ModelSpec":
        from ..lang.printer import dumps

        net = program.network(network)
        return cls("nasunet", net.name, net.settings.in_channels, net.settings.classes,
                   geno=dumps(program.subprogram(net.name)))

    @classmethod
    def of_baseline(cls, name: str, in_channels: int, classes: int, **args: Any) -> "ModelSpec":
        return cls("baseline", name, in_channels, classes, baseline_args=dict(args))

    def program(self) -> Program:
        """The parsed genotype text (nasunet only)."""
        from ..lang.loader import loads

        if self.geno is None:
            raise CheckpointError(f"a {self.kind} model has no genotype")
        return loads(self.geno, file=f"<genotype of {self.network}>")

    def build(self) -> nn.Module:
        """A fresh module (random weights) of this spec."""
        if self.kind == "nasunet":
            from ..compile import build

            return build(self.program(), self.network)
        from ..baselines import build_baseline

        return build_baseline(self.network, self.in_channels, self.classes,
                              **dict(self.baseline_args))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (stored in training checkpoints to rebuild the model on resume)."""
        out: dict[str, Any] = {"kind": self.kind, "network": self.network,
                               "in_channels": self.in_channels, "classes": self.classes}
        if self.kind == "nasunet":
            out["geno"] = self.geno
        else:
            out["baseline_args"] = dict(self.baseline_args)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "<model spec>") -> "ModelSpec":
        try:
            kind = data["kind"]
            if kind not in ("nasunet", "baseline"):
                raise ValueError(f"unknown model kind {kind!r}")
            spec = cls(kind, str(data["network"]), int(data["in_channels"]),
                       int(data["classes"]),
                       geno=str(data["geno"]) if kind == "nasunet" else None,
                       baseline_args=dict(data.get("baseline_args") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"bad model description: {exc}", file=where,
                                  hint=_HINT) from None
        return spec


@dataclass(frozen=True)
class SavedModel:
    """A loaded model file: the module with its weights, and what the file says about it."""

    model: nn.Module                       # eval mode, weights loaded
    spec: ModelSpec
    path: Path
    class_names: list[str] | None = None
    run: dict[str, Any] | None = None      # epoch, selected, score (training runs)
    config: dict[str, Any] | None = None   # the run's configuration (training runs)
    genodsl_version: str = ""

    @property
    def genotype(self) -> str | None:
        """The .geno text of the network (None for a baseline)."""
        return self.spec.geno


def _metadata(spec: ModelSpec, class_names: Sequence[str] | None,
              run: Mapping[str, Any] | None, config: Mapping[str, Any] | None) -> dict[str, str]:
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
            "genodsl_version": __version__, "kind": spec.kind, "network": spec.network,
            "in_channels": str(spec.in_channels), "classes": str(spec.classes)}
    if spec.kind == "nasunet":
        meta["geno"] = spec.geno or ""
    else:
        meta["baseline_args"] = json.dumps(dict(spec.baseline_args), sort_keys=True)
    if class_names is not None:
        if len(class_names) != spec.classes:
            raise ConfigError(f"{len(class_names)} class names for {spec.classes} classes")
        meta["class_names"] = json.dumps([str(c) for c in class_names])
    if run is not None:
        meta["run"] = json.dumps(json_safe(dict(run)))
    if config is not None:
        meta["config"] = json.dumps(json_safe(dict(config)))
    return meta


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict on the CPU, contiguous, with no two entries sharing memory."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in model.state_dict().items():
        t = value.detach().to("cpu").contiguous()
        if t.data_ptr() in seen and t.numel():
            t = t.clone()
        seen.add(t.data_ptr())
        out[key] = t
    return out


def save_model(path: str | os.PathLike[str], model: nn.Module, spec: ModelSpec, *,
               class_names: Sequence[str] | None = None, run: Mapping[str, Any] | None = None,
               config: Mapping[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and ``spec`` to ``path`` (a .safetensors file), atomically."""
    from safetensors.torch import save_file

    meta = _metadata(spec, class_names, run, config)
    with atomic_path(path) as tmp:
        save_file(_tensors(model), str(tmp), metadata=meta)
    return Path(path)


def read_model(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of a genodsl model file; any other file is a CheckpointError."""
    from safetensors import safe_open

    p = Path(path)
    if p.is_dir():
        raise CheckpointError(f"{p} is a folder, not a model file", file=str(p),
                              hint=f"a run folder's model is {p / MODEL_FILE}")
    if not p.is_file():
        raise CheckpointError(f"no such model file: {p}", file=str(p))
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()} \
                if meta.get("format") == FORMAT else {}
    except Exception as exc:  # a corrupt, cut-short or foreign file: safetensors' own errors
        raise CheckpointError(f"cannot read model file ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})",
                              file=str(p), hint=_HINT) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError("not a genodsl model file (a safetensors file without genodsl's "
                              "metadata)", file=str(p), hint=_HINT)
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"model file format version {meta.get('format_version')!r}; this "
                              f"genodsl ({__version__}) reads version {FORMAT_VERSION}",
                              file=str(p), hint="load it with the genodsl version that wrote it "
                              f"({meta.get('genodsl_version', '?')})")
    return tensors, meta


def _json(meta: Mapping[str, str], key: str, where: str) -> Any:
    if key not in meta:
        return None
    try:
        return json.loads(meta[key])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"bad '{key}' metadata: {exc}", file=where) from None


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> SavedModel:
    """Rebuild the module of a model file, load its weights (checked) and put it in eval mode."""
    tensors, meta = read_model(path)
    where = str(path)
    spec = ModelSpec.from_dict({**meta, "baseline_args": _json(meta, "baseline_args", where)},
                               where)
    module = spec.build()
    check_weights(module, tensors, where)
    module.load_state_dict(tensors, strict=True)
    return SavedModel(module.to(device).eval(), spec, Path(path),
                      class_names=_json(meta, "class_names", where),
                      run=_json(meta, "run", where), config=_json(meta, "config", where),
                      genodsl_version=meta.get("genodsl_version", ""))


def check_weights(module: nn.Module, state: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise a CheckpointError naming what is missing, unexpected or of another shape."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} (e.g. {missing[0]})")
        if extra:
            parts.append(f"unexpected {len(extra)} (e.g. {extra[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} with another shape (e.g. {k}: {got[k]} vs {expected[k]})")
        raise CheckpointError("the weights do not fit the model rebuilt from the file: "
                              + "; ".join(parts), file=where)


class ModelFileWriter:
    """A Trainer callback that keeps ``RUN/model.safetensors`` up to date (rank 0 only).

    It writes the weights of every new best validation epoch; while no epoch has validated
    (no validation set), the latest epoch's, so a run always ends with the model it selected.
    """

    def __init__(self, path: str | os.PathLike[str], spec: ModelSpec,
                 class_names: Sequence[str] | None = None,
                 config: Mapping[str, Any] | None = None):
        self.path, self.spec = Path(path), spec
        self.class_names = list(class_names) if class_names is not None else None
        self.config = dict(config) if config is not None else None

    def __call__(self, trainer: Any, stats: Any) -> None:
        if not trainer.world.main:
            return
        best = trainer.best_epoch
        if best is not None and best != stats.epoch:
            return
        run = {"epoch": stats.epoch, "selected": "best" if best is not None else "last",
               "score": stats.val_dsc}
        save_model(self.path, trainer.model, self.spec, run=run, config=self.config,
                   class_names=self.class_names or trainer.class_names)
