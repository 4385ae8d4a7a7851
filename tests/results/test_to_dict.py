"""Plan.to_dict and VisitPlan.to_dict: plain JSON values, the same rows and values as the files written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.io.tables import cell_text

PLAIN = (str, int, float, bool, type(None), list, dict)


def assert_plain(value: object, where: str = "") -> None:
    """Only JSON's own Python types (numpy's float64 is a float subclass: exact types only)."""
    assert type(value) in PLAIN, f"{where}: {type(value).__name__}"
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            assert_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_plain(item, f"{where}[{i}]")


def csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return list(frame.columns), frame.to_dict(orient="records")


def same_cell(text: str, value: object) -> bool:
    """Whether a JSON value is what a CSV cell holds: null ↔ empty, booleans ↔ true/false, numbers by value."""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, (int, float)):
        return text != "" and float(text) == value and (isinstance(value, float) or text == str(value))
    return text == value


def assert_same_table(records: list[dict], path: Path) -> None:
    columns, rows = csv_rows(path)
    assert len(records) == len(rows)
    for i, (record, row) in enumerate(zip(records, rows, strict=True)):
        assert list(record) == columns, f"{path.name} row {i}: columns"
        differ = {c: (row[c], record[c]) for c in columns if not same_cell(row[c], record[c])}
        assert not differ, f"{path.name} row {i}: {differ}"


def round_trip(data: dict) -> dict:
    return json.loads(json.dumps(data, allow_nan=False, ensure_ascii=False))


@pytest.fixture(scope="module")
def records_plan() -> ba.Plan:
    """A town sent as records (all text, as a web form sends it, 是/否 and blanks), solved with backups."""
    town = ba.synth.make_town(4, households=400, branches=3, current=True)
    members = [{k: cell_text(v) for k, v in r.items()} for r in town.members.to_dict(orient="records")]
    households = [{k: cell_text(v) for k, v in r.items()} for r in town.households.to_dict(orient="records")]
    for i, record in enumerate(members):
        record["mobile"] = "是" if record["mobile"] == "true" else "否" if i % 2 else ""
        record["Phone No"] = f"1380000{i:04d}" if i % 3 else ""
    members[-1]["available"] = "否"
    members[-2]["hours_per_week"] = "30"
    households[0]["branch"] = "无人村"  # no members: uncovered
    scenario = ba.Scenario.from_records(members, households, {"backup_tiers": ["critical"]})
    return ba.solve(scenario, seed=0)


@pytest.fixture(scope="module")
def located_plan() -> ba.Plan:
    """A community sent as records placed through location records (location_id, roll-ups in the report)."""
    community = ba.synth.make_community_with_locations(1)

    def records(frame: pd.DataFrame) -> list[dict[str, str]]:
        return [{k: cell_text(v) for k, v in r.items()} for r in frame.to_dict(orient="records")]

    members = records(community.members.iloc[: len(community.members) // 3])  # too few: some uncovered
    scenario = ba.Scenario.from_records(members, records(community.households), locations=records(community.locations))
    return ba.solve(scenario, objective="distance", strategy="greedy")


@pytest.mark.parametrize("name", ["records_plan", "short_plan", "located_plan"])
def test_to_dict_is_json_and_equals_the_files_written(name, request, tmp_path):
    plan: ba.Plan = request.getfixturevalue(name)
    data = plan.to_dict()
    assert_plain(data)
    loaded = round_trip(data)
    assert loaded == data
    paths = plan.write(tmp_path)
    assert_same_table(loaded["assignments"], paths["assignments"])
    assert_same_table(loaded["members"], paths["members"])
    report = json.loads(paths["report"].read_text(encoding="utf-8"))
    report.pop("files")  # the checksums of a written folder
    assert loaded["report"] == report


def test_to_dict_keeps_every_household_and_member(records_plan):
    data = records_plan.to_dict()
    primary = [r for r in data["assignments"] if r["role"] != "backup"]
    assert [r["household_id"] for r in primary] == records_plan.scenario.households["household_id"].tolist()
    assert [r["member_id"] for r in data["members"]] == records_plan.scenario.members["member_id"].tolist()
    assert primary[0]["member_id"] is None and primary[0]["distance_m"] is None
    assert any(r["role"] == "backup" for r in data["assignments"])
    assert "Phone No" in data["members"][0], "pass-through columns keep the names given"
    assert "hours_used" in data["members"][0]


def test_to_dict_hands_out_copies(records_plan):
    data = records_plan.to_dict()
    data["assignments"][0]["member_id"] = "someone"
    data["report"]["counts"]["households"] = -1
    again = records_plan.to_dict()
    assert again["assignments"][0]["member_id"] is None
    assert again["report"]["counts"]["households"] == len(records_plan.scenario.households)


def test_visit_plan_to_dict_equals_its_files(records_plan, tmp_path):
    visits = ba.plan_visits(records_plan)
    data = visits.to_dict()
    assert_plain(data)
    assert round_trip(data) == data
    paths = visits.write(tmp_path)
    assert_same_table(data["visits"], paths["visits"])
    assert_same_table(data["member_days"], paths["member_days"])
    assert data["days"] == 7
    assert len(data["member_weeks"]) == len(visits.member_weeks)
