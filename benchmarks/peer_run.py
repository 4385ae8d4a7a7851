"""A peer solver as one whole process, on the library's arcs: HiGHS, plain CP-SAT or CBC.

Run::

    .venv/bin/python benchmarks/peer_run.py highs members.csv households.csv --out DIR \
        [--objective distance|min-churn] [--time-limit S] [--seed N]

The process does what ``baohu-assign solve`` does with the engine swapped:
read and validate the CSVs, build the eligible arcs and integer costs with
the library's compile step (same arcs, same costs, same tier penalties), solve
each branch with the peer, then write assignments.csv, members.csv and
report.json through the library's writer. Only the solver differs, so
comparing whole processes compares solvers.

The models are written the way a user of each tool would write them, one
model per branch (the branches are independent, and one model per branch is
much kinder to these solvers than one model per town):

- ``highs``: scipy.optimize.milp (HiGHS), one binary per arc and one
  "uncovered" binary per household, ``Σ arcs + uncovered = 1`` per household,
  capacity (and hour budget) per member, equal choice inside a stairwell unit.
- ``cpsat_plain``: the same model in CP-SAT, ``AddExactlyOne`` per household,
  2 workers, no hints.
- ``cbc``: the same model in PuLP, solved by the CBC binary PuLP bundles
  (2 threads).

With ``--time-limit S`` the solving (arcs included, as for the CLI) must end
within S seconds; each branch gets the remaining time in proportion to its
arcs. A branch that ends without a plan makes the run ``no_solution``; one
with a plan but no proof makes it ``time_limit``. ``peer.json`` in ``--out``
holds the status, the time of each phase and the count of branch outcomes.
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

SOLVERS = ("highs", "cpsat_plain", "cbc")
MIN_BRANCH_SECONDS = 0.01  # less than this left: the branch is not attempted

# Outcome of one branch, from best to worst; the run takes the worst.
OUTCOMES = ("optimal", "time_limit", "no_solution", "infeasible", "invalid", "unsupported", "error")


class Unsupported(Exception):
    """The branch needs something this harness does not model for peers (backups, balance)."""


def _check_supported(problem) -> None:
    if problem.has_backups or problem.balance_scale > 0:
        raise Unsupported("backups and the balance term are not modelled for peers")


def _group_links(problem) -> list[tuple[int, int]]:
    """(arc, arc of the unit's first household to the same member): pairs that must be equal."""
    links: list[tuple[int, int]] = []
    groups = problem.household_group
    if not problem.has_groups:
        return links
    for g in np.unique(groups[groups >= 0]):
        homes = np.flatnonzero(groups == g)
        first = problem.arcs_of(int(homes[0]))
        members = problem.arc_member[first]
        for h in homes[1:]:
            arcs = problem.arc_indices(np.full(members.shape[0], h), members)
            for a, a0 in zip(arcs, range(first.start, first.stop), strict=True):
                if a < 0:
                    raise Unsupported("a unit's households have different eligible members")
                links.append((int(a), a0))
    return links


def _member_of(problem, chosen_arcs: np.ndarray) -> np.ndarray:
    member_of = np.full(problem.num_households, -1, dtype=np.int32)
    member_of[problem.arc_household[chosen_arcs]] = problem.arc_member[chosen_arcs]
    return member_of


def _member_arcs(problem):
    """(member, its arc indices) for every member with at least one arc, in member order."""
    by_member = np.argsort(problem.arc_member, kind="stable")
    starts = np.searchsorted(problem.arc_member[by_member], np.arange(problem.num_members + 1))
    for m in range(problem.num_members):
        arcs = by_member[starts[m] : starts[m + 1]]
        if arcs.size:
            yield m, arcs


def solve_highs(problem, time_limit: float | None, seed: int) -> tuple[np.ndarray | None, str, float | None, float]:
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    start = time.perf_counter()
    _check_supported(problem)
    H, M, A = problem.num_households, problem.num_members, problem.num_arcs
    n = A + H
    cost = np.concatenate([problem.arc_cost, problem.uncovered_cost()]).astype(np.float64)
    upper = np.concatenate([np.ones(A), np.where(problem.household_pin >= 0, 0.0, 1.0)])
    one_each = sp.csr_matrix(
        (np.ones(n), (np.concatenate([problem.arc_household, np.arange(H)]), np.arange(n))), shape=(H, n)
    )
    constraints = [
        LinearConstraint(one_each, 1, 1),
        LinearConstraint(
            sp.csr_matrix((np.ones(A), (problem.arc_member, np.arange(A))), shape=(M, n)),
            -np.inf,
            problem.member_capacity.astype(np.float64),
        ),
    ]
    if problem.has_budgets:
        constraints.append(
            LinearConstraint(
                sp.csr_matrix(
                    (problem.arc_weight.astype(np.float64), (problem.arc_member, np.arange(A))), shape=(M, n)
                ),
                -np.inf,
                problem.member_budget.astype(np.float64),
            )
        )
    links = _group_links(problem)
    if links:
        pairs = np.array(links, dtype=np.int64)
        rows = np.repeat(np.arange(len(links)), 2)
        constraints.append(
            LinearConstraint(
                sp.csr_matrix((np.tile([1.0, -1.0], len(links)), (rows, pairs.reshape(-1))), shape=(len(links), n)),
                0,
                0,
            )
        )
    options: dict[str, object] = {"disp": False}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    build_s = time.perf_counter() - start
    result = milp(
        cost, integrality=np.ones(n), bounds=Bounds(np.zeros(n), upper), constraints=constraints, options=options
    )
    bound = getattr(result, "mip_dual_bound", None)
    bound = None if bound is None or not np.isfinite(bound) else float(bound)
    if result.x is None:
        return None, {2: "infeasible"}.get(result.status, "no_solution"), bound, build_s
    status = "optimal" if result.status == 0 else "time_limit"
    return _member_of(problem, np.flatnonzero(result.x[:A] > 0.5)), status, bound, build_s


def solve_cpsat_plain(
    problem, time_limit: float | None, seed: int
) -> tuple[np.ndarray | None, str, float | None, float]:
    from ortools.sat.python import cp_model

    start = time.perf_counter()
    _check_supported(problem)
    H, A = problem.num_households, problem.num_arcs
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{a}") for a in range(A)]
    u = [model.new_bool_var(f"u{h}") for h in range(H)]
    ptr = problem.household_arc_ptr
    for h in range(H):
        model.add_exactly_one([*x[ptr[h] : ptr[h + 1]], u[h]])
        if problem.household_pin[h] >= 0:
            model.add(u[h] == 0)
    for m, arcs in _member_arcs(problem):
        model.add(sum(x[a] for a in arcs) <= int(problem.member_capacity[m]))
        if problem.has_budgets:
            model.add(
                cp_model.LinearExpr.weighted_sum([x[a] for a in arcs], problem.arc_weight[arcs].tolist())
                <= int(problem.member_budget[m])
            )
    for a, a0 in _group_links(problem):
        model.add(x[a] == x[a0])
    model.minimize(
        cp_model.LinearExpr.weighted_sum(x + u, problem.arc_cost.tolist() + problem.uncovered_cost().tolist())
    )
    build_s = time.perf_counter() - start
    solver = cp_model.CpSolver()
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = seed
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        name = {cp_model.INFEASIBLE: "infeasible", cp_model.MODEL_INVALID: "unsupported"}.get(code, "no_solution")
        return None, name, None, build_s
    chosen = np.flatnonzero([solver.boolean_value(v) for v in x]) if A else np.zeros(0, np.int64)
    status = "optimal" if code == cp_model.OPTIMAL else "time_limit"
    return _member_of(problem, chosen), status, float(solver.best_objective_bound), build_s


def solve_cbc(problem, time_limit: float | None, seed: int) -> tuple[np.ndarray | None, str, float | None, float]:
    import pulp

    start = time.perf_counter()
    _check_supported(problem)
    H, A = problem.num_households, problem.num_arcs
    prob = pulp.LpProblem("branch", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{a}", cat="Binary") for a in range(A)]
    u = [
        pulp.LpVariable(f"u{h}", lowBound=0, upBound=0 if problem.household_pin[h] >= 0 else 1, cat="Integer")
        for h in range(H)
    ]
    cost, penalty = problem.arc_cost.tolist(), problem.uncovered_cost().tolist()
    prob += pulp.lpSum(cost[a] * x[a] for a in range(A)) + pulp.lpSum(penalty[h] * u[h] for h in range(H))
    ptr = problem.household_arc_ptr
    for h in range(H):
        prob += pulp.lpSum(x[ptr[h] : ptr[h + 1]]) + u[h] == 1
    for m, arcs in _member_arcs(problem):
        prob += pulp.lpSum(x[a] for a in arcs) <= int(problem.member_capacity[m])
        if problem.has_budgets:
            prob += pulp.lpSum(int(problem.arc_weight[a]) * x[a] for a in arcs) <= int(problem.member_budget[m])
    for a, a0 in _group_links(problem):
        prob += x[a] - x[a0] == 0
    build_s = time.perf_counter() - start
    options = {"msg": False, "threads": 2}
    if time_limit is not None:
        options["timeLimit"] = max(float(time_limit), 1e-3)
    prob.solve(pulp.PULP_CBC_CMD(**options))
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return None, "infeasible" if prob.sol_status == pulp.LpSolutionInfeasible else "no_solution", None, build_s
    chosen = np.flatnonzero([(v.varValue or 0.0) > 0.5 for v in x]) if A else np.zeros(0, np.int64)
    status = "optimal" if prob.sol_status == pulp.LpSolutionOptimal else "time_limit"
    return _member_of(problem, chosen), status, None, build_s


RUNNERS = {"highs": solve_highs, "cpsat_plain": solve_cpsat_plain, "cbc": solve_cbc}


def solver_available(name: str) -> bool:
    """Whether the peer can run here (CBC needs PuLP and its bundled binary)."""
    if name != "cbc":
        return True
    try:
        import pulp
    except ImportError:
        return False
    return bool(pulp.PULP_CBC_CMD(msg=False).available())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solver", choices=SOLVERS)
    parser.add_argument("members", type=Path)
    parser.add_argument("households", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--objective", choices=("distance", "min-churn"), default="distance")
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    phases: dict[str, float] = {}
    args.out.mkdir(parents=True, exist_ok=True)
    if not solver_available(args.solver):
        (args.out / "peer.json").write_text(json.dumps({"solver": args.solver, "status": "not_installed"}) + "\n")
        return 0

    import baohu_assign  # noqa: F401  (import time is part of the process, as for the CLI)
    from baohu_assign.model.compile import compile_scenario
    from baohu_assign.model.objective import evaluate
    from baohu_assign.model.scenario import Scenario
    from baohu_assign.model.solution import Solution, violations
    from baohu_assign.results.plan import Plan
    from baohu_assign.solving.result import BranchResult, Status

    phases["import_s"] = time.perf_counter() - PROCESS_START
    mark = time.perf_counter()
    scenario = Scenario.from_csv(args.members, args.households)
    phases["read_s"] = time.perf_counter() - mark

    solve_start = time.perf_counter()
    deadline = None if args.time_limit is None else solve_start + args.time_limit
    branches = compile_scenario(scenario.members, scenario.households, objective=args.objective, policy=scenario.policy)
    phases["arcs_s"] = time.perf_counter() - solve_start
    runner = RUNNERS[args.solver]
    outcomes: Counter[str] = Counter()
    results = []
    objective_total, bound_total = 0, 0.0
    arcs_left = sum(max(b.problem.num_arcs, 1) for b in branches)
    solver_s = build_s = 0.0
    for branch in branches:
        problem = branch.problem
        weight = max(problem.num_arcs, 1)
        share = None
        if deadline is not None:
            share = (deadline - time.perf_counter()) * weight / arcs_left
        arcs_left -= weight
        mark = time.perf_counter()
        bound, build = None, 0.0
        if share is not None and share < MIN_BRANCH_SECONDS:
            member_of, outcome = None, "no_solution"
        else:
            try:
                member_of, outcome, bound, build = runner(problem, share, args.seed)
            except Unsupported:
                member_of, outcome = None, "unsupported"
            except Exception as exc:
                print(f"{branch.branch}: {type(exc).__name__}: {exc}", file=sys.stderr)
                member_of, outcome = None, "error"
        if member_of is not None and violations(problem, member_of):
            member_of, outcome = None, "invalid"
        wall = time.perf_counter() - mark
        solver_s += wall
        build_s += build
        outcomes[outcome] += 1
        if member_of is None:
            member_of = np.full(problem.num_households, -1, dtype=np.int32)
        value = evaluate(problem, member_of).total
        objective_total += value
        bound_total = bound_total + bound if bound is not None and bound_total is not None else None
        status = {"optimal": Status.OPTIMAL, "time_limit": Status.FEASIBLE}.get(outcome, Status.INFEASIBLE)
        solution = Solution(
            member_of=member_of,
            status="optimal" if outcome == "optimal" else "feasible",
            objective=value,
            bound=bound,
            engine=args.solver,
            wall_s=wall,
        )
        results.append(BranchResult(branch=branch, solution=solution, status=status, balance_weight=None))
    phases["model_s"] = build_s  # building the peer's models
    phases["solve_s"] = solver_s - build_s  # the peer's solver, plus checking its plans
    wall_s = time.perf_counter() - solve_start
    mark = time.perf_counter()  # the plan's report is built with it: counted with writing, as before
    plan = Plan(
        scenario=scenario,
        results=tuple(results),
        objective=args.objective,
        strategy=args.solver,
        seed=args.seed,
        time_limit=args.time_limit,
        wall_s=wall_s,
    )
    plan.write(args.out)
    phases["write_s"] = time.perf_counter() - mark
    overall = max(outcomes, key=OUTCOMES.index) if outcomes else "optimal"
    summary = {
        "solver": args.solver,
        "status": overall,
        "branches": dict(outcomes),
        "objective": objective_total,
        "bound": bound_total,
        "phases": {k: round(v, 4) for k, v in phases.items()},
    }
    (args.out / "peer.json").write_text(json.dumps(summary, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
