"""rebalance(): fewest changed contacts (checked against HiGHS), reasons, pins."""

from __future__ import annotations

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.model.compile import compile_scenario
from oracles import milp_optimum


@pytest.fixture(scope="module")
def relocated():
    town = ba.synth.make_town(4, households=1500, branches=6, stairwells=False, current=True)
    moved = ba.synth.relocate(town, seed=2)
    return ba.Scenario.from_frames(moved.members, moved.households)


def _changed_count(households: pd.DataFrame, member_ids: list) -> int:
    """Households whose member differs from current_member_id, blank on either side included."""
    current = households["current_member_id"].astype("string").fillna("").tolist()
    return sum(c != ("" if m is None else str(m)) for c, m in zip(current, member_ids, strict=True))


def test_changed_contacts_are_the_minimum(relocated):
    """After a demolished village moves and members fall ill: changed = HiGHS minimum, per branch."""
    plan = ba.rebalance(relocated)
    member_ids = relocated.members["member_id"].tolist()
    chosen: list = [None] * len(relocated.households)
    for branch in compile_scenario(relocated.members, relocated.households, objective="min-churn"):
        member_of, _ = milp_optimum(branch.problem)
        for h, m in zip(branch.household_rows, member_of, strict=True):
            chosen[h] = member_ids[branch.member_rows[m]] if m >= 0 else None
    assert plan.report.components.changed == _changed_count(relocated.households, chosen)
    assert plan.report.status == ba.Status.OPTIMAL


def test_every_change_has_a_reason(relocated):
    plan = ba.rebalance(relocated)
    frame = plan.assignments
    changed = frame[frame["changed"].fillna(False).astype(bool)]
    assert len(changed) > 0
    assert (changed["reason"].fillna("") != "").all()
    allowed = {
        "new_household",
        "member_unavailable",
        "out_of_reach",
        "over_capacity",
        "coverage",
        "capacity_exhausted",
        "no_member_in_branch",
    }
    assert set(changed["reason"].str.split(";").str[0]) <= allowed
    ill = set(relocated.members.loc[~relocated.members["available"], "member_id"])
    lost = changed[changed["current_member_id"].isin(ill) & changed["member_id"].notna()]
    assert (lost["reason"] == "member_unavailable").all()


def test_pins_hold_where_possible(relocated):
    plan = ba.rebalance(relocated)
    frame = plan.assignments.set_index("household_id")
    pinned = relocated.households[relocated.households["pinned"]]
    assert len(pinned) > 0
    broken = {w.household_id for w in plan.report.warnings if w.code == "pin_broken"}
    for _, row in pinned.iterrows():
        if row["household_id"] not in broken:
            assert frame.loc[row["household_id"], "member_id"] == row["current_member_id"]
            assert frame.loc[row["household_id"], "reason"] == "pin_kept"


def test_pin_to_missing_member_is_a_warning_and_household_still_covered():
    members = pd.DataFrame({"member_id": ["M1"], "branch": ["A"], "lat": [34.7], "lon": [114.0]})
    households = pd.DataFrame(
        {
            "household_id": ["H1"],
            "branch": ["A"],
            "lat": [34.7],
            "lon": [114.0],
            "current_member_id": ["M-gone"],
            "pinned": [True],
        }
    )
    plan = ba.rebalance(ba.Scenario.from_frames(members, households))
    assert plan.assignments.loc[0, "member_id"] == "M1"
    warning = next(w for w in plan.report.warnings if w.code == "pin_broken")
    assert warning.member_id == "M-gone" and warning.household_id == "H1"
    assert "pin broken" in plan.assignments.loc[0, "reason"]


def test_rebalance_from_a_previous_plan_keeps_it(relocated):
    """Rebalancing a fresh plan against itself changes nothing."""
    fresh = relocated.replace(households=relocated.households.drop(columns=["current_member_id", "pinned"]))
    plan = ba.solve(fresh, objective="distance")
    again = ba.rebalance(fresh, current=plan)
    assert again.report.components.changed == 0
    assert again.diff(plan).empty
