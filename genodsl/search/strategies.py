"""The search strategies, in one table: name → class + help (torch-free).

Everything else derives from :data:`STRATEGIES`: the :class:`Strategy` enum of the
``search.strategy`` setting, the choices ``genodsl search --help`` lists, and the class the
runner builds. A class is named by ``"module:Class"`` and imported when a search starts, so
the command line can list the strategies without importing torch. Adding a strategy is one
module (a :class:`~genodsl.search.strategy.BaseStrategy` subclass) and one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class StrategyInfo:
    help: str    # one line for --help and the docs
    target: str  # "package.module:Class"

    def load(self) -> type:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


STRATEGIES: dict[str, StrategyInfo] = {
    "darts": StrategyInfo("first-order DARTS", "genodsl.search.darts:Darts"),
    "darts2": StrategyInfo("second-order DARTS (unrolled weights, finite-difference Hessian)",
                           "genodsl.search.darts:Darts2"),
    "proxyless": StrategyInfo("ProxylessNAS binary gates (one sampled path per edge)",
                              "genodsl.search.proxyless:Proxyless"),
}

Strategy = Enum("Strategy", [(name.upper(), name) for name in STRATEGIES],  # type: ignore[misc]
                type=str, module=__name__)
Strategy.__doc__ = "The search strategy (``search.strategy``): a name of :data:`STRATEGIES`."


def strategy_class(name: str) -> type:
    """The class of strategy ``name`` (imports its module)."""
    return STRATEGIES[Strategy(name).value].load()


def strategies_help() -> str:
    """``darts: first-order DARTS; darts2: ...`` for --help texts."""
    return "; ".join(f"{name}: {info.help}" for name, info in STRATEGIES.items())
