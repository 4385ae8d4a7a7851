"""Degenerate inputs: each still gives a plan (exit 0) listing every household, with reasons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.cli import main

MEMBER_HEADER = "member_id,name,branch,lat,lon,capacity,mobile,available,备注"
HOUSEHOLD_HEADER = "household_id,head_name,branch,lat,lon,priority,group_id,current_member_id,pinned,note"


def _write(directory: Path, members: list[str], households: list[str]) -> tuple[Path, Path]:
    m, h = directory / "members.csv", directory / "households.csv"
    m.write_text("\n".join([MEMBER_HEADER, *members]) + "\n", encoding="utf-8")
    h.write_text("\n".join([HOUSEHOLD_HEADER, *households]) + "\n", encoding="utf-8")
    return m, h


def _households(n: int, branches: tuple[str, ...] = ("甲村",), lat: float | None = None) -> list[str]:
    priorities = ("critical", "elevated", "normal", "normal")
    rows = []
    for i in range(n):
        y = lat if lat is not None else 34.700 + 0.0004 * (i % 7)
        rows.append(f"H{i:03d},户主{i},{branches[i % len(branches)]},{y:.4f},114.0,{priorities[i % 4]},,,,note-{i}")
    return rows


def _run(
    tmp_path: Path, members: list[str], households: list[str], command: str = "solve"
) -> tuple[pd.DataFrame, dict]:
    """Run the CLI; check exit 0, every household listed in input order, reasons and extra columns kept."""
    m, h = _write(tmp_path, members, households)
    out = tmp_path / "out"
    assert main([command, str(m), str(h), "--out", str(out), "--quiet"]) == 0
    frame = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert frame["household_id"].tolist() == [row.split(",")[0] for row in households]
    assert "note" in frame.columns
    if households:
        assert frame["note"].tolist() == [row.rsplit(",", 1)[1] for row in households]
    uncovered = frame[frame["member_id"] == ""]
    assert (uncovered["reason"] != "").all(), "every uncovered household has a reason"
    members_out = pd.read_csv(out / "members.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert "备注" in members_out.columns
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["households"] == len(households)
    return frame, report


@pytest.mark.parametrize("command", ["solve", "rebalance"])
def test_zero_members(tmp_path, command):
    frame, report = _run(tmp_path, [], _households(6, ("甲村", "乙村")), command)
    assert set(frame["reason"]) == {"no_member_in_branch"}
    assert {w["code"] for w in report["warnings"]} >= {"branch_without_members"}
    assert {s["branch"] for s in report["shortfalls"]} == {"甲村", "乙村"}
    assert all(s["suggestions"] == [] for s in report["shortfalls"])


@pytest.mark.parametrize("command", ["solve", "rebalance"])
def test_zero_households_header_only(tmp_path, command):
    frame, report = _run(tmp_path, ["M1,张,甲村,34.7,114.0,,,,x"], [], command)
    assert frame.empty and report["counts"]["covered"] == 0
    assert report["shortfalls"] == []


def test_zero_members_and_zero_households(tmp_path):
    frame, report = _run(tmp_path, [], [])
    assert frame.empty and report["counts"]["branches"] == 0


def test_one_branch(tmp_path):
    members = [f"M{i},党员{i},甲村,34.70{i},114.0,5,,,x" for i in range(3)]
    frame, report = _run(tmp_path, members, _households(12))
    assert (frame["member_id"] != "").all()
    assert report["counts"]["branches"] == 1 and report["shortfalls"] == []


@pytest.mark.parametrize("command", ["solve", "rebalance"])
def test_every_member_unavailable(tmp_path, command):
    members = [f"M{i},党员{i},{b},34.7,114.0,5,,否,x" for i, b in enumerate(("甲村", "乙村", "甲村"))]
    frame, report = _run(tmp_path, members, _households(9, ("甲村", "乙村")), command)
    assert (frame["member_id"] == "").all()
    assert set(frame["reason"]) == {"no_member_in_branch"}
    assert "branch_without_available_members" in {w["code"] for w in report["warnings"]}
    assert (
        sum(
            s["uncovered"]["critical"] + s["uncovered"]["elevated"] + s["uncovered"]["normal"]
            for s in report["shortfalls"]
        )
        == 9
    )


def test_all_households_at_one_coordinate(tmp_path):
    members = ["M1,甲,甲村,34.7,114.0,4,,,x", "M2,乙,甲村,34.71,114.0,4,,,x"]
    frame, report = _run(tmp_path, members, _households(10, lat=34.7))
    covered = frame[frame["member_id"] != ""]
    assert len(covered) == 8 and (covered["distance_m"].astype(float) >= 0).all()
    (shortfall,) = report["shortfalls"]
    assert shortfall["uncovered"]["normal"] == 2 and shortfall["uncovered"]["critical"] == 0
    assert shortfall["suggestions"][0]["covers"]["normal"] == 2


def test_capacity_zero_everywhere(tmp_path):
    members = [f"M{i},党员{i},甲村,34.70{i},114.0,0,,,x" for i in range(3)]
    frame, report = _run(tmp_path, members, _households(5))
    assert (frame["member_id"] == "").all()
    assert set(frame["reason"]) == {"no_member_in_branch"}
    # Members who are available but have capacity 0 are the fix: +3 places each, computed.
    (shortfall,) = report["shortfalls"]
    assert shortfall["capacity"] == 0
    assert shortfall["suggestions"][0]["text"].startswith("+3 capacity for M")
    assert shortfall["suggestions"][0]["covers"] == {"critical": 2, "elevated": 1, "normal": 0}


def test_group_spanning_two_branches_is_a_warning(tmp_path):
    members = ["M1,甲,甲村,34.7,114.0,12,,,x", "M2,乙,乙村,34.7,114.0,12,,,x"]
    households = [f"H{i},户{i},{'甲村' if i < 3 else '乙村'},34.7,114.0,normal,U1,,,n{i}" for i in range(5)]
    frame, report = _run(tmp_path, members, households)
    (warning,) = [w for w in report["warnings"] if w["code"] == "group_spans_branches"]
    assert warning["examples"] == ["U1"] and warning["count"] == 1
    # Each branch's part is its own unit, whole to one member of that branch.
    assert frame.groupby("branch")["member_id"].nunique().to_dict() == {"甲村": 1, "乙村": 1}
    assert (frame["member_id"] != "").all()


@pytest.mark.parametrize("command", ["solve", "rebalance"])
def test_pin_to_a_member_who_does_not_exist(tmp_path, command):
    members = ["M1,甲,甲村,34.7,114.0,5,,,x"]
    households = ["H1,户一,甲村,34.7,114.0,critical,,M404,true,gone", "H2,户二,甲村,34.7,114.0,normal,,M1,true,kept"]
    frame, report = _run(tmp_path, members, households, command)
    pins = [w for w in report["warnings"] if w["code"] == "pin_broken"]
    assert [(w["household_id"], w["member_id"]) for w in pins] == [("H1", "M404")]
    assert "does not exist" in pins[0]["message"]
    assert "pin_unknown_member" in {w["code"] for w in report["warnings"]}
    assert frame.set_index("household_id")["member_id"].to_dict() == {"H1": "M1", "H2": "M1"}
    assert "pin broken" in frame.set_index("household_id").loc["H1", "reason"]


def test_100k_households_one_branch_one_mobile_member():
    """One mobile member and 100,000 households: a plan, reasons and a diagnosis (benchmarks time it)."""
    rng = np.random.default_rng(7)
    n = 100_000
    households = pd.DataFrame(
        {
            "household_id": [f"H{i:06d}" for i in range(n)],
            "branch": "甲村",
            "lat": 34.7 + rng.uniform(-0.05, 0.05, n),
            "lon": 114.0 + rng.uniform(-0.05, 0.05, n),
            "priority": rng.choice(["normal", "elevated", "critical"], n, p=[0.8, 0.15, 0.05]),
            "note": "x",
        }
    )
    members = pd.DataFrame(
        {"member_id": ["M1"], "branch": ["甲村"], "lat": [34.7], "lon": [114.0], "mobile": [True], "capacity": [10]}
    )
    scenario = ba.Scenario.from_frames(members, households)
    plan = ba.solve(scenario)
    frame = plan.assignments
    report = plan.report
    summary = plan.summary()
    assert len(frame) == n and frame["household_id"].tolist() == households["household_id"].tolist()
    assert int(frame["member_id"].notna().sum()) == 10
    assert (frame.loc[frame["member_id"].notna(), "priority"] == "critical").all()
    assert (frame.loc[frame["member_id"].isna(), "reason"] == "capacity_exhausted").all()
    assert frame["note"].eq("x").all()
    (shortfall,) = report.shortfalls
    assert shortfall.uncovered.total == n - 10
    assert shortfall.suggestions[0].text == "+3 capacity for M1 covers 3 more (3 critical)"
    assert "best fix" in summary


class Touches(np.ndarray):
    """An int array that counts the elements read by every whole-array operation on it."""

    read = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        Touches.read += self.size
        return getattr(ufunc, method)(*(np.asarray(x) for x in inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        Touches.read += self.size
        return func(*(np.asarray(a) if isinstance(a, Touches) else a for a in args), **kwargs)

    def __getitem__(self, key):
        if not isinstance(key, (int, np.integer)):
            Touches.read += self.size
        return np.asarray(self).__getitem__(key)

    def astype(self, *args, **kwargs):
        Touches.read += self.size
        return np.asarray(self).astype(*args, **kwargs)


def test_reasons_for_uncovered_households_with_hour_budgets_read_the_plan_a_fixed_number_of_times():
    """Explaining n uncovered households under hour budgets reads the plan O(1) times, not once per
    household (it was quadratic: a 100,000-household branch took seconds)."""
    from baohu_assign.results.explain import branch_reasons

    n = 3_000
    households = pd.DataFrame(
        {"household_id": [f"H{i:06d}" for i in range(n)], "branch": "甲村", "lat": 34.7, "lon": 114.0}
    )
    members = pd.DataFrame(
        {
            "member_id": ["M1"],
            "branch": ["甲村"],
            "lat": [34.7],
            "lon": [114.0],
            "mobile": [True],
            "capacity": [n],
            "hours_per_week": [1.0],
        }
    )
    scenario = ba.Scenario.from_frames(members, households)
    (branch,) = ba.compile_scenario(scenario.members, scenario.households, objective="distance", policy=scenario.policy)
    member_of = np.full(n, -1, dtype=np.int32)
    member_of[:4] = 0  # one hour a week: four 15-minute visits
    Touches.read = 0
    _, reasons = branch_reasons(branch, member_of.view(Touches), "distance")
    assert set(reasons[4:]) == {"hour_budget_exhausted"}
    assert Touches.read <= 20 * n, f"{Touches.read / n:.0f} reads of the plan"
