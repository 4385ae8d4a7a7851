"""The command line: exit codes, files written, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.cli import main


@pytest.fixture(scope="module")
def town_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("town")
    town = ba.synth.make_town(2, households=500, branches=4, current=True)
    return town.write_csv(directory)


def test_solve_writes_the_contract_files(town_files, tmp_path, capsys):
    members, households = town_files
    code = main(["solve", str(members), str(households), "--out", str(tmp_path), "--objective", "distance"])
    assert code == 0
    assignments = pd.read_csv(tmp_path / "assignments.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(assignments.columns[:6]) == ["household_id", "member_id", "role", "distance_m", "changed", "reason"]
    source = pd.read_csv(households, dtype=str, keep_default_na=False)
    assert assignments["household_id"].tolist() == source["household_id"].tolist()
    assert "address" in assignments.columns, "unknown input columns pass through"
    summary = pd.read_csv(tmp_path / "members.csv", encoding="utf-8-sig")
    for column in (
        "member_id",
        "branch",
        "households",
        "capacity",
        "utilisation",
        "visits_per_week",
        "travel_m_per_week",
        "critical_households",
    ):
        assert column in summary.columns
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    for key in ("status", "strategy", "components", "bound", "gap", "wall_s", "counts", "warnings"):
        assert key in report
    assert "critical" in capsys.readouterr().out


def test_rebalance_command(town_files, tmp_path):
    members, households = town_files
    assert main(["rebalance", str(members), str(households), "--out", str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["objective"] == "min-churn"


def test_python_dash_m_is_the_same_program(town_files, tmp_path):
    members, households = town_files
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "baohu_assign",
            "solve",
            str(members),
            str(households),
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report.json").exists()


def test_missing_column_exits_2_naming_file_and_column(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("member_id,branch,lat\nM1,A,34.7\n", encoding="utf-8")
    (tmp_path / "h.csv").write_text("household_id,branch,lat,lon\nH1,A,34.7,114.0\n", encoding="utf-8")
    code = main(["solve", str(tmp_path / "m.csv"), str(tmp_path / "h.csv"), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "m.csv" in err and "lon" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("members", "households", "needle"),
    [
        ("member_id,branch,lat,lon\nM1,A,34.7,114.0\nM1,A,34.7,114.0\n", None, "row 3"),
        ("member_id,branch,lat,lon\nM1,A,abc,114.0\n", None, "lat"),
        ("member_id,branch,lat,lon\nM1,A,134.7,114.0\n", None, "lat"),
        (None, "household_id,branch,lat,lon,priority\nH1,A,34.7,114.0,urgent\n", "priority"),
    ],
)
def test_bad_input_exits_2_with_row_and_column(tmp_path, capsys, members, households, needle):
    good_m = "member_id,branch,lat,lon\nM1,A,34.7,114.0\n"
    good_h = "household_id,branch,lat,lon\nH1,A,34.7,114.0\n"
    (tmp_path / "m.csv").write_text(members or good_m, encoding="utf-8")
    (tmp_path / "h.csv").write_text(households or good_h, encoding="utf-8")
    code = main(["solve", str(tmp_path / "m.csv"), str(tmp_path / "h.csv"), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and "row" in err


def test_out_may_not_overwrite_an_input(town_files, capsys):
    members, households = town_files
    code = main(["solve", str(members), str(households), "--out", str(Path(members).parent)])
    assert code == 2
    assert "overwrite" in capsys.readouterr().err


def test_demo_runs_small(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--households", "600"]) == 0
    out = capsys.readouterr().out
    assert "covered" in out
    assert (tmp_path / "assignments.csv").exists() and (tmp_path / "input" / "members.csv").exists()


def test_gap_command_prints_one_json_line(capsys):
    instance = Path(__file__).resolve().parents[1] / "benchmarks/data/gap/instances/cattrysse1994/gap1-0"
    assert main(["gap", str(instance), "--strategy", "greedy", "--time-limit", "2"]) == 0
    line = capsys.readouterr().out.strip()
    result = json.loads(line)
    assert result["objective"] >= 261  # the proven optimum
    assert result["status"] in ("optimal", "feasible") and "wall_s" in result and "bound" in result


def test_gap_command_bad_file_exits_2(tmp_path, capsys):
    (tmp_path / "bad").write_text("2 3\n1 2 3\n", encoding="utf-8")
    assert main(["gap", str(tmp_path / "bad")]) == 2
    assert "bad" in capsys.readouterr().err


def test_unknown_backup_tier_names_the_allowed_ones(town_files, tmp_path, capsys):
    members, households = town_files
    assert main(["solve", str(members), str(households), "--out", str(tmp_path), "--backup", "urgent"]) == 2
    err = capsys.readouterr().err
    assert "urgent" in err and "critical" in err


@pytest.mark.parametrize("name", ["members", "households", "policy", "plan"])
def test_schema_prints_the_published_json_schema(name, capsys):
    from baohu_assign.results.schemas import json_schema

    assert main(["schema", name]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == json_schema(name)
    assert out == (Path(__file__).parents[1] / "docs" / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")


def test_schema_all_is_one_object_of_every_schema(capsys):
    from baohu_assign.results.schemas import SCHEMA_NAMES, json_schema

    assert main(["schema"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert every == {name: json_schema(name) for name in SCHEMA_NAMES}
    assert main(["schema", "all"]) == 0
    assert json.loads(capsys.readouterr().out) == every


def test_schema_of_an_unknown_name_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["schema", "roster"])
    assert exc.value.code == 2
    assert "invalid choice: 'roster'" in capsys.readouterr().err
