"""How long does one event take on a county plan? ``apply_events`` against a full ``rebalance``.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/events_bench.py                 # 74,000 households
    PYTHONPATH=src .venv/bin/python benchmarks/events_bench.py --households 12000 --events 5

The county is :func:`baohu_assign.datasets.synth.make_county` (seed 0),
solved under the distance objective. Each run applies one
``member_unavailable`` event (members spread over the busiest to the least
busy) and builds the plan's report; the median is the figure of the target
(0.5 s for one event on the 74,000-household county). One full min-churn
``rebalance`` of the same edited scenario is timed for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time

import baohu_assign as ba


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=74_000)
    parser.add_argument("--events", type=int, default=7, help="single-event runs (default 7)")
    args = parser.parse_args()
    county = ba.synth.make_county(0, households=args.households)
    scenario = ba.Scenario.from_frames(county.members, county.households)
    started = time.perf_counter()
    plan = ba.solve(scenario, objective="distance", seed=0)
    solve_s = time.perf_counter() - started
    contacts = plan.assignments["member_id"].dropna().value_counts()
    members = contacts.index[:: max(1, len(contacts) // args.events)][: args.events]
    seconds = []
    after = plan
    untouched = 0
    branch_of = scenario.members.set_index("member_id")["branch"]
    for member in members:
        started = time.perf_counter()
        after = ba.apply_events(plan, [{"type": "member_unavailable", "member_id": str(member)}])
        seconds.append(time.perf_counter() - started)
        untouched += _other_branches_equal(plan, after, str(branch_of[member]))
    started = time.perf_counter()
    full = ba.rebalance(after.scenario, current=plan, objective="min-churn", seed=0)
    rebalance_s = time.perf_counter() - started
    print(repr(scenario))
    print("| solve s | apply_events median s | min–max s | full rebalance s |")
    print("|---|---|---|---|")
    print(
        f"| {solve_s:.2f} | {statistics.median(seconds):.3f} | {min(seconds):.3f}–{max(seconds):.3f} "
        f"| {rebalance_s:.2f} |"
    )
    print(f"other branches carried over unchanged, row for row: {untouched} of {len(members)} events")
    # The last event against a full min-churn rebalance of the same edited scenario.
    for name, result in (("apply_events", after), ("full rebalance", full)):
        changed = int(result.assignments["changed"].fillna(False).astype(bool).sum())
        uncovered = int(result.assignments["member_id"].isna().sum())
        travel = result.report.components.travel_m_per_week
        print(f"{name}: {changed} changed contacts, {uncovered} uncovered, weekly travel {travel:,.0f} m")
    same = after.assignments["member_id"].fillna("").equals(full.assignments["member_id"].fillna(""))
    print(f"same contacts for every household: {same}")


def _other_branches_equal(before: ba.Plan, after: ba.Plan, branch: str) -> bool:
    """Whether every row of the other branches is the same in both plans (contact, role, distance, changed)."""
    columns = ["household_id", "member_id", "role", "distance_m"]
    a = before.assignments.loc[before.assignments["branch"] != branch, columns].reset_index(drop=True)
    b = after.assignments.loc[after.assignments["branch"] != branch, columns].reset_index(drop=True)
    return a.equals(b)


if __name__ == "__main__":
    main()
