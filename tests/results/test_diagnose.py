"""Shortage diagnosis: computed shortfalls and fixes, and the check before solving."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings

import baohu_assign as ba
from baohu_assign.results.diagnose import CHECK_COLUMNS, diagnose, scenario_check
from strategies import scenarios

TIERS = ("critical", "elevated", "normal")
STEP = 0.001  # degrees of latitude: about 111 m


def _short_town() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Branch 甲村 short by a known amount, branch 乙村 fully covered.

    甲村: M01 (capacity 2, reach 300 m) has six households within reach
    (H01–H06: 2 critical, 1 elevated, 3 normal); M02 (capacity 3, reach 150 m,
    500 m away) serves H07 and has two places to spare; H08 (elevated) lies
    3 km away, out of everyone's reach; M03 is unavailable. M01 takes the two
    critical households; H03 (elevated), H04–H06 and H08 stay uncovered.
    M02 made mobile would take both elevated ones with its spare places.
    """
    members = pd.DataFrame(
        [
            ("M01", "张三", "甲村", 34.700, 114.000, 2, 300.0, False, True, 45),
            ("M02", "李四", "甲村", 34.705, 114.000, 3, 150.0, False, True, 52),
            ("M03", "王五", "甲村", 34.700, 114.000, 5, 300.0, False, False, 66),
            ("M11", "赵六", "乙村", 34.800, 114.000, 5, 500.0, False, True, 38),
        ],
        columns=[
            "member_id",
            "name",
            "branch",
            "lat",
            "lon",
            "capacity",
            "max_distance_m",
            "mobile",
            "available",
            "age",
        ],
    )
    priorities = ["critical", "critical", "elevated", "normal", "normal", "normal"]
    rows = [
        (f"H0{i + 1}", f"户主{i + 1}", "甲村", 34.700 + STEP * (i % 2), 114.000, p) for i, p in enumerate(priorities)
    ]
    rows += [
        ("H07", "户主7", "甲村", 34.705, 114.0005, "normal"),
        ("H08", "户主8", "甲村", 34.730, 114.000, "elevated"),
        ("H11", "户主11", "乙村", 34.800, 114.001, "critical"),
        ("H12", "户主12", "乙村", 34.801, 114.000, "normal"),
    ]
    households = pd.DataFrame(rows, columns=["household_id", "head_name", "branch", "lat", "lon", "priority"])
    return members, households


def _covered(plan: ba.Plan) -> dict[str, int]:
    frame = plan.primary
    covered = frame[frame["member_id"].notna()]
    return {t: int((covered["priority"] == t).sum()) for t in TIERS}


def _apply(scenario: ba.Scenario, suggestion) -> ba.Scenario:
    """The scenario with the suggested change made in the input tables."""
    members = scenario.members.copy()
    at = members["member_id"] == suggestion.member_id
    if suggestion.change == "capacity":
        members.loc[at, "capacity"] += suggestion.extra_capacity
    else:
        members.loc[at, "mobile"] = True
    return scenario.replace(members=members)


def _assert_figures_are_real(scenario: ba.Scenario, plan: ba.Plan) -> None:
    """Every suggestion covers exactly what solving the changed scenario covers in addition."""
    before = _covered(plan)
    for shortfall in diagnose(plan.result):
        for suggestion in shortfall.suggestions:
            after = _covered(ba.solve(_apply(scenario, suggestion), objective="distance"))
            gained = {t: after[t] - before[t] for t in TIERS}
            assert gained == suggestion.covers.model_dump(), suggestion.text


@pytest.fixture(scope="module")
def short():
    members, households = _short_town()
    scenario = ba.Scenario.from_frames(members, households)
    return scenario, ba.solve(scenario)


def test_shortfall_per_tier_reasons_and_spare_capacity(short):
    _, plan = short
    (shortfall,) = diagnose(plan.result)
    assert shortfall.branch == "甲村"
    assert shortfall.uncovered.model_dump() == {"critical": 0, "elevated": 2, "normal": 3}
    assert shortfall.reasons == {"capacity_exhausted": 4, "out_of_reach": 1}
    assert (shortfall.available_members, shortfall.capacity) == (2, 5)
    assert (shortfall.spare_capacity, shortfall.spare_members, shortfall.spare_capacity_in_reach) == (2, 1, 0)
    assert shortfall.complete


def test_suggestions_are_computed_and_ranked(short):
    scenario, plan = short
    (shortfall,) = diagnose(plan.result)
    texts = [s.text for s in shortfall.suggestions]
    # Two elevated households (M02 mobile) outrank one elevated and two normal (+3 on M01).
    assert texts[:2] == [
        "making M02 mobile (移动包户) covers 2 more (2 elevated)",
        "+3 capacity for M01 covers 3 more (1 elevated)",
    ]
    by_key = {(s.member_id, s.change): s.covers.model_dump() for s in shortfall.suggestions}
    assert ("M02", "capacity") not in by_key, "M02 reaches no uncovered household: more capacity covers none"
    assert ("M03", "capacity") not in by_key, "unavailable members are not candidates"
    assert all(s.covers.total > 0 for s in shortfall.suggestions)
    _assert_figures_are_real(scenario, plan)


def test_no_shortfall_when_everything_is_covered():
    members, households = _short_town()
    households = households[households["branch"] == "乙村"]
    plan = ba.solve(ba.Scenario.from_frames(members, households))
    assert diagnose(plan.result) == []
    assert plan.report.shortfalls == []
    assert "shortfall" not in plan.summary()


def test_report_json_and_summary_carry_the_diagnosis(short, tmp_path):
    _, plan = short
    plan.write(tmp_path)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (entry,) = report["shortfalls"]
    assert entry["branch"] == "甲村"
    assert entry["uncovered"] == {"critical": 0, "elevated": 2, "normal": 3}
    assert entry["suggestions"][0] == {
        "member_id": "M02",
        "change": "mobile",
        "extra_capacity": 0,
        "covers": {"critical": 0, "elevated": 2, "normal": 0},
        "text": "making M02 mobile (移动包户) covers 2 more (2 elevated)",
    }
    text = json.dumps(entry, ensure_ascii=False)
    for name in ("张三", "李四", "王五", "户主"):
        assert name not in text, "ids only, never names"
    summary = plan.summary()
    assert "shortfall 甲村: 5 uncovered (critical 0, elevated 2, normal 3)" in summary
    assert "best fix: making M02 mobile (移动包户) covers 2 more (2 elevated)" in summary


def test_diagnosis_is_deterministic(short):
    _, plan = short
    assert diagnose(plan.result) == diagnose(plan.result)


def test_stairwell_units_get_the_smallest_capacity_change_that_covers_them():
    """Without units over capacity: M2 (capacity 1) needs +3 for a unit of 4; M1, carrying one, +4."""
    members = pd.DataFrame({"member_id": ["M1", "M2"], "branch": "甲村", "lat": 34.7, "lon": 114.0, "capacity": [4, 1]})
    households = pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in range(8)],
            "branch": "甲村",
            "lat": 34.7,
            "lon": 114.0,
            "group_id": ["U1"] * 4 + ["U2"] * 4,
        }
    )
    policy = ba.Policy(one_unit_over_capacity=False)
    plan = ba.solve(ba.Scenario.from_frames(members, households, policy=policy))
    (shortfall,) = diagnose(plan.result)
    assert shortfall.engine == "greedy"
    assert shortfall.uncovered.normal == 4
    offered = {
        (s.member_id, s.extra_capacity): s.covers.normal for s in shortfall.suggestions if s.change == "capacity"
    }
    assert offered == {("M1", 4): 4, ("M2", 3): 4}


def test_scenario_check_before_solving(short):
    scenario, plan = short
    check = scenario.check()
    assert tuple(check.columns) == CHECK_COLUMNS
    row = check.set_index("branch").loc["甲村"]
    assert row[["households", "critical", "elevated", "normal"]].tolist() == [8, 2, 2, 4]
    assert row[["members", "available_members", "capacity", "out_of_reach", "capacity_gap"]].tolist() == [3, 2, 5, 1, 3]
    # M01 can take 2 and M02 only the one household it reaches: 5 of 8 stay uncovered in every plan.
    assert row["shortfall_lower_bound"] == 5 == plan.report.shortfalls[0].uncovered.total


def test_scenario_check_of_an_empty_scenario():
    members = pd.DataFrame(columns=["member_id", "branch", "lat", "lon"])
    households = pd.DataFrame(columns=["household_id", "branch", "lat", "lon"])
    check = scenario_check(ba.Scenario.from_frames(members, households))
    assert check.empty and tuple(check.columns) == CHECK_COLUMNS


@settings(max_examples=min(settings().max_examples, 40))
@given(data=scenarios(max_members=5, max_households=10, min_households=1))
def test_figures_match_solving_the_changed_scenario(data):
    """Random scenarios: each suggestion's figures are what re-solving really covers; the bound holds."""
    members, households = data
    scenario = ba.Scenario.from_frames(members, households)
    plan = ba.solve(scenario, objective="distance")
    _assert_figures_are_real(scenario, plan)
    uncovered = plan.primary.groupby("branch")["member_id"].apply(lambda s: int(s.isna().sum()))
    for _, row in scenario.check().iterrows():
        assert row["shortfall_lower_bound"] <= uncovered[row["branch"]]
