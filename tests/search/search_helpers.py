"""Helpers shared by the search tests (tiny sizes: C=4, depth 1, 16×16, batch 2)."""

from __future__ import annotations

from pathlib import Path

import torch

from genodsl.compile.supernet import Supernet, build_supernet
from genodsl.config import RuntimeConfig
from genodsl.data.config import DataConfig, parse_data_config
from genodsl.lang.ir import Program
from genodsl.lang.loader import load
from genodsl.search.config import SearchConfig
from genodsl.search.runner import SearchJob

RUNTIME_KEYS = set(RuntimeConfig.model_fields)

TINY_GENO = '''import "nasunet_space.geno"

network tiny {
  cells           = NASUNET_SPACE
  in_channels     = 1
  classes         = 2
  C               = 4
  depth           = 1
  stem_multiplier = 3
}
'''


def make_supernet(program: Program, share: bool = True, seed: int = 0) -> Supernet:
    torch.manual_seed(seed)
    settings = program.networks["tiny"].settings
    return build_supernet(settings, program.spaces["NASUNET_SPACE"], share_normal_alphas=share)


def tiny_data(n_images: int = 8, size: int = 16) -> DataConfig:
    return parse_data_config({"layout": "synthetic", "size": size,
                              "synthetic": {"n_images": n_images, "size": size},
                              "augment": {"enabled": False}})


def tiny_search(**kw: object) -> SearchConfig:
    """A tiny search config (runtime keys in ``kw`` are left to :func:`tiny_runtime`)."""
    base: dict[str, object] = dict(epochs=2, steps_per_epoch=1, batch_size=2, warmup_epochs=0,
                                   patience=None, plots=False)
    base.update({k: v for k, v in kw.items() if k not in RUNTIME_KEYS})
    return SearchConfig(**base)


def tiny_runtime(**kw: object) -> RuntimeConfig:
    return RuntimeConfig(**{"device": "cpu", "progress": False,
                            **{k: v for k, v in kw.items() if k in RUNTIME_KEYS}})


def tiny_job(space_file: Path, out: Path, **kw: object) -> SearchJob:
    """A search job on the tiny space; ``kw`` mixes search and runtime keys (seed, amp...)."""
    return SearchJob(load(space_file), "tiny", tiny_search(**kw), tiny_data(), out,
                     runtime=tiny_runtime(**kw), source=space_file.name)
