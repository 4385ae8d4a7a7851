"""One whole stairwell unit over capacity (朱大汉社区: every member takes one unit of 12)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.cli import main
from baohu_assign.model.compile import compile_scenario
from baohu_assign.model.objective import evaluate
from oracles import rule_violations, solved_by

UNITS, UNIT_SIZE = 9, 12
CRITICAL = (5, 30, 55, 80, 100)
AGES = (35, 42, 48, 51, 55, 58, 61, 63, 66, 68, 71, 74, 45)  # default capacities 10 / 7 / 4


def community() -> tuple[pd.DataFrame, pd.DataFrame]:
    """9 units × 12 households, 13 members who give an age but no capacity, all within reach."""
    households = pd.DataFrame(
        {
            "household_id": [f"ZDH{i + 1:03d}" for i in range(UNITS * UNIT_SIZE)],
            "branch": "朱大汉社区",
            "lat": [34.7 + (i // UNIT_SIZE) * 0.0003 for i in range(UNITS * UNIT_SIZE)],
            "lon": [114.0 + (i % UNIT_SIZE) * 0.00002 for i in range(UNITS * UNIT_SIZE)],
            "priority": ["critical" if i in CRITICAL else "normal" for i in range(UNITS * UNIT_SIZE)],
            "group_id": [f"U{i // UNIT_SIZE + 1}" for i in range(UNITS * UNIT_SIZE)],
        }
    )
    members = pd.DataFrame(
        {
            "member_id": [f"DY{21 + i:03d}" for i in range(len(AGES))],
            "branch": "朱大汉社区",
            "lat": [34.7 + (i % UNITS) * 0.0003 for i in range(len(AGES))],
            "lon": 114.0001,
            "age": list(AGES),
        }
    )
    return members, households


@pytest.mark.parametrize("strategy", ["auto", "cpsat", "greedy"])
def test_every_unit_goes_whole_to_a_member_with_default_capacities(strategy):
    members, households = community()
    scenario = ba.Scenario.from_frames(members, households)
    plan = ba.solve(scenario, strategy=strategy, seed=0)
    assert solved_by(plan, "cpsat" if strategy == "auto" else strategy)
    primary = plan.primary
    assert primary["member_id"].notna().all(), "all 108 households covered"
    assert rule_violations(scenario.members, scenario.households, primary) == []
    table = plan.members.set_index("member_id")
    over = table[table["over_capacity_unit"]]
    assert len(over) == UNITS and (over["households"] == UNIT_SIZE).all()
    assert (over["households"] > over["capacity"]).all()
    assert (table.loc[~table["over_capacity_unit"], "households"] == 0).all()
    assert plan.report.counts.members_over_capacity_unit == UNITS
    assert [b.members_over_capacity_unit for b in plan.report.branches] == [UNITS]


def test_without_the_key_units_are_too_large_and_plus_two_covers_one(tmp_path):
    """Reason group_too_large; the diagnosis offers +2 (12 − 10), and solving with it covers the unit."""
    members, households = community()
    policy = ba.Policy(one_unit_over_capacity=False)
    plan = ba.solve(ba.Scenario.from_frames(members, households, policy=policy), seed=0)
    primary = plan.primary
    assert primary["member_id"].isna().all()
    assert set(primary["reason"]) == {"group_too_large"}
    [shortfall] = plan.report.shortfalls
    assert shortfall.reasons == {"group_too_large": UNITS * UNIT_SIZE}
    best = shortfall.suggestions[0]
    assert best.change == "capacity" and best.extra_capacity == 2
    assert best.text.startswith(f"+2 capacity for {best.member_id} covers 12 more")
    # Verified: the member's default capacity (10) plus 2 covers one whole unit.
    scenario = ba.Scenario.from_frames(members, households, policy=policy)
    capacity = scenario.members.set_index("member_id")["capacity"].to_dict()
    assert capacity[best.member_id] == 10
    changed = members.assign(capacity=[capacity[m] + (2 if m == best.member_id else 0) for m in members["member_id"]])
    again = ba.solve(ba.Scenario.from_frames(changed, households, policy=policy), seed=0)
    covered = again.primary["member_id"].notna()
    assert int(covered.sum()) == best.covers.total == UNIT_SIZE
    assert set(again.primary.loc[covered, "member_id"]) == {best.member_id}


def test_the_smallest_change_comes_first_when_it_covers_as_much():
    """The first member (capacity 7, nearest) needs +5 for a unit of 12, the second (capacity 10) +2: +2 first."""
    members = pd.DataFrame(
        {
            "member_id": ["DY01", "DY02"],
            "branch": "社区",
            "lat": [30.0, 30.0018],
            "lon": 114.0,
            "age": [65, 30],
        }
    )
    households = pd.DataFrame(
        {
            "household_id": [f"H{i:02d}" for i in range(12)],
            "branch": "社区",
            "lat": 30.0001,
            "lon": 114.0,
            "group_id": "1号楼1单元",
        }
    )
    policy = ba.Policy(one_unit_over_capacity=False)
    plan = ba.solve(ba.Scenario.from_frames(members, households, policy=policy), seed=0)
    [shortfall] = plan.report.shortfalls
    offered = {(s.member_id, s.extra_capacity) for s in shortfall.suggestions if s.change == "capacity"}
    assert {("DY01", 5), ("DY02", 2)} <= offered
    best = shortfall.suggestions[0]
    assert (best.member_id, best.extra_capacity) == ("DY02", 2)


def test_cli_and_files_report_members_carrying_a_unit(tmp_path, capsys):
    members, households = community()
    members.to_csv(tmp_path / "members.csv", index=False)
    households.to_csv(tmp_path / "households.csv", index=False)
    out = tmp_path / "out"
    assert (
        main(["solve", str(tmp_path / "members.csv"), str(tmp_path / "households.csv"), "--out", str(out), "--quiet"])
        == 0
    )
    written = pd.read_csv(out / "members.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert written["over_capacity_unit"].value_counts().to_dict() == {"true": UNITS, "false": len(AGES) - UNITS}
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["members_over_capacity_unit"] == UNITS
    assert report["counts"]["covered"] == UNITS * UNIT_SIZE
    (tmp_path / "policy.toml").write_text("one_unit_over_capacity = false\n", encoding="utf-8")
    off = tmp_path / "off"
    args = ["solve", str(tmp_path / "members.csv"), str(tmp_path / "households.csv"), "--out", str(off)]
    assert main([*args, "--policy", str(tmp_path / "policy.toml"), "--quiet"]) == 0
    report = json.loads((off / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["covered"] == 0
    assert report["shortfalls"][0]["suggestions"][0]["extra_capacity"] == 2


def test_roster_marks_the_member_block(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from baohu_assign.outputs.roster import OVER_CAPACITY_UNIT_ZH, write_roster

    members, households = community()
    plan = ba.solve(ba.Scenario.from_frames(members, households), seed=0)
    path = write_roster(plan, tmp_path / "roster.xlsx")
    book = openpyxl.load_workbook(path)
    texts = [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value]
    marked = [t for t in texts if t.startswith("党员：") and OVER_CAPACITY_UNIT_ZH in t]
    assert len(marked) == UNITS


def test_pinned_unit_over_capacity_holds_and_leaves_room_for_nothing_else():
    members, households = community()
    members = members.iloc[:2]  # DY021 and DY022, both capacity 10
    households = households.assign(current_member_id=None, pinned=False)
    # Units U1 and U3 (each with a critical household) are both pinned to DY021: one can hold.
    for unit, first in (("U1", 0), ("U3", 2 * UNIT_SIZE)):
        households.loc[households["group_id"] == unit, "current_member_id"] = "DY021"
        households.loc[first, "pinned"] = True
    scenario = ba.Scenario.from_frames(members, households)
    plan = ba.solve(scenario, seed=0)
    assert rule_violations(scenario.members, scenario.households, plan.primary) == []
    served = plan.primary.groupby("group_id")["member_id"].apply(lambda s: set(s.fillna("")))
    assert served["U1"] == {"DY021"}, "equal tiers: the first unit's pin holds, over capacity"
    assert "DY021" not in served["U3"]
    broken = [w for w in plan.report.warnings if w.code == "pin_broken"]
    assert [w.household_id for w in broken] == ["ZDH025"]
    assert int((plan.primary["member_id"] == "DY021").sum()) == UNIT_SIZE


def test_hour_budget_still_binds_an_over_capacity_unit():
    members, households = community()
    members = members.iloc[:1].assign(hours_per_week=1.0)  # 12 households × 15 min > 1 hour
    plan = ba.solve(ba.Scenario.from_frames(members, households.iloc[:UNIT_SIZE]), seed=0)
    assert plan.primary["member_id"].isna().all()
    assert set(plan.primary["reason"]) == {"hour_budget_exhausted"}


def test_balance_of_a_unit_over_capacity_has_one_definition():
    """evaluate() charges a member carrying k > capacity households the capacity formula's first k steps."""
    members, households = community()
    scenario = ba.Scenario.from_frames(members.iloc[:1], households.iloc[:UNIT_SIZE])
    [branch] = compile_scenario(scenario.members, scenario.households, objective="balanced", policy=scenario.policy)
    from baohu_assign.model.compile import with_balance

    problem = with_balance(branch, 500.0).problem
    member_of = np.zeros(UNIT_SIZE, dtype=np.int64)
    steps = problem.balance_step_costs(0, UNIT_SIZE)
    assert steps.shape == (UNIT_SIZE,) and (np.diff(steps) >= 0).all()
    assert evaluate(problem, member_of).balance == int(steps.sum())
    assert problem.load_allowed(member_of).all()
    assert not problem.load_allowed(np.r_[member_of[:-1], -1]).all()  # part of the unit breaks the rule


def test_summary_names_the_members_over_capacity():
    members, households = community()
    plan = ba.solve(ba.Scenario.from_frames(members, households), seed=0)
    assert f"{UNITS} members take one whole unit over capacity" in plan.summary()
