"""The balanced objective: within the travel budget, less imbalance, and Pareto-optimal."""

from __future__ import annotations

import numpy as np
import pytest

import baohu_assign as ba
from baohu_assign.engines import flow
from baohu_assign.engines.stop import Stop
from baohu_assign.model.compile import compile_scenario, with_balance
from baohu_assign.model.objective import evaluate


@pytest.fixture(scope="module")
def full_town():
    synthetic = ba.synth.make_town(0, households=12_000, stairwells=False)
    return ba.Scenario.from_frames(synthetic.members, synthetic.households)


@pytest.mark.slow
def test_balanced_stays_within_travel_budget_and_reduces_imbalance(full_town):
    """On the 12k town: every branch within +5 % travel, same coverage, at least half the excess imbalance gone."""
    distance = ba.solve(full_town, objective="distance")
    balanced = ba.solve(full_town, objective="balanced")
    for d, b in zip(distance.report.branches, balanced.report.branches, strict=True):
        assert b.travel_m_per_week <= d.travel_m_per_week * 1.05 + 1.0
        assert b.imbalance <= d.imbalance + 1e-9
        assert b.covered == d.covered
    assert balanced.report.components.imbalance <= 0.5 * distance.report.components.imbalance


def test_no_point_of_the_trade_off_dominates_balanced(plain_town):
    """For every branch, no weight on a wide grid gives a plan at least as good on travel and
    imbalance and better on one."""
    town = plain_town
    balanced = ba.solve(town, objective="balanced")
    for result in balanced.results:
        chosen = evaluate(result.branch.problem, result.solution.member_of)
        base = compile_scenario(town.members, town.households.iloc[result.branch.household_rows], objective="balanced")[
            0
        ]
        for weight in np.geomspace(1.0, 1e6, 25):
            tuned = with_balance(base, float(weight))
            other = evaluate(tuned.problem, flow.ENGINE.solve(tuned.problem, None, Stop(), seed=0).member_of)
            better_travel = other.travel_cost < chosen.travel_cost
            better_balance = other.imbalance < chosen.imbalance - 1e-6
            no_worse = other.travel_cost <= chosen.travel_cost and other.imbalance <= chosen.imbalance + 1e-6
            assert not (no_worse and (better_travel or better_balance)), (result.branch.branch, weight)


def test_fixed_weight_skips_calibration(plain_town):
    policy = ba.Policy(balance_weight=500.0)
    scenario = ba.Scenario.from_frames(plain_town.members, plain_town.households, policy=policy)
    plan = ba.solve(scenario, objective="balanced")
    assert {b.balance_weight for b in plan.report.branches} == {500.0}
