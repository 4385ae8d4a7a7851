"""The week in the files: the CLI flag, the plan folder, the map layer and the optional visit_window column."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.cli import main


@pytest.fixture(scope="module")
def town_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("town")
    town = ba.synth.make_town(6, households=200, branches=3, current=True)
    households = town.households.copy()
    households["visit_window"] = ["下午" if i % 5 == 0 else "" for i in range(len(households))]
    town.members.to_csv(directory / "members.csv", index=False)
    households.to_csv(directory / "households.csv", index=False)
    return directory / "members.csv", directory / "households.csv"


@pytest.mark.parametrize("command", ["solve", "rebalance"])
def test_visits_flag_writes_the_week_into_the_plan_folder(town_files, tmp_path, command):
    members, households = town_files
    out = tmp_path / "plan"
    code = main([command, str(members), str(households), "--out", str(out), "--visits", "--xlsx", "--map", "--quiet"])
    assert code == 0
    visits = pd.read_csv(out / "visits.csv", encoding="utf-8-sig", dtype={"household_id": str, "member_id": str})
    assert list(visits.columns) == ["member_id", "day", "round", "stop", "household_id", "walk_m", "arrive_min"]
    days = pd.read_csv(out / "member_days.csv", encoding="utf-8-sig")
    assert list(days.columns) == ["member_id", "day", "rounds", "visits", "walk_m", "minutes"]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {"visits.csv", "member_days.csv"} <= set(report["files"])
    assert ba.read_plan_folder(out) is not None
    # The same week the library gives for the plan in the folder's assignments.
    source = pd.read_csv(households, dtype=str, keep_default_na=False)
    pm = set(source.loc[source["visit_window"] == "下午", "household_id"])
    once_a_day = visits.groupby(["household_id", "day"]).size().groupby("household_id").max() == 1
    afternoon = visits[visits["household_id"].isin(pm) & visits["household_id"].map(once_a_day)]
    assert len(afternoon) and set(afternoon["round"]) == {2}
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "走访路线" in html and '"v":' in html
    import openpyxl

    book = openpyxl.load_workbook(out / "roster.xlsx")
    assert sum(name.endswith("走访安排") for name in book.sheetnames) == 3


def test_without_the_flag_no_week_is_written(town_files, tmp_path):
    members, households = town_files
    assert main(["solve", str(members), str(households), "--out", str(tmp_path), "--map", "--quiet"]) == 0
    assert not (tmp_path / "visits.csv").exists() and not (tmp_path / "member_days.csv").exists()
    assert '"v":' not in (tmp_path / "map.html").read_text(encoding="utf-8")


def test_a_later_run_without_the_flag_drops_the_old_week(town_files, tmp_path):
    members, households = town_files
    assert main(["solve", str(members), str(households), "--out", str(tmp_path), "--visits", "--quiet"]) == 0
    assert (tmp_path / "visits.csv").exists()
    assert main(["solve", str(members), str(households), "--out", str(tmp_path), "--quiet"]) == 0
    assert not (tmp_path / "visits.csv").exists(), "a week of the old plan never sits beside a new plan"


def test_plan_write_takes_the_week_as_extra(tmp_path):
    town = ba.synth.make_town(2, households=80, branches=2)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households))
    week = ba.plan_visits(plan)
    paths = plan.write(tmp_path, extra=week.files())
    assert paths["visits"].read_bytes() == week.files()["visits.csv"]


@pytest.mark.parametrize("value", ["evening", "晚上", "3"])
def test_an_unknown_visit_window_is_bad_input_naming_file_row_and_column(tmp_path, value, capsys):
    members = pd.DataFrame([{"member_id": "M1", "branch": "甲村", "lat": 34.7, "lon": 114.0}])
    households = pd.DataFrame(
        [
            {"household_id": "H1", "branch": "甲村", "lat": 34.701, "lon": 114.0, "visit_window": "am"},
            {"household_id": "H2", "branch": "甲村", "lat": 34.702, "lon": 114.0, "visit_window": value},
        ]
    )
    members.to_csv(tmp_path / "members.csv", index=False)
    households.to_csv(tmp_path / "households.csv", index=False)
    with pytest.raises(ba.InputError) as caught:
        ba.Scenario.from_csv(tmp_path / "members.csv", tmp_path / "households.csv")
    issue = caught.value.issues[0]
    assert (issue.file, issue.row, issue.column) == ("households.csv", 3, "visit_window")
    code = main(
        ["solve", str(tmp_path / "members.csv"), str(tmp_path / "households.csv"), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "visit_window" in capsys.readouterr().err


def test_visit_window_spellings_are_accepted_and_kept_as_written(tmp_path):
    members = pd.DataFrame([{"member_id": "M1", "branch": "甲村", "lat": 34.7, "lon": 114.0}])
    households = pd.DataFrame(
        [
            {"household_id": f"H{i}", "branch": "甲村", "lat": 34.701 + i * 1e-4, "lon": 114.0, "Visit_Window": w}
            for i, w in enumerate(["AM", " pm ", "上午", "下午", "", "Morning", "afternoon"])
        ]
    )
    scenario = ba.Scenario.from_frames(members, households)
    plan = ba.solve(scenario)
    rounds = ba.plan_visits(plan).visits.set_index("household_id")["round"]
    assert rounds.to_dict() == {"H0": 1, "H1": 2, "H2": 1, "H3": 2, "H4": 1, "H5": 1, "H6": 2}
    assert plan.primary["visit_window"].tolist()[0] == "AM", "kept as written"


@pytest.mark.parametrize("value", ["maybe", "隔离"])
def test_a_quarantined_value_that_is_not_yes_or_no_is_bad_input_naming_row_and_column(value):
    members = pd.DataFrame([{"member_id": "M1", "branch": "甲村", "lat": 34.7, "lon": 114.0}])
    households = pd.DataFrame(
        [
            {"household_id": "H1", "branch": "甲村", "lat": 34.701, "lon": 114.0, "quarantined": "是"},
            {"household_id": "H2", "branch": "甲村", "lat": 34.702, "lon": 114.0, "quarantined": value},
        ]
    )
    with pytest.raises(ba.InputError) as caught:
        ba.Scenario.from_frames(members, households)
    [issue] = caught.value.issues
    assert (issue.row, issue.column) == (3, "quarantined")
