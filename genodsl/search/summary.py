"""The end of a search: alpha and monitor plots, cell renders (when configured), ``summary.json``.

Besides the result, ``summary.json`` says whether the alphas trained (``alphas``: epochs with
alpha steps, the largest shift of an edge's distribution from its start), why the search
stopped early (``stop_reason``: ``patience`` or ``eigenvalue``) and the collapse monitors of
the last epoch logged (``monitors``: parameter-free share per cell, mean entropy per table,
the last eigenvalue measured).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from rich.console import Console

from ..compile.discrete import build_discrete
from ..compile.supernet import Supernet
from .derive import derive
from .genotype_file import derived_network_name, derived_settings, genotype_name
from .inputs import SearchInputs
from .plots import plot_alpha_history, plot_monitors, render_cells
from .state import Progress, SearchPaths


def summarize(inputs: SearchInputs, net: Supernet, progress: Progress, paths: SearchPaths,
              status: str, wall_s: float, console: Console, final: bool,
              warnings: Sequence[str] = (), history: Sequence[Mapping[str, Any]] = (),
              alphas: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Plots and renders (when configured and ``final``) and the summary dict."""
    cfg = inputs.search
    name = genotype_name(inputs.space.name, cfg.strategy.value, inputs.runtime.seed)
    genotype = derive(inputs.space, net.alphas, name)
    outputs: list[str] = [paths.genotype.name]
    if final and cfg.plots and progress.alpha_history:
        for ctype in net.alphas.cell_types:
            png = plot_alpha_history(progress.alpha_history, net.alphas, inputs.space, ctype,
                                     paths.alphas_png(ctype.value))
            if png is not None:  # None: matplotlib (the plots extra) is missing; it warned
                outputs.append(png.name)
        png = plot_monitors(history, paths.monitors_png)
        if png is not None:
            outputs.append(png.name)
        for warning in render_cells(genotype, inputs.space, net.alphas, paths.cells):
            console.print(f"[yellow]warning:[/] {warning}")
        outputs.append(paths.cells.name + "/")
    derived = build_discrete(derived_settings(inputs.settings, name), genotype)
    return {"status": status, "strategy": cfg.strategy.value, "epochs": progress.epoch,
            "max_epochs": cfg.epochs, "seed": inputs.runtime.seed,
            "wall_time_s": round(wall_s, 2), "genotype": name,
            "network": derived_network_name(inputs.network),
            "genotype_file": str(paths.genotype),
            "summary": SearchInputs.one_line(genotype),
            "derived_params": sum(p.numel() for p in derived.parameters()),
            "config_hash": inputs.hash, "outputs": outputs, "warnings": list(warnings),
            "stop_reason": progress.stop_reason, "alphas": dict(alphas or {}),
            "monitors": last_monitors(history, progress)}


def last_monitors(history: Sequence[Mapping[str, Any]], progress: Progress) -> dict[str, Any]:
    """The collapse monitors of the last logged epoch and the last eigenvalue measured."""
    last = history[-1] if history else {}
    eig = progress.eigen or {}
    return {"param_free_share": last.get("param_free_share"), "entropy": last.get("entropy"),
            "hessian_eig": eig[max(eig)] if eig else None}
