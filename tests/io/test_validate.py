"""Validation: typed frames with policy defaults, or one InputError listing every problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baohu_assign import InputError, Policy
from baohu_assign.io.tables import read_table
from baohu_assign.io.validate import (
    BOOL_FALSE,
    BOOL_TRUE,
    MAX_ISSUES,
    InputWarning,
    cross_check,
    validate_households,
    validate_members,
)

DATA = Path(__file__).parents[1] / "data" / "inputs"
POLICY = Policy()


def members_raw(**columns: list[str]) -> pd.DataFrame:
    """A valid two-member text frame, with columns replaced or added."""
    base = {
        "member_id": ["M1", "M2"],
        "branch": ["万胜村", "万胜村"],
        "lat": ["34.72", "34.73"],
        "lon": ["113.95", "113.96"],
    }
    return pd.DataFrame(base | columns, dtype="str")


def households_raw(**columns: list[str]) -> pd.DataFrame:
    """A valid two-household text frame, with columns replaced or added."""
    base = {
        "household_id": ["H1", "H2"],
        "branch": ["万胜村", "万胜村"],
        "lat": ["34.72", "34.73"],
        "lon": ["113.95", "113.96"],
    }
    return pd.DataFrame(base | columns, dtype="str")


def issues_of(call, *args, **kwargs):
    with pytest.raises(InputError) as exc:
        call(*args, **kwargs)
    return exc.value.issues


def where(issues) -> list[tuple[int | None, str | None]]:
    return [(i.row, i.column) for i in issues]


@pytest.fixture
def members() -> pd.DataFrame:
    return validate_members(read_table(DATA / "members.csv"), POLICY)


@pytest.fixture
def households() -> pd.DataFrame:
    return validate_households(read_table(DATA / "households.csv"), POLICY)


# -- valid input -----------------------------------------------------------------


def test_members_frame_types_and_order(members):
    """Known columns first in contract order, then pass-through columns, then row."""
    assert list(members.columns) == [
        "member_id",
        "name",
        "branch",
        "lat",
        "lon",
        "age",
        "capacity",
        "max_distance_m",
        "mobile",
        "available",
        "hours_per_week",
        "phone_number",
        "row",
    ]
    assert isinstance(members.index, pd.RangeIndex)
    assert members.dtypes.astype(str).to_dict() == {
        "member_id": "string",
        "name": "string",
        "branch": "string",
        "lat": "float64",
        "lon": "float64",
        "age": "float64",
        "capacity": "int64",
        "max_distance_m": "float64",
        "mobile": "bool",
        "available": "bool",
        "hours_per_week": "float64",
        "phone_number": "string",
        "row": "int64",
    }
    assert members["row"].tolist() == [2, 3, 4, 5]


def test_leading_zeros_and_chinese_text_kept(members):
    assert members.loc[0, "member_id"] == "007"
    assert members["name"].tolist() == ["张伟", "李娜", "王芳", "赵强"]
    assert members["phone_number"].tolist()[:2] == ["13800000001", "13800000002"]


def test_member_defaults_come_from_policy(members):
    """Blank capacity → capacity for the age (unknown age: policy's value); blank reach → policy's."""
    assert members["capacity"].tolist() == [10, 7, 3, 4]  # ages 45, 65, (given 3), 72
    assert members["max_distance_m"].tolist() == [2000.0, 1500.0, 2000.0, 2000.0]
    assert np.isnan(members.loc[2, "age"])
    assert members["mobile"].tolist() == [False, False, True, True]
    assert members["available"].tolist() == [True, True, True, False]


def test_defaults_follow_a_different_policy():
    policy = Policy(
        capacity_unknown_age=5, max_distance_m=800.0, visits_per_week={"normal": 2.0, "elevated": 4.0, "critical": 7.0}
    )
    frame = validate_members(members_raw(age=["", "80"]), policy)
    assert frame["capacity"].tolist() == [5, 4]
    assert frame["max_distance_m"].tolist() == [800.0, 800.0]
    hh = validate_households(households_raw(priority=["", "critical"]), policy)
    assert hh["visits_per_week"].tolist() == [2.0, 7.0]


def test_households_frame(households):
    assert list(households.columns) == [
        "household_id",
        "head_name",
        "branch",
        "lat",
        "lon",
        "size",
        "priority",
        "visits_per_week",
        "group_id",
        "current_member_id",
        "pinned",
        "minutes_per_visit",
        "备注",
        "row",
    ]
    assert str(households["size"].dtype) == "Int64"
    assert households["priority"].tolist() == ["critical", "normal", "elevated", "normal"]
    assert households["visits_per_week"].tolist() == [14.0, 1.0, 3.0, 2.5]
    assert households["pinned"].tolist() == [True, False, False, False]
    assert households["group_id"].isna().tolist() == [True, False, False, True]
    assert households.loc[0, "current_member_id"] == "007"
    assert households["current_member_id"].isna().tolist() == [False, False, True, False]
    assert households["备注"].tolist() == ["独居老人", "", "", "已搬迁"]


@pytest.mark.parametrize(
    ("word", "tier"),
    [
        ("普通", "normal"),
        ("一般", "normal"),
        ("关注", "elevated"),
        ("重点", "critical"),
        ("重点户", "critical"),
        ("CRITICAL", "critical"),
        (" Elevated ", "elevated"),
        ("", "normal"),
    ],
)
def test_priority_spellings(word, tier):
    frame = validate_households(households_raw(priority=[word, "normal"]), POLICY)
    assert frame.loc[0, "priority"] == tier


def test_booleans_accept_every_documented_spelling():
    words = sorted(BOOL_TRUE | BOOL_FALSE)
    raw = members_raw(
        member_id=[f"M{i}" for i in range(len(words))],
        branch=["b"] * len(words),
        lat=["1"] * len(words),
        lon=["2"] * len(words),
        mobile=[w.upper() if w.isascii() else w for w in words],
    )
    frame = validate_members(raw, POLICY)
    assert frame["mobile"].tolist() == [w in BOOL_TRUE for w in words]


def test_shi_fou_booleans():
    frame = validate_members(members_raw(available=["否", " 是 "], mobile=["是", "否"]), POLICY)
    assert frame["available"].tolist() == [False, True]
    assert frame["mobile"].tolist() == [True, False]


def test_numbers_with_spaces_and_full_width_digits():
    frame = validate_members(members_raw(lat=[" 34.5 ", "３４．５"], capacity=["1.0", " ８ "]), POLICY)
    assert frame["lat"].tolist() == [34.5, 34.5]
    assert frame["capacity"].tolist() == [1, 8]


def test_ids_are_stripped_and_passthrough_is_not():
    frame = validate_members(members_raw(member_id=[" 007 ", "M2"], note=[" keep  me ", ""]), POLICY)
    assert frame.loc[0, "member_id"] == "007"
    assert frame["note"].tolist() == [" keep  me ", ""]


def test_blank_rows_are_skipped_and_row_numbers_kept():
    """Excel's leftover empty rows vanish; later rows keep their spreadsheet numbers."""
    raw = pd.DataFrame(
        {
            "member_id": ["M1", "", " ", "M4"],
            "branch": ["b", "", "", "b"],
            "lat": ["1", "", "", "x"],
            "lon": ["2", "", "", "2"],
        },
        dtype="str",
    )
    issues = issues_of(validate_members, raw, POLICY)
    assert where(issues) == [(5, "lat")]
    frame = validate_members(raw.iloc[:3], POLICY)
    assert len(frame) == 1 and frame["row"].tolist() == [2]


def test_typed_frames_validate_like_text():
    """Frames built in a notebook (numbers, bools, NaN) give the same result as the file."""
    typed = pd.DataFrame(
        {
            "Member ID": ["M1", "M2"],
            "branch": ["b", "b"],
            "lat": [34.5, 34.6],
            "lon": [113.0, 113.1],
            "age": [np.nan, 61.0],
            "mobile": [True, False],
            "capacity": [np.nan, 3.0],
        }
    )
    frame = validate_members(typed, POLICY)
    assert frame["member_id"].tolist() == ["M1", "M2"]
    assert frame["capacity"].tolist() == [7, 3]
    assert frame["mobile"].tolist() == [True, False]


def test_empty_tables_are_valid():
    frame = validate_members(members_raw().iloc[:0], POLICY)
    assert len(frame) == 0 and frame["capacity"].dtype == np.int64


# -- errors ----------------------------------------------------------------------


def test_missing_required_columns_one_issue_each():
    raw = pd.DataFrame({"member_id": ["M1"], "latitude": ["1"]}, dtype="str")
    issues = issues_of(validate_members, raw, POLICY)
    assert where(issues) == [(None, "branch"), (None, "lat"), (None, "lon")]
    assert all("missing" in i.message and "latitude" in i.message for i in issues)
    hh = issues_of(validate_households, pd.DataFrame({"household_id": ["H1"]}, dtype="str"), POLICY)
    assert where(hh) == [(None, "branch"), (None, "lat"), (None, "lon")]


def test_duplicate_ids_name_the_first_row():
    raw = members_raw(member_id=["M1", "M1"], branch=["b", "b"])
    raw = pd.concat([raw, raw.iloc[[0]]], ignore_index=True)
    issues = issues_of(validate_members, raw, POLICY)
    assert where(issues) == [(3, "member_id"), (4, "member_id")]
    assert all("first given in row 2" in i.message for i in issues)
    assert issues[0].value == "M1"


def test_duplicate_ids_ignore_surrounding_spaces():
    issues = issues_of(validate_households, households_raw(household_id=["007", " 007"]), POLICY)
    assert where(issues) == [(3, "household_id")]


def test_blank_required_values():
    issues = issues_of(validate_members, members_raw(member_id=["", "M2"], branch=["b", " "], lon=["1", ""]), POLICY)
    assert where(issues) == [(2, "member_id"), (3, "branch"), (3, "lon")]
    assert all(i.message == "required value is blank" for i in issues)


@pytest.mark.parametrize(("value", "hint"), [("abc", False), ("1,5", True), ("nan", False), ("inf", False)])
def test_non_numeric_values(value, hint):
    issues = issues_of(validate_members, members_raw(age=["40", value]), POLICY)
    assert where(issues) == [(3, "age")]
    assert issues[0].message.startswith("expected a number")
    assert ("decimals" in issues[0].message) == hint
    assert issues[0].value == value


def test_coordinates_out_of_range():
    issues = issues_of(validate_households, households_raw(lat=["-91", "34"], lon=["113", "181"]), POLICY)
    assert where(issues) == [(2, "lat"), (3, "lon")]
    assert "between -90 and 90" in issues[0].message
    assert "between -180 and 180" in issues[1].message


def test_swapped_coordinates_in_one_row():
    issues = issues_of(validate_members, members_raw(lat=["34.72", "113.96"], lon=["113.95", "34.73"]), POLICY)
    assert where(issues) == [(3, "lat")]
    assert "latitude and longitude look swapped" in issues[0].message


def test_swapped_coordinate_columns():
    """Every row swapped: one issue about the columns, not one per row."""
    issues = issues_of(validate_members, members_raw(lat=["113.95", "113.96"], lon=["34.72", "34.73"]), POLICY)
    assert where(issues) == [(None, "lat")]
    assert "latitude and longitude look swapped" in issues[0].message


@pytest.mark.parametrize("value", ["-1", "2.5", "1e9"])
def test_bad_capacity(value):
    issues = issues_of(validate_members, members_raw(capacity=["1.0", value]), POLICY)
    assert where(issues) == [(3, "capacity")]
    assert "whole number" in issues[0].message


@pytest.mark.parametrize(
    ("column", "value"), [("max_distance_m", "0"), ("max_distance_m", "-5"), ("age", "121"), ("age", "-1")]
)
def test_bad_reach_and_age(column, value):
    issues = issues_of(validate_members, members_raw(**{column: ["", value]}), POLICY)
    assert where(issues) == [(3, column)]


@pytest.mark.parametrize("value", ["0", "-2"])
def test_visits_per_week_must_be_positive(value):
    issues = issues_of(validate_households, households_raw(visits_per_week=[value, "1"]), POLICY)
    assert where(issues) == [(2, "visits_per_week")]
    assert "> 0" in issues[0].message


@pytest.mark.parametrize("value", ["0", "2.5"])
def test_size_must_be_a_whole_number_from_one(value):
    issues = issues_of(validate_households, households_raw(size=[value, ""]), POLICY)
    assert where(issues) == [(2, "size")]


def test_unknown_priority_lists_allowed_values():
    issues = issues_of(validate_households, households_raw(priority=["normal", "urgent"]), POLICY)
    assert where(issues) == [(3, "priority")]
    assert all(p in issues[0].message for p in ("normal", "elevated", "critical", "重点"))


def test_unparseable_boolean_lists_accepted_spellings():
    issues = issues_of(validate_households, households_raw(pinned=["maybe", "是"]), POLICY)
    assert where(issues) == [(2, "pinned")]
    assert issues[0].value == "maybe"
    assert "是/否" in issues[0].message and "yes/no" in issues[0].message


def test_every_error_is_reported_together():
    """One InputError carries every problem of the file, in row order."""
    issues = issues_of(validate_members, read_table(DATA / "members_errors.csv"), POLICY, file="members_errors.csv")
    assert where(issues) == [
        (3, "member_id"),
        (4, "branch"),
        (4, "lat"),
        (4, "capacity"),
        (5, "lat"),
        (5, "age"),
        (5, "capacity"),
        (5, "max_distance_m"),
        (5, "mobile"),
        (6, "member_id"),
        (6, "lon"),
    ]
    assert {i.file for i in issues} == {"members_errors.csv"}
    hh = issues_of(validate_households, read_table(DATA / "households_errors.csv"), POLICY)
    assert where(hh) == [
        (2, "size"),
        (2, "priority"),
        (2, "visits_per_week"),
        (3, "household_id"),
        (3, "lat"),
        (3, "visits_per_week"),
        (3, "pinned"),
        (4, "lat"),
        (4, "size"),
        (4, "visits_per_week"),
    ]
    assert hh[0].file == "households.csv"


def test_issue_limit():
    """Past the limit, one closing issue says how many more there are."""
    n = 120
    raw = pd.DataFrame(
        {"member_id": [f"M{i}" for i in range(n)], "branch": ["b"] * n, "lat": ["x"] * n, "lon": ["1"] * n}, dtype="str"
    )
    issues = issues_of(validate_members, raw, POLICY)
    assert len(issues) == MAX_ISSUES + 1 == 51
    assert [i.row for i in issues[:MAX_ISSUES]] == list(range(2, 2 + MAX_ISSUES))
    assert issues[-1].row is None and "70 more" in issues[-1].message


def test_error_message_names_file_row_and_column():
    with pytest.raises(InputError, match=r"members\.csv, row 3, column 'lat': expected a number \(got 'abc'\)"):
        validate_members(members_raw(lat=["1", "abc"]), POLICY)


# -- cross-table warnings -----------------------------------------------------------


def codes(warnings: list[InputWarning]) -> list[str]:
    return [w.code for w in warnings]


def test_cross_check_on_the_fixture(members, households):
    """M4 is unavailable, so 李小安村 has members but none available."""
    warnings = cross_check(members, households)
    assert codes(warnings) == ["branch_without_available_members"]
    assert warnings[0].examples == ["李小安村"] and warnings[0].count == 1


def test_cross_check_warnings():
    mem = validate_members(
        members_raw(member_id=["M1", "M2"], branch=["a", "a"], available=["yes", "no"], name=["张伟", "李娜"]), POLICY
    )
    hh = validate_households(
        pd.DataFrame(
            {
                "household_id": ["H1", "H2", "H3", "H4", "H5", "H6"],
                "head_name": ["刘大爷", "", "", "", "", ""],
                "branch": ["a", "a", "a", "b", "a", "c"],
                "lat": ["1"] * 6,
                "lon": ["2"] * 6,
                "current_member_id": ["M9", "", "M2", "M1", "M9", "M1"],
                "pinned": ["是", "是", "是", "", "", ""],
                "group_id": ["", "", "", "U1", "U1", ""],
            },
            dtype="str",
        ),
        POLICY,
    )
    warnings = {w.code: w for w in cross_check(mem, hh)}
    assert list(warnings) == [
        "unknown_current_member",
        "pin_without_member",
        "pin_unknown_member",
        "pin_unavailable_member",
        "group_spans_branches",
        "branch_without_members",
    ]
    assert warnings["unknown_current_member"].examples == ["H1", "H5"]
    assert warnings["unknown_current_member"].count == 2
    assert warnings["pin_without_member"].examples == ["H2"]
    assert warnings["pin_unknown_member"].examples == ["H1"]
    assert warnings["pin_unavailable_member"].examples == ["H3"]
    assert warnings["group_spans_branches"].examples == ["U1"]
    assert warnings["branch_without_members"].examples == ["b", "c"]
    for w in warnings.values():
        assert not any(name in w.message for name in ("张伟", "李娜", "刘大爷"))


def test_branch_with_no_available_member():
    mem = validate_members(members_raw(available=["no", "yes"], capacity=["", "0"]), POLICY)
    hh = validate_households(households_raw(), POLICY)
    assert codes(cross_check(mem, hh)) == ["branch_without_available_members"]


def test_clean_input_has_no_warnings():
    mem = validate_members(members_raw(), POLICY)
    hh = validate_households(households_raw(current_member_id=["M1", ""], pinned=["yes", ""]), POLICY)
    assert cross_check(mem, hh) == []
