"""GAP quality benchmark: our CP-SAT engine against plain CP-SAT, HiGHS and CBC.

Run::

    .venv/bin/python benchmarks/gap_bench.py --limits 1,10          # 27 instances, 1 s and 10 s
    .venv/bin/python benchmarks/gap_bench.py --quick --limits 10     # a handful
    .venv/bin/python benchmarks/gap_bench.py --large --limits 60     # the three 80×1600 instances

Protocol: types C, D and E from 5×100 to 40×400 (OR-Library / Yagiura,
minimisation; with ``--large`` the three 80×1600 instances of Yagiura's set
instead; the files and their best-known values are in
``benchmarks/data/gap/``, see its README.md), one run per instance, solver
and time limit, all solvers in the same process one after the other on this
machine. ``ours`` is
:func:`baohu_assign.datasets.gap.solve_file` (the limit covers the whole call,
reading included); ``cpsat`` is CP-SAT written the obvious way (one Boolean
per pair, ``AddExactlyOne`` per column, a linear capacity per row, minimise
cost, ``num_workers=2``); ``highs`` is scipy's ``milp`` (HiGHS) and ``cbc``
is PuLP's CBC, both with the same time limit. A solver without a solution
is recorded with its status and time. Writes
``benchmarks/results/gap_latest.csv`` and prints a Markdown table of the mean
and worst gap to the best known value per family, size, limit and solver.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "gap"  # the instances and best-known values, see its README.md
RESULTS = HERE / "results" / "gap_latest.csv"

INSTANCES = [
    *(f"{t}{size}" for t in "cde" for size in ("05100", "05200", "10100", "10200", "20100", "20200")),
    *(f"{t}{size}" for t in "cde" for size in ("10400", "20400", "40400")),
]
QUICK = ["c10200", "d10200", "e10200", "d20200", "e20200", "d40400", "e40400"]
LARGE = ["c801600", "d801600", "e801600"]
SOLVERS = ("ours", "cpsat", "highs", "cbc")
COLUMNS = [
    "instance",
    "family",
    "agents",
    "jobs",
    "limit_s",
    "solver",
    "objective",
    "best_known",
    "gap_pct",
    "status",
    "wall_s",
    "bound",
]


def instance_path(name: str) -> Path:
    for folder in ("chu1997", "yagiura2004", "cattrysse1994"):
        path = DATA / "instances" / folder / name
        if path.exists():
            return path
    raise FileNotFoundError(f"GAP instance {name!r} not found under {DATA / 'instances'}")


def best_known() -> dict[str, int]:
    with open(DATA / "best_known.csv", encoding="utf-8") as handle:
        return {row["instance"]: int(row["best_known"]) for row in csv.DictReader(handle)}


def run_ours(path: Path, limit: float, seed: int) -> tuple[int | None, str, float, float | None]:
    from baohu_assign.datasets.gap import solve_file

    start = time.perf_counter()
    result = solve_file(path, time_limit=limit, seed=seed)
    return result["objective"], result["status"], time.perf_counter() - start, result["bound"]


def run_plain_cpsat(path: Path, limit: float, seed: int) -> tuple[int | None, str, float, float | None]:
    """CP-SAT the obvious way: Boolean per pair, exactly one per column, a capacity per row."""
    from ortools.sat.python import cp_model

    from baohu_assign.datasets.gap import read_instance

    start = time.perf_counter()
    inst = read_instance(path)
    model = cp_model.CpModel()
    x = [[model.new_bool_var(f"x{i}_{j}") for j in range(inst.n)] for i in range(inst.m)]
    for j in range(inst.n):
        model.add_exactly_one(x[i][j] for i in range(inst.m))
    for i in range(inst.m):
        model.add(cp_model.LinearExpr.weighted_sum(x[i], inst.weight[i].tolist()) <= int(inst.capacity[i]))
    model.minimize(cp_model.LinearExpr.weighted_sum([v for row in x for v in row], inst.cost.reshape(-1).tolist()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    wall = time.perf_counter() - start
    name = solver.status_name(status).lower()
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return round(solver.objective_value), name, wall, float(solver.best_objective_bound)
    return None, name, wall, None


def run_highs(path: Path, limit: float, seed: int) -> tuple[int | None, str, float, float | None]:
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    from baohu_assign.datasets.gap import read_instance

    start = time.perf_counter()
    inst = read_instance(path)
    m, n = inst.m, inst.n
    cols = np.arange(m * n)
    assign = sp.csr_matrix((np.ones(m * n), (cols % n, cols)), shape=(n, m * n))
    capacity = sp.csr_matrix((inst.weight.reshape(-1).astype(float), (cols // n, cols)), shape=(m, m * n))
    result = milp(
        inst.cost.reshape(-1).astype(float),
        integrality=np.ones(m * n),
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(assign, 1, 1), LinearConstraint(capacity, -np.inf, inst.capacity.astype(float))],
        options={"time_limit": limit, "disp": False},
    )
    wall = time.perf_counter() - start
    status = {0: "optimal", 1: "time_limit", 2: "infeasible"}.get(result.status, f"status_{result.status}")
    bound = getattr(result, "mip_dual_bound", None)
    if result.x is None:
        return None, status + "_no_solution" if status == "time_limit" else status, wall, bound
    return round(result.fun), status, wall, bound


def run_cbc(path: Path, limit: float, seed: int) -> tuple[int | None, str, float, float | None]:
    try:
        import pulp
    except ImportError:
        return None, "not_installed", 0.0, None
    from baohu_assign.datasets.gap import read_instance

    start = time.perf_counter()
    inst = read_instance(path)
    prob = pulp.LpProblem("gap", pulp.LpMinimize)
    x = {(i, j): pulp.LpVariable(f"x_{i}_{j}", cat="Binary") for i in range(inst.m) for j in range(inst.n)}
    prob += pulp.lpSum(int(inst.cost[i, j]) * v for (i, j), v in x.items())
    for j in range(inst.n):
        prob += pulp.lpSum(x[i, j] for i in range(inst.m)) == 1
    for i in range(inst.m):
        prob += pulp.lpSum(int(inst.weight[i, j]) * x[i, j] for j in range(inst.n)) <= int(inst.capacity[i])
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit, threads=2))
    wall = time.perf_counter() - start
    status = pulp.LpStatus[prob.status].lower()
    value = pulp.value(prob.objective)
    if value is None or prob.sol_status not in (1, 2):
        return None, status, wall, None
    return round(value), "optimal" if prob.sol_status == 1 and status == "optimal" else "feasible", wall, None


RUNNERS = {"ours": run_ours, "cpsat": run_plain_cpsat, "highs": run_highs, "cbc": run_cbc}


def summarise(rows: list[dict[str, object]]) -> str:
    """Markdown: mean / worst gap (%) per family × size × limit, one column per solver."""
    solvers = [s for s in SOLVERS if any(r["solver"] == s for r in rows)]
    cells: dict[tuple[str, str, float], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    failures: dict[tuple[str, str, float], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    absent = {str(r["solver"]) for r in rows if r["status"] == "not_installed"}
    for r in rows:
        key = (str(r["family"]), f"{r['agents']}×{r['jobs']}", float(r["limit_s"]))  # type: ignore[arg-type]
        if r["status"] == "not_installed":
            continue
        if r["gap_pct"] in ("", None):
            failures[key][str(r["solver"])] += 1
        else:
            cells[key][str(r["solver"])].append(float(r["gap_pct"]))  # type: ignore[arg-type]
    head = "| family | size | limit s | " + " | ".join(f"{s} mean / worst gap %" for s in solvers) + " |"
    lines = [head, "|" + "---|" * (3 + len(solvers))]

    def cell(values: list[float], missing: int, solver: str) -> str:
        if solver in absent:
            return "not installed"
        text = f"{np.mean(values):.3f} / {np.max(values):.3f}" if values else "–"
        return text + (f" ({missing} without solution)" if missing else "")

    keys = sorted(
        {(str(r["family"]), f"{r['agents']}×{r['jobs']}", float(r["limit_s"])) for r in rows},  # type: ignore[arg-type]
        key=lambda k: (k[2], k[0], int(k[1].split("×")[1]), int(k[1].split("×")[0])),
    )
    for key in keys:
        parts = [cell(cells[key].get(s, []), failures[key].get(s, 0), s) for s in solvers]
        lines.append(f"| {key[0]} | {key[1]} | {key[2]:g} | " + " | ".join(parts) + " |")
    # One line per family and limit, then per limit over all instances.
    for limit in sorted({k[2] for k in keys}):
        for family in ("C", "D", "E", "all"):
            pool: dict[str, list[float]] = defaultdict(list)
            missing: dict[str, int] = defaultdict(int)
            for key in keys:
                if key[2] == limit and family in (key[0], "all"):
                    for s in solvers:
                        pool[s].extend(cells[key].get(s, []))
                        missing[s] += failures[key].get(s, 0)
            parts = [cell(pool[s], missing[s], s) for s in solvers]
            lines.append(f"| **{family}** | all | {limit:g} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", default="1,10,60", help="comma-separated time limits in seconds")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--large", action="store_true", help=f"only {', '.join(LARGE)}")
    parser.add_argument("--instances", help="comma-separated instance names (overrides --quick and --large)")
    parser.add_argument("--solvers", default=",".join(SOLVERS), help="comma-separated: " + ",".join(SOLVERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    limits = [float(x) for x in args.limits.split(",") if x]
    default = QUICK if args.quick else LARGE if args.large else INSTANCES
    names = args.instances.split(",") if args.instances else default
    solvers = [s for s in args.solvers.split(",") if s]
    unknown = set(solvers) - set(RUNNERS)
    if unknown:
        parser.error(f"unknown solvers {sorted(unknown)}; choose from {list(RUNNERS)}")
    best = best_known()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for limit in limits:
            for name in names:
                path = instance_path(name)
                from baohu_assign.datasets.gap import read_instance

                inst = read_instance(path)
                for solver in solvers:
                    objective, status, wall, bound = RUNNERS[solver](path, limit, args.seed)
                    gap = "" if objective is None else round(100.0 * (objective - best[name]) / best[name], 4)
                    row: dict[str, object] = {
                        "instance": name,
                        "family": name[0].upper(),
                        "agents": inst.m,
                        "jobs": inst.n,
                        "limit_s": limit,
                        "solver": solver,
                        "objective": "" if objective is None else objective,
                        "best_known": best[name],
                        "gap_pct": gap,
                        "status": status,
                        "wall_s": round(wall, 3),
                        "bound": "" if bound is None else bound,
                    }
                    writer.writerow(row)
                    handle.flush()
                    rows.append(row)
                    print(
                        f"{name} {limit:g}s {solver}: {objective} ({gap}%) {status} {wall:.1f}s",
                        file=sys.stderr,
                        flush=True,
                    )
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
