"""Fuzzing the loaders and the command line: a plan or a clear input error, never a crash.

Random bytes, random CSV-like text and random cell values in otherwise valid
files go through ``read_table`` + ``Scenario.from_csv`` and through the CLI.
Each gives either a valid plan (exit 0) or an ``InputError`` (exit 2) whose
message names a column or the file; never another exception, never a
traceback. Bounded: the whole module runs well inside a minute with the
``ci`` profile of conftest.py.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.cli import main
from baohu_assign.io.tables import normalise_header, read_table
from baohu_assign.model.solution import violations

# Fewer examples than the profile asks where each runs the whole CLI. capsys is
# reused across examples on purpose: every example reads (and so clears) it.
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
FAST = settings(suppress_health_check=_HEALTH)
SLOW = settings(max_examples=min(settings().max_examples, 60), suppress_health_check=_HEALTH)

MEMBERS = [
    [
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
        "备注",
    ],
    ["M01", "张一", "甲村", "34.700", "114.000", "45", "", "", "false", "true", "", "a"],
    ["M02", "李二", "甲村", "34.703", "114.001", "63", "3", "800", "", "", "", ""],
    ["M03", "王三", "乙村", "34.710", "114.010", "", "2", "", "是", "否", "", "c"],
    ["007", "赵四", "乙村", "34.712", "114.011", "71", "", "1500", "no", "yes", "", ""],
]
HOUSEHOLDS = [
    [
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
        "note",
    ],
    ["H01", "户一", "甲村", "34.7001", "114.0002", "2", "critical", "", "", "M01", "true", "", "x"],
    ["H02", "户二", "甲村", "34.7012", "114.0004", "1", "重点", "", "U1", "", "", "", ""],
    ["H03", "户三", "甲村", "34.7013", "114.0004", "", "elevated", "2", "U1", "M02", "", "", ""],
    ["H04", "户四", "乙村", "34.7104", "114.0101", "3", "", "", "", "007", "", "20", "y"],
    ["H05", "户五", "乙村", "34.7110", "114.0100", "4", "normal", "1.5", "", "M09", "否", "", ""],
    ["H06", "户六", "甲村", "34.7020", "114.0020", "1", "关注", "", "", "", "", "", ""],
]

TRICKY = [
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e400",
    "1e-400",
    "１２",
    "3,5",
    "1.0.0",
    "0x10",
    "true",
    "FALSE",
    "是",
    "否",
    "normal",
    "critical",
    "重点户",
    "urgent",
    "M01",
    "M09",
    "H01",
    "\t",
    '"',
    "'",
    ",",
    "\n",
    "\r\n",
    "=1+1",
    "null",
    "None",
    "90.1",
    "-90.1",
    "180.5",
    "34.7",
    "114.0",
    "1000001",
    "1000000",
    "168.1",
    "9" * 40,
    "\u3000",
    "\ufeff",
    "𝟙",
    "é",
    "👍",
]
CELL = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=12),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def _csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    # "\r\n" rows: the writer then quotes any cell holding "\r" or "\n", so a mutated cell stays one cell
    # (with "\n" alone a bare "\r" in a cell is written unquoted, which every CSV reader takes as a row break).
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding, errors="replace")


def _names_file_or_column(exc: ba.InputError, file: Path, columns: set[str] | None = None) -> bool:
    """Whether some issue names the file as a whole, or one of ``columns`` (any column when None)."""
    for issue in exc.issues:
        if not issue.file or Path(issue.file).name != file.name:
            continue
        if issue.column is None or columns is None or normalise_header(issue.column) in columns:
            return True
    return False


def _load(members: Path, households: Path) -> ba.Scenario | ba.InputError:
    try:
        return ba.Scenario.from_csv(members, households)
    except ba.InputError as exc:
        assert exc.issues and str(exc)
        return exc


def _cli(members: Path, households: Path, out: Path, capsys) -> tuple[int, str]:
    code = main(["solve", str(members), str(households), "--out", str(out), "--quiet", "--objective", "distance"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), err
    return code, err


def _check_plan(scenario: ba.Scenario) -> None:
    """A valid scenario solves, breaks no hard rule and lists every household."""
    plan = ba.solve(scenario, objective="distance")
    for result in plan.results:
        assert violations(result.branch.problem, result.solution.member_of) == []
    frame = plan.primary
    assert frame["household_id"].tolist() == scenario.households["household_id"].astype(str).tolist()
    assert (frame.loc[frame["member_id"].isna(), "reason"].fillna("") != "").all()


# -- random bytes -----------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".txt", ".xlsx"]))
def test_random_bytes_load_or_name_the_file(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"members{suffix}"
        path.write_bytes(data)
        try:
            frame = read_table(path)
        except ba.InputError as exc:
            assert all(Path(issue.file).name == path.name for issue in exc.issues)
            return
        assert isinstance(frame, pd.DataFrame)
        assert all(isinstance(v, str) for v in frame.to_numpy().ravel())
        households = Path(folder) / "households.csv"
        households.write_bytes(_csv_bytes(HOUSEHOLDS))
        outcome = _load(path, households)
        if isinstance(outcome, ba.InputError):
            assert _names_file_or_column(outcome, path)
        else:
            _check_plan(outcome)


@SLOW
@given(data=st.binary(min_size=1, max_size=400))
def test_random_bytes_through_the_cli_exit_2(data, capsys):
    with tempfile.TemporaryDirectory() as folder:
        members, households = Path(folder) / "m.csv", Path(folder) / "h.csv"
        members.write_bytes(data)
        households.write_bytes(_csv_bytes(HOUSEHOLDS))
        code, err = _cli(members, households, Path(folder) / "out", capsys)
        if code == 2:
            assert "m.csv" in err


@SLOW
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_workbook_names_the_file(flips):
    """A real .xlsx with some bytes overwritten: read, or an error naming the file."""
    openpyxl = pytest.importorskip("openpyxl")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "members.xlsx"
        book = openpyxl.Workbook()
        for row in MEMBERS:
            book.active.append(row)
        book.save(path)
        data = bytearray(path.read_bytes())
        for position, value in flips:
            data[position % len(data)] = value
        path.write_bytes(bytes(data))
        try:
            read_table(path)
        except ba.InputError as exc:
            assert all(Path(issue.file).name == path.name for issue in exc.issues)
        except zipfile.BadZipFile:  # pragma: no cover - would be a loader bug
            pytest.fail("BadZipFile escaped the loader")


# -- random CSV-like text -----------------------------------------------------------

TOKENS = st.one_of(
    st.sampled_from(
        [
            "M01",
            "H01",
            "007",
            "甲村",
            "34.7",
            "114.0",
            "-200",
            "critical",
            "重点",
            "true",
            "否",
            "",
            " ",
            '"',
            '""',
            '"x,y"',
            "1e9",
            "nan",
            "\x07",
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6),
)
HEADERS = st.one_of(
    st.sampled_from(
        [
            "member_id",
            "household_id",
            "branch",
            "lat",
            "lon",
            "capacity",
            "priority",
            "group_id",
            "pinned",
            "available",
            "mobile",
            "age",
            "Member ID",
            " LAT ",
            "备注",
            "",
        ]
    ),
    TOKENS,
)
SEPARATORS = st.sampled_from([",", ",", ",", ";", "\t", "，"])
LINE_ENDS = st.sampled_from(["\n", "\n", "\r\n", "\r", "\n\n"])


REQUIRED = {"members": ["member_id", "branch", "lat", "lon"], "households": ["household_id", "branch", "lat", "lon"]}


@st.composite
def csv_like_text(draw, kind: str = "members") -> bytes:
    """A header of mostly known names (often the required ones), then rows about as wide: CSV-ish, often broken."""
    separator = draw(SEPARATORS)
    header = draw(st.lists(HEADERS, max_size=7))
    if draw(st.booleans()):
        header = REQUIRED[kind] + header[:3]
    width = len(header)
    rows = draw(st.lists(st.lists(TOKENS, min_size=max(width - 1, 0), max_size=width + 1), max_size=5))
    text = "".join(separator.join(line) + draw(LINE_ENDS) for line in [header, *rows])
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "gb18030"])), errors="replace")


@FAST
@given(members=csv_like_text("members"), households=csv_like_text("households"))
def test_csv_like_text_loads_or_names_file_or_column(members, households):
    with tempfile.TemporaryDirectory() as folder:
        m, h = Path(folder) / "members.csv", Path(folder) / "households.csv"
        m.write_bytes(members)
        h.write_bytes(households)
        outcome = _load(m, h)
        if isinstance(outcome, ba.InputError):
            assert all(_names_file_or_column(ba.InputError([i]), Path(i.file)) for i in outcome.issues)
            assert {Path(i.file).name for i in outcome.issues} <= {m.name, h.name}
        else:
            _check_plan(outcome)


@SLOW
@given(members=csv_like_text("members"), households=csv_like_text("households"))
def test_csv_like_text_through_the_cli(members, households, capsys):
    with tempfile.TemporaryDirectory() as folder:
        m, h = Path(folder) / "m.csv", Path(folder) / "h.csv"
        m.write_bytes(members)
        h.write_bytes(households)
        code, err = _cli(m, h, Path(folder) / "out", capsys)
        if code == 2:
            assert "m.csv" in err or "h.csv" in err


# -- random cells in valid files ------------------------------------------------------


@st.composite
def mutated_tables(draw) -> tuple[list[list[str]], list[list[str]], set[tuple[str, str]]]:
    """The valid tables with 1–3 data cells replaced; returns the (file, column) pairs touched."""
    members = [row[:] for row in MEMBERS]
    households = [row[:] for row in HOUSEHOLDS]
    touched: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(1, 3))):
        name, table = draw(st.sampled_from([("members", members), ("households", households)]))
        row = draw(st.integers(1, len(table) - 1))
        column = draw(st.integers(0, len(table[0]) - 1))
        table[row][column] = draw(CELL)
        touched.add((name, normalise_header(table[0][column])))
    return members, households, touched


def _write_tables(folder: Path, members: list[list[str]], households: list[list[str]]) -> tuple[Path, Path]:
    m, h = folder / "members.csv", folder / "households.csv"
    m.write_bytes(_csv_bytes(members))
    h.write_bytes(_csv_bytes(households))
    return m, h


def test_the_unmutated_tables_are_valid():
    with tempfile.TemporaryDirectory() as folder:
        m, h = _write_tables(Path(folder), MEMBERS, HOUSEHOLDS)
        outcome = _load(m, h)
        assert isinstance(outcome, ba.Scenario)
        _check_plan(outcome)


@FAST
@given(case=mutated_tables())
def test_random_cells_give_a_plan_or_name_the_column(case):
    members, households, touched = case
    with tempfile.TemporaryDirectory() as folder:
        m, h = _write_tables(Path(folder), members, households)
        outcome = _load(m, h)
        if isinstance(outcome, ba.Scenario):
            _check_plan(outcome)
            return
        for issue in outcome.issues:
            file = "members" if Path(issue.file).name == m.name else "households"
            if issue.column is not None and issue.row is not None:
                # A cell-level issue is about a cell that was changed (or a duplicate id it created).
                assert (file, normalise_header(issue.column)) in touched, str(issue)
                assert issue.value is not None or "blank" in issue.message or "duplicate" in issue.message


@SLOW
@given(case=mutated_tables())
def test_random_cells_through_the_cli(case, capsys):
    members, households, touched = case
    with tempfile.TemporaryDirectory() as folder:
        m, h = _write_tables(Path(folder), members, households)
        code, err = _cli(m, h, Path(folder) / "out", capsys)
        if code == 2:
            named = {column for _, column in touched}
            assert any(f"'{c}'" in err for c in named) or "members.csv:" in err or "households.csv:" in err, err
            assert re.search(r"(members|households)\.csv", err)
        else:
            frame = pd.read_csv(
                Path(folder) / "out" / "assignments.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"
            )
            assert len(frame[frame["role"] != "backup"]) == len(households) - 1
            assert (frame.loc[frame["member_id"] == "", "reason"] != "").all()


# -- no personal data in logs -----------------------------------------------------------


def test_logs_above_debug_carry_no_personal_data(tmp_path, caplog):
    """INFO and above: ids and counts only; no names, ages or coordinates."""
    town = ba.synth.make_town(4, households=300, branches=3, current=True)
    members_path, households_path = town.write_csv(tmp_path / "in")
    caplog.set_level(logging.INFO)
    scenario = ba.Scenario.from_csv(members_path, households_path)
    for plan in (ba.solve(scenario), ba.rebalance(scenario)):
        plan.write(tmp_path / "api")
        plan.summary()
    assert main(["solve", str(members_path), str(households_path), "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    assert main(["rebalance", str(members_path), str(households_path), "--out", str(tmp_path / "cli2"), "--quiet"]) == 0
    records = [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert records, "INFO logging was captured"
    text = "\n".join(r.getMessage() for r in records)
    names = set(town.members["name"].dropna().astype(str)) | set(town.households["head_name"].dropna().astype(str))
    for name in names:
        assert name not in text, f"a personal name is logged: {name}"
    assert not re.search(r"\bage\b\D{0,4}\d", text), "an age is logged"
    coordinates = pd.concat([town.members[["lat", "lon"]], town.households[["lat", "lon"]]]).to_numpy().ravel()
    for value in coordinates:
        for form in (repr(float(value)), f"{value:.6f}", f"{value:.5f}", f"{value:.4f}"):
            assert form not in text, f"a coordinate is logged: {form}"
