"""How long does showing a plan take? ``repr``, ``summary()``, ``_repr_html_()`` and ``report`` after ``solve``.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/plan_display.py                       # 12k households, short of members
    PYTHONPATH=src .venv/bin/python benchmarks/plan_display.py --households 3000 --strategy auto

The town is :func:`baohu_assign.datasets.synth.make_town` (seed 0) with too
few members (``--members-per-household``), so the plan leaves households
uncovered and its report carries a shortfall diagnosis. ``solve`` builds the
report before it returns; showing the plan only formats it, so every figure
but ``solve_s`` should stay in milliseconds (``repr`` within 50 ms).
"""

from __future__ import annotations

import argparse
import time

import baohu_assign as ba


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=12_000)
    parser.add_argument("--members-per-household", type=float, default=1 / 12)
    parser.add_argument("--strategy", default="greedy", help="greedy (default: fast), auto, flow or cpsat")
    args = parser.parse_args()
    town = ba.synth.make_town(0, households=args.households, members_per_household=args.members_per_household)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    started = time.perf_counter()
    plan = ba.solve(scenario, objective="distance", strategy=args.strategy)
    timings = {"solve_s": time.perf_counter() - started}
    for name, show in (
        ("repr_ms", lambda: repr(plan)),
        ("repr_again_ms", lambda: repr(plan)),
        ("repr_html_ms", plan._repr_html_),
        ("report_ms", lambda: plan.report),
        ("summary_ms", plan.summary),
    ):
        started = time.perf_counter()
        show()
        timings[name] = 1000.0 * (time.perf_counter() - started)
    print(repr(plan))
    print(f"uncovered {plan.report.counts.uncovered:,}, short branches {len(plan.report.shortfalls)}")
    print("| " + " | ".join(timings) + " |")
    print("|" + "---|" * len(timings))
    print("| " + " | ".join(f"{value:.2f}" for value in timings.values()) + " |")


if __name__ == "__main__":
    main()
