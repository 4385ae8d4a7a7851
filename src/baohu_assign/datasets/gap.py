"""Generalized Assignment Problem (GAP) instances as a proving ground.

The OR-Library / Yagiura GAP is the closest public benchmark to our
problem: *agents* (members) with a knapsack budget each, *jobs*
(households) that must all be assigned, a cost and a weight per pair.
:func:`read_instance` parses the whitespace-token format, :func:`to_problem`
turns it into a :class:`~baohu_assign.problem.Problem` (jobs → households of
tier normal, agents → members with a budget, every pair an arc), and
:func:`solve_file` runs an engine and reports the GAP cost with a proven
lower bound. Every instance is read as a **minimisation** problem, as
Yagiura's page and the best-known table in ``benchmarks/data/gap`` do.

File format (``m n``, then ``m`` rows of ``n`` costs, ``m`` rows of ``n``
weights, ``m`` capacities; any whitespace between tokens)::

    m n
    c[0][0] ... c[0][n-1]   ...   c[m-1][n-1]
    w[0][0] ... w[0][n-1]   ...   w[m-1][n-1]
    b[0] ... b[m-1]
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engines.contract import CpsatSettings, GreedySettings
from ..engines.stop import Stop
from ..model.problem import Problem, csr_pointer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class GapInstance:
    """One GAP instance (minimisation).

    Attributes
    ----------
    name
        File name without directories.
    m, n
        Number of agents and jobs.
    cost, weight
        int64[m, n]: cost and resource use of giving job ``j`` to agent ``i``.
    capacity
        int64[m]: resource budget of each agent.
    """

    name: str
    m: int
    n: int
    cost: np.ndarray
    weight: np.ndarray
    capacity: np.ndarray


def read_instance(path: str | Path) -> GapInstance:
    """Read an OR-Library / Yagiura GAP file.

    Parameters
    ----------
    path
        The instance file.

    Returns
    -------
    GapInstance

    Raises
    ------
    ValueError
        When a token is not a non-negative integer or the token count is not
        ``2 + 2*m*n + m``; the message names the file.
    """
    path = Path(path)
    tokens = path.read_text(encoding="ascii", errors="replace").split()
    try:
        values = np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"{path}: not a GAP instance, a token is not an integer ({exc})") from exc
    if values.shape[0] < 2:
        raise ValueError(f"{path}: not a GAP instance, expected 'm n' first and found {values.shape[0]} tokens")
    m, n = int(values[0]), int(values[1])
    expected = 2 + 2 * m * n + m
    if m <= 0 or n <= 0 or values.shape[0] != expected:
        raise ValueError(
            f"{path}: a GAP instance with m={m} agents and n={n} jobs has "
            f"{expected} tokens (2 + 2*m*n + m), found {values.shape[0]} tokens"
        )
    if (values < 0).any():
        raise ValueError(f"{path}: negative numbers are not allowed in a GAP instance")
    cost = values[2 : 2 + m * n].reshape(m, n)
    weight = values[2 + m * n : 2 + 2 * m * n].reshape(m, n)
    capacity = values[2 + 2 * m * n :]
    return GapInstance(path.name, m, n, cost.copy(), weight.copy(), capacity.copy())


def unassigned_penalty(instance: GapInstance) -> int:
    """Cost of leaving one job unassigned: above the cost of any full assignment.

    Any complete assignment costs at most ``Σ_j max_i c[i][j]``, so with a
    penalty one larger every assignment that covers all jobs beats every one
    that leaves a job out: the engines assign every job whenever they can.
    """
    return int(instance.cost.max(axis=0).sum()) + 1


def to_problem(instance: GapInstance) -> Problem:
    """The instance as a :class:`Problem`: jobs → households, agents → members.

    Every (job, agent) pair is an arc with the GAP cost as ``arc_cost`` and
    the GAP weight as ``arc_weight``; agents get ``member_budget`` = their
    capacity and an unlimited count capacity (``n``). All jobs are of tier
    normal with the penalty of :func:`unassigned_penalty`.
    """
    m, n = instance.m, instance.n
    arc_household = np.repeat(np.arange(n, dtype=np.int32), m)
    arc_member = np.tile(np.arange(m, dtype=np.int32), n)
    # Arcs are household-major: (job j, agent i) is the transposed matrices read row by row.
    arc_cost = np.ascontiguousarray(instance.cost.T).reshape(-1).astype(np.int64)
    arc_weight = np.ascontiguousarray(instance.weight.T).reshape(-1).astype(np.int64)
    penalty = unassigned_penalty(instance)
    problem = Problem(
        objective="distance",
        household_tier=np.zeros(n, dtype=np.int8),
        household_visits=np.ones(n, dtype=np.float64),
        household_group=np.full(n, -1, dtype=np.int32),
        household_pin=np.full(n, -1, dtype=np.int32),
        household_current=np.full(n, -1, dtype=np.int32),
        member_capacity=np.full(m, n, dtype=np.int32),
        arc_household=arc_household,
        arc_member=arc_member,
        arc_distance_m=arc_cost.astype(np.float64),
        arc_cost=arc_cost,
        household_arc_ptr=csr_pointer(arc_household, n),
        balance_scale=0.0,
        tier_penalty=np.array([penalty, 2 * penalty, 3 * penalty], dtype=np.int64),
        churn_penalty=0,
        arc_weight=arc_weight,
        member_budget=instance.capacity.astype(np.int64),
    )
    problem.validate()
    return problem


def solve_file(path: str | Path, *, time_limit: float = 10.0, seed: int = 0, strategy: str = "cpsat") -> dict[str, Any]:
    """Solve a GAP file with an engine and report the GAP cost.

    Parameters
    ----------
    path
        The instance file.
    time_limit
        Wall-clock seconds for the whole call (reading included).
    seed
        Seed of the engine.
    strategy
        Engine name (``"cpsat"`` or ``"greedy"``).

    Returns
    -------
    dict
        ``instance`` (file name), ``objective`` (GAP cost Σ c of the
        assignment, ``None`` when some job is unassigned), ``status``
        (``"optimal"``, ``"feasible"``, ``"infeasible"`` when proven, or
        ``"unknown"`` when no complete assignment was found and infeasibility
        was not proven), ``bound`` (proven lower bound on the GAP cost, or
        ``None``), ``wall_s``, ``agents``, ``jobs``.
    """
    from .. import engines

    start = time.perf_counter()
    stop = Stop.after(time_limit)
    instance = read_instance(path)
    problem = to_problem(instance)
    engine = engines.load(strategy)
    settings = {"cpsat": CpsatSettings(), "greedy": GreedySettings()}.get(strategy)
    solution = engine.solve(problem, settings, stop, seed=seed)
    complete = bool((solution.member_of >= 0).all())
    # The engine's bound holds for every plan; below the penalty it also bounds every complete
    # assignment (whose objective is its GAP cost). It includes the LP relaxation's bound.
    bound = solution.bound if solution.bound is not None and solution.bound < unassigned_penalty(instance) else None
    if complete:
        objective: int | None = int(instance.cost[solution.member_of, np.arange(instance.n)].sum())
        status = "optimal" if solution.status == "optimal" else "feasible"
    else:
        objective = None
        status = "infeasible" if solution.status == "optimal" else "unknown"
    return {
        "instance": instance.name,
        "objective": objective,
        "status": status,
        "bound": None if bound is None else float(bound),
        "wall_s": round(time.perf_counter() - start, 3),
        "agents": instance.m,
        "jobs": instance.n,
    }
