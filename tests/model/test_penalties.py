"""Coverage is lexicographic: no amount of travel, balance or churn buys an uncovered household."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.model.objective import tier_penalties
from oracles import solved_by


def _frames(members, households):
    m = pd.DataFrame(members, columns=["member_id", "branch", "lat", "lon", "capacity", "max_distance_m", "mobile"])
    h = pd.DataFrame(households, columns=["household_id", "branch", "lat", "lon", "priority", "visits_per_week"])
    return m, h


@pytest.mark.parametrize("objective", ["distance", "balanced", "min-churn"])
@pytest.mark.parametrize("strategy", ["flow", "greedy"])
def test_far_critical_beats_many_near_normal(objective, strategy):
    """One slot: a critical household 1.9 km away wins over 30 normal ones at the member's door."""
    members = [("M1", "A", 34.7, 114.0, 1, 2000.0, False)]
    households = [("H-crit", "A", 34.7171, 114.0, "critical", 14.0)]
    households += [(f"H{i:02d}", "A", 34.7, 114.0, "normal", 1.0) for i in range(30)]
    m, h = _frames(members, households)
    plan = ba.solve(ba.Scenario.from_frames(m, h), objective=objective, strategy=strategy)
    assert solved_by(plan, strategy)
    got = plan.assignments.set_index("household_id")["member_id"]
    assert got["H-crit"] == "M1"
    assert plan.report.components.uncovered.normal == 30


@pytest.mark.parametrize("strategy", ["flow", "greedy"])
def test_elevated_beats_normal_through_a_chain(strategy):
    """Covering the elevated household needs a chain of moves; coverage still wins."""
    members = [
        ("M1", "A", 34.700, 114.000, 1, 2000.0, False),
        ("M2", "A", 34.710, 114.000, 1, 500.0, False),
    ]
    households = [
        ("H-elev", "A", 34.7179, 114.0, "elevated", 3.0),  # only M1 reaches it
        ("H-n1", "A", 34.7090, 114.0, "normal", 1.0),  # M1 and M2 reach it
        ("H-n2", "A", 34.7001, 114.0, "normal", 1.0),  # only M1 reaches it
    ]
    m, h = _frames(members, households)
    plan = ba.solve(ba.Scenario.from_frames(m, h), objective="distance", strategy=strategy)
    assert solved_by(plan, strategy)
    got = plan.assignments.set_index("household_id")["member_id"]
    assert got["H-elev"] == "M1"
    assert got["H-n1"] == "M2"
    assert pd.isna(got["H-n2"])
    assert plan.assignments.set_index("household_id").loc["H-n2", "reason"] == "capacity_exhausted"


def test_min_churn_keeps_far_current_member_over_near_stranger():
    """Under min-churn a current contact 1.5 km away stays, though another member lives next door."""
    m, h = _frames(
        [("M-far", "A", 34.7, 114.0, 2, 2000.0, False), ("M-near", "A", 34.7135, 114.0, 2, 2000.0, False)],
        [("H1", "A", 34.7135, 114.0, "critical", 14.0)],
    )
    h["current_member_id"] = ["M-far"]
    plan = ba.rebalance(ba.Scenario.from_frames(m, h))
    assert plan.assignments.loc[0, "member_id"] == "M-far"
    assert not plan.assignments.loc[0, "changed"]
    moved = ba.solve(ba.Scenario.from_frames(m, h), objective="distance")
    assert moved.assignments.loc[0, "member_id"] == "M-near"
    assert moved.assignments.loc[0, "reason"] == "travel"


def test_penalties_exceed_any_cycle_cost():
    """P_normal > B, and each tier step is larger than B (the bound of docs/model.md)."""
    p = tier_penalties(num_members=50, max_arc_cost=140_000, max_balance_step=900)
    bound = 2 * 50 * 140_000 + 2 * 900
    assert p[0] > bound
    assert p[1] - p[0] > bound and p[2] - p[1] > bound
    assert p.dtype == np.int64


@pytest.mark.parametrize("strategy", ["flow", "greedy"])
def test_min_churn_never_drops_a_current_household_for_an_equal_new_one(strategy):
    """One slot, two elevated households at zero distance: the one with the current contact keeps it."""
    m, h = _frames(
        [("M00", "A", 34.7, 114.0, 1, 150.5, False)],
        [("H02", "A", 34.7, 114.0, "elevated", 3.0), ("H03", "A", 34.7, 114.0, "elevated", 3.0)],
    )
    h["current_member_id"] = [None, "M00"]
    plan = ba.rebalance(ba.Scenario.from_frames(m, h), strategy=strategy)
    assert solved_by(plan, strategy)
    got = plan.assignments.set_index("household_id")["member_id"]
    assert got["H03"] == "M00" and pd.isna(got["H02"])
    assert plan.report.components.changed == 0
