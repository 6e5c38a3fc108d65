"""End-of-search pictures: alpha evolution per edge and the collapse monitors by epoch (PNG),
and renders of the final cells."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..lang.ir import CellType, Genotype, SearchSpace, edge_key
from ..files import atomic_path
from ..compile.alphas import AlphaSet


def _figure_classes(path: Path) -> tuple[Any, Any] | None:
    """(FigureCanvasAgg, Figure), or None after a warning when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        warnings.warn(f"{path.name} not drawn: matplotlib is not installed (install the plots "
                      'extra: pip install "genodsl[plots]")', stacklevel=3)
        return None
    return FigureCanvasAgg, Figure


def plot_monitors(history: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """The collapse monitors by epoch: the parameter-free share of each derived cell, the mean
    edge entropy of each alpha table and (when measured) the Hessian eigenvalue.

    ``history`` is the log's epoch records; None (nothing drawn) without any or without
    matplotlib.
    """
    rows = [r for r in history if r.get("param_free_share") is not None]
    classes = _figure_classes(path) if rows else None
    if classes is None:
        return None
    canvas, figure = classes
    eig = [(r["epoch"], r["hessian_eig"]) for r in rows if r.get("hessian_eig") is not None]
    panels = 3 if eig else 2
    fig = figure(figsize=(4.2 * panels, 3.0), dpi=100)
    canvas(fig)
    epochs = [r["epoch"] for r in rows]
    ax = fig.add_subplot(1, panels, 1)
    for cell in rows[-1]["param_free_share"]:
        ax.plot(epochs, [r["param_free_share"][cell] for r in rows], marker=".", label=cell)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("parameter-free share of the derived cell", fontsize=9)
    ax = fig.add_subplot(1, panels, 2)
    for table in rows[-1]["entropy"]:
        ax.plot(epochs, [r["entropy"].get(table) for r in rows], label=table)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("mean edge entropy (1 = uniform)", fontsize=9)
    if eig:
        ax3 = fig.add_subplot(1, panels, 3)
        ax3.plot([e for e, _ in eig], [v for _, v in eig], marker="o")
        ax3.set_title("dominant eigenvalue of ∇²_α L_val", fontsize=9)
    for a in fig.axes:
        a.set_xlabel("epoch", fontsize=8)
        a.tick_params(labelsize=7)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def plot_alpha_history(history: Sequence[dict[str, torch.Tensor]], alphas: AlphaSet,
                       space: SearchSpace, cell_type: CellType, path: Path) -> Path | None:
    """One subplot per edge of the ``cell_type`` cell: each candidate's softmax weight by epoch.

    Without matplotlib (the ``plots`` extra) it warns and draws nothing (returns None): a
    missing picture never fails a search.
    """
    classes = _figure_classes(path)
    if classes is None:
        return None
    FigureCanvasAgg, Figure = classes
    cell = space.cells[cell_type]
    edges = list(cell.op_edges())
    cols = min(3, len(edges))
    rows = math.ceil(len(edges) / cols)
    fig = Figure(figsize=(4.2 * cols, 2.8 * rows), dpi=100)
    FigureCanvasAgg(fig)
    epochs = list(range(1, len(history) + 1))
    legends: set[str] = set()
    for i, (src, dst, edge) in enumerate(edges):
        ax = fig.add_subplot(rows, cols, i + 1)
        table, row = alphas.where(cell_type, edge_key(src, dst))
        for c, label in enumerate(alphas.specs[table].labels):
            ax.plot(epochs, [float(h[table][row, c]) for h in history], label=label,
                    linestyle="--" if label == "none" else "-")
        shared = len(alphas.specs[table].edges[row]) > 1
        ax.set_title(f"{src} → {dst} ({table}{', shared' if shared else ''})", fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("softmax(α)", fontsize=8)
        ax.tick_params(labelsize=7)
        if table not in legends:  # one legend per table (its candidate list)
            legends.add(table)
            ax.legend(fontsize=6, loc="upper left")
    fig.suptitle(f"{cell_type.value} cell: alpha evolution")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def render_cells(genotype: Genotype, space: SearchSpace, alphas: AlphaSet, folder: Path
                 ) -> list[str]:
    """The derived cells and the search cells with their final weights (SVG, or DOT text
    when Graphviz's ``dot`` is missing).  Returns warnings to show."""
    from .. import render  # Graphviz builders of genodsl.render

    warnings: list[str] = []
    tables = {k: v.detach().cpu() for k, v in alphas.tables.items()}
    for ctype in alphas.cell_types:
        derived = render.render_cell(genotype.cells[ctype], f"{genotype.name}: {ctype.value}")
        search = space.cells[ctype]
        weights = {}
        for src, dst, _ in search.op_edges():
            table, row = alphas.where(ctype, edge_key(src, dst))
            weights[edge_key(src, dst)] = tables[table][row].tolist()
        mixed = render.render_cell(search, f"{space.name}: {ctype.value} (final alphas)",
                                   weights)
        for graph, name in ((derived, f"{ctype.value}.svg"),
                            (mixed, f"{ctype.value}_alphas.svg")):
            result = render.write(graph, folder / name)
            if result.warning and result.warning not in warnings:
                warnings.append(result.warning)
    return warnings[:1]
