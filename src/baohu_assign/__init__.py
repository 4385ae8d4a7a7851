"""baohu_assign: assign party members to the households they look after (党员包户).

Quick use::

    import baohu_assign as ba
    scenario = ba.Scenario.from_csv("members.csv", "households.csv")
    plan = ba.solve(scenario, objective="balanced", seed=0)
    plan.write("out/")
"""

from __future__ import annotations

import logging

from ._version import __version__
from .batch import BatchResult, solve_many
from .datasets import synth
from .errors import BaohuError, EngineError, EngineUnavailable, InputError, Issue, ScalingWarning
from .io import events
from .io.locations import Locations
from .io.policy import Policy
from .model.compile import compile_scenario
from .model.network import WalkingNetwork
from .model.problem import Problem
from .model.scenario import Scenario
from .model.solution import Solution
from .outputs.leaders import choose_leaders
from .results.compare import Comparison, compare, compare_plans
from .results.events import apply_events
from .results.plan import Plan, PlanFolder, read_plan_folder
from .results.planning import rebalance, solve
from .results.recommend import explain_household, recommend
from .results.report import Report, Status
from .solving.params import SolveParams
from .visits import VisitPlan, plan_visits

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BaohuError",
    "BatchResult",
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
    "VisitPlan",
    "WalkingNetwork",
    "__version__",
    "apply_events",
    "choose_leaders",
    "compare",
    "compare_plans",
    "compile_scenario",
    "events",
    "explain_household",
    "plan_visits",
    "read_plan_folder",
    "rebalance",
    "recommend",
    "solve",
    "solve_many",
    "synth",
]
