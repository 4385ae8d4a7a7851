"""Before solving: per branch, demand, supply and the shortfall no plan can avoid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..io.policy import PRIORITIES, Policy
from .compile import compile_scenario
from .network import WalkingNetwork
from .problem import NUM_TIERS

__all__ = ["CHECK_COLUMNS", "check_branches"]

CHECK_COLUMNS: tuple[str, ...] = (
    "branch",
    "households",
    "critical",
    "elevated",
    "normal",
    "members",
    "available_members",
    "capacity",
    "out_of_reach",
    "capacity_gap",
    "shortfall_lower_bound",
)


def check_branches(
    members: pd.DataFrame, households: pd.DataFrame, policy: Policy, network: WalkingNetwork | None
) -> pd.DataFrame:
    """Per branch, before solving: demand, supply and the shortfall no plan can avoid.

    The computation behind :meth:`Scenario.check <baohu_assign.Scenario.check>`,
    which documents the columns; ``members`` and ``households`` are a
    scenario's validated tables.
    """
    branches = compile_scenario(members, households, objective="distance", policy=policy, network=network)
    rows = []
    for branch in branches:
        problem = branch.problem
        H = problem.num_households
        tiers = np.bincount(problem.household_tier, minlength=NUM_TIERS)
        capacity = problem.member_capacity.astype(np.int64)
        eligible = np.bincount(problem.arc_member, minlength=problem.num_members)
        no_arc = int((np.diff(problem.household_arc_ptr) == 0).sum())
        coverable = min(H - no_arc, int(np.minimum(problem.member_load_limit(), eligible).sum()))
        rows.append(
            {
                "branch": branch.branch,
                "households": H,
                **{PRIORITIES[t]: int(tiers[t]) for t in reversed(range(NUM_TIERS))},
                "members": problem.num_members,
                "available_members": int((capacity > 0).sum()),
                "capacity": int(capacity.sum()),
                "out_of_reach": int((branch.reachable_members == 0).sum()),
                "capacity_gap": max(H - int(capacity.sum()), 0),
                "shortfall_lower_bound": H - coverable,
            }
        )
    frame = pd.DataFrame(rows, columns=list(CHECK_COLUMNS))
    return frame.astype({c: np.int64 for c in CHECK_COLUMNS if c != "branch"}).reset_index(drop=True)
