"""One definition of ``changed``, counted alike everywhere; rebalance from a previous plan (``--current``)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.outputs.roster import write_roster
from baohu_assign.results.explain import changed_mask
from oracles import primary_contacts

KM_LAT = 1000 / 111_195  # degrees of latitude per kilometre


# --------------------------------------------------------------------------- helpers (independent of the package)


def _changed_flags(assignments_csv: Path) -> set[str]:
    with open(assignments_csv, encoding="utf-8-sig", newline="") as handle:
        return {row["household_id"] for row in csv.DictReader(handle) if row["changed"] == "true"}


def _roster_counts(path: Path) -> tuple[int | None, set[str]]:
    """The 联系人变动 total of 汇总, and the households the branch sheets say just lost their contact."""
    book = openpyxl.load_workbook(path)
    summary = book["汇总"]
    header = [cell.value for cell in summary[3]]
    total_row = next(row for row in summary.iter_rows(min_row=4, values_only=True) if row[0] == "合计")
    total = total_row[header.index("联系人变动")]
    lost: set[str] = set()
    for name in book.sheetnames[1:]:
        rows = list(book[name].iter_rows(values_only=True))
        head = list(rows[2])
        hid, note, role = head.index("户编号"), head.index("备注"), head.index("联系类型")
        for row in rows[3:]:
            if row[role] == "未覆盖" and isinstance(row[note], str) and row[note].startswith("原联系人："):
                lost.add(str(row[hid]))
    return total, lost


def _summary_changed(text: str) -> int:
    return int(re.search(r"changed contacts ([\d,]+)", text).group(1).replace(",", ""))


# --------------------------------------------------------------------------- the definition


def test_changed_mask_blank_on_either_side_counts():
    current = ["M1", "M1", None, "", "M2", np.nan, pd.NA, "M3"]
    member = ["M1", "M2", "M4", None, None, None, "", pd.NA]
    assert changed_mask(current, member).tolist() == [False, True, True, False, True, False, False, True]


def test_lost_contact_is_a_change():
    """A household whose member left (deleted) and that nobody can take is changed, everywhere."""
    members = pd.DataFrame(
        {
            "member_id": ["M1", "M2"],
            "branch": ["甲村", "甲村"],
            "lat": [34.7, 34.7],
            "lon": [114.0, 114.0],
            "capacity": [1, 1],
        }
    )
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4"],
            "branch": "甲村",
            "lat": 34.7,
            "lon": 114.0,
            "priority": ["critical", "normal", "normal", "normal"],
            # H2's member was deleted from the members table; H3's member is still there; H4 never had one.
            "current_member_id": ["M1", "M-gone", "M2", ""],
        }
    )
    plan = ba.rebalance(ba.Scenario.from_frames(members, households))
    frame = plan.assignments.set_index("household_id")
    assert frame.loc["H1", "member_id"] == "M1" and frame.loc["H3", "member_id"] == "M2"
    assert pd.isna(frame.loc["H2", "member_id"]) and pd.isna(frame.loc["H4", "member_id"])
    assert frame["changed"].tolist() == [False, True, False, False]
    assert plan.report.components.changed == 1
    assert sum(b.changed for b in plan.report.branches) == 1
    assert _summary_changed(plan.summary()) == 1
    assert "lost their contact 1" in plan.summary()


def test_uncovered_household_whose_member_serves_another_branch_is_changed():
    members = pd.DataFrame({"member_id": ["M1"], "branch": ["乙村"], "lat": [34.7], "lon": [114.0]})
    households = pd.DataFrame(
        {"household_id": ["H1"], "branch": ["甲村"], "lat": [34.7], "lon": [114.0], "current_member_id": ["M1"]}
    )
    plan = ba.rebalance(ba.Scenario.from_frames(members, households))
    assert bool(plan.assignments.loc[0, "changed"]) is True
    assert plan.report.components.changed == 1


def test_min_churn_keeps_a_lost_household_rather_than_a_new_one():
    """One place left: covering the household that lost its contact changes 1, the new one 2."""
    members = pd.DataFrame(
        {
            "member_id": ["M1", "M2"],
            "branch": "甲村",
            "lat": 34.7,
            "lon": 114.0,
            "capacity": [1, 1],
            "available": [True, False],
        }
    )
    households = pd.DataFrame(
        {
            "household_id": ["H-new", "H-lost"],
            "branch": "甲村",
            "lat": 34.7,
            "lon": [114.0, 114.001],
            "current_member_id": ["", "M2"],  # M2 fell ill
        }
    )
    plan = ba.rebalance(ba.Scenario.from_frames(members, households))
    assert plan.assignments.set_index("household_id").loc["H-lost", "member_id"] == "M1"
    assert plan.report.components.changed == 1


# --------------------------------------------------------------------------- every view counts the same set


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_every_view_counts_the_same_changed_households(first_plan, tmp_path_factory, data):
    """Members leave, households move and members become mobile: summary, report (total and per branch),
    assignments.csv, compare and the roster count exactly the households an independent count finds."""
    town, plan, first_folder = first_plan
    member_ids = sorted(town.members["member_id"])
    household_ids = sorted(town.households["household_id"])
    removed = data.draw(st.sets(st.sampled_from(member_ids), max_size=5), label="removed")
    moved = data.draw(st.sets(st.sampled_from(household_ids), max_size=25), label="moved")
    km = data.draw(st.floats(0.5, 6.0), label="km")
    mobile = data.draw(st.booleans(), label="movers' members become mobile")

    before = primary_contacts(first_folder / "assignments.csv")
    members = town.members[~town.members["member_id"].isin(removed)].copy()
    households = town.households.drop(columns=["current_member_id"], errors="ignore").copy()
    shift = households["household_id"].isin(moved)
    households.loc[shift, "lat"] = households.loc[shift, "lat"] + km * KM_LAT
    if mobile:
        movers = {before[h] for h in moved} - {""}
        members.loc[members["member_id"].isin(movers), "mobile"] = True
    after = ba.rebalance(ba.Scenario.from_frames(members, households), current=plan)
    folder = tmp_path_factory.mktemp("after")
    after.write(folder)

    contacts = primary_contacts(folder / "assignments.csv")
    expected = {h for h, m in contacts.items() if before.get(h, "") != m}
    lost = {h for h, m in contacts.items() if before.get(h, "") != "" and m == ""}

    assert _changed_flags(folder / "assignments.csv") == expected
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["components"]["changed"] == len(expected)
    assert sum(b["changed"] for b in report["branches"]) == len(expected)
    for branch in report["branches"]:
        in_branch = set(town.households.loc[town.households["branch"] == branch["branch"], "household_id"])
        assert branch["changed"] == len(expected & in_branch)
    assert _summary_changed(after.summary()) == len(expected)
    comparison = ba.compare(first_folder, folder)
    assert set(comparison.differing["household_id"]) == expected
    assert comparison.kpis.loc["changed contacts", "b"] == len(expected)
    total, roster_lost = _roster_counts(write_roster(after, folder / "roster.xlsx"))
    assert total == len(expected)
    assert roster_lost == lost
