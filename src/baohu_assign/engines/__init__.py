"""Engines: each takes a Problem and returns a Solution.

Every engine is an object with the :class:`~baohu_assign.engines.contract.Engine`
interface: ``name``, ``supports(problem)`` and
``solve(problem, settings, stop, *, seed, initial=None)``; see
:mod:`baohu_assign.engines.contract`. Engines never import pandas, do I/O or
import from a later stage. ``auto`` tries them in :data:`AUTO_ORDER` and
takes the first that supports the problem; ``greedy`` supports everything and
never imports OR-Tools, so it is the fallback.
"""

from __future__ import annotations

import importlib
from typing import Any

from .contract import CpsatSettings, Engine, GreedySettings
from .stop import Stop

__all__ = ["AUTO_ORDER", "FALLBACK", "STRATEGIES", "CpsatSettings", "Engine", "GreedySettings", "Stop", "load"]

STRATEGIES: tuple[str, ...] = ("auto", "flow", "cpsat", "greedy")
AUTO_ORDER: tuple[str, ...] = ("flow", "cpsat", "greedy")
FALLBACK = "greedy"


def load(name: str) -> Engine[Any]:
    """The engine called ``name`` (``EngineUnavailable`` when its module cannot be imported)."""
    from ..errors import EngineUnavailable

    if name not in STRATEGIES or name == "auto":
        raise ValueError(f"unknown engine {name!r}; choose from {[s for s in STRATEGIES if s != 'auto']}")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        raise EngineUnavailable(f"engine {name!r} is not available: {exc}") from exc
    engine: Engine[Any] = module.ENGINE
    return engine
