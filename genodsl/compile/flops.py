"""Parameter and FLOP counts.

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` on one forward pass:
2 FLOPs per multiply-add, and only the ops it has formulas for (convolutions, transposed
convolutions, matmul/linear/bmm, attention). Norms, activations, pooling and resizing count
zero. This is the definition behind the paper-comparison figures (e.g. U-Net 96.2 GFLOPs at
256x256). The pass runs on the ``meta`` device by default: a weight-free copy of the model
is traced, so nothing is allocated and the model itself is untouched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["FlopReport", "count_flops", "count_params", "meta_copy"]


@dataclass(frozen=True)
class FlopReport:
    """Forward FLOPs of one model on one input shape."""

    total: int  # FLOPs of the whole forward pass (for the whole batch)
    input_shape: tuple[int, ...]
    per_module: dict[str, int] = field(default_factory=dict)  # top-level child -> FLOPs
    per_op: dict[str, int] = field(default_factory=dict)  # aten op -> FLOPs
    device: str = "meta"  # where the counting pass ran: "meta" or the model's device

    @property
    def gflops(self) -> float:
        return self.total / 1e9

    @property
    def per_sample(self) -> float:
        """FLOPs per batch element."""
        return self.total / self.input_shape[0] if self.input_shape else float(self.total)

    def table(self) -> str:
        rows = [f"forward FLOPs for input {self.input_shape}: {self.gflops:.3f} G"]
        width = max((len(k) for k in self.per_module), default=0)
        for name, flops in self.per_module.items():
            share = 100.0 * flops / self.total if self.total else 0.0
            rows.append(f"  {name:<{width}}  {flops / 1e9:10.4f} G  {share:5.1f}%")
        return "\n".join(rows)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def meta_copy(model: nn.Module) -> nn.Module:
    """A deep copy whose parameters and buffers live on ``meta`` (no storage is copied)."""
    memo: dict[int, object] = {}
    for p in model.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for b in model.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(model, memo)


def _model_device(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def _run_counted(model: nn.Module, x: torch.Tensor) -> FlopCounterMode:
    counter = FlopCounterMode(display=False)
    training = {m: m.training for m in model.modules()}
    model.eval()  # no BatchNorm running-stat updates; the counted ops are the same
    try:
        with torch.no_grad(), counter:
            model(x)
    finally:
        for m, mode in training.items():
            m.training = mode
    return counter


def _per_child(counter: FlopCounterMode, model: nn.Module) -> dict[str, int]:
    """FLOPs per top-level child, in registration order, plus '(other)' for the remainder."""
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    root = type(model).__name__
    out: dict[str, int] = {}
    for child, _ in model.named_children():
        prefix = f"{root}.{child}"
        keys = [k for k in counts if k == prefix or k.startswith(prefix + ".")]
        # A module's count includes everything called inside it: sum only the outermost keys.
        outer = [k for k in keys
                 if not any(k.startswith(o + ".") for o in keys if o != k)]
        out[child] = sum(counts[k] for k in outer)
    rest = counter.get_total_flops() - sum(out.values())
    if rest:
        out["(other)"] = rest
    return out


def count_flops(model: nn.Module, input_shape: Sequence[int], *,
                dtype: torch.dtype = torch.float32, use_meta: bool = True) -> FlopReport:
    """Forward FLOPs of ``model`` on an input of ``input_shape`` (batch included).

    Runs on the ``meta`` device when possible; if the model cannot run there (an op
    without a meta kernel, data-dependent control flow), it runs once for real on the
    model's own device, in eval mode and without gradients, on random data.
    """
    shape = tuple(int(s) for s in input_shape)
    counter = None
    device = "meta"
    if use_meta:
        try:
            meta_model = meta_copy(model)
            counter = _run_counted(meta_model, torch.empty(shape, dtype=dtype, device="meta"))
        except Exception:  # noqa: BLE001 - any failure on meta means "count for real"
            counter = None
    if counter is None:
        dev = _model_device(model)
        device = str(dev)
        counter = _run_counted(model, torch.randn(shape, dtype=dtype, device=dev))
    per_op: dict[str, int] = {}
    for op, flops in counter.get_flop_counts().get("Global", {}).items():
        per_op[str(op).removeprefix("aten.")] = int(flops)
    return FlopReport(total=int(counter.get_total_flops()), input_shape=shape,
                      per_module=_per_child(counter, model), per_op=per_op, device=device)
