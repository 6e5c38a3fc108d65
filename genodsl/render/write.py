"""Writing a graph: the format follows the file's suffix; DOT text when ``dot`` is missing."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import graphviz

from ..errors import ConfigError
from ..files import atomic_path

PICTURE_FORMATS = ("svg", "png", "pdf")  # need `dot`
TEXT_FORMATS = ("dot", "gv")  # DOT source, always available
INSTALL_HINT = "install Graphviz: apt-get install graphviz (or brew install graphviz)"


@dataclass(frozen=True)
class RenderResult:
    """What :func:`write` wrote: ``path`` (its ``format``), asked for as ``requested``."""

    path: Path
    format: str
    requested: Path
    fallback: bool = False  # True: `dot` is missing and ``path`` holds the DOT text instead

    @property
    def warning(self) -> str | None:
        if not self.fallback:
            return None
        fmt = self.requested.suffix.lstrip(".").lower()
        return (f"Graphviz's 'dot' program was not found, so {self.path} holds the DOT text "
                f"instead of the picture {self.requested}; {INSTALL_HINT}, then run: "
                f"dot -T{fmt} {self.path} -o {self.requested}")


def write(graph: graphviz.Digraph, out: str | Path) -> RenderResult:
    """Write ``graph`` to ``out`` (atomically) in the format its suffix names.

    .svg .png .pdf need ``dot``; when it is missing the DOT text goes to ``out`` with a
    ``.dot`` suffix and the result says so (``fallback=True``).  .dot/.gv are the text.
    """
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in PICTURE_FORMATS + TEXT_FORMATS:
        shown = " ".join(f".{f}" for f in PICTURE_FORMATS + TEXT_FORMATS)
        raise ConfigError(f"cannot tell the picture format of '{out}' from its suffix",
                          hint=f"end the file name with one of: {shown}")
    if fmt in TEXT_FORMATS:
        return _write_text(graph, out, out)
    if shutil.which(graph.engine) is None:
        return _write_text(graph, out.with_suffix(".dot"), out)
    picture = graph
    if fmt == "png":  # a sharper bitmap; the caller's graph stays as it was
        picture = graph.copy()
        picture.attr(dpi="144")
    try:
        data = picture.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        return _write_text(graph, out.with_suffix(".dot"), out)
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return RenderResult(out, fmt, out)


def _write_text(graph: graphviz.Digraph, path: Path, requested: Path) -> RenderResult:
    with atomic_path(path) as tmp:
        tmp.write_text(graph.source, encoding="utf-8")
    return RenderResult(path, "dot", requested, fallback=path != requested)
