"""Saved models: weights plus the genotype text, rebuilt and checked on load.

The file is a ``torch.save`` dict read back with ``weights_only=True``: the .geno text of
the network (self-contained, imports inlined), the network's name and the state dict.
Loading re-parses the text, rebuilds the module and checks every weight fits it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import __version__
from .compile import build
from .errors import CheckpointError
from .lang.ir import Program
from .lang.loader import loads
from .lang.printer import format_module, program_to_module
from .utils import torch_save_atomic

FORMAT = "genodsl-model/1"


def program_text(program: Program, network: str | None = None) -> str:
    """Canonical self-contained text: the whole program, or only what ``network`` needs."""
    if network is not None:
        program = program.subprogram(network)
    return format_module(program_to_module(program))


def save_model(model: nn.Module, program: Program, network: str, path: str | Path) -> Path:
    net = program.network(network)
    blob = {"format": FORMAT, "genodsl_version": __version__, "network": net.name,
            "geno": program_text(program, net.name),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    torch_save_atomic(blob, path)
    return Path(path)


def load_model(path: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[nn.Module, Program, str]:
    """(module with its weights, the program it was built from, the network name)."""
    p = Path(path)
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no such model file: {p}", file=str(p)) from None
    except Exception as exc:  # a corrupt or foreign file
        raise CheckpointError(f"cannot read model file: {exc}", file=str(p),
                              hint="was it written by `genodsl compile --out`?") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError("not a genodsl model file", file=str(p),
                              hint="was it written by `genodsl compile --out`?")
    program = loads(blob["geno"], file=f"{p}#geno")
    module = build(program, blob["network"])
    check_weights(module, blob["state_dict"], str(p))
    module.load_state_dict(blob["state_dict"], strict=True)
    return module.to(device), program, blob["network"]


def check_weights(module: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
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
        raise CheckpointError("the weights do not fit the network rebuilt from the genotype: "
                              + "; ".join(parts), file=where)
