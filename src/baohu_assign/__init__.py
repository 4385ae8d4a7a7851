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

from . import synth
from .compare import Comparison, compare, compare_plans
from .compile import compile_scenario
from .errors import BaohuError, EngineError, EngineUnavailable, InputError, Issue, ScalingWarning
from .leaders import choose_leaders
from .locations import Locations
from .network import WalkingNetwork
from .params import SolveParams
from .plan import Plan, PlanFolder, read_plan_folder
from .policy import Policy
from .problem import Problem
from .rebalance import rebalance
from .report import Report, Status
from .scenario import Scenario
from .solution import Solution
from .solve import solve

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
