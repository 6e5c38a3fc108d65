"""Export a model to ONNX, TorchScript or a ``torch.export`` archive (.pt2), and check it.

Every export is written atomically (a crash or a failed check leaves no file behind), then
reloaded and run on the example input and on a second input of another batch size, height
and width; the exported model must serve any batch and any size the network accepts
(multiples of its ``size_divisor``). ``dynamic`` lists the dimensions that stayed dynamic.

The check suits float32 logits of a trained model: every output element must agree with the
eager model within ``rtol`` times the largest eager magnitude of that output (plus a small
``atol`` floor), and for segmentation logits ``[N, K, H, W]`` the arg-max class must agree on
every pixel, except ties (two best eager logits closer than 1e-5 of the largest): a pixel
whose class flips is an error even when its logits are within the tolerance. Pass a real
image as the example for a meaningful arg-max check.

``metadata`` (string keys and values: genotype, class names, preprocessing, see
:func:`export_metadata`) is stored in the file: ONNX ``metadata_props``, and for
TorchScript and .pt2 an extra file ``genodsl.json`` holding the same mapping;
:func:`read_metadata` reads it back from any of the three.

ONNX uses the dynamo exporter (``torch.onnx.export(..., dynamo=True)``), which needs the
``export`` extra (onnx, onnxscript, onnxruntime). The model is exported in eval mode (its
train/eval flags are restored afterwards).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import time
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError, GenoError, did_you_mean
from .files import atomic_path

__all__ = ["FORMATS", "ExportError", "ExportReport", "export_metadata", "export_model",
           "read_metadata"]

ExportFormat = Literal["onnx", "torchscript", "pt2"]
FORMATS: dict[str, str] = {"onnx": ".onnx", "torchscript": ".pt", "pt2": ".pt2"}
META_FILE = "genodsl.json"  # the extra file of TorchScript and .pt2 exports
_INSTALL_HINT = "install the export extra: pip install 'genodsl[export]'"
_DIMS = ("batch", "height", "width")
_TIE = 1e-5  # two logits closer than this (relative to the largest) are a tie


class ExportError(GenoError):
    """An export that could not be written or whose outputs do not match the eager model."""

    default_code = "E500"


@dataclass(frozen=True)
class ExportReport:
    path: Path
    fmt: str
    max_abs_diff: float          # over every checked input
    max_rel_diff: float          # max |diff| / max |eager output|, the checked quantity
    dynamic: tuple[str, ...]     # the dimensions that stayed dynamic: batch, height, width
    checked_shapes: tuple[tuple[int, ...], ...]  # the inputs the export was run on
    seconds: float
    warnings: tuple[str, ...] = ()  # warnings the exporter raised, captured rather than shown

    @property
    def dynamic_batch(self) -> bool:
        return "batch" in self.dynamic

    def __str__(self) -> str:
        dyn = f", dynamic {'/'.join(self.dynamic)}" if self.dynamic else ", static shape"
        shapes = ", ".join("x".join(map(str, s)) for s in self.checked_shapes)
        return (f"{self.fmt} -> {self.path} (checked on {shapes}: max |diff| "
                f"{self.max_abs_diff:.2e}, relative {self.max_rel_diff:.2e}{dyn})")


def export_metadata(*, network: str, genotype: str | None,
                    class_names: Sequence[str] | None = None,
                    preprocessing: Mapping[str, Any] | None = None,
                    extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The metadata an export carries (all strings; JSON where a value is structured)."""
    from .version import __version__

    meta = {"genodsl.version": __version__, "genodsl.network": network,
            "genodsl.output": "logits [N, classes, H, W]; the class is the arg-max over dim 1"}
    if genotype is not None:
        meta["genodsl.genotype"] = genotype
    if class_names is not None:
        meta["genodsl.class_names"] = json.dumps([str(c) for c in class_names])
    if preprocessing is not None:
        meta["genodsl.preprocessing"] = json.dumps(dict(preprocessing), sort_keys=True)
    for key, value in (extra or {}).items():
        meta[f"genodsl.{key}"] = value if isinstance(value, str) else json.dumps(value)
    return meta


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata stored by :func:`export_model` in an .onnx, .pt or .pt2 file."""
    p = Path(path)
    if p.suffix == ".onnx":
        import onnx

        model = onnx.load(str(p), load_external_data=False)
        return {prop.key: prop.value for prop in model.metadata_props}
    with zipfile.ZipFile(p) as zf:  # TorchScript and .pt2 are zip archives
        names = [n for n in zf.namelist() if n.endswith(f"extra/{META_FILE}")]
        return json.loads(zf.read(names[0])) if names else {}


def _tensors(out: object) -> list[torch.Tensor]:
    """The output tensors of a model, flattened (a tensor, or a tuple/list/dict of them)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in _tensors(out[k])]
    raise ExportError(f"cannot compare model output of type {type(out).__name__}")


@dataclass
class _Diff:
    abs: float = 0.0
    rel: float = 0.0


def _compare(expected: object, got: object, rtol: float, atol: float, fmt: str,
             shape: tuple[int, ...], acc: _Diff) -> None:
    """Check ``got`` against the eager ``expected``; see the module doc for the rule."""
    exp, res = _tensors(expected), _tensors(got)
    if len(exp) != len(res):
        raise ExportError(f"exported model returned {len(res)} outputs, eager model {len(exp)}")
    where = f"{fmt} export on input {'x'.join(map(str, shape))}"
    for e, r in zip(exp, res):
        e, r = e.detach().float().cpu(), torch.as_tensor(r).float().cpu()
        if tuple(e.shape) != tuple(r.shape):
            raise ExportError(f"{where}: output shape {tuple(r.shape)} != eager {tuple(e.shape)}")
        if not e.numel():
            continue
        scale = e.abs().max().item()
        diff = (e - r).abs().max().item()
        tol = atol + rtol * scale
        acc.abs, acc.rel = max(acc.abs, diff), max(acc.rel, diff / max(scale, 1e-12))
        if not diff <= tol:  # also catches NaN
            raise ExportError(f"{where} does not match the eager model: max |diff| {diff:.3g} "
                              f"> {tol:.3g} ({rtol:g} x max |logit| {scale:.3g} + {atol:g})")
        if e.dim() == 4 and e.shape[1] > 1:  # logits [N, K, H, W]: the classes must agree
            top2 = e.topk(2, dim=1).values
            clear = (top2[:, 0] - top2[:, 1]) > _TIE * scale  # exact ties may go either way
            wrong = ((e.argmax(1) != r.argmax(1)) & clear).sum().item()
            if wrong:
                raise ExportError(f"{where}: the arg-max class differs from the eager model on "
                                  f"{wrong} of {e[:, 0].numel()} pixels")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    flags = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for m, mode in flags.items():
            m.training = mode


@contextmanager
def _quiet(caught: list[str]) -> Iterator[None]:
    """Capture Python warnings and silence the exporters' logger chatter."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    for r in records:
        text = f"{r.category.__name__}: {r.message}"
        if text not in caught:
            caught.append(text)


def other_input(x: torch.Tensor, divisor: int = 1) -> torch.Tensor:
    """``x`` at another batch size (2 for 1, else 1) and another height and width (one
    ``divisor`` taller, two wider), resized bilinearly: the second input every export is
    checked on."""
    batch = x.repeat(2, 1, 1, 1) if x.shape[0] == 1 else x[:1]
    size = (x.shape[2] + divisor, x.shape[3] + 2 * divisor)
    return F.interpolate(batch, size=size, mode="bilinear", align_corners=False)


def _dynamic_shapes(names: Sequence[str]) -> tuple[dict[int, Any]]:
    Dim = torch.export.Dim
    axes = {"batch": 0, "height": 2, "width": 3}
    return ({axes[n]: Dim.AUTO for n in names},)


def _export_dynamic(export: Callable[[Any], Any], dynamic: bool, caught: list[str],
                    what: str) -> tuple[Any, tuple[str, ...]]:
    """Export with batch, height and width dynamic; then batch only; then static."""
    attempts = [_DIMS, ("batch",), ()] if dynamic else [()]
    for names in attempts:
        try:
            with _quiet(caught):
                return export(_dynamic_shapes(names) if names else None), names
        except Exception as exc:  # noqa: BLE001 - a less dynamic export may still work
            if not names:
                raise ExportError(f"{what} failed: {exc}".split("\n")[0]) from exc
            caught.append(f"dynamic {'/'.join(names)} failed: {exc}".split("\n")[0])
    raise AssertionError("unreachable")


def _trace_input(x: torch.Tensor) -> torch.Tensor:
    """Batch 1 would be specialised by torch.export: trace on two copies."""
    return x.repeat(2, 1, 1, 1) if x.shape[0] == 1 else x


def _export_onnx(model: nn.Module, x: torch.Tensor, tmp: Path, dynamic: bool,
                 caught: list[str], meta: Mapping[str, str]) -> tuple[Any, tuple[str, ...]]:
    missing = [m for m in ("onnx", "onnxscript", "onnxruntime")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"ONNX export needs {', '.join(missing)}", hint=_INSTALL_HINT)
    import onnx
    import onnxruntime as ort

    program, dims = _export_dynamic(
        lambda shapes: torch.onnx.export(model, (_trace_input(x) if shapes else x,),
                                         dynamo=True, verbose=False, dynamic_shapes=shapes),
        dynamic, caught, "ONNX export")
    program.save(tmp, external_data=False)  # one self-contained file (models under 2 GB)
    proto = onnx.load(str(tmp))
    onnx.helper.set_model_props(proto, dict(meta))
    onnx.save(proto, str(tmp))
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(inp: torch.Tensor) -> list[torch.Tensor]:
        return [torch.from_numpy(g) for g in session.run(None, {name: inp.cpu().numpy()})]
    return run, dims


def _export_torchscript(model: nn.Module, x: torch.Tensor, tmp: Path, dynamic: bool,
                        caught: list[str], meta: Mapping[str, str]
                        ) -> tuple[Any, tuple[str, ...]]:
    try:
        with _quiet(caught):  # torch.jit.trace warns that TorchScript is deprecated
            traced = torch.jit.trace(model, (x,), check_trace=False)  # checked below
            torch.jit.save(traced, str(tmp), _extra_files={META_FILE: json.dumps(dict(meta))})
            loaded = torch.jit.load(str(tmp), map_location=x.device)
    except Exception as exc:  # noqa: BLE001 - the tracer raises many types
        raise ExportError(f"TorchScript trace failed: {exc}".split("\n")[0]) from exc
    return loaded, (_DIMS if dynamic else ())  # a trace keeps sizes symbolic, checked below


def _export_pt2(model: nn.Module, x: torch.Tensor, tmp: Path, dynamic: bool,
                caught: list[str], meta: Mapping[str, str]) -> tuple[Any, tuple[str, ...]]:
    program, dims = _export_dynamic(
        lambda shapes: torch.export.export(model, (_trace_input(x) if shapes else x,),
                                           dynamic_shapes=shapes),
        dynamic, caught, "torch.export")
    # Through a buffer: torch.export.save/load warn about any file name not ending in .pt2.
    buffer = io.BytesIO()
    with _quiet(caught):
        torch.export.save(program, buffer, extra_files={META_FILE: json.dumps(dict(meta))})
    tmp.write_bytes(buffer.getvalue())
    with _quiet(caught):
        loaded = torch.export.load(io.BytesIO(tmp.read_bytes())).module()
    return loaded, dims


_EXPORTERS = {"onnx": _export_onnx, "torchscript": _export_torchscript, "pt2": _export_pt2}


def export_model(model: nn.Module, example_input: torch.Tensor, fmt: ExportFormat | str,
                 out_path: str | Path, *, dynamic: bool = True, rtol: float = 1e-3,
                 atol: float = 1e-5, metadata: Mapping[str, str] | None = None,
                 check_input: torch.Tensor | None = None) -> ExportReport:
    """Export ``model`` traced on ``example_input`` to ``out_path`` and check the result.

    Args:
        fmt: ``"onnx"``, ``"torchscript"`` (``torch.jit.trace``, deprecated upstream) or
            ``"pt2"`` (``torch.export``). A path without a suffix gets the format's own
            (.onnx, .pt, .pt2).
        dynamic: make batch, height and width dynamic (falling back to the batch alone,
            then to a static shape; the report says which).
        rtol, atol: the accepted difference is ``atol + rtol * max |eager output|``.
        metadata: string pairs stored in the file (see :func:`export_metadata`).
        check_input: the second input to check (default :func:`other_input` of the example
            with the model's ``size_divisor``); a static export is checked on the example only.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", hint=did_you_mean(str(fmt), FORMATS))
    if not (rtol >= 0 and atol >= 0):
        raise ConfigError(f"rtol and atol must be >= 0, got {rtol!r}, {atol!r}")
    if not isinstance(example_input, torch.Tensor) or example_input.dim() != 4:
        raise ConfigError("example_input must be a tensor (N, C, H, W)")
    bad = [k for k, v in (metadata or {}).items() if not (isinstance(k, str)
                                                          and isinstance(v, str))]
    if bad:
        raise ConfigError(f"metadata keys and values must be strings: {bad[:3]}")
    path = Path(out_path)
    if not path.suffix:
        path = path.with_suffix(FORMATS[fmt])
    caught: list[str] = []
    start = time.perf_counter()
    x = example_input.detach()
    second = check_input if check_input is not None else \
        other_input(x, int(getattr(model, "size_divisor", 1) or 1))
    acc, shapes = _Diff(), []
    with _eval_mode(model), atomic_path(path) as tmp:
        runner, dims = _EXPORTERS[fmt](model, x, tmp, dynamic, caught, dict(metadata or {}))
        for inp in [x, second.to(x.device)] if dims else [x]:
            shape = tuple(inp.shape)
            try:
                with torch.no_grad():
                    expected = model(inp)
                    _compare(expected, runner(inp), rtol, atol, fmt, shape, acc)
            except Exception as exc:
                if inp is not x and fmt == "torchscript":  # a trace that fixed a size
                    dims = ()
                    caught.append("the TorchScript trace does not serve other sizes: static")
                    continue
                if isinstance(exc, GenoError):
                    raise
                raise ExportError(f"the {fmt} export fails on input {'x'.join(map(str, shape))}"
                                  f": {exc}".split("\n")[0]) from exc
            shapes.append(shape)
    return ExportReport(path=path, fmt=fmt, max_abs_diff=acc.abs, max_rel_diff=acc.rel,
                        dynamic=dims, checked_shapes=tuple(shapes),
                        seconds=time.perf_counter() - start, warnings=tuple(caught))
