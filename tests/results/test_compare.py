"""compare(): two plans before and after a relocation, from folders and in memory; the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.cli import main
from baohu_assign.results.compare import CHANGE_KINDS, DIFFERING_COLUMNS, KPI_ROWS
from oracles import primary_contacts


@pytest.fixture(scope="module")
def plans(relocation_plans, tmp_path_factory):
    """Plan in force on a town with current contacts, and its rebalance after `synth.relocate`, written."""
    before, after = relocation_plans
    root = tmp_path_factory.mktemp("plans")
    before.write(root / "before")
    after.write(root / "after")
    return before, after, root / "before", root / "after"


def test_differing_list_equals_an_independent_computation(plans):
    _, _, dir_a, dir_b = plans
    a, b = primary_contacts(dir_a / "assignments.csv"), primary_contacts(dir_b / "assignments.csv")
    expected = {(h, a.get(h, ""), b.get(h, "")) for h in a.keys() | b.keys() if a.get(h, "") != b.get(h, "")}
    comparison = ba.compare(dir_a, dir_b)
    got = set(
        zip(
            comparison.differing["household_id"],
            comparison.differing["member_a"],
            comparison.differing["member_b"],
            strict=True,
        )
    )
    assert expected, "the relocation and illness must change some contacts"
    assert got == expected
    assert comparison.num_differing == len(expected)
    assert list(comparison.differing.columns) == list(DIFFERING_COLUMNS)
    assert set(comparison.differing["change"]) <= set(CHANGE_KINDS)
    # The kind of change follows from the two members.
    d = comparison.differing
    assert ((d["change"] == "newly covered") == (d["member_a"] == "")).all()
    assert ((d["change"] == "now uncovered") == (d["member_b"] == "")).all()


def test_in_memory_plans_compare_like_their_folders(plans):
    before, after, dir_a, dir_b = plans
    from_files = ba.compare(dir_a, dir_b)
    in_memory = ba.compare_plans(before, after)
    pd.testing.assert_frame_equal(from_files.differing, in_memory.differing, check_dtype=False)
    pd.testing.assert_frame_equal(from_files.kpis, in_memory.kpis, check_exact=False, rtol=1e-6)
    # Plan.diff is another view of the same changes.
    assert set(after.diff(before)["household_id"]) == set(in_memory.differing["household_id"])


def test_kpis(plans):
    before, after, dir_a, dir_b = plans
    kpis = ba.compare(dir_a, dir_b).kpis
    assert list(kpis.index) == list(KPI_ROWS)
    assert list(kpis.columns) == ["a", "b", "change"]
    assert kpis.loc["households", "a"] == len(before.primary)
    assert kpis.loc["households", "change"] == 12
    for plan, column in ((before, "a"), (after, "b")):
        report = plan.report
        assert kpis.loc["covered", column] == report.counts.covered
        assert kpis.loc["uncovered", column] == report.counts.uncovered
        assert kpis.loc["changed contacts", column] == report.components.changed
        assert kpis.loc["weekly travel (km)", column] == pytest.approx(report.components.travel_m_per_week / 1000)
        critical = plan.primary["priority"] == "critical"
        share = 100 * plan.primary.loc[critical, "member_id"].notna().mean()
        assert kpis.loc["coverage critical (%)", column] == pytest.approx(share)
        serving = plan.members[plan.members["capacity"] > 0]["utilisation"]
        assert kpis.loc["utilisation median (%)", column] == pytest.approx(100 * serving.median())
        assert kpis.loc["utilisation max (%)", column] == pytest.approx(100 * serving.max())
    assert np.allclose(kpis["change"].dropna(), (kpis["b"] - kpis["a"]).dropna())


def test_a_plan_against_itself(plans):
    _, _, dir_a, _ = plans
    same = ba.compare(dir_a, dir_a)
    assert same.num_differing == 0
    assert (same.kpis["change"].fillna(0) == 0).all()
    assert "households whose contact differs: 0" in same.summary()


def test_without_current_contacts_churn_is_not_reported(tmp_path):
    town = ba.synth.make_town(1, households=300, branches=3)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households))
    plan.write(tmp_path / "p")
    kpis = ba.compare(tmp_path / "p", plan).kpis
    assert np.isnan(kpis.loc["changed contacts", "a"])
    assert np.isnan(kpis.loc["new households", "b"])


def test_summary_names_both_plans_and_the_count(plans):
    _, _, dir_a, dir_b = plans
    comparison = ba.compare(dir_a, dir_b)
    text = comparison.summary()
    assert str(dir_a) in text and str(dir_b) in text
    assert f"households whose contact differs: {comparison.num_differing:,}" in text
    for kpi in KPI_ROWS:
        assert kpi in text


# --------------------------------------------------------------------------- command line


def test_cli_prints_the_table_and_writes_the_list(plans, tmp_path, capsys):
    _, _, dir_a, dir_b = plans
    out = tmp_path / "sub" / "changes.csv"
    assert main(["compare", str(dir_a), str(dir_b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = ba.compare(dir_a, dir_b)
    assert "weekly travel (km)" in printed
    assert f"households whose contact differs: {expected.num_differing:,}" in printed
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == expected.num_differing
    assert list(rows[0]) == list(DIFFERING_COLUMNS)
    assert {r["household_id"] for r in rows} == set(expected.differing["household_id"])


def test_cli_without_out_writes_nothing(plans, tmp_path, capsys, monkeypatch):
    _, _, dir_a, dir_b = plans
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(dir_a), str(dir_b)]) == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("remove", ["assignments.csv", "members.csv", "report.json"])
def test_cli_exit_2_when_a_folder_lacks_a_file(plans, tmp_path, capsys, remove):
    _, _, dir_a, _ = plans
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("assignments.csv", "members.csv", "report.json"):
        if name != remove:
            (broken / name).write_bytes((dir_a / name).read_bytes())
    assert main(["compare", str(dir_a), str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert str(broken) in err and f"missing {remove}" in err
    assert "Traceback" not in err


def test_cli_exit_2_for_a_missing_folder_or_column(plans, tmp_path, capsys):
    _, _, dir_a, _ = plans
    assert main(["compare", str(tmp_path / "nowhere"), str(dir_a)]) == 2
    assert "plan folder not found" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "members.csv").write_bytes((dir_a / "members.csv").read_bytes())
    # A folder written before plan ids (nothing to check its files against) reaches the column checks.
    report = json.loads((dir_a / "report.json").read_text(encoding="utf-8"))
    del report["plan_id"], report["files"]
    (broken / "report.json").write_text(json.dumps(report), encoding="utf-8")
    frame = pd.read_csv(dir_a / "assignments.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.drop(columns=["priority"]).to_csv(broken / "assignments.csv", index=False)
    assert main(["compare", str(dir_a), str(broken)]) == 2
    assert "column 'priority': column missing" in capsys.readouterr().err
    (broken / "report.json").write_text("{not json", encoding="utf-8")
    frame.to_csv(broken / "assignments.csv", index=False)
    assert main(["compare", str(dir_a), str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_module_entry_point_exit_code(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "baohu_assign", "compare", str(tmp_path / "a"), str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "plan folder not found" in result.stderr
