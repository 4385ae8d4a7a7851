"""The flow engine against an independent solver (HiGHS) on the same problems."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import baohu_assign as ba
from baohu_assign.engines import flow
from baohu_assign.engines.stop import Stop
from baohu_assign.model.compile import compile_scenario, with_balance
from baohu_assign.model.objective import evaluate
from baohu_assign.model.solution import violations

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from peers import highs_solve


@pytest.fixture(scope="module")
def town():
    synthetic = ba.synth.make_town(1, households=1500, branches=6, stairwells=False)
    return ba.Scenario.from_frames(synthetic.members, synthetic.households)


@pytest.mark.parametrize("objective", ["distance", "min-churn", "balanced"])
def test_flow_matches_highs_on_every_branch(town, objective):
    """Same optimum as HiGHS on the same arcs, branch by branch; flow's bound is its objective."""
    for branch in compile_scenario(town.members, town.households, objective=objective):
        if objective == "balanced":
            branch = with_balance(branch, 300.0)
        problem = branch.problem
        solution = flow.ENGINE.solve(problem, None, Stop(), seed=0)
        assert violations(problem, solution.member_of) == []
        _, peer_objective, status, _ = highs_solve(problem)
        assert status == "optimal"
        assert solution.objective == pytest.approx(peer_objective, abs=0.5)
        assert solution.status == "optimal" and solution.bound == solution.objective


def test_flow_refuses_groups():
    """Stairwell units cannot be expressed as a flow: supports() says so and solve() raises."""
    synthetic = ba.synth.make_town(2, households=600, branches=3, stairwells=True)
    scenario = ba.Scenario.from_frames(synthetic.members, synthetic.households)
    grouped = [
        b for b in compile_scenario(scenario.members, scenario.households, objective="distance") if b.problem.has_groups
    ]
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
