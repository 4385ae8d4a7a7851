"""Measure the full model: stairwell units, hour budgets, backups (``--strategy`` to compare engines).

Run: ``.venv/bin/python benchmarks/acceptance_full_model.py [--strategy auto]``.
Prints a Markdown table of what was measured in this run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baohu_assign as ba  # noqa: E402
from baohu_assign.model.solution import violations  # noqa: E402
from peers import priority_greedy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="auto")
    args = parser.parse_args()
    rows = []

    # Stairwell units: compare with the unit-free optimum (a lower bound).
    town = ba.synth.make_town(0, households=12_000)
    units = ba.Scenario.from_frames(town.members, town.households)
    free = ba.Scenario.from_frames(town.members, town.households.assign(group_id=None))
    start = time.perf_counter()
    plan = ba.solve(units, objective="distance", strategy=args.strategy, time_limit=30)
    wall = time.perf_counter() - start
    lower = ba.solve(free, objective="distance", strategy="flow")
    split = 0
    frame = plan.assignments
    for _, part in frame.dropna(subset=["group_id"]).groupby(["branch", "group_id"]):
        split += part["member_id"].fillna("").nunique() > 1
    t_units, t_free = plan.report.components.travel_m_per_week, lower.report.components.travel_m_per_week
    rows.append(("12k town with units: wall (API, time limit 30 s)", f"{wall:.1f} s", "≤ 30 s"))
    rows.append(("units split", f"{split} of {frame['group_id'].nunique()}", "0"))
    rows.append(("travel vs unit-free optimum (lower bound)", f"{t_units / t_free - 1:+.3%}", "≤ +1 %"))
    rows.append(
        ("covered vs unit-free optimum", f"{plan.report.counts.covered} vs {lower.report.counts.covered}", "maximal")
    )
    rows.append(("engines / status", f"{plan.report.engines} / {plan.report.status.value}", ""))

    # Hour budgets.
    hours = ba.synth.with_hours(ba.synth.make_town(0, households=12_000))
    scn = ba.Scenario.from_frames(hours.members, hours.households)
    start = time.perf_counter()
    plan = ba.solve(scn, objective="distance", strategy=args.strategy, time_limit=60)
    wall = time.perf_counter() - start
    over = 0
    baseline = np.zeros(3, dtype=int)
    ours = np.zeros(3, dtype=int)
    for result in plan.results:
        problem = result.branch.problem
        over += sum("over budget" in v for v in violations(problem, result.solution.member_of))
        simple = priority_greedy(problem)
        for t in range(3):
            mask = problem.household_tier == t
            baseline[t] += int((simple[mask] >= 0).sum())
            ours[t] += int((result.solution.member_of[mask] >= 0).sum())
    rows.append(("12k town with hour budgets: wall (API, time limit 60 s)", f"{wall:.1f} s", "≤ 60 s"))
    rows.append(("members over their hour budget", f"{over}", "0"))
    rows.append(
        (
            "covered normal/elevated/critical: ours vs plain priority greedy",
            f"{ours.tolist()} vs {baseline.tolist()}",
            "≥ per tier (critical first)",
        )
    )
    rows.append(("engines / status", f"{plan.report.engines} / {plan.report.status.value}", ""))

    # Backups for critical households.
    policy = ba.Policy(backup_tiers=("critical",))
    scn = ba.Scenario.from_frames(town.members, town.households, policy=policy)
    start = time.perf_counter()
    plan = ba.solve(scn, objective="distance", strategy=args.strategy, time_limit=30)
    wall = time.perf_counter() - start
    bad = sum(len(violations(r.branch.problem, r.solution.member_of, r.solution.backup_of)) for r in plan.results)
    rows.append(("--backup critical: wall", f"{wall:.1f} s", ""))
    rows.append(
        (
            "covered critical households with a valid backup",
            f"{plan.report.components.backups} placed, "
            f"{plan.report.components.backups_missing} missing, {bad} violations",
            "all, 0",
        )
    )

    print("| measure | measured | target |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


if __name__ == "__main__":
    main()
