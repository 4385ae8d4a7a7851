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
    for member in members:
        started = time.perf_counter()
        after = ba.apply_events(plan, [{"type": "member_unavailable", "member_id": str(member)}])
        seconds.append(time.perf_counter() - started)
    started = time.perf_counter()
    ba.rebalance(after.scenario, current=plan, objective="min-churn", seed=0)
    rebalance_s = time.perf_counter() - started
    print(repr(scenario))
    print("| solve s | apply_events median s | min–max s | full rebalance s |")
    print("|---|---|---|---|")
    print(
        f"| {solve_s:.2f} | {statistics.median(seconds):.3f} | {min(seconds):.3f}–{max(seconds):.3f} "
        f"| {rebalance_s:.2f} |"
    )


if __name__ == "__main__":
    main()
