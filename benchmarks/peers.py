"""Peer solvers a user would otherwise reach for, on the same Problem (same arcs, same costs).

- ``highs``: the assignment LP solved by scipy.optimize.linprog/milp (HiGHS).
  The constraint matrix is totally unimodular (a transportation problem), so
  the LP optimum is integral; solved as a MILP all the same so the answer is
  an assignment even when HiGHS returns a vertex with ties.

Independent of OR-Tools: also serves as the optimality oracle in tests.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from baohu_assign.model.problem import Problem


def highs_solve(problem: Problem, time_limit: float | None = None) -> tuple[np.ndarray, float, str, float]:
    """Solve ``problem`` (no groups) with HiGHS. Returns (member_of, objective, status, wall_s).

    Variables: one per arc (x), one "uncovered" per unpinned household (u),
    and one per balance step (s, when balance_scale > 0).
    """
    start = time.perf_counter()
    H, M, A = problem.num_households, problem.num_members, problem.num_arcs
    if H == 0:
        return np.zeros(0, np.int32), 0.0, "optimal", 0.0
    free = problem.household_pin < 0
    num_u = H
    caps = problem.member_capacity.astype(np.int64)
    if problem.balance_scale > 0:
        step_member = np.repeat(np.arange(M), np.maximum(caps, 0))
        step_cost = np.concatenate([problem.balance_step_costs(m) for m in range(M)]) if M else np.zeros(0)
    else:
        step_member = np.zeros(0, np.int64)
        step_cost = np.zeros(0)
    S = step_member.shape[0]
    cost = np.concatenate(
        [
            problem.arc_cost.astype(np.float64),
            problem.uncovered_cost().astype(np.float64),
            step_cost.astype(np.float64),
        ]
    )
    upper_u = np.where(free, 1.0, 0.0)
    lb = np.zeros(A + num_u + S)
    ub = np.concatenate([np.ones(A), upper_u, np.ones(S)])
    # Each household: Σ x + u = 1.
    rows_h = sp.csr_matrix(
        (np.ones(A + num_u), (np.concatenate([problem.arc_household, np.arange(H)]), np.arange(A + num_u))),
        shape=(H, A + num_u + S),
    )
    constraints = [LinearConstraint(rows_h, 1, 1)]
    if S:
        # Each member: Σ x - Σ steps = 0 (load equals the steps it pays).
        data = np.concatenate([np.ones(A), -np.ones(S)])
        rows = np.concatenate([problem.arc_member, step_member])
        cols = np.concatenate([np.arange(A), A + num_u + np.arange(S)])
        constraints.append(LinearConstraint(sp.csr_matrix((data, (rows, cols)), shape=(M, A + num_u + S)), 0, 0))
    else:
        rows_m = sp.csr_matrix((np.ones(A), (problem.arc_member, np.arange(A))), shape=(M, A + num_u))
        constraints.append(LinearConstraint(rows_m, 0, caps.astype(np.float64)))
    options = {"disp": False}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    result = milp(cost, integrality=np.ones_like(cost), bounds=Bounds(lb, ub), constraints=constraints, options=options)
    wall = time.perf_counter() - start
    member_of = np.full(H, -1, dtype=np.int32)
    if result.x is None:
        return member_of, float("nan"), "no solution", wall
    used = np.flatnonzero(result.x[:A] > 0.5)
    member_of[problem.arc_household[used]] = problem.arc_member[used]
    status = "optimal" if result.status == 0 else ("time_limit" if result.status == 1 else f"status {result.status}")
    return member_of, float(result.fun), status, wall


def priority_greedy(problem: Problem) -> np.ndarray:
    """The plain rule an office would apply by hand: critical first, then elevated,
    then normal; each household (or whole unit) to the nearest member who still
    has room in count and in hours. No look-ahead, no exchanges."""
    H = problem.num_households
    member_of = np.full(H, -1, dtype=np.int32)
    load = np.zeros(problem.num_members, dtype=np.int64)
    used = np.zeros(problem.num_members, dtype=np.int64)
    budget = problem.member_budget
    weight = problem.arc_weight
    groups = problem.household_group
    done = np.zeros(H, dtype=bool)
    for h in np.lexsort((np.arange(H), -problem.household_tier.astype(np.int64))):
        if done[h]:
            continue
        unit = np.flatnonzero(groups == groups[h]) if groups[h] >= 0 else np.array([h])
        done[unit] = True
        sl = problem.arcs_of(int(h))
        order = np.argsort(problem.arc_distance_m[sl], kind="stable")
        for a in np.arange(sl.start, sl.stop)[order]:
            m = int(problem.arc_member[a])
            arcs = problem.arc_indices(unit, np.full(unit.shape[0], m))
            if (arcs < 0).any() or load[m] + unit.shape[0] > problem.member_capacity[m]:
                continue
            extra = int(weight[arcs].sum()) if weight is not None else 0
            if budget is not None and used[m] + extra > budget[m]:
                continue
            member_of[unit] = m
            load[m] += unit.shape[0]
            used[m] += extra
            break
    return member_of
