"""Property: no strategy ever breaks a hard rule, and coverage per tier is maximal."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given

import baohu_assign as ba
from oracles import max_coverage, rule_violations, solved_by
from strategies import scenarios

STRATEGIES = ["flow", "cpsat", "greedy", "auto"]
OBJECTIVES = ["distance", "balanced", "min-churn"]


def _solve(members, households, strategy, objective):
    scenario = ba.Scenario.from_frames(members, households)
    return scenario, ba.solve(scenario, strategy=strategy, objective=objective, seed=0)


def _solve_each(scenario, strategy, objectives=OBJECTIVES):
    """(objective, plan) for each objective, on one scenario: the input checked once, the oracle run once."""
    return [(objective, ba.solve(scenario, strategy=strategy, objective=objective, seed=0)) for objective in objectives]


def _tier_counts(plan) -> dict[str, int]:
    frame = plan.assignments
    covered = frame[frame["member_id"].notna()]
    return {t: int((covered["priority"] == t).sum()) for t in ("critical", "elevated", "normal")}


@pytest.mark.parametrize("strategy", STRATEGIES)
@given(data=scenarios(current=True))
def test_no_hard_rule_broken_and_coverage_maximal(strategy, data):
    """Every strategy and objective: valid plan, every household listed, coverage = max-flow oracle."""
    members, households = data
    scenario = ba.Scenario.from_frames(members, households)
    most = max_coverage(scenario.members, scenario.households)
    for objective, plan in _solve_each(scenario, strategy):
        assert strategy == "auto" or solved_by(plan, strategy), objective
        frame = plan.assignments
        assert rule_violations(scenario.members, scenario.households, frame) == [], objective
        assert frame["household_id"].tolist() == households["household_id"].tolist()
        uncovered = frame[frame["member_id"].isna()]
        assert (uncovered["reason"].fillna("") != "").all(), f"{objective}: every uncovered household has a reason"
        assert _tier_counts(plan) == most, objective


@pytest.mark.parametrize("strategy", ["cpsat", "greedy", "auto"])
@given(data=scenarios(groups=True, pins=True, max_households=8))
def test_groups_and_pins_never_broken(strategy, data):
    """With stairwell units and pins: groups whole, valid pins kept, every rule held."""
    members, households = data
    scenario, plan = _solve(members, households, strategy, "distance")
    assert strategy == "auto" or solved_by(plan, strategy)
    assert rule_violations(scenario.members, scenario.households, plan.assignments) == []


@given(data=scenarios(pins=True, max_households=7))
def test_flow_keeps_every_valid_pin(data):
    """A pin holds whenever its member is available, eligible and not over-pinned."""
    members, households = data
    scenario, plan = _solve(members, households, "flow", "balanced")
    assert solved_by(plan, "flow")
    assert rule_violations(scenario.members, scenario.households, plan.assignments) == []
    broken = [w for w in plan.report.warnings if w.code == "pin_broken"]
    pinned = scenario.households[scenario.households["pinned"]]
    kept = plan.assignments.set_index("household_id").loc[pinned["household_id"], "member_id"]
    held = kept.fillna("").to_numpy() == pinned["current_member_id"].fillna("").to_numpy()
    assert int(held.sum()) + len(broken) == len(pinned)


@given(data=scenarios(max_households=8))
def test_row_order_does_not_matter(data):
    """Permuting input rows gives the same household → member map."""
    members, households = data
    _, plan = _solve(members, households, "auto", "balanced")
    _, shuffled = _solve(members.iloc[::-1], households.iloc[::-1], "auto", "balanced")
    a = dict(zip(plan.assignments["household_id"], plan.assignments["member_id"].fillna(""), strict=True))
    b = dict(zip(shuffled.assignments["household_id"], shuffled.assignments["member_id"].fillna(""), strict=True))
    assert a == b


@given(data=scenarios(max_households=8, min_members=1))
def test_more_capacity_never_reduces_coverage(data):
    """Adding one to every capacity never covers fewer households of any tier prefix."""
    members, households = data
    _, plan = _solve(members, households, "flow", "distance")
    bigger = members.assign(capacity=members["capacity"] + 1)
    _, more = _solve(bigger, households, "flow", "distance")
    assert solved_by(plan, "flow") and solved_by(more, "flow")
    a, b = _tier_counts(plan), _tier_counts(more)
    assert b["critical"] >= a["critical"]
    assert b["critical"] + b["elevated"] >= a["critical"] + a["elevated"]
    assert sum(b.values()) >= sum(a.values())


def test_frames_round_trip_through_files(tmp_path):
    """plan → files → reload: same assignments, every household once."""
    town = ba.synth.make_town(3, households=400, branches=4)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    plan = ba.solve(scenario, seed=0)
    plan.write(tmp_path)
    reloaded = pd.read_csv(tmp_path / "assignments.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert reloaded["household_id"].tolist() == plan.assignments["household_id"].tolist()
    assert reloaded["member_id"].tolist() == plan.assignments["member_id"].fillna("").tolist()
    assert list(reloaded.columns[:6]) == ["household_id", "member_id", "role", "distance_m", "changed", "reason"]


@pytest.mark.parametrize("strategy", ["cpsat", "greedy"])
@given(data=scenarios(groups=True, max_households=8, max_members=3))
def test_hours_and_backups_never_violated(strategy, data):
    """Hour budgets and backups: no member over budget, backups valid, every other rule held."""
    from baohu_assign.model.solution import violations

    members, households = data
    members = members.assign(hours_per_week=[2.0 + (i % 3) * 3.0 for i in range(len(members))])
    policy = ba.Policy(backup_tiers=("critical", "elevated"), backup_capacity=1)
    scenario = ba.Scenario.from_frames(members, households, policy=policy)
    plan = ba.solve(scenario, strategy=strategy, objective="distance", time_limit=5)
    assert solved_by(plan, strategy)
    primary = plan.primary
    assert rule_violations(scenario.members, scenario.households, primary) == []
    for result in plan.results:
        assert violations(result.branch.problem, result.solution.member_of, result.solution.backup_of) == []
    backups = plan.assignments[plan.assignments["role"] == "backup"]
    merged = backups.merge(primary[["household_id", "member_id"]], on="household_id", suffixes=("", "_primary"))
    assert (merged["member_id"] != merged["member_id_primary"]).all()
