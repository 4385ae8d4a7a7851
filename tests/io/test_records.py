"""Scenario.from_records: lists of JSON objects validate as the same tables read from CSV files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.io.validate import BOOL_FALSE, BOOL_TRUE

MEMBER_TEXT = {
    "member_id": ["M1", "M2", "M3"],
    "branch": ["万胜村", "万胜村", "土寨村"],
    "lat": ["34.72", "34.725", "34.73"],
    "lon": ["113.95", "113.955", "113.96"],
    "age": ["45", "", "72"],
    "capacity": ["", "5", ""],
    "max_distance_m": ["", "1500", ""],
    "mobile": ["否", "", "是"],
    "available": ["true", "是", ""],
    "hours_per_week": ["", "10", ""],
    "Phone": ["138", "", "139"],
}
HOUSEHOLD_TEXT = {
    "household_id": ["H1", "H2", "H3", "H4"],
    "branch": ["万胜村", "万胜村", "土寨村", "李小安村"],
    "lat": ["34.7201", "34.7251", "34.7301", "34.74"],
    "lon": ["113.9501", "113.9551", "113.9601", "113.97"],
    "size": ["2", "", "1", "3"],
    "priority": ["重点", "", "elevated", "Normal"],
    "visits_per_week": ["", "2", "", ""],
    "group_id": ["", "", "", ""],
    "current_member_id": ["M1", "", "", "M3"],
    "pinned": ["否", "", "no", "false"],
    "minutes_per_visit": ["", "20", "", ""],
    "visit_window": ["上午", "", "pm", ""],
    "address": ["一号院", "", "二号院", ""],
}

# Bad values of each kind the contract rejects, per column (every one a text a web form could send).
BAD_MEMBER_VALUES = {
    "lat": ["abc", "95", "-91.5"],
    "lon": ["200", "东经"],
    "age": ["130", "-1", "forty"],
    "capacity": ["-1", "2.5", "x"],
    "max_distance_m": ["0", "-5"],
    "mobile": ["maybe", "是的"],
    "available": ["perhaps", "2"],
    "hours_per_week": ["200", "-3"],
    "member_id": ["", "   "],
    "branch": [""],
}
BAD_HOUSEHOLD_VALUES = {
    "lat": ["north", "1e400"],
    "size": ["0", "1.5", "many"],
    "priority": ["urgent", "高"],
    "visits_per_week": ["0", "-1"],
    "pinned": ["perhaps"],
    "minutes_per_visit": ["0"],
    "visit_window": ["evening"],
    "household_id": [""],
}


def rows_of(columns: dict[str, list[str]]) -> list[dict[str, str]]:
    n = len(next(iter(columns.values())))
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def issues(call, *args, **kwargs) -> list[ba.Issue]:
    with pytest.raises(ba.InputError) as exc:
        call(*args, **kwargs)
    return exc.value.issues


def as_record_issue(issue: ba.Issue) -> tuple:
    """A CSV issue as the records path must report it: ``members.csv, row 5`` → ``members[3]``."""
    table = issue.file.removesuffix(".csv")
    message = issue.message
    if issue.row is not None and "first given in row " in message:
        first = int(message.rsplit(" ", 1)[1])
        message = message.replace(f"first given in row {first}", f"first given in {table}[{first - 2}]")
    row = None if issue.row is None else issue.row - 2
    return (table, row, issue.column, message, issue.value, "sheet" if row is None else "record")


def record_issue(issue: ba.Issue) -> tuple:
    return (issue.file, issue.row, issue.column, issue.message, issue.value, issue.numbering)


def typed(value: str) -> object:
    """The same cell as a JSON value a service might send instead of the text: a number, a boolean, null."""
    if value == "":
        return None
    for spelling, meaning in (("true", True), ("false", False)):
        if value == spelling:
            return meaning
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number


@st.composite
def corrupted(draw, columns: dict[str, list[str]], bad: dict[str, list[str]]) -> list[dict[str, str]]:
    """The valid rows with a few cells replaced by bad values (or a repeated id)."""
    rows = rows_of(columns)
    id_column = next(iter(columns))
    for _ in range(draw(st.integers(1, 4))):
        row = draw(st.integers(0, len(rows) - 1))
        if draw(st.booleans()) and len(rows) > 1:
            other = draw(st.integers(0, len(rows) - 1).filter(lambda r, row=row: r != row))
            rows[row][id_column] = rows[other][id_column]
        else:
            column = draw(st.sampled_from(sorted(bad)))
            rows[row][column] = draw(st.sampled_from(bad[column]))
    return rows


@given(
    members=corrupted(MEMBER_TEXT, BAD_MEMBER_VALUES),
    households=corrupted(HOUSEHOLD_TEXT, BAD_HOUSEHOLD_VALUES),
    typed_cells=st.booleans(),
)
def test_records_reject_what_csv_rejects_with_the_same_messages(tmp_path_factory, members, households, typed_cells):
    folder = tmp_path_factory.mktemp("csv")
    from_csv = issues(
        ba.Scenario.from_csv,
        write_csv(folder / "members.csv", members),
        write_csv(folder / "households.csv", households),
    )
    if typed_cells:  # valid cells as JSON numbers and booleans; a bad value stays the text it was
        members = [{k: typed(v) if v.strip() else v for k, v in r.items()} for r in members]
    from_records = issues(ba.Scenario.from_records, members, households)
    assert [record_issue(i) for i in from_records] == [as_record_issue(i) for i in from_csv]


SPELLINGS = st.sampled_from(sorted(BOOL_TRUE | BOOL_FALSE | {"", " ", "TRUE", " 是 ", "Yes"}))


@given(
    mobile=st.lists(st.one_of(SPELLINGS, st.booleans(), st.none()), min_size=3, max_size=3),
    available=st.lists(st.one_of(SPELLINGS, st.booleans(), st.none()), min_size=3, max_size=3),
    pinned=st.lists(st.one_of(SPELLINGS, st.booleans(), st.none()), min_size=4, max_size=4),
)
def test_records_give_the_scenario_the_csv_files_give(tmp_path_factory, mobile, available, pinned):
    """是/否, every yes/no spelling, JSON booleans, blanks and nulls: the same frames as the files."""

    def cell(value: object) -> str:
        return "" if value is None else ("true" if value is True else "false" if value is False else str(value))

    members = [
        r | {"mobile": m, "available": a} for r, m, a in zip(rows_of(MEMBER_TEXT), mobile, available, strict=True)
    ]
    households = [r | {"pinned": p} for r, p in zip(rows_of(HOUSEHOLD_TEXT), pinned, strict=True)]
    folder = tmp_path_factory.mktemp("csv")
    expected = ba.Scenario.from_csv(
        write_csv(folder / "members.csv", [{k: cell(v) for k, v in r.items()} for r in members]),
        write_csv(folder / "households.csv", [{k: cell(v) for k, v in r.items()} for r in households]),
    )
    scenario = ba.Scenario.from_records(members, households)
    for got, want in ((scenario.members, expected.members), (scenario.households, expected.households)):
        assert got["row"].tolist() == (want["row"] - 2).tolist()
        pd.testing.assert_frame_equal(got.drop(columns="row"), want.drop(columns="row"))
    assert scenario.member_columns == expected.member_columns
    assert scenario.warnings == expected.warnings


def test_json_types_read_as_their_text():
    members = [
        {"member_id": 7, "branch": "A", "lat": 34.72, "lon": 113.95, "capacity": 3.0, "mobile": True},
        {"member_id": "007", "branch": "A", "lat": "34.73", "lon": "113.96", "capacity": None, "mobile": "否"},
    ]
    households = [{"household_id": "H1", "branch": "A", "lat": 34.72, "lon": 113.95}]
    scenario = ba.Scenario.from_records(json.loads(json.dumps(members)), households)
    assert scenario.members["member_id"].tolist() == ["7", "007"]
    assert scenario.members["capacity"].tolist() == [3, 7]
    assert scenario.members["mobile"].tolist() == [True, False]


def test_keys_missing_from_a_record_are_blank_and_all_blank_records_are_skipped():
    members = [{"member_id": "M1", "branch": "A", "lat": "34.72", "lon": "113.95", "age": "75"}, {}]
    households = [
        {"household_id": "H1", "branch": "A", "lat": "34.72", "lon": "113.95"},
        {"household_id": "", "branch": None, "lat": " ", "lon": ""},
        {"household_id": "H3", "branch": "A", "lat": "34.7201", "lon": "113.9501", "priority": "关注"},
    ]
    scenario = ba.Scenario.from_records(members, households)
    assert scenario.households["household_id"].tolist() == ["H1", "H3"]
    assert scenario.households["row"].tolist() == [0, 2]
    assert scenario.households["priority"].tolist() == ["normal", "elevated"]
    assert scenario.members["capacity"].tolist() == [4]  # the policy's capacity at 75


def test_records_that_are_not_objects_are_named_by_position():
    members = [{"member_id": "M1", "branch": "A", "lat": 1, "lon": 1}, ["M2", "A"], {"member_id": "M3", "x": [1]}]
    found = issues(ba.Scenario.from_records, members, "households.csv")
    assert [str(i) for i in found] == [
        "members[1]: a record must be an object of column → value, got list",
        "members[2], column 'x': a value must be text, a number, true/false or null (got '[1]')",
        "households: expected a list of records (objects), got str",
    ]


def test_a_policy_mapping_is_checked_with_the_records():
    members = [{"member_id": "M1", "branch": "A", "lat": "x", "lon": "1"}]
    households = [{"household_id": "H1", "branch": "A", "lat": "1", "lon": "1"}]
    found = issues(ba.Scenario.from_records, members, households, {"max_distance_m": 0, "colour": "red"})
    assert [(i.file, i.row, i.column) for i in found] == [
        ("policy", None, "max_distance_m"),
        ("policy", None, "colour"),
        ("members", 0, "lat"),
    ]
    scenario = ba.Scenario.from_records(
        [{"member_id": "M1", "branch": "A", "lat": "1", "lon": "1"}], households, {"max_distance_m": 900}
    )
    assert scenario.policy == ba.Policy(max_distance_m=900)
    assert scenario.members["max_distance_m"].tolist() == [900.0]


def test_location_records_place_households_and_are_numbered_as_records():
    locations = [
        {"location_id": "C1", "kind": "compound", "name": "一号院", "lat": "34.72", "lon": "113.95"},
        {"location_id": "B1", "kind": "building", "parent_id": "C1"},
        {"location_id": "U1", "kind": "unit", "parent_id": "B1"},
    ]
    members = [{"member_id": "M1", "branch": "A", "location_id": "B1"}]
    households = [
        {"household_id": "H1", "branch": "A", "location_id": "U1"},
        {"household_id": "H2", "branch": "A", "lat": "34.7201", "lon": "113.9501"},
    ]
    scenario = ba.Scenario.from_records(members, households, locations=locations)
    assert scenario.households.loc[0, "group_id"] == "U1"
    assert pd.isna(scenario.households.loc[1, "group_id"])
    assert scenario.households.loc[0, "lat"] == pytest.approx(34.72)
    bad = issues(
        ba.Scenario.from_records,
        members,
        [*households, {"household_id": "H3", "branch": "A", "location_id": "U9"}],
        locations=locations,
    )
    assert [str(i) for i in bad] == [
        "households[2], column 'location_id': unknown location_id: not in locations (got 'U9')"
    ]
    bad_place = [*locations, {"location_id": "X", "kind": "castle"}]
    assert [
        (i.file, i.row, i.column) for i in issues(ba.Scenario.from_records, members, households, locations=bad_place)
    ] == [("locations", 3, "kind")]


def test_every_household_is_kept_in_every_output():
    """Blank cells, a branch without members, a pass-through column: every household in input order."""
    members = rows_of(MEMBER_TEXT)
    households = rows_of(HOUSEHOLD_TEXT)
    plan = ba.solve(ba.Scenario.from_records(members, households), seed=0)
    data = json.loads(json.dumps(plan.to_dict()))
    primary = [r for r in data["assignments"] if r["role"] != "backup"]
    assert [r["household_id"] for r in primary] == HOUSEHOLD_TEXT["household_id"]
    assert [r["member_id"] for r in data["members"]] == MEMBER_TEXT["member_id"]
    assert [r["address"] for r in primary] == ["一号院", "", "二号院", ""]  # pass-through text as given
    assert {r["household_id"]: r["member_id"] for r in primary}["H4"] is None  # 李小安村 has no member
    assert data["report"]["counts"]["households"] == len(HOUSEHOLD_TEXT["household_id"])
