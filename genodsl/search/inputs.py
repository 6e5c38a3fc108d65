"""What a search starts from, checked and bound to its run folder: :class:`SearchInputs`.

:func:`load_inputs` takes the program and network of a :class:`~.runner.SearchJob`, checks
that the network places a search space, builds the supernet, completes the data settings
(:func:`~.data.search_data_config`), hashes everything that decides the result and, for a
new run, writes ``config.yaml``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from ..compile.supernet import Supernet, build_supernet
from ..config import RuntimeConfig, dump_config
from ..data.config import DataConfig
from ..data.intensity import fit_intensity
from ..data.fitting import fit_to_data
from ..errors import ConfigError, GenoError, GenoValidationError
from ..files import write_text_atomic
from ..lang.ir import CellType, Genotype, NetworkSettings, Program, SearchSpace
from ..lang.printer import dumps
from ..lang.validate import check_input
from .config import SearchConfig, config_hash
from .costs import CostModel
from .data import describe, search_data_config
from .genotype_file import Provenance, derived_settings
from .state import SearchPaths


@dataclass
class SearchInputs:
    program: Program
    space: SearchSpace
    network: str
    settings: NetworkSettings
    supernet: Supernet
    search: SearchConfig
    runtime: RuntimeConfig
    data: DataConfig
    source: str  # the space file's name, for the provenance header
    hash: str

    def provenance(self, epoch: int) -> Provenance:
        return Provenance(self.space.name, self.source, self.network,
                          self.search.strategy.value, self.runtime.seed, epoch,
                          self.search.epochs, describe(self.data), self.hash)

    def check_input(self, sample_shape: tuple[int, ...]) -> None:
        diags = check_input(self.program.networks[self.network], (1, *sample_shape))
        if diags:
            raise GenoValidationError(diags)

    def cost_model(self) -> CostModel | None:
        if self.search.cost.weight <= 0:
            return None
        size = self.data.size or (256, 256)
        if self.settings.dims == 3:  # a 3D space costs its ops on the patch it searches on
            size = self.data.patch if self.data.patch and len(self.data.patch) == 3 \
                else (32, 64, 64)
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


def load_inputs(program: Program, network: str | None, cfg: SearchConfig,
                runtime: RuntimeConfig, data: DataConfig, source: str, paths: SearchPaths,
                resume: bool, record: Mapping[str, Any] | None = None) -> SearchInputs:
    """Check the space, build the supernet, complete the data settings, bind the run folder.

    ``record`` (the whole run config as JSON data) goes to ``config.yaml`` with the completed
    data section, so that the run can be resumed from it.
    """
    net = program.network(network)
    if not program.is_search(net.name):
        raise GenoError(f"network '{net.name}' binds genotype '{net.settings.cells}', not a "
                        "search space; nothing to search", code="E016",
                        hint="pick a network whose cells are a search space "
                             f"(spaces here: {', '.join(program.spaces) or 'none'})")
    space = program.cells_for(net.name)
    assert isinstance(space, SearchSpace) and net.settings is not None
    supernet = build_supernet(net.settings, space, share_normal_alphas=cfg.share_normal_alphas,
                              alpha_init_std=cfg.alphas.init_std, affine_norm=cfg.affine_norm)
    # channels, classes and names from the data (nnU-Net dataset.json, 4D NIfTI), then the
    # search's halves, then a CT window from the weight half's foreground (as training does)
    data_cfg = fit_intensity(search_data_config(fit_to_data(data), net, runtime.seed), paths.root)
    text = dumps(program.subprogram(net.name))
    digest = config_hash(cfg, runtime, {"data": data_cfg.model_dump(mode="json"),
                                        "space": hashlib.sha256(text.encode()).hexdigest()})
    if not resume:
        if paths.last.is_file():
            raise ConfigError(f"{paths.root} already holds a search",
                              hint="continue it with --resume, or choose another --out")
        saved = dict(record) if record is not None else {
            "runtime": runtime.model_dump(mode="json"), "search": cfg.model_dump(mode="json")}
        saved["data"] = data_cfg.model_dump(mode="json")
        write_text_atomic(paths.config, dump_config(saved))
    return SearchInputs(program, space, net.name, net.settings, supernet, cfg, runtime,
                        data_cfg, source, digest)
