"""Preparing a model for a run: activation recomputation and ``torch.compile``.

Two ways to compile, for two kinds of forward:

* :func:`compile_whole`: one ``torch.compile`` over the whole module (a discrete network, a
  DARTS supernet). The result is a wrapper to *call*; the module itself is unchanged, so its
  ``state_dict`` (checkpoints, ``model.safetensors``) never gets ``_orig_mod.`` prefixes.
  It is traced once per kind of call (train/eval, with or without gradients to the
  inputs, a new input shape: then with that size dynamic) and reused afterwards;
* :func:`compile_parts`: the parts of a module *between* the modules that decide per call what
  runs (ProxylessNAS' mixed edges sample one path per step: a whole-network graph would be
  traced again for almost every sample). Each largest sub-module with weights that holds no
  such decider gets a compiled ``forward`` in place (the candidates of every mixed edge, the
  cells' preprocessing, the stems and the head); parameter-free parts (pools, identity,
  ``none``) stay eager. Candidates with the same structure and shapes share one graph.

Compiled graphs are cached on disk across runs (inductor's FX graph cache and AOTAutograd
cache) under :func:`cache_dir`: ``$TORCHINDUCTOR_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/genodsl/inductor`` (``~/.cache/genodsl/inductor``); a second run of the
same network compiles much faster. ``GENODSL_COMPILE_BACKEND`` chooses another
``torch.compile`` backend (default ``inductor``; ``aot_eager`` traces and checks without
generating code).

Double backward (the search's Hessian eigenvalue) does not go through compiled graphs: run
it inside :func:`eager`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from ..compile.recompute import set_recompute

BACKEND_ENV = "GENODSL_COMPILE_BACKEND"
CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"
#: a shared ``forward`` (every ``nn.Sequential`` block) may need a graph per distinct shape
PARTS_RECOMPILE_LIMIT = 64

Say = Callable[[str], None]


def cache_dir() -> Path:
    """Where compiled graphs are kept between runs (see the module doc)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "genodsl" / "inductor"


def enable_cache() -> Path:
    """Turn on the persistent compiled-graph caches in :func:`cache_dir`; returns it."""
    path = cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.environ[CACHE_ENV] = str(path)  # read by inductor whenever it looks for its cache
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    functorch_config.enable_autograd_cache = True
    return path


def backend() -> str:
    return os.environ.get(BACKEND_ENV) or "inductor"


def compiling_message(path: Path) -> str:
    return (f"compiling the model: the first steps take longer; compiled graphs are cached in "
            f"{path}")


def compile_whole(module: nn.Module) -> nn.Module:
    """``torch.compile(module)``: call the result, save ``module`` (its keys are unchanged)."""
    return torch.compile(module, backend=backend())  # type: ignore[return-value]


def compile_parts(root: nn.Module, deciders: type | tuple[type, ...]) -> list[nn.Module]:
    """Compile, in place, the largest sub-modules of ``root`` with weights that hold no
    ``deciders`` (see the module doc); returns them. ``state_dict`` keys are unchanged."""
    import torch._dynamo.config as dynamo

    parts = list(_parts(root, deciders))
    dynamo.recompile_limit = max(dynamo.recompile_limit, PARTS_RECOMPILE_LIMIT)
    dynamo.accumulated_recompile_limit = max(dynamo.accumulated_recompile_limit,
                                             8 * PARTS_RECOMPILE_LIMIT + len(parts))
    for part in (p for p in parts if "forward" not in vars(p)):  # not compiled yet
        part.forward = torch.compile(part.forward, backend=backend())  # type: ignore[method-assign]
    return parts


def _parts(module: nn.Module, deciders: type | tuple[type, ...]) -> Iterator[nn.Module]:
    has_weights = any(True for _ in module.parameters())
    if not has_weights:
        return
    decides = any(isinstance(m, deciders) for m in module.modules())
    runs = type(module).forward is not nn.Module.forward  # containers, parameter tables: no
    if not decides and runs:
        yield module
        return
    for child in module.children():
        yield from _parts(child, deciders)


def compiled_parts(root: nn.Module) -> list[nn.Module]:
    """The sub-modules of ``root`` that :func:`compile_parts` compiled."""
    return [m for m in root.modules() if "forward" in vars(m)]


def uncompile_parts(root: nn.Module) -> None:
    """Undo :func:`compile_parts`: every sub-module runs its own ``forward`` again."""
    for m in compiled_parts(root):
        del m.forward


@contextmanager
def eager() -> Iterator[None]:
    """Run every compiled module and function eagerly inside the block (double backward)."""
    with torch.compiler.set_stance("force_eager"):
        yield


def prepare(model: nn.Module, *, compile: bool = False, recompute: bool = False,
            parts_between: type | tuple[type, ...] | None = None,
            say: Say | None = None) -> nn.Module:
    """Set up ``model`` for a run; returns what the steps call (``model`` itself when not
    compiling). ``recompute``: :func:`~genodsl.compile.recompute.set_recompute` (before
    compiling, which reads the flag while tracing). ``compile``: :func:`compile_whole`, or
    with ``parts_between`` :func:`compile_parts` around those modules (then ``model`` is
    returned, its parts compiled in place). ``say`` gets the one-line notes (compiling; a
    model with nothing to recompute, such as a baseline U-Net)."""
    if recompute:
        set_recompute(model, True)
        if say is not None and not any(getattr(m, "recompute", False) for m in model.modules()):
            say("recompute: this model has no cells or mixed edges to recompute; it runs as "
                "without")
    if not compile:
        return model
    path = enable_cache()
    if say is not None:
        say(compiling_message(path))
    if parts_between is not None:
        compile_parts(model, parts_between)
        return model
    return compile_whole(model)
