"""IR → ``graphviz.Digraph``: a cell (paper Figure 3) or a whole network (Figure 2b).

The builders are pure: they return a :class:`graphviz.Digraph` and touch no file.  The
caller writes it with :func:`write`, whose format follows the file's suffix.  Pictures
(.svg .png .pdf) need Graphviz's ``dot`` program; without it :func:`write` falls back to
the DOT text beside the requested file and says so in its :class:`RenderResult`.

Modules: ``cell`` (one cell), ``network`` (the backbone, from the stage plan), ``diff`` (two
genotypes side by side), ``common`` (fonts, legend, softmax), ``write`` (files).  Render reads
the language and the op registry only: no torch.
"""

from __future__ import annotations

from .cell import render_cell
from .common import softmax
from .network import render_network
from .write import PICTURE_FORMATS, TEXT_FORMATS, RenderResult, write

__all__ = ["render_cell", "render_network", "write", "RenderResult", "softmax",
           "PICTURE_FORMATS", "TEXT_FORMATS"]
