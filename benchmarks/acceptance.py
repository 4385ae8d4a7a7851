"""Measure the core figures on this machine: optimality, coverage, churn, balance, speed, memory.

Run: ``.venv/bin/python benchmarks/acceptance.py [--county]``. Prints a
Markdown table (paste-ready for docs/benchmarks.md). Every figure is
measured in the run; nothing is asserted on wall-clock time in tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baohu_assign as ba  # noqa: E402
from baohu_assign.model.compile import compile_scenario  # noqa: E402
from baohu_assign.model.solution import violations  # noqa: E402
from baohu_assign.results.explain import changed_mask  # noqa: E402
from peers import highs_solve  # noqa: E402


def cli_measure(args: list[str]) -> tuple[float, float, dict]:
    """Whole CLI process: wall seconds, peak RSS in MB (GNU time), report.json."""
    out = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    proc = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "PEAK_KB %M",
            sys.executable,
            "-m",
            "baohu_assign",
            *args,
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    peak_kb = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB"))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return wall, peak_kb / 1024.0, report


def max_coverage_scipy(problem) -> list[int]:
    """Lexicographic max coverage per tier (critical, elevated, normal) by scipy max-flow (no groups)."""
    H, M = problem.num_households, problem.num_members
    ranks = []
    for top in (2, 1, 0):
        chosen = problem.household_tier >= top
        keep = chosen[problem.arc_household]
        src, sink = H + M, H + M + 1
        rows = np.concatenate([np.full(chosen.sum(), src), problem.arc_household[keep], H + np.arange(M)])
        cols = np.concatenate([np.flatnonzero(chosen), H + problem.arc_member[keep], np.full(M, sink)])
        caps = np.concatenate([np.ones(chosen.sum()), np.ones(keep.sum()), problem.member_capacity]).astype(np.int32)
        graph = sp.csr_matrix((caps, (rows, cols)), shape=(H + M + 2, H + M + 2))
        ranks.append(int(maximum_flow(graph, src, sink).flow_value))
    return [ranks[0], ranks[1] - ranks[0], ranks[2] - ranks[1]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--county", action="store_true", help="also the 74k-household county")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    work = Path(tempfile.mkdtemp())

    town = ba.synth.make_town(0, households=12_000, stairwells=False)
    members_csv, households_csv = town.write_csv(work / "town")
    scenario = ba.Scenario.from_csv(members_csv, households_csv)

    # 1. distance objective: CLI process vs HiGHS on the same arcs.
    walls, peaks = [], []
    for _ in range(3):
        wall, peak, report = cli_measure(["solve", str(members_csv), str(households_csv), "--objective", "distance"])
        walls.append(wall)
        peaks.append(peak)
    highs_total, highs_wall = 0.0, 0.0
    for branch in compile_scenario(scenario.members, scenario.households, objective="distance"):
        _, objective, status, wall = highs_solve(branch.problem)
        assert status == "optimal", status
        highs_total += objective
        highs_wall += wall
    rows.append(("12k town, distance, CLI wall (median of 3)", f"{np.median(walls):.2f} s", "≤ 10 s"))
    rows.append(("12k town, distance, CLI peak memory", f"{max(peaks):.0f} MB", "≤ 1536 MB"))
    gap = (report["objective_value"] - highs_total) / highs_total
    rows.append(
        (
            "12k town, distance, objective vs HiGHS optimum",
            f"{gap:+.6%} ({report['objective_value']} vs {highs_total:.0f})",
            "≤ +0.5 %",
        )
    )
    rows.append(("12k town, HiGHS solve time (sum over branches)", f"{highs_wall:.2f} s", "peer"))

    # 2. short capacity: coverage per tier equals scipy max-flow.
    short = ba.Scenario.from_frames(town.members.assign(capacity=1), town.households)
    plan = ba.solve(short, objective="distance")
    got = [
        plan.report.components.uncovered.critical,
        plan.report.components.uncovered.elevated,
        plan.report.components.uncovered.normal,
    ]
    expected_cov = np.zeros(3, dtype=int)
    totals = np.zeros(3, dtype=int)
    for branch in compile_scenario(short.members, short.households, objective="distance"):
        expected_cov += np.array(max_coverage_scipy(branch.problem))
        totals += np.array([(branch.problem.household_tier == t).sum() for t in (2, 1, 0)])
    expected_unc = (totals - expected_cov).tolist()
    rows.append(
        ("short capacity (every capacity 1): uncovered crit/elev/normal", f"{got}", f"max-flow oracle {expected_unc}")
    )
    reasons = plan.uncovered()["reason"]
    rows.append(
        ("short capacity: uncovered households with a reason", f"{int((reasons != '').sum())}/{len(reasons)}", "all")
    )

    # 3. rebalance after a demolished village: changed contacts vs HiGHS minimum.
    with_current = ba.synth.make_town(0, households=12_000, stairwells=False, current=True)
    moved = ba.synth.relocate(with_current, seed=1)
    moved_scn = ba.Scenario.from_frames(moved.members, moved.households)
    after = ba.rebalance(moved_scn)
    min_changed = 0
    member_ids = moved_scn.members["member_id"].to_numpy(dtype=object)
    current_ids = moved_scn.households["current_member_id"].to_numpy(dtype=object)
    for branch in compile_scenario(moved_scn.members, moved_scn.households, objective="min-churn"):
        member_of, _, status, _ = highs_solve(branch.problem)
        chosen = np.where(member_of >= 0, member_ids[branch.member_rows[np.maximum(member_of, 0)]], None)
        min_changed += int(changed_mask(current_ids[branch.household_rows], chosen).sum())
    pins_broken = sum(1 for w in after.report.warnings if w.code == "pin_broken")
    rows.append(
        ("relocation rebalance: changed contacts", f"{after.report.components.changed}", f"HiGHS minimum {min_changed}")
    )
    rows.append(
        (
            "relocation rebalance: pins broken / pinned",
            f"{pins_broken}/{int(moved_scn.households['pinned'].sum())}",
            "only where impossible",
        )
    )

    # 4. balanced vs distance.
    dist = ba.solve(scenario, objective="distance")
    bal = ba.solve(scenario, objective="balanced")
    t_d, t_b = dist.report.components.travel_m_per_week, bal.report.components.travel_m_per_week
    i_d, i_b = dist.report.components.imbalance, bal.report.components.imbalance
    rows.append(("balanced: travel vs distance optimum", f"{t_b / t_d - 1:+.2%}", "≤ +5 %"))
    rows.append(("balanced: excess imbalance removed", f"{1 - i_b / i_d:.1%} ({i_d:.1f} → {i_b:.1f})", "≥ 50 %"))
    rows.append(("balanced: solve wall (API)", f"{bal.report.wall_s:.2f} s", ""))

    # 5. greedy alone.
    start = time.perf_counter()
    greedy = ba.solve(scenario, objective="distance", strategy="greedy")
    g_wall = time.perf_counter() - start
    bad = sum(len(violations(r.branch.problem, r.solution.member_of)) for r in greedy.results)
    rows.append(
        ("greedy alone: travel vs optimum", f"{greedy.report.components.travel_m_per_week / t_d - 1:+.2%}", "≤ +3 %")
    )
    rows.append(
        (
            "greedy alone: wall / violations / uncovered",
            f"{g_wall:.2f} s / {bad} / {greedy.report.counts.uncovered} (optimum {dist.report.counts.uncovered})",
            "≤ 5 s / 0 / equal",
        )
    )

    if args.county:
        for stairwells in (False, True):
            county = ba.synth.make_county(0, stairwells=stairwells)
            label = "county with stairwell units" if stairwells else "county"
            cm, ch = county.write_csv(work / label.replace(" ", "_"))
            wall, peak, report = cli_measure(["solve", str(cm), str(ch), "--objective", "distance"])
            rows.append(
                (
                    f"{label} ({report['counts']['households']:,} households, "
                    f"{report['counts']['members']:,} members), distance: CLI wall",
                    f"{wall:.1f} s",
                    "≤ 60 s",
                )
            )
            rows.append((f"{label}: peak memory", f"{peak:.0f} MB", "≤ 3072 MB"))
            rows.append(
                (
                    f"{label}: status / gap / engines",
                    f"{report['status']} / {report['gap']} / {report['engines']}",
                    "optimal / 0",
                )
            )

    print("| measure | measured | target |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


if __name__ == "__main__":
    main()
