"""Engines: each takes a Problem and returns a Solution.

Every engine module has ``NAME``, ``supports(problem) -> bool`` and
``solve(problem, params) -> Solution``. Engines never import pandas or do
I/O. ``auto`` tries them in :data:`AUTO_ORDER` and takes the first that
supports the problem; ``greedy`` supports everything and never imports
OR-Tools, so it is the fallback.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

Strategy = Literal["auto", "flow", "cpsat", "greedy"]
STRATEGIES: tuple[str, ...] = ("auto", "flow", "cpsat", "greedy")
AUTO_ORDER: tuple[str, ...] = ("flow", "cpsat", "greedy")
FALLBACK = "greedy"


def load(name: str) -> ModuleType:
    """Import an engine module by name (``EngineUnavailable`` when it cannot be imported)."""
    from ..errors import EngineUnavailable

    if name not in STRATEGIES or name == "auto":
        raise ValueError(f"unknown engine {name!r}; choose from {[s for s in STRATEGIES if s != 'auto']}")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        raise EngineUnavailable(f"engine {name!r} is not available: {exc}") from exc
