"""Compilation of frames into per-branch problems."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import baohu_assign as ba
from baohu_assign.model.compile import compile_scenario
from baohu_assign.model.geo import great_circle_m


def _scenario(members, households, **policy):
    return ba.Scenario.from_frames(pd.DataFrame(members), pd.DataFrame(households), policy=ba.Policy(**policy))


def test_demo_town_compiles_without_scaling(demo_town):
    """Decimetre costs and the penalties fit int64 on the demo town, units included: no precision lost."""
    town = demo_town
    scenario = ba.Scenario.from_frames(town.members, town.households)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ba.ScalingWarning)
        for objective in ("distance", "balanced", "min-churn"):
            branches = compile_scenario(scenario.members, scenario.households, objective=objective)
    assert all(b.travel_unit == 0.1 for b in branches)


def test_arcs_are_exactly_the_pairs_within_reach():
    """Arc set = brute-force pairs within reach (non-mobile) or all (mobile), with great-circle distances."""
    town = ba.synth.make_town(7, households=400, branches=3, stairwells=False)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    for branch in compile_scenario(scenario.members, scenario.households, objective="distance"):
        mem = scenario.members.iloc[branch.member_rows]
        hh = scenario.households.iloc[branch.household_rows]
        d = great_circle_m(
            hh["lat"].to_numpy()[:, None],
            hh["lon"].to_numpy()[:, None],
            mem["lat"].to_numpy()[None, :],
            mem["lon"].to_numpy()[None, :],
        )
        active = (mem["available"].to_numpy() & (mem["capacity"].to_numpy() > 0))[None, :]
        ok = active & ((d <= mem["max_distance_m"].to_numpy()[None, :]) | mem["mobile"].to_numpy()[None, :])
        expected_h, expected_m = np.nonzero(ok)
        problem = branch.problem
        assert np.array_equal(problem.arc_household, expected_h)
        assert np.array_equal(problem.arc_member, expected_m)
        np.testing.assert_allclose(problem.arc_distance_m, d[expected_h, expected_m], rtol=1e-9, atol=1e-6)


def test_group_keeps_only_members_reaching_the_whole_unit():
    members = [
        {"member_id": "M1", "branch": "A", "lat": 34.700, "lon": 114.0, "max_distance_m": 500},
        {"member_id": "M2", "branch": "A", "lat": 34.708, "lon": 114.0, "max_distance_m": 500},
    ]
    households = [
        {"household_id": "H1", "branch": "A", "lat": 34.701, "lon": 114.0, "group_id": "U1"},
        {"household_id": "H2", "branch": "A", "lat": 34.705, "lon": 114.0, "group_id": "U1"},
    ]
    (branch,) = compile_scenario(
        *(lambda s: (s.members, s.households))(_scenario(members, households)), objective="distance"
    )
    # M1 reaches H1 only (H2 is 556 m away); M2 reaches H2 only: nobody takes the whole unit.
    assert branch.problem.num_arcs == 0
    assert branch.reachable_members.tolist() == [1, 1]


def test_pins_over_capacity_keep_the_most_critical():
    members = [{"member_id": "M1", "branch": "A", "lat": 34.7, "lon": 114.0, "capacity": 1}]
    households = [
        {
            "household_id": "H1",
            "branch": "A",
            "lat": 34.7,
            "lon": 114.0,
            "priority": "normal",
            "current_member_id": "M1",
            "pinned": True,
        },
        {
            "household_id": "H2",
            "branch": "A",
            "lat": 34.7,
            "lon": 114.0,
            "priority": "critical",
            "current_member_id": "M1",
            "pinned": True,
        },
    ]
    scenario = _scenario(members, households)
    plan = ba.rebalance(scenario)
    got = plan.assignments.set_index("household_id")
    assert got.loc["H2", "member_id"] == "M1" and got.loc["H2", "reason"] == "pin_kept"
    assert "more pins than the member's capacity" in got.loc["H1", "reason"]


def test_hour_weights_round_up_and_budgets_down():
    """A member is never over budget in exact minutes, even when integers round."""
    members = [{"member_id": "M1", "branch": "A", "lat": 34.7, "lon": 114.0, "hours_per_week": 1.0}]
    households = [
        {"household_id": f"H{i}", "branch": "A", "lat": 34.7 + 0.0001 * i, "lon": 114.0, "visits_per_week": 1}
        for i in range(6)
    ]
    scenario = _scenario(members, households)
    (branch,) = compile_scenario(scenario.members, scenario.households, objective="distance", policy=scenario.policy)
    problem = branch.problem
    exact = 1.0 * (15.0 + 2.0 * problem.arc_distance_m / 70.0)
    assert (problem.arc_weight * 0.1 >= exact - 1e-9).all()
    assert problem.member_budget.tolist() == [600]
    plan = ba.solve(scenario, objective="distance")
    used = plan.members.loc[0, "hours_used"]
    assert used <= 1.0 and plan.report.counts.covered == 3  # 4 visits of 15+ min exceed an hour
    assert set(plan.uncovered()["reason"]) == {"hour_budget_exhausted"}
