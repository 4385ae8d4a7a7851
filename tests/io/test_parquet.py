"""Parquet tables are read wherever CSV and .xlsx are, into the same frames of text."""

from __future__ import annotations

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.errors import InputError
from baohu_assign.io.tables import read_table
from baohu_assign.runner import TownFiles


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    folder = tmp_path_factory.mktemp("town")
    town = ba.synth.make_town(3, households=300, branches=3, stairwells=True, current=True)
    members_csv, households_csv = town.write_csv(folder / "csv")
    (folder / "parquet").mkdir()
    for name, path in (("members", members_csv), ("households", households_csv)):
        # Typed as pandas guesses them: numbers, booleans, blanks as NaN.
        pd.read_csv(path).to_parquet(folder / "parquet" / f"{name}.parquet", index=False)
    return folder


def test_parquet_validates_to_the_csvs_frames(town):
    from_csv = ba.Scenario.from_csv(town / "csv" / "members.csv", town / "csv" / "households.csv")
    from_parquet = ba.Scenario.from_csv(town / "parquet" / "members.parquet", town / "parquet" / "households.parquet")
    pd.testing.assert_frame_equal(from_parquet.members, from_csv.members)
    pd.testing.assert_frame_equal(from_parquet.households, from_csv.households)
    plan_csv = ba.solve(from_csv, objective="distance", seed=0)
    plan_parquet = ba.solve(from_parquet, objective="distance", seed=0)
    pd.testing.assert_frame_equal(plan_parquet.assignments, plan_csv.assignments)


def test_typed_cells_become_the_text_a_csv_holds(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame(
        {"Member ID": ["M1", None], "capacity": [12.0, float("nan")], "age": [59, 60], "mobile": [True, False]}
    ).to_parquet(path, index=False)
    frame = read_table(path)
    assert list(frame.columns) == ["member_id", "capacity", "age", "mobile"]
    assert frame.attrs["original_columns"]["member_id"] == "Member ID"
    assert frame.to_dict("list") == {
        "member_id": ["M1", ""],
        "capacity": ["12", ""],
        "age": ["59", "60"],
        "mobile": ["true", "false"],
    }


def test_a_file_that_is_not_parquet_is_an_input_error(tmp_path):
    path = tmp_path / "households.parquet"
    path.write_text("household_id,branch\nH1,A\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_table(path)


def test_a_town_folder_may_hold_parquet_tables(town):
    files = TownFiles.from_folder(town / "parquet")
    assert files.members.name == "members.parquet"
    assert files.households.name == "households.parquet"
