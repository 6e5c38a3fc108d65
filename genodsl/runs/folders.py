"""Run folders: ``--out`` claims a folder for one kind of run and never clobbers anything else.

A run folder carries a marker, ``genodsl-run.json`` (``{"kind": ..., "genodsl_version": ...}``),
written when the run starts.  :func:`claim_run_dir` lets a command write into a folder only if
it is new, empty, or already a genodsl run of the same kind; anything else (a user's folder
with files in it, a run of another kind) is refused before a single file is written.
Torch-free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from ..version import __version__
from ..errors import ConfigError
from ..files import EXISTS_CODE, clean_stale_temps, is_temp_name, write_json_atomic

MARKER = "genodsl-run.json"
RunKind = Literal["train", "search", "demo"]


def run_kind(path: str | os.PathLike[str]) -> str | None:
    """The kind of genodsl run in ``path`` (None: not a genodsl run folder)."""
    marker = Path(path) / MARKER
    try:
        kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


def claim_run_dir(path: str | os.PathLike[str], kind: RunKind, resume: bool) -> Path:
    """Make ``path`` this run's folder, or raise a ConfigError (exit code 2) and touch nothing.

    * ``resume``: ``path`` must be a genodsl run of ``kind``; the temporaries a killed
      process left in it (``.NAME.*.tmp``) are removed.
    * otherwise: ``path`` must not exist, be empty, or be a genodsl run of ``kind`` (whose own
      checks then decide, e.g. "already holds a run: add --resume"); it gets the marker.

    Call it on the process that writes the run folder (rank 0), before any file is written.
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file, not a folder", code=EXISTS_CODE, file=str(root),
                          hint="give --out a new folder")
    found = run_kind(root)
    if resume:
        if found != kind:
            what = f"a genodsl {found} run" if found else "not a genodsl run folder"
            raise ConfigError(f"cannot resume a {kind} run in {root}: {what}",
                              code=EXISTS_CODE, file=str(root),
                              hint=f"resume a folder made by `genodsl {kind} --out`")
        clean_stale_temps(root)
        return root
    if found is not None and found != kind:
        raise ConfigError(f"{root} holds a genodsl {found} run, not a {kind} run",
                          code=EXISTS_CODE, file=str(root), hint="choose another --out")
    if found is None:
        if root.is_dir() and any(not is_temp_name(p.name) for p in root.iterdir()):
            raise ConfigError(f"{root} is not empty and is not a genodsl {kind} run folder",
                              code=EXISTS_CODE, file=str(root),
                              hint="choose a new or empty folder for --out; genodsl never "
                                   "writes into a folder of your own files")
        root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(root / MARKER, {"kind": kind, "genodsl_version": __version__})
    return root
