"""rebalance from a previous plan: ``--current DIR`` / ``rebalance(current=path)``, its warnings and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.cli import main
from oracles import primary_contacts

KM_LAT = 1000 / 111_195  # degrees of latitude per kilometre


@pytest.fixture(scope="module")
def moved_files(first_plan, tmp_path_factory):
    """The town after an event, as CSV files: without current_member_id, and with it filled by hand."""
    town, _plan, first_folder = first_plan
    before = primary_contacts(first_folder / "assignments.csv")
    members = town.members[~town.members["member_id"].isin(sorted(town.members["member_id"])[:3])].copy()
    households = town.households.drop(columns=["current_member_id"], errors="ignore").copy()
    households.loc[:39, "lat"] = households.loc[:39, "lat"] + 4 * KM_LAT
    members["mobile"] = np.where(
        members["member_id"].isin({before[h] for h in households["household_id"][:40]}),
        "是",
        np.where(members["mobile"], "是", "否"),
    )
    folder = tmp_path_factory.mktemp("moved")
    members.to_csv(folder / "members.csv", index=False)
    households.to_csv(folder / "households.csv", index=False)
    by_hand = households.copy()
    by_hand.insert(3, "current_member_id", by_hand["household_id"].map(before))
    by_hand.to_csv(folder / "households_by_hand.csv", index=False)
    return folder, first_folder


def test_current_dir_equals_current_member_id_filled_by_hand(moved_files, tmp_path, capsys):
    folder, first_folder = moved_files
    members = str(folder / "members.csv")
    assert (
        main(["rebalance", members, str(folder / "households_by_hand.csv"), "--out", str(tmp_path / "hand"), "--quiet"])
        == 0
    )
    assert (
        main(
            [
                "rebalance",
                members,
                str(folder / "households.csv"),
                "--current",
                str(first_folder),
                "--out",
                str(tmp_path / "dir"),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "rebalance",
                members,
                str(folder / "households.csv"),
                "--current",
                str(first_folder / "assignments.csv"),
                "--out",
                str(tmp_path / "file"),
                "--quiet",
            ]
        )
        == 0
    )
    hand = (tmp_path / "hand" / "assignments.csv").read_bytes()
    assert (tmp_path / "dir" / "assignments.csv").read_bytes() == hand
    assert (tmp_path / "file" / "assignments.csv").read_bytes() == hand
    assert "true" in (tmp_path / "hand" / "assignments.csv").read_text(encoding="utf-8-sig")


def test_api_takes_a_plan_a_folder_or_a_file(first_plan, moved_files):
    _, plan, first_folder = first_plan
    folder, _ = moved_files
    scenario = ba.Scenario.from_csv(folder / "members.csv", folder / "households.csv")
    by_hand = ba.Scenario.from_csv(folder / "members.csv", folder / "households_by_hand.csv")
    expected = ba.rebalance(by_hand).assignments
    for current in (plan, first_folder, str(first_folder), first_folder / "assignments.csv"):
        got = ba.rebalance(scenario, current=current)
        pd.testing.assert_frame_equal(got.assignments, expected)
        assert not [w for w in got.report.warnings if w.code == "no_current_plan"]


def test_current_plan_wins_over_the_column_with_a_warning(first_plan, moved_files):
    _, plan, _ = first_plan
    folder, _ = moved_files
    households = pd.read_csv(folder / "households_by_hand.csv", dtype=str, keep_default_na=False)
    households.loc[:4, "current_member_id"] = "M-other"
    households = households.drop(index=[10, 11])  # ...and two households the plan does not know
    extra = households.iloc[:2].copy()
    extra["household_id"] = ["H-new-1", "H-new-2"]
    households = pd.concat([households, extra], ignore_index=True)
    members = pd.read_csv(folder / "members.csv", dtype=str, keep_default_na=False)
    result = ba.rebalance(ba.Scenario.from_frames(members, households), current=plan)
    warnings = {w.code: w for w in result.report.warnings}
    assert warnings["current_member_id_replaced"].count == 5 + 2  # five edited, two new ones had a value
    assert warnings["not_in_current_plan"].count == 2
    assert warnings["not_in_current_plan"].examples == ["H-new-1", "H-new-2"]
    current = result.assignments.set_index("household_id")["current_member_id"]
    assert pd.isna(current["H-new-1"]) and "M-other" not in set(current.dropna())


def test_no_current_plan_is_a_warning_in_the_report_and_on_stderr(moved_files, tmp_path, capsys):
    folder, _ = moved_files
    code = main(["rebalance", str(folder / "members.csv"), str(folder / "households.csv"), "--out", str(tmp_path)])
    assert code == 0
    err = capsys.readouterr().err
    assert "no_current_plan" in err
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [w["code"] for w in report["warnings"]].count("no_current_plan") == 1
    scenario = ba.Scenario.from_csv(folder / "members.csv", folder / "households.csv")
    assert any(w.code == "no_current_plan" for w in ba.rebalance(scenario).report.warnings)
    assert not any(w.code == "no_current_plan" for w in ba.solve(scenario).report.warnings)


def _bad_plan(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "assignments.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing folder", ["nowhere", "current plan not found"]),
        ("folder without assignments.csv", ["assignments.csv", "current plan not found"]),
        ("missing column", ["assignments.csv", "column 'member_id'", "column missing"]),
        ("duplicate household", ["assignments.csv", "row 4", "column 'household_id'", "listed twice", "row 2"]),
        ("empty household id", ["assignments.csv", "row 3", "column 'household_id'", "empty household id"]),
    ],
)
def test_bad_current_plan_exits_2_naming_file_row_and_column(moved_files, tmp_path, capsys, case, expected):
    folder, _ = moved_files
    if case == "missing folder":
        current = tmp_path / "nowhere"
    elif case == "folder without assignments.csv":
        current = tmp_path / "empty"
        current.mkdir()
    elif case == "missing column":
        current = _bad_plan(tmp_path, "household_id,role\nH1,primary\n")
    elif case == "duplicate household":
        current = _bad_plan(tmp_path, "household_id,member_id,role\nH1,M1,primary\nH1,M2,backup\nH1,M3,primary\n")
    else:
        current = _bad_plan(tmp_path, "household_id,member_id,role\nH1,M1,primary\n,M2,primary\n")
    code = main(
        [
            "rebalance",
            str(folder / "members.csv"),
            str(folder / "households.csv"),
            "--current",
            str(current),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    for part in expected:
        assert part in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "assignments.csv").exists()
