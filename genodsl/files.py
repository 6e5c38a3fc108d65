"""Files that are either whole or absent: atomic writes, stale temporaries, no clobbering.

Every output of genodsl goes through :func:`atomic_path`: the bytes are written to a hidden
temporary beside the target (``.NAME.XXXXXXXX.tmp``), flushed to disk (``fsync``), renamed
over the target in one step, and the folder entry is flushed too.  A crash at any moment
leaves either the old file or the new one, never half of one; a killed process can leave a
temporary behind, which :func:`clean_stale_temps` removes when the run is resumed.
Torch-free: the language tools use it.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import ConfigError

# mkstemp's names: the prefix we give (".NAME."), 8 random characters, the suffix ".tmp"
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
EXISTS_CODE = "E401"  # an output that would overwrite a file or folder the user already has


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows, or a file system that does not allow it
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    Write the whole file to the yielded path.  On success it is fsynced, given the target's
    mode (or the umask default), renamed over ``path`` and the folder is fsynced.  On any
    exception the temporary is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if target.exists():  # mkstemp makes 0600 files
            mode = target.stat().st_mode & 0o7777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp_path, mode)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_safe(value: Any) -> Any:
    """JSON-ready: NaN/inf → None, arrays and tensors → numbers or lists, recursively."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy, torch
        size = value.numel() if hasattr(value, "numel") else getattr(value, "size", None)
        value = value.item() if size == 1 else value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json_atomic(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(json_safe(data), indent=2, sort_keys=False) + "\n")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of :func:`atomic_path`'s temporaries."""
    return bool(_TEMP_NAME.match(name))


def clean_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries a killed process left anywhere under ``folder``; return them.

    Call it only when no other process writes into ``folder`` (e.g. when resuming a run).
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    stale = sorted(p for p in root.rglob(".*.tmp") if p.is_file() and is_temp_name(p.name))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def refuse_existing(path: str | os.PathLike[str], force: bool, option: str = "--out") -> None:
    """Raise unless ``path`` is new or ``force`` is set: a user's file is never overwritten."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p} is a folder", code=EXISTS_CODE, file=str(p),
                          hint=f"give {option} a file name")
    if p.exists() and not force:
        raise ConfigError(f"{p} already exists", code=EXISTS_CODE, file=str(p),
                          hint="add --force to overwrite it, or choose another name")
