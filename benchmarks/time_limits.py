"""Does ``solve(time_limit=T)`` return within T? Wall time of the whole call, report included.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/time_limits.py                 # 3k and 12k, T = 0.5 … 10 s
    PYTHONPATH=src .venv/bin/python benchmarks/time_limits.py --sizes 3000 --limits 0.5 1 --repeats 1

Cases are the towns of :func:`baohu_assign.datasets.synth.make_town` (seed 0) with hour
budgets (:func:`baohu_assign.datasets.synth.with_hours`), the "12k town with hour
budgets" of ``acceptance_full_model.py``; building the scenario is not timed.
Each run is ``solve(scenario, objective=O, time_limit=T)`` followed by reading
``plan.report`` (under a time limit ``solve`` builds the report before it
returns, so reading it costs nothing more). ``wall_s`` is the median over
``--repeats`` runs in this process, ``over_s`` its excess over T (the
guarantee: at most 0.25 s for T ≥ 1), ``cpu_s`` the process's CPU time (all
threads; on a loaded machine it shows what the call itself cost), ``objective_value``
and ``uncovered`` those of the last run's plan, ``cut`` the
``time_limit_reached`` warnings' messages when the limit cut something. Prints a Markdown table and
the machine load (``os.getloadavg``) before and after: two busy cores can
add a second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import baohu_assign as ba


def _scenario(households: int) -> ba.Scenario:
    town = ba.synth.with_hours(ba.synth.make_town(0, households=households))
    return ba.Scenario.from_frames(town.members, town.households)


def _run(scenario: ba.Scenario, objective: str, limit: float) -> tuple[float, float, str, str, int, int]:
    start, cpu = time.perf_counter(), time.process_time()
    plan = ba.solve(scenario, objective=objective, time_limit=limit)
    report = plan.report
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    cut = [w.message for w in report.warnings if w.code == "time_limit_reached"]
    return wall, cpu, report.status.value, "; ".join(cut), report.objective_value, report.counts.uncovered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3_000, 12_000])
    parser.add_argument("--limits", type=float, nargs="+", default=[0.5, 1.0, 2.0, 5.0, 10.0])
    parser.add_argument("--objectives", nargs="+", default=["balanced", "distance"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "| households | objective | T (s) | wall_s (median) | over_s | runs | cpu_s (median) "
        "| objective_value | uncovered | status | cut |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for size in args.sizes:
        scenario = _scenario(size)
        for objective in args.objectives:
            for limit in args.limits:
                runs = [_run(scenario, objective, limit) for _ in range(args.repeats)]
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                status, cut, value, uncovered = runs[-1][2:]
                print(
                    f"| {size:,} | {objective} | {limit:g} | {wall:.2f} | {wall - limit:+.2f} | "
                    f"{', '.join(f'{r[0]:.2f}' for r in runs)} | {cpu:.2f} | {value:,} | "
                    f"{uncovered} | {status} | {cut} |",
                    flush=True,
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
