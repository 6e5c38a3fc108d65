"""Export a model to ONNX, TorchScript or a ``torch.export`` archive (.pt2), and check it.

Every export is written atomically (a crash or a failed check leaves no file behind) and
then reloaded and run on the example input; the largest absolute difference from the eager
model is reported, and more than ``atol`` (1e-4 by default) is an :class:`ExportError`.
The model is exported in eval mode (its train/eval flags are restored afterwards).

ONNX uses the dynamo exporter (``torch.onnx.export(..., dynamo=True)``), which needs the
``export`` extra (onnx, onnxscript, onnxruntime); the batch dimension is made dynamic when
the exporter accepts it.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

import torch
from torch import nn

from .errors import ConfigError, GenoError, did_you_mean
from .files import atomic_path

__all__ = ["FORMATS", "ExportError", "ExportReport", "export_model"]

ExportFormat = Literal["onnx", "torchscript", "pt2"]
FORMATS: dict[str, str] = {"onnx": ".onnx", "torchscript": ".pt", "pt2": ".pt2"}
_INSTALL_HINT = "install the export extra: pip install 'genodsl[export]'"


class ExportError(GenoError):
    """An export that could not be written or whose outputs do not match the eager model."""

    default_code = "E500"


@dataclass(frozen=True)
class ExportReport:
    path: Path
    fmt: str
    max_abs_diff: float  # over every checked input (the example and, if dynamic, another batch)
    dynamic_batch: bool
    seconds: float
    warnings: tuple[str, ...] = ()  # warnings the exporter raised, captured rather than shown

    def __str__(self) -> str:
        dyn = ", dynamic batch" if self.dynamic_batch else ""
        return f"{self.fmt} -> {self.path} (max |diff| {self.max_abs_diff:.2e}{dyn})"


def _tensors(out: object) -> list[torch.Tensor]:
    """The output tensors of a model, flattened (a tensor, or a tuple/list/dict of them)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in _tensors(out[k])]
    raise ExportError(f"cannot compare model output of type {type(out).__name__}")


def _max_diff(expected: object, got: object) -> float:
    exp, res = _tensors(expected), _tensors(got)
    if len(exp) != len(res):
        raise ExportError(f"exported model returned {len(res)} outputs, eager model {len(exp)}")
    diff = 0.0
    for e, r in zip(exp, res):
        r = torch.as_tensor(r).to(e.device)
        if tuple(e.shape) != tuple(r.shape):
            raise ExportError(f"exported output shape {tuple(r.shape)} != eager {tuple(e.shape)}")
        diff = max(diff, (e.float() - r.float()).abs().max().item() if e.numel() else 0.0)
    return diff


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


def _second_batch(x: torch.Tensor) -> torch.Tensor:
    """A batch of another size (2 when the example has 1) to trace and check a dynamic batch."""
    return x.repeat(2, *([1] * (x.dim() - 1))) if x.shape[0] == 1 else x[:1]


def _check(diff: float, atol: float, fmt: str) -> None:
    if not diff <= atol:  # also catches NaN
        raise ExportError(f"{fmt} export does not match the eager model: max |diff| {diff:.3g} "
                          f"> {atol:g}")


def _export_onnx(model: nn.Module, x: torch.Tensor, tmp: Path, atol: float,
                 dynamic: bool, caught: list[str]) -> tuple[float, bool]:
    missing = [m for m in ("onnx", "onnxscript", "onnxruntime")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"ONNX export needs {', '.join(missing)}", hint=_INSTALL_HINT)
    import onnxruntime as ort

    trace_x = _second_batch(x) if x.shape[0] == 1 else x  # batch 1 would be specialised
    program = None
    if dynamic:
        try:
            with _quiet(caught):
                program = torch.onnx.export(
                    model, (trace_x,), dynamo=True, verbose=False,
                    dynamic_shapes=({0: torch.export.Dim("batch")},))
        except Exception as exc:  # noqa: BLE001 - a static export may still work
            caught.append(f"dynamic batch failed, exported a static batch: {exc}".split("\n")[0])
            program = None
    dynamic = program is not None
    if program is None:
        try:
            with _quiet(caught):
                program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
        except Exception as exc:
            raise ExportError(f"ONNX export failed: {exc}".split("\n")[0]) from exc
    program.save(tmp, external_data=False)  # one self-contained file (models under 2 GB)

    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    inputs = [x, _second_batch(x)] if dynamic else [x]
    diff = 0.0
    for inp in inputs:
        with torch.no_grad():
            expected = model(inp)
        got = session.run(None, {name: inp.detach().cpu().numpy()})
        diff = max(diff, _max_diff(expected, [torch.from_numpy(g) for g in got]))
    _check(diff, atol, "onnx")
    return diff, dynamic


def _export_torchscript(model: nn.Module, x: torch.Tensor, tmp: Path, atol: float,
                        caught: list[str]) -> float:
    try:
        with _quiet(caught):  # torch.jit.trace warns that TorchScript is deprecated
            traced = torch.jit.trace(model, (x,))
            torch.jit.save(traced, str(tmp))
            loaded = torch.jit.load(str(tmp), map_location=x.device)
    except Exception as exc:  # includes the tracer's own check failing (TracingCheckError)
        raise ExportError(f"TorchScript trace failed: {exc}".split("\n")[0]) from exc
    with torch.no_grad():
        diff = _max_diff(model(x), loaded(x))
    _check(diff, atol, "torchscript")
    return diff


def _export_pt2(model: nn.Module, x: torch.Tensor, tmp: Path, atol: float, dynamic: bool,
                caught: list[str]) -> tuple[float, bool]:
    program = None
    if dynamic:
        try:
            with _quiet(caught):
                program = torch.export.export(
                    model, (_second_batch(x) if x.shape[0] == 1 else x,),
                    dynamic_shapes=({0: torch.export.Dim("batch")},))
        except Exception as exc:  # noqa: BLE001 - a static export may still work
            caught.append(f"dynamic batch failed, exported a static batch: {exc}".split("\n")[0])
    dynamic = program is not None
    if program is None:
        try:
            with _quiet(caught):
                program = torch.export.export(model, (x,))
        except Exception as exc:
            raise ExportError(f"torch.export failed: {exc}".split("\n")[0]) from exc
    # Through a buffer: torch.export.save/load warn about any file name not ending in .pt2.
    buffer = io.BytesIO()
    with _quiet(caught):
        torch.export.save(program, buffer)
    tmp.write_bytes(buffer.getvalue())
    with _quiet(caught):
        loaded = torch.export.load(io.BytesIO(tmp.read_bytes())).module()
    diff = 0.0
    for inp in ([x, _second_batch(x)] if dynamic else [x]):
        with torch.no_grad():
            diff = max(diff, _max_diff(model(inp), loaded(inp)))
    _check(diff, atol, "pt2")
    return diff, dynamic


def export_model(model: nn.Module, example_input: torch.Tensor, fmt: ExportFormat | str,
                 out_path: str | Path, *, dynamic_batch: bool = True,
                 atol: float = 1e-4) -> ExportReport:
    """Export ``model`` traced on ``example_input`` to ``out_path`` and check the result.

    Args:
        fmt: ``"onnx"``, ``"torchscript"`` (``torch.jit.trace``, deprecated upstream) or
            ``"pt2"`` (``torch.export``). A path without a suffix gets the format's own
            (.onnx, .pt, .pt2).
        dynamic_batch: try to make the batch dimension dynamic (onnx and pt2).
        atol: largest accepted absolute difference from the eager outputs.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", hint=did_you_mean(str(fmt), FORMATS))
    if not atol >= 0:
        raise ConfigError(f"atol must be >= 0, got {atol!r}")
    if not isinstance(example_input, torch.Tensor):
        raise ConfigError("example_input must be a tensor (N, C, H, W)")
    path = Path(out_path)
    if not path.suffix:
        path = path.with_suffix(FORMATS[fmt])
    caught: list[str] = []
    start = time.perf_counter()
    x = example_input.detach()
    dynamic = False
    with _eval_mode(model), atomic_path(path) as tmp:
        if fmt == "onnx":
            diff, dynamic = _export_onnx(model, x, tmp, atol, dynamic_batch, caught)
        elif fmt == "torchscript":
            diff = _export_torchscript(model, x, tmp, atol, caught)
        else:
            diff, dynamic = _export_pt2(model, x, tmp, atol, dynamic_batch, caught)
    return ExportReport(path=path, fmt=fmt, max_abs_diff=diff, dynamic_batch=dynamic,
                        seconds=time.perf_counter() - start, warnings=tuple(caught))
