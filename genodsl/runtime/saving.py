"""``torch.save`` through :func:`genodsl.files.atomic_path`: never a half-written file."""

from __future__ import annotations

import os

import torch

from ..files import atomic_path


def torch_save_atomic(obj: object, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
