"""Before and after the loop: load and check the inputs, bind the run folder, write the
closing outputs (plots, renders, summary)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from ..compile.supernet import Supernet, build_supernet
from ..data.config import DataConfig
from ..errors import ConfigError, GenoError, GenoValidationError
from ..lang.ir import NetworkSettings, CellType, Genotype, Program, SearchSpace
from ..lang.loader import load
from ..lang.printer import format_module, program_to_module
from ..utils import write_text_atomic
from ..lang.validate import check_input
from .config import SearchConfig, config_hash
from .costs import CostModel
from .data import describe, resolve_data_config
from .derive import derive
from .emit import Provenance, derived_settings, derived_network_name, genotype_name
from .plots import plot_alpha_history, render_cells
from .state import Progress, SearchPaths


@dataclass
class Prepared:
    program: Program
    space: SearchSpace
    network: str
    settings: NetworkSettings
    supernet: Supernet
    search: SearchConfig
    data: DataConfig
    space_file: str
    hash: str

    def provenance(self, epoch: int) -> Provenance:
        return Provenance(self.space.name, self.space_file, self.network,
                          self.search.strategy.value, self.search.seed, epoch,
                          self.search.epochs, describe(self.data), self.hash)

    def check_input(self, sample_shape: tuple[int, ...]) -> None:
        diags = check_input(self.program.networks[self.network], (1, *sample_shape))
        if diags:
            raise GenoValidationError(diags)

    def cost_model(self) -> CostModel | None:
        if self.search.cost.weight <= 0:
            return None
        size = self.data.size or (256, 256)
        settings = derived_settings(self.settings, "derived")
        return CostModel(self.supernet, settings, self.search.cost.metric, tuple(size))

    @staticmethod
    def one_line(genotype: Genotype) -> str:
        parts = []
        for ctype in (CellType.DOWN, CellType.UP):
            cell = genotype.cells[ctype]
            nodes = [f"{n}=" + "+".join(f"{e.op.label()}({s})" for s, e in cell.in_edges(n))
                     for n in cell.nodes]
            parts.append(f"{ctype.value}: " + " ".join(nodes))
        return " | ".join(parts)


def prepare(space_file: Path, network: str | None, cfg: SearchConfig, data: DataConfig,
            paths: SearchPaths, resume: bool) -> Prepared:
    """Load the space, build the supernet, resolve the data settings, bind the run folder."""
    if not Path(space_file).is_file():
        raise GenoError(f"no such file: {space_file}", code="E031")
    program = load(space_file)
    net = program.network(network)
    assert net.settings is not None  # a loaded program is validated
    space = program.cells_of(net.settings.cells)
    if not isinstance(space, SearchSpace):
        raise GenoError(f"network '{net.name}' binds genotype '{net.settings.cells}', not a "
                        "search space; nothing to search", code="E016",
                        hint="pick a network whose cells are a search space "
                             f"(spaces here: {', '.join(program.spaces) or 'none'})")
    supernet = build_supernet(net.settings, space, share_normal_alphas=cfg.share_normal_alphas,
                              alpha_init_std=cfg.alphas.init_std)
    data_cfg = resolve_data_config(data, net.settings, cfg.seed)
    text = format_module(program_to_module(program.subprogram(net.name)))
    digest = config_hash(cfg, {"data": data_cfg.model_dump(mode="json"),
                               "space": hashlib.sha256(text.encode()).hexdigest()})
    config = {"space_file": str(space_file), "network": net.name,
              "search": cfg.model_dump(mode="json"), "data": data_cfg.model_dump(mode="json")}
    if not resume:
        if paths.last.is_file():
            raise ConfigError(f"{paths.root} already holds a search",
                              hint="continue it with --resume, or choose another --out")
        write_text_atomic(paths.config, yaml.safe_dump(config, sort_keys=False))
    return Prepared(program, space, net.name, net.settings, supernet, cfg, data_cfg,
                    Path(space_file).name, digest)


def summarize(prep: Prepared, net: Supernet, progress: Progress, paths: SearchPaths,
              status: str, wall_s: float, console: Console, final: bool) -> dict[str, Any]:
    """Plots and renders (when configured and ``final``) and the summary dict."""
    cfg = prep.search
    name = genotype_name(prep.space.name, cfg.strategy.value, cfg.seed)
    genotype = derive(prep.space, net.alphas, name)
    outputs: list[str] = [paths.genotype.name]
    if final and cfg.plots and progress.alpha_history:
        for ctype in (CellType.DOWN, CellType.UP):
            png = plot_alpha_history(progress.alpha_history, net.alphas, prep.space, ctype,
                                     paths.alphas_png(ctype.value))
            outputs.append(png.name)
        for warning in render_cells(genotype, prep.space, net.alphas, paths.cells):
            console.print(f"[yellow]warning:[/] {warning}")
        outputs.append(paths.cells.name + "/")
    from ..compile.discrete import build_discrete
    derived = build_discrete(derived_settings(prep.settings, name), genotype)
    return {"status": status, "strategy": cfg.strategy.value, "epochs": progress.epoch,
            "max_epochs": cfg.epochs, "seed": cfg.seed, "wall_time_s": round(wall_s, 2),
            "genotype": name, "network": derived_network_name(prep.network),
            "genotype_file": str(paths.genotype),
            "summary": Prepared.one_line(genotype),
            "derived_params": sum(p.numel() for p in derived.parameters()),
            "config_hash": prep.hash, "outputs": outputs}
