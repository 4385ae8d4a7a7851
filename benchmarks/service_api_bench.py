"""Records in, JSON out, and how fast a cancelled solve returns, on the 12,000-household town.

Run: PYTHONPATH=src python benchmarks/service_api_bench.py [--repeats N]

1. Round trip: the town's tables sent as records (every value text, as a
   web form sends it) → ``Scenario.from_records`` → ``solve`` →
   ``plan.to_dict()`` → ``json.dumps`` / ``json.loads``; the assignments read
   back from the JSON equal those of the same town read with ``from_frames``.
2. Cancel: a town with hour budgets (CP-SAT searches every branch) solved
   with a 60 s limit; another thread sets ``SolveParams.cancel`` after a
   delay; the time from ``set()`` to ``solve`` returning is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import pandas as pd

import baohu_assign as ba


def as_text_records(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Every cell as the text a form would send ('' for blank)."""
    return frame.astype(object).where(frame.notna(), "").astype(str).to_dict(orient="records")


def round_trip(households: int) -> None:
    town = ba.synth.make_town(0, households=households)
    members, homes = town.members, town.households
    t0 = time.perf_counter()
    scenario = ba.Scenario.from_records(as_text_records(members), as_text_records(homes))
    t1 = time.perf_counter()
    plan = ba.solve(scenario, objective="distance", seed=0)
    t2 = time.perf_counter()
    text = json.dumps(plan.to_dict(), ensure_ascii=False, allow_nan=False)
    t3 = time.perf_counter()
    back = json.loads(text)
    t4 = time.perf_counter()
    reference = ba.solve(ba.Scenario.from_frames(members, homes), objective="distance", seed=0)
    got = {(a["household_id"], a["member_id"]) for a in back["assignments"]}
    expected = set(
        reference.assignments[["household_id", "member_id"]]
        .astype(object)
        .where(reference.assignments[["household_id", "member_id"]].notna(), None)
        .itertuples(index=False, name=None)
    )
    print(
        f"round trip, {len(homes):,} households: from_records {t1 - t0:.2f} s, solve {t2 - t1:.2f} s, "
        f"to_dict + dumps {t3 - t2:.2f} s ({len(text.encode()) / 1e6:.1f} MB), loads {t4 - t3:.2f} s; "
        f"assignments equal to the frames path: {got == expected} ({len(got):,} rows)"
    )


def cancel_latency(households: int, delay: float, repeats: int) -> None:
    town = ba.synth.with_hours(ba.synth.make_town(0, households=households))
    scenario = ba.Scenario.from_frames(town.members, town.households)
    latencies = []
    for _ in range(repeats):
        cancel = threading.Event()
        set_at: list[float] = []

        def stop(cancel: threading.Event = cancel, set_at: list[float] = set_at) -> None:
            set_at.append(time.perf_counter())
            cancel.set()

        timer = threading.Timer(delay, stop)
        started = time.perf_counter()
        timer.start()
        plan = ba.solve(scenario, params=ba.SolveParams(time_limit=60, cancel=cancel))
        returned = time.perf_counter()
        timer.cancel()
        cancelled = sum(r.cancelled for r in plan.results)
        if not set_at:
            print(f"solve finished in {returned - started:.2f} s before the cancel; use a larger town")
            return
        latencies.append(returned - set_at[0])
        print(
            f"  cancelled after {set_at[0] - started:.2f} s: returned {1000 * latencies[-1]:.0f} ms later, "
            f"{cancelled} of {len(plan.results)} branches cancelled, {len(plan.assignments):,} rows, "
            f"uncovered {int(plan.assignments['member_id'].isna().sum())}"
        )
    print(
        f"cancel, {households:,} households with hour budgets: time from cancel to return, median "
        f"{1000 * statistics.median(latencies):.0f} ms, max {1000 * max(latencies):.0f} ms over {repeats} runs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=12000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--delay", type=float, default=2.0, help="seconds before the cancel is set")
    args = parser.parse_args()
    round_trip(args.households)
    cancel_latency(args.households, args.delay, args.repeats)


if __name__ == "__main__":
    main()
