"""Latency of ba.recommend on the 12,000-household town, and agreement with an exact re-solve.

Run: PYTHONPATH=src python benchmarks/recommend_bench.py [--agreement N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import baohu_assign as ba


def new_households(scenario: ba.Scenario, count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    hh = scenario.households
    picks = rng.choice(len(hh), size=count, replace=False)
    out = []
    for i, p in enumerate(picks):
        base = hh.iloc[int(p)]
        out.append(
            {
                "household_id": f"NEW{i:04d}",
                "branch": str(base["branch"]),
                "lat": f"{base['lat'] + rng.normal(0, 0.002):.6f}",
                "lon": f"{base['lon'] + rng.normal(0, 0.002):.6f}",
                "priority": str(rng.choice(["normal", "elevated", "critical"], p=[0.8, 0.15, 0.05])),
            }
        )
    return out


def latency(plan: ba.Plan, records: list[dict]) -> None:
    t0 = time.perf_counter()
    ba.recommend(plan, records[0])
    print(f"first call (with preparation): {1000 * (time.perf_counter() - t0):.1f} ms")
    times = []
    for record in records:
        t = time.perf_counter()
        ba.recommend(plan, record)
        times.append(1000 * (time.perf_counter() - t))
    print(
        f"recommend over {len(times)} households: "
        f"median {np.median(times):.1f} ms, p95 {np.percentile(times, 95):.1f} ms"
    )


def agreement(scenario: ba.Scenario, plan: ba.Plan, records: list[dict], objective: str) -> None:
    """Top recommendation vs. the best insertion (others fixed) and an exact re-solve of the branch."""
    import pandas as pd

    from baohu_assign.model.compile import compile_scenario, with_balance
    from baohu_assign.model.objective import evaluate

    equal = better = compared = 0
    gains = []
    for record in records:
        top = ba.recommend(plan, record, k=1).iloc[0]
        if pd.isna(top["member_id"]) or not pd.isna(top["move_household_id"]):
            continue
        compared += 1
        branch = record["branch"]
        hh = scenario.households[scenario.households["branch"] == branch].drop(columns=["row"])
        mem = scenario.members[scenario.members["branch"] == branch].drop(columns=["row"])
        added = pd.concat([hh, pd.DataFrame([record])], ignore_index=True)
        sub = ba.Scenario.from_frames(mem, added, policy=scenario.policy)
        result = next(r for r in plan.results if r.branch.branch == branch)
        bp = compile_scenario(sub.members, sub.households, objective=objective, policy=sub.policy)[0]
        bp = with_balance(bp, result.branch.problem.balance_scale * result.branch.travel_unit)
        ids = sub.households["household_id"].to_numpy(dtype=object)[bp.household_rows]
        old_ids = scenario.households["household_id"].to_numpy(dtype=object)[result.branch.household_rows]
        where = dict(zip(old_ids, result.solution.member_of.tolist(), strict=True))
        member_ids = sub.members["member_id"].to_numpy(dtype=object)[bp.member_rows].tolist()
        base = np.array([where.get(i, -1) for i in ids], dtype=np.int64)
        new = int(np.flatnonzero(ids == record["household_id"])[0])
        fixed = base.copy()
        fixed[new] = member_ids.index(top["member_id"])
        best_insertion = min(
            evaluate(bp.problem, np.where(np.arange(len(base)) == new, m, base)).total
            for m in bp.problem.arc_member[bp.problem.arcs_of(new)].tolist()
            if (base == m).sum() < bp.problem.member_capacity[m]
        )
        mine = evaluate(bp.problem, fixed).total
        equal += mine == best_insertion
        exact = ba.solve(sub, objective=objective, seed=0)
        # Priced with the plan's own balance weight, so both totals are in one objective.
        exact_total = evaluate(bp.problem, exact.results[0].solution.member_of).total
        if exact_total < mine:
            better += 1
            gains.append(mine - exact_total)
    print(f"{objective}: top = best insertion in {equal}/{compared} (with room); re-solve better in {better}")
    if gains:
        print(f"  re-solve gain: median {np.median(gains):.0f}, max {max(gains)} units")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreement", type=int, default=0)
    args = parser.parse_args()
    town = ba.synth.make_town(0)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    for objective in ("balanced", "distance"):
        plan = ba.solve(scenario, objective=objective, seed=0)
        print(objective)
        latency(plan, new_households(scenario, 100, seed=1))
        if args.agreement:
            agreement(scenario, plan, new_households(scenario, args.agreement, seed=2), objective)


if __name__ == "__main__":
    main()
