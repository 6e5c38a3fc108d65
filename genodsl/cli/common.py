"""Shared bits of the CLI: consoles, file expansion, input shapes."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from ..errors import GenoError
from ..lang.loader import find_source, shipped_names

# Not a terminal (a log, a pipe, CI): wide enough that tables are never cut.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True,
                      width=None if sys.stderr.isatty() else 160)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given (or shipped files by name); folders become their *.geno files (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.rglob("*.geno"))
            if not found:
                raise GenoError(f"no .geno files in {p}", code="E031", file=str(p))
            out.extend(found)
        elif (found := find_source(p)) is not None:
            out.append(found)
        else:
            raise GenoError(f"no such file or folder: {p}", code="E031", file=str(p),
                            hint=f"or the name of a shipped file: {', '.join(shipped_names())}")
    return out


def parse_shape(text: str) -> tuple[int, ...]:
    """'1x1x256x256' → (1, 1, 256, 256); a volume's '1x1x32x64x64' → (1, 1, 32, 64, 64)."""
    try:
        shape = tuple(int(part) for part in text.lower().replace("×", "x").split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (4, 5) or min(shape) < 1:
        raise GenoError(f"bad input shape '{text}'", code="E048",
                        hint="write N×C×H×W as 1x1x256x256, or N×C×D×H×W as 1x1x32x64x64")
    return shape
