"""A compiled network's summary: cells per stage, output shapes, parameters, forward FLOPs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .flops import count_flops, count_params, meta_copy


@dataclass(frozen=True)
class StageRow:
    stage: str
    layers: int  # cells (or conv blocks) in the stage
    out_shape: tuple[int, ...]  # of the stage's last layer
    params: int
    flops: int


@dataclass(frozen=True)
class Summary:
    network: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    rows: tuple[StageRow, ...]
    params: int
    flops: int

    def as_dict(self) -> dict:
        return {"network": self.network, "input_shape": list(self.input_shape),
                "output_shape": list(self.output_shape), "params": self.params,
                "flops": self.flops,
                "stages": [r.__dict__ | {"out_shape": list(r.out_shape)} for r in self.rows]}


def summarize(model: nn.Module, input_shape: tuple[int, ...], name: str = "") -> Summary:
    """Shapes from one forward pass on the meta device; FLOPs from FlopCounterMode."""
    shapes = _meta_shapes(model, input_shape)
    flops = count_flops(model, input_shape)
    rows = []
    for child_name, child in model.named_children():
        modules = list(child) if isinstance(child, nn.ModuleList) else [child]
        last = shapes.get(f"{child_name}.{len(modules) - 1}", ())
        rows.append(StageRow(child_name, len(modules), last, count_params(child),
                             flops.per_module.get(child_name, 0)))
    out_shape = rows[-1].out_shape if rows else ()
    return Summary(name, tuple(input_shape), out_shape, tuple(rows), count_params(model),
                   flops.total)


def _meta_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Output shape of every top-level child (and ModuleList item), on a weight-free copy."""
    meta = meta_copy(model)
    shapes: dict[str, tuple[int, ...]] = {}
    for child_name, child in meta.named_children():
        modules = list(child) if isinstance(child, nn.ModuleList) else [child]
        for i, m in enumerate(modules):
            m.register_forward_hook(
                lambda _m, _i, out, key=f"{child_name}.{i}": shapes.__setitem__(key,
                                                                                tuple(out.shape)))
    with torch.no_grad():
        meta(torch.empty(input_shape, device="meta"))
    return shapes
