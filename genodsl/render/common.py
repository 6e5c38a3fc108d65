"""What every picture shares: fonts, greys, the legend label, a fresh graph, softmax."""

from __future__ import annotations

import html
import math
from typing import Sequence

import graphviz

FONT = "Helvetica,Arial,sans-serif"
GREY = "#5A5A5A"  # borders
FILL = "#E8E8E8"  # inputs, outputs, stems


def tint(color: str, amount: float = 0.25) -> str:
    """``color`` mixed with white: ``amount`` of the colour (for fills behind text)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    mix = (round(255 - (255 - c) * amount) for c in (r, g, b))
    return "#" + "".join(f"{c:02X}" for c in mix)


def legend_label(title: str, items: Sequence[tuple[str, str]], subtitle: str = "") -> str:
    """An HTML-like graph label: a bold title, an optional subtitle, a row of colour keys."""
    keys = "&#160;&#160;&#160;".join(
        f'<FONT COLOR="{color}" POINT-SIZE="16">&#9632;</FONT>&#160;{html.escape(name)}'
        for name, color in items)
    rows = [f"<TR><TD><B>{html.escape(title)}</B></TD></TR>"]
    if subtitle:
        rows.append(f'<TR><TD><FONT POINT-SIZE="11">{html.escape(subtitle)}</FONT></TD></TR>')
    if items:
        rows.append(f'<TR><TD><FONT POINT-SIZE="11">{keys}</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def new_graph(name: str, rankdir: str) -> graphviz.Digraph:
    g = graphviz.Digraph(name)
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="16", labelloc="t", bgcolor="white",
           nodesep="0.35", ranksep="0.7", pad="0.25")
    g.attr("node", fontname=FONT, fontsize="14")
    g.attr("edge", fontname=FONT, fontsize="12", arrowsize="0.8")
    return g


def softmax(values: Sequence[float]) -> list[float]:
    xs = [float(v) for v in values]
    top = max(xs)
    exps = [math.exp(x - top) for x in xs]
    total = sum(exps)
    return [e / total for e in exps]
