"""The plan tables as Parquet (``--parquet``): the CSVs' rows and columns, typed, checked with the folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import baohu_assign as ba
from baohu_assign.cli import main
from baohu_assign.results.plan import read_plan_folder


def _typed_as_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Each cell as a comparable Python value: NaN/NA as None, numbers as float, text and booleans as they are."""

    def cell(v):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return float(v)
        return str(v)

    return frame.apply(lambda column: column.map(cell)).astype(object)


def test_parquet_tables_hold_the_plan_tables(tmp_path):
    town = ba.synth.make_town(5, households=400, branches=3, current=True)
    members_csv, households_csv = town.write_csv(tmp_path / "in")
    out = tmp_path / "plan"
    args = ["solve", str(members_csv), str(households_csv), "--out", str(out), "--objective", "distance"]
    assert main([*args, "--parquet", "--quiet"]) == 0
    plan = ba.solve(ba.Scenario.from_csv(members_csv, households_csv), objective="distance", seed=0)
    for name, table in (("assignments", plan.assignments), ("members", plan.members)):
        parquet = pd.read_parquet(out / f"{name}.parquet")
        assert list(parquet.columns) == list(table.columns)
        pd.testing.assert_frame_equal(_typed_as_csv(parquet), _typed_as_csv(table.reset_index(drop=True)))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {"assignments.parquet", "members.parquet"} <= set(report["files"])
    read_plan_folder(out)  # the checksums hold


def test_without_the_option_no_parquet_and_the_same_csvs(tmp_path):
    town = ba.synth.make_town(6, households=200, branches=2)
    members_csv, households_csv = town.write_csv(tmp_path / "in")
    plain, with_parquet = tmp_path / "plain", tmp_path / "parquet"
    args = ["solve", str(members_csv), str(households_csv), "--objective", "distance", "--quiet"]
    assert main([*args, "--out", str(plain)]) == 0
    assert main([*args, "--out", str(with_parquet), "--parquet"]) == 0
    assert not list(plain.glob("*.parquet"))
    for name in ("assignments.csv", "members.csv"):
        assert (plain / name).read_bytes() == (with_parquet / name).read_bytes()
    # A later run without the option drops the Parquet files of the earlier one with the old plan.
    assert main([*args, "--out", str(with_parquet)]) == 0
    assert not list(with_parquet.glob("*.parquet"))


def test_write_names_every_file_once_the_csv_tables_under_their_plain_keys(tmp_path):
    town = ba.synth.make_town(7, households=150, branches=2)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households), objective="distance", seed=0)
    paths = plan.write(tmp_path / "plan", parquet=True)
    assert paths["assignments"].name == "assignments.csv" and paths["members"].name == "members.csv"
    assert paths["assignments_parquet"].name == "assignments.parquet"
    assert paths["members_parquet"].name == "members.parquet"
    assert sorted(p.name for p in paths.values()) == sorted(p.name for p in (tmp_path / "plan").iterdir())
