"""Exact engine: OR-Tools min-cost flow.

Network (nodes: households ``0..H-1``, members ``H..H+M-1``, sink ``H+M``)::

    household h  --(cap 1, arc_cost)-->             member m   for each eligible arc
    household h  --(cap 1, uncovered_cost[h])-->    sink       "uncovered" (not for pinned)
    member m     --(cap 1, k-th balance step)-->     sink       k = 1..capacity (balanced)
    member m     --(cap capacity, 0)-->              sink       (no balance term)

Every household supplies one unit, the sink absorbs H. Balance steps grow
with k, so the parallel arcs are filled in order and their sum is the convex
balance term exactly. A min-cost flow is integral, so the optimum of this
network is the optimum of the assignment problem (without stairwell units):
the engine reports it as its own bound (gap 0).
"""

from __future__ import annotations

import time
from typing import Final

import numpy as np

from ..errors import EngineError, EngineUnavailable
from ..model.objective import INT64_GUARD, evaluate
from ..model.problem import Problem
from ..model.solution import Solution
from .stop import Stop

NAME: Final = "flow"


def fits_cost_range(problem: Problem) -> bool:
    """Whether min-cost flow can take the problem's costs.

    The solver scales costs by about the node count, so the largest cost
    (arc, uncovered or balance step) times the nodes must stay well inside
    int64. The compiler keeps every branch flow supports within it; the
    lexicographic penalties of branches with stairwell units may not be.
    """
    largest = max(
        int(np.abs(problem.arc_cost).max(initial=0)),
        int(np.abs(problem.uncovered_cost()).max(initial=0)),
        max((int(problem.balance_step_costs(m).max(initial=0)) for m in range(problem.num_members)), default=0),
    )
    nodes = problem.num_households + problem.num_members + 1
    return largest * (nodes + 1) < INT64_GUARD


class FlowEngine:
    """The :class:`~baohu_assign.engines.contract.Engine` of exact min-cost flow (no settings)."""

    name: Final = NAME

    def supports(self, problem: Problem) -> bool:
        """Flow is exact for every objective, but cannot keep stairwell units whole,
        limit weekly hours (a member-dependent weight) or place backups."""
        return not (problem.has_groups or problem.has_budgets or problem.has_backups)

    def solve(
        self, problem: Problem, settings: None, stop: Stop, *, seed: int, initial: Solution | None = None
    ) -> Solution:
        """The optimum of ``problem``.

        Exact and fast, so it runs to the end whatever ``stop`` says (the plan
        is never ``stopped``); ``seed`` and ``initial`` change nothing: the
        optimum is never worse than any start.

        Raises
        ------
        EngineUnavailable
            OR-Tools is missing.
        EngineError
            The problem has groups, budgets or backups, or the solver fails.
        """
        return _solve(problem)


def _solve(problem: Problem) -> Solution:
    try:
        from ortools.graph.python import min_cost_flow
    except ImportError as exc:  # pragma: no cover - exercised by patching the import
        raise EngineUnavailable(f"OR-Tools is not importable: {exc}") from exc
    if not ENGINE.supports(problem):
        raise EngineError("the flow engine cannot express stairwell units (group_id), hour budgets or backups")
    start = time.perf_counter()
    H, M = problem.num_households, problem.num_members
    member_of = np.full(H, -1, dtype=np.int32)
    if H == 0:
        return Solution(member_of, "optimal", 0, 0.0, NAME, time.perf_counter() - start)

    sink = H + M
    tails = [problem.arc_household.astype(np.int32)]
    heads = [(problem.arc_member + H).astype(np.int32)]
    caps = [np.ones(problem.num_arcs, dtype=np.int64)]
    costs = [problem.arc_cost.astype(np.int64)]

    free = np.flatnonzero(problem.household_pin < 0).astype(np.int32)
    tails.append(free)
    heads.append(np.full(free.shape[0], sink, dtype=np.int32))
    caps.append(np.ones(free.shape[0], dtype=np.int64))
    costs.append(problem.uncovered_cost()[free])

    capacity = problem.member_capacity.astype(np.int64)
    with_cap = np.flatnonzero(capacity > 0).astype(np.int32)
    if problem.balance_scale > 0:
        reps = capacity[with_cap]
        member_nodes = np.repeat(with_cap, reps)
        steps = (
            np.concatenate([problem.balance_step_costs(int(m)) for m in with_cap])
            if with_cap.size
            else np.zeros(0, np.int64)
        )
        tails.append((member_nodes + H).astype(np.int32))
        heads.append(np.full(member_nodes.shape[0], sink, dtype=np.int32))
        caps.append(np.ones(member_nodes.shape[0], dtype=np.int64))
        costs.append(steps.astype(np.int64))
    else:
        tails.append((with_cap + H).astype(np.int32))
        heads.append(np.full(with_cap.shape[0], sink, dtype=np.int32))
        caps.append(capacity[with_cap])
        costs.append(np.zeros(with_cap.shape[0], dtype=np.int64))

    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails), np.concatenate(heads), np.concatenate(caps), np.concatenate(costs)
    )
    supplies = np.zeros(H + M + 1, dtype=np.int64)
    supplies[:H] = 1
    supplies[sink] = -H
    solver.set_nodes_supplies(np.arange(H + M + 1, dtype=np.int32), supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise EngineError(f"min-cost flow ended with status {status!r}")
    flows = solver.flows(np.arange(problem.num_arcs, dtype=np.int32))
    used = np.flatnonzero(flows > 0)
    member_of[problem.arc_household[used]] = problem.arc_member[used]
    objective = evaluate(problem, member_of).total
    if objective != solver.optimal_cost():
        raise EngineError(f"flow cost {solver.optimal_cost()} differs from the evaluated objective {objective}")
    return Solution(
        member_of=member_of,
        status="optimal",
        objective=int(objective),
        bound=float(objective),
        engine=NAME,
        wall_s=time.perf_counter() - start,
        iterations=1,
    )


ENGINE = FlowEngine()


def covered_per_tier(problem: Problem) -> np.ndarray:
    """int64[NUM_TIERS]: households covered per tier (normal, elevated, critical) by every optimum of ``problem``.

    The tier penalties make coverage lexicographically maximal in every
    optimum, and the households that can be covered together form a matroid
    (a transversal one: households matched to members within their
    capacities), so the counts are fixed by ranks, each a maximum flow:
    with ``P`` the pinned households (always covered) and ``T_k`` those of
    tier ``k`` or above, tier ``k`` has its pinned households plus
    ``rank(P ∪ T_k) - rank(P ∪ T_(k+1))``. Four maximum flows cost less than
    the one minimum-cost flow of :func:`ENGINE.solve <FlowEngine.solve>`
    and give the same counts; a shortfall diagnosis asks this for every
    what-if.

    Raises
    ------
    EngineUnavailable
        OR-Tools is missing.
    EngineError
        The problem is not one flow supports, or its pins cannot all hold.
    """
    try:
        from ortools.graph.python import max_flow
    except ImportError as exc:  # pragma: no cover - exercised by patching the import
        raise EngineUnavailable(f"OR-Tools is not importable: {exc}") from exc
    if not ENGINE.supports(problem):
        raise EngineError("the flow engine cannot express stairwell units (group_id), hour budgets or backups")
    H, M = problem.num_households, problem.num_members
    tier = problem.household_tier.astype(np.int64)
    num_tiers = problem.tier_penalty.shape[0]
    pinned = problem.household_pin >= 0
    counts = np.bincount(tier[pinned], minlength=num_tiers).astype(np.int64)
    if H == 0:
        return counts
    source, sink = H + M, H + M + 1
    capacity = problem.member_capacity.astype(np.int64)
    with_cap = np.flatnonzero(capacity > 0)
    solver = max_flow.SimpleMaxFlow()
    solver.add_arcs_with_capacity(
        np.concatenate([problem.arc_household, with_cap + H, np.full(H, source)]).astype(np.int32),
        np.concatenate([problem.arc_member + H, np.full(with_cap.shape[0], sink), np.arange(H)]).astype(np.int32),
        np.concatenate([np.ones(problem.num_arcs, dtype=np.int64), capacity[with_cap], np.zeros(H, dtype=np.int64)]),
    )
    source_arcs = np.arange(problem.num_arcs + with_cap.shape[0], problem.num_arcs + with_cap.shape[0] + H)

    def rank(households: np.ndarray) -> int:
        solver.set_arcs_capacity(source_arcs.astype(np.int32), households.astype(np.int64))
        status = solver.solve(source, sink)
        if status != solver.OPTIMAL:
            raise EngineError(f"maximum flow ended with status {status!r}")
        return int(solver.optimal_flow())

    below = rank(pinned)
    if below < int(pinned.sum()):
        raise EngineError("the pins cannot all hold")
    for t in reversed(range(num_tiers)):
        reached = rank(pinned | (tier >= t))
        counts[t] += reached - below
        below = reached
    return counts
