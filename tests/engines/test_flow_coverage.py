"""Coverage per tier from maximum flows equals the coverage of flow's minimum-cost optimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.engines import flow
from baohu_assign.engines.stop import Stop
from baohu_assign.model.compile import compile_scenario
from baohu_assign.model.problem import NUM_TIERS


def _by_min_cost_flow(problem):
    member_of = flow.ENGINE.solve(problem, None, Stop(), seed=0).member_of
    return np.bincount(problem.household_tier[member_of >= 0], minlength=NUM_TIERS)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    objective=st.sampled_from(["distance", "balanced", "min-churn"]),
    most=st.sampled_from([1, 3, 8]),
    pins=st.booleans(),
)
def test_covered_per_tier_is_the_optimums_coverage(seed, objective, most, pins):
    town = ba.synth.make_town(seed, households=150, branches=2, stairwells=False, current=True)
    members, households = town.members.copy(), town.households.copy()
    rng = np.random.default_rng(seed)
    # Scarce capacity (and idle members), so that tiers compete for it.
    members["capacity"] = rng.integers(0, most + 1, size=len(members))
    if pins:
        households["pinned"] = pd.Series(rng.random(len(households)) < 0.2).map({True: "true", False: "false"})
    scenario = ba.Scenario.from_frames(members, households)
    for branch in compile_scenario(scenario.members, scenario.households, objective=objective):
        problem = branch.problem
        if not flow.ENGINE.supports(problem):
            continue
        np.testing.assert_array_equal(flow.covered_per_tier(problem), _by_min_cost_flow(problem))
        # A what-if: one member with more room.
        if problem.num_members:
            capacity = problem.member_capacity.copy()
            capacity[int(rng.integers(problem.num_members))] += int(rng.integers(1, 4))
            changed = replace(problem, member_capacity=capacity)
            np.testing.assert_array_equal(flow.covered_per_tier(changed), _by_min_cost_flow(changed))
