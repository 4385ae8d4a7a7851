"""The benchmark harness itself works: runner, peers, GAP runs and the report step, on a tiny case.

Benchmarks are not run in the test suite; this only checks that the harness
produces well-formed results and documents them. No wall-clock value is
asserted.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
REQUIRED = ["case", "strategy", "households", "wall_s", "peak_mb", "travel", "gap_pct", "uncovered", "status"]


def _pulp_importable() -> bool:
    try:
        import pulp  # noqa: F401
    except ImportError:
        return False
    return True


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_gap_instance_the_benchmarks_name_ships_with_the_repository() -> None:
    """A fresh clone runs the GAP benchmarks: each named instance and its best-known value are in benchmarks/data."""
    sys.path.insert(0, str(BENCH))
    import bench
    import gap_bench
    from baohu_assign.datasets.gap import read_instance

    data = ROOT / "benchmarks" / "data" / "gap"
    assert data == gap_bench.DATA
    names = {*gap_bench.INSTANCES, *gap_bench.QUICK, *gap_bench.LARGE, *bench.QUICK_GAP, "gap1-0"}
    with open(data / "best_known.csv", encoding="utf-8", newline="") as handle:
        table = {row["instance"]: row for row in csv.DictReader(handle)}
    assert set(table) == names  # every shipped instance is used, every used one is shipped
    assert gap_bench.best_known() == {name: int(row["best_known"]) for name, row in table.items()}
    for name in sorted(names):
        path = gap_bench.instance_path(name)
        assert path.is_relative_to(data), path
        instance = read_instance(path)
        assert (instance.m, instance.n) == (int(table[name]["agents"]), int(table[name]["jobs"])), name
        assert int(table[name]["lower_bound"]) <= int(table[name]["best_known"]), name


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "latest.csv"
    gap = ["--gap-instances", "gap1-0", "--gap-limits", "0.5", "--gap-solvers", "ours,highs"]
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench.py"),
            "--cases",
            "town_60",
            "--strategies",
            "flow,greedy,highs,cbc",
            "--repeats",
            "1",
            *gap,
            "--out",
            str(out),
            "--work",
            str(out.parent / "work"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_one_row_per_case_and_strategy_with_the_required_columns(results: Path) -> None:
    rows = _rows(results)
    assert set(REQUIRED) <= set(rows[0])
    assert sorted((r["case"], r["strategy"]) for r in rows) == [
        ("town_60", s) for s in sorted(["flow", "greedy", "highs", "cbc"])
    ]
    assert all(r["households"] == "60" for r in rows)


def test_figures_are_finite_and_gaps_measured_against_the_optimum(results: Path) -> None:
    rows = {r["strategy"]: r for r in _rows(results)}
    solved = ["flow", "greedy", "highs"] + (["cbc"] if rows["cbc"]["status"] != "not_installed" else [])
    for strategy in solved:
        row = rows[strategy]
        for column in ("wall_s", "peak_mb", "travel", "gap_pct", "uncovered", "util_std"):
            assert math.isfinite(float(row[column])), (strategy, column, row[column])
        assert float(row["gap_pct"]) >= 0.0
        assert float(row["peak_mb"]) > 0.0
    # Flow and HiGHS both prove the optimum of the same arcs and costs.
    assert rows["flow"]["status"] == "optimal" and float(rows["flow"]["gap_pct"]) == 0.0
    assert rows["highs"]["status"] == "optimal" and rows["highs"]["objective"] == rows["flow"]["objective"]
    assert rows["flow"]["gap_reference"] == "proven_optimum"


def test_cbc_is_recorded_not_dropped(results: Path) -> None:
    row = next(r for r in _rows(results) if r["strategy"] == "cbc")
    if not _pulp_importable():
        assert row["status"] == "not_installed"
    else:
        assert row["status"] in ("optimal", "not_installed")


def test_gap_rows_and_phases(results: Path) -> None:
    gap_path = results.with_name("latest_gap.csv")
    gap = _rows(gap_path)
    assert sorted(r["solver"] for r in gap) == ["highs", "ours"]
    for row in gap:
        assert row["instance"] == "gap1-0" and row["jobs"] == "15"
        assert float(row["gap_pct"]) >= 0.0, row
    phases = _rows(results.with_name("latest_phases.csv"))
    assert {p["phase"] for p in phases if p["strategy"] == "highs"} >= {"import", "read", "arcs", "model", "solve"}
    machine = {r["key"]: r["value"] for r in _rows(results.with_name("latest_machine.csv"))}
    assert machine["cores"] and machine["python"] and machine["date"]


def test_report_rewrites_only_its_block_and_draws_the_plots(results: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(BENCH))
    import report

    doc = tmp_path / "docs" / "benchmarks.md"
    doc.parent.mkdir()
    doc.write_text(
        "# Benchmarks\n\nHand-written intro.\n\n## Walking networks\n\nHand-written section.\n", encoding="utf-8"
    )
    img = tmp_path / "docs" / "img"
    for _ in range(2):  # the second run replaces the block instead of adding one
        assert report.main(["--results", str(results), "--doc", str(doc), "--img", str(img)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1
    assert "Hand-written intro." in text and "## Walking networks\n\nHand-written section." in text
    block = text.split(report.BEGIN)[1].split(report.END)[0]
    assert "| strategy |" in block and "town_60" in block and "Machine:" in block
    for name in ["bench_time.png", "bench_memory.png", "bench_gap.png"]:
        assert (img / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"img/{name}" in block


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP 3 announces its 4.0 API
@pytest.mark.parametrize("solver", ["highs", "cpsat_plain", "cbc"])
def test_peer_models_reach_the_proven_optimum_with_units_and_hour_budgets(solver: str, tmp_path: Path) -> None:
    """The peers' models encode the same rules (whole units, hour budgets): same optimum as our engine."""
    if solver == "cbc" and not _pulp_importable():
        pytest.skip("PuLP is not installed")
    import json

    import baohu_assign as ba

    sys.path.insert(0, str(BENCH))
    import peer_run

    town = ba.synth.with_hours(ba.synth.make_town(0, households=150, branches=3))
    assert town.households["group_id"].notna().any() and town.members["hours_per_week"].notna().any()
    members, households = town.write_csv(tmp_path / "town")
    ours = ba.solve(ba.Scenario.from_csv(members, households), objective="distance", strategy="cpsat", time_limit=20)
    assert ours.report.status.value == "optimal"
    out = tmp_path / solver
    assert peer_run.main([solver, str(members), str(households), "--out", str(out), "--time-limit", "20"]) == 0
    summary = json.loads((out / "peer.json").read_text(encoding="utf-8"))
    assert summary["status"] == "optimal"  # a plan breaking a rule would be recorded as "invalid"
    assert summary["objective"] == ours.report.objective_value
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["objective_value"] == ours.report.objective_value


def test_merge_joins_parts_and_recomputes_gaps_over_all_of_them(results: Path, tmp_path: Path) -> None:
    """Two parts of one case (ours, then the peers) merge into one table with gaps against the best of both."""
    import shutil

    sys.path.insert(0, str(BENCH))
    import merge

    rows = _rows(results)
    parts = []
    for name, keep in (("ours", {"flow", "greedy"}), ("peers", {"highs", "cbc"})):
        path = tmp_path / name / "latest.csv"
        path.parent.mkdir()
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                if row["strategy"] in keep:
                    # A stale gap must be recomputed, not copied.
                    writer.writerow({**row, "gap_pct": "99" if row["objective"] else ""})
        shutil.copy(results.with_name("latest_machine.csv"), path.with_name("latest_machine.csv"))
        parts.append(path)
    out = tmp_path / "merged" / "latest.csv"
    assert merge.main([*map(str, parts), "--out", str(out)]) == 0
    merged = _rows(out)
    assert sorted(r["strategy"] for r in merged) == sorted(r["strategy"] for r in rows)
    by_strategy = {r["strategy"]: r for r in merged}
    assert float(by_strategy["flow"]["gap_pct"]) == 0.0  # flow is the proven optimum
    for r in merged:
        if r["objective"]:
            assert float(r["gap_pct"]) < 99
    machine = {r["key"]: r["value"] for r in _rows(out.with_name("latest_machine.csv"))}
    assert machine["mode"] == "merged" and machine["parts"].count(" | ") == 1
    # Merging a merge lists the runs it was made of, not the earlier merge itself.
    again = tmp_path / "again" / "latest.csv"
    assert merge.main([str(out), str(parts[0]), "--out", str(again)]) == 0
    nested = {r["key"]: r["value"] for r in _rows(again.with_name("latest_machine.csv"))}
    assert nested["parts"].count(" | ") == 2 and "merge.py" not in nested["parts"]
