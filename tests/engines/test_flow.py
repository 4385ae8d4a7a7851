"""The flow engine against an independent solver (HiGHS) on the same problems."""

from __future__ import annotations

import numpy as np
import pytest

import baohu_assign as ba
from baohu_assign.engines import flow
from baohu_assign.engines.stop import Stop
from baohu_assign.model.compile import compile_scenario, with_balance
from baohu_assign.model.objective import evaluate
from baohu_assign.model.solution import violations
from oracles import milp_optimum


@pytest.mark.parametrize("objective", ["distance", "min-churn", "balanced"])
def test_flow_matches_highs_on_every_branch(plain_town, objective):
    """Same optimum as HiGHS on the same arcs, branch by branch; flow's bound is its objective."""
    for branch in compile_scenario(plain_town.members, plain_town.households, objective=objective):
        if objective == "balanced":
            branch = with_balance(branch, 300.0)
        problem = branch.problem
        solution = flow.ENGINE.solve(problem, None, Stop(), seed=0)
        assert violations(problem, solution.member_of) == []
        _, peer_objective = milp_optimum(problem)
        assert solution.objective == pytest.approx(peer_objective, abs=0.5)
        assert solution.status == "optimal" and solution.bound == solution.objective


def test_flow_refuses_groups(town):
    """Stairwell units cannot be expressed as a flow: supports() says so and solve() raises."""
    grouped = [b for b in compile_scenario(town.members, town.households, objective="distance") if b.problem.has_groups]
    assert grouped, "the synthetic town has a community with stairwell units"
    assert not flow.ENGINE.supports(grouped[0].problem)
    with pytest.raises(ba.EngineError):
        flow.ENGINE.solve(grouped[0].problem, None, Stop(), seed=0)


def test_flow_empty_and_capacity_zero():
    """No households, or nobody with capacity: valid, everything uncovered, still optimal."""
    import pandas as pd

    members = pd.DataFrame({"member_id": ["M1"], "branch": ["A"], "lat": [34.7], "lon": [114.0], "capacity": [0]})
    households = pd.DataFrame(
        {"household_id": ["H1", "H2"], "branch": ["A", "B"], "lat": [34.7, 34.7], "lon": [114.0, 114.0]}
    )
    plan = ba.solve(ba.Scenario.from_frames(members, households), strategy="flow")
    assert plan.assignments["member_id"].isna().all()
    assert plan.assignments["reason"].tolist() == ["no_member_in_branch", "no_member_in_branch"]
    problem = compile_scenario(plan.scenario.members, plan.scenario.households.iloc[:0], objective="distance")
    assert problem == []
    assert evaluate(plan.results[0].branch.problem, np.array([-1])).uncovered == (1, 0, 0)
