"""baohu_assign: assign party members to the households they look after (党员包户).

Quick use::

    import baohu_assign as ba
    scenario = ba.Scenario.from_csv("members.csv", "households.csv")
    plan = ba.solve(scenario, objective="balanced", seed=0)
    plan.write("out/")
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from . import synth  # noqa: E402
from .compare import Comparison, compare, compare_plans  # noqa: E402
from .compile import compile_scenario  # noqa: E402
from .errors import BaohuError, EngineError, EngineUnavailable, InputError, Issue, ScalingWarning  # noqa: E402
from .leaders import choose_leaders  # noqa: E402
from .locations import Locations  # noqa: E402
from .network import WalkingNetwork  # noqa: E402
from .params import SolveParams  # noqa: E402
from .plan import Plan, PlanFolder, read_plan_folder  # noqa: E402
from .policy import Policy  # noqa: E402
from .problem import Problem  # noqa: E402
from .rebalance import rebalance  # noqa: E402
from .report import Report, Status  # noqa: E402
from .scenario import Scenario  # noqa: E402
from .solution import Solution  # noqa: E402
from .solve import solve  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BaohuError",
    "Comparison",
    "EngineError",
    "EngineUnavailable",
    "InputError",
    "Issue",
    "Locations",
    "Plan",
    "PlanFolder",
    "Policy",
    "Problem",
    "Report",
    "ScalingWarning",
    "Scenario",
    "Solution",
    "SolveParams",
    "Status",
    "WalkingNetwork",
    "__version__",
    "choose_leaders",
    "compare",
    "compare_plans",
    "compile_scenario",
    "read_plan_folder",
    "rebalance",
    "solve",
    "synth",
]
