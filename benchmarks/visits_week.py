"""The weekly visit plan of a 12,000-household town: time, memory, walking and level days.

    PYTHONPATH=src python benchmarks/visits_week.py [--households 12000] [--seed 0]

Solves ``ba.synth.make_town(seed, households=N)`` once (not timed), then times
``ba.plan_visits`` (wall and CPU seconds, peak memory by tracemalloc and the
process's largest resident set), checks every household's visits against
its visits_per_week, and compares the total walk with a nearest-neighbour +
2-opt order of the same rounds. The figures go to docs/model.md.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
import tracemalloc

import numpy as np

import baohu_assign as ba
from baohu_assign.model.geo import great_circle_m
from baohu_assign.visits.routing import nearest_neighbour_two_opt, tour_length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    town = ba.synth.make_town(args.seed, households=args.households)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households), seed=args.seed)
    primary = plan.primary  # the plan's own tables are built before the clock starts
    print(f"town: {len(primary)} households, {len(plan.scenario.members)} members, plan {plan.plan_id}")

    wall, cpu = time.perf_counter(), time.process_time()
    week = ba.plan_visits(plan)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"plan_visits: wall {wall:.2f} s, CPU {cpu:.2f} s, process max RSS {rss:.0f} MiB (solve included)")
    # A second run under tracemalloc (which slows Python down) for the peak the week itself allocates.
    tracemalloc.start()
    again = ba.plan_visits(plan).files()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"plan_visits peak traced memory: {peak / 2**20:.1f} MiB")
    print(f"same plan, same week byte for byte: {again == week.files()}")

    visits = week.visits
    covered = primary[primary["member_id"].notna()]
    wanted = np.clip(np.ceil(covered["visits_per_week"].to_numpy(float) - 1e-9), 1, 14).astype(int)
    got = visits.groupby("household_id").size().reindex(covered["household_id"]).fillna(0).to_numpy(int)
    print(f"households with the visits their visits_per_week asks: {(got == wanted).sum()} of {len(covered)}")

    members = plan.scenario.members.set_index("member_id")
    where = primary.set_index("household_id")[["lat", "lon"]]
    ours = reference = 0.0
    long_ours = long_reference = 0.0
    rounds = long_rounds = 0
    for (member, _day, _round), stops in visits.groupby(["member_id", "day", "round"], sort=False):
        lat = np.r_[members.at[member, "lat"], where.loc[stops["household_id"], "lat"].to_numpy()]
        lon = np.r_[members.at[member, "lon"], where.loc[stops["household_id"], "lon"].to_numpy()]
        distance = great_circle_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        np.fill_diagonal(distance, 0.0)
        ours += tour_length(distance, list(range(1, len(stops) + 1)))
        reference += tour_length(distance, nearest_neighbour_two_opt(distance))
        rounds += 1
        if len(stops) >= 4:
            long_rounds += 1
            long_ours += tour_length(distance, list(range(1, len(stops) + 1)))
            long_reference += tour_length(distance, nearest_neighbour_two_opt(distance))
    print(
        f"walking over {rounds} rounds: {ours / 1000:.1f} km; nearest-neighbour + 2-opt: {reference / 1000:.1f} km "
        f"({(ours - reference) / reference * 100:+.2f} %); the {long_rounds} rounds of 4 stops or more: "
        f"{long_ours / 1000:.1f} km against {long_reference / 1000:.1f} km "
        f"({(long_ours - long_reference) / max(long_reference, 1e-9) * 100:+.2f} %)"
    )
    sizes = visits.groupby(["member_id", "day", "round"]).size()
    print(f"stops per round: median {sizes.median():g}, max {sizes.max()}, rounds over 7 stops {(sizes > 7).sum()}")
    days = week.member_days
    spread = days.groupby("member_id").agg(
        visits=("visits", lambda v: v.max() - v.min()), minutes=("minutes", lambda v: v.max() - v.min())
    )
    print(
        f"busiest − quietest day per member: visits max {spread['visits'].max()}, "
        f"median {spread['visits'].median():g}; minutes max {spread['minutes'].max():.1f}, "
        f"median {spread['minutes'].median():.1f}"
    )
    weeks = week.member_weeks
    print(
        f"weekly hours per member: median {weeks['hours'].median():.2f}, max {weeks['hours'].max():.2f} "
        f"(hour-budget reckoning, each visit there and back: median {weeks['hours_estimate'].median():.2f})"
    )
    assert math.isfinite(ours)


if __name__ == "__main__":
    main()
