"""Cost terms of the objective and their evaluation on a solution.

The total integer cost of an assignment ``member_of`` (member index per
household, -1 uncovered) is::

    Σ_covered arc_cost  +  Σ_members Σ_{k≤load} balance step k  +  Σ_uncovered tier_penalty[tier]

Coverage is lexicographic (critical, then elevated, then normal, then the
rest) because :func:`tier_penalties` makes every penalty step larger than
any change of secondary cost one exchange of households can bring; see
docs/model.md for the proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import costs
from .problem import NUM_TIERS, Problem

INT64_GUARD = 2**60
"""Largest total cost we accept; leaves head-room for solvers that scale costs."""


def secondary_bound(
    num_members: int,
    max_arc_cost: int,
    max_balance_step: int,
    churn_penalty: int = 0,
    backups: bool = False,
) -> int:
    """Largest secondary-cost change one exchange of households can bring.

    Any exchange that improves a solution is a simple cycle in the residual
    graph: it uses at most ``2 * num_members`` household–member arcs (twice
    that with backup arcs), two balance steps, and at most two "uncovered"
    arcs, which carry the churn penalty for households with a current member.
    """
    arcs = 2 * max(num_members, 1) * (2 if backups else 1)
    return (
        arcs * max(int(max_arc_cost), 0)
        + 2 * max(int(max_balance_step), 0) * (2 if backups else 1)
        + 2 * max(int(churn_penalty), 0)
    )


def tier_penalties(
    num_members: int,
    max_arc_cost: int,
    max_balance_step: int,
    churn_penalty: int = 0,
    num_backup_households: int = 0,
) -> np.ndarray:
    """Penalties for leaving a household uncovered, per tier (normal, elevated, critical).

    With ``B`` = :func:`secondary_bound` and backup penalty ``Q = B + 1``
    (when backups are asked for), a tier step of ``B + 1 + Q · n_backup``
    makes covering one more household of a tier (and at most one fewer of a
    lower tier) pay more than any change of backups and secondary cost, so
    coverage per tier is lexicographically maximal in every optimum; see
    docs/model.md for the proof.
    """
    bound = secondary_bound(num_members, max_arc_cost, max_balance_step, churn_penalty, num_backup_households > 0)
    backup = bound + 1 if num_backup_households else 0
    step = bound + 1 + backup * num_backup_households
    return np.array([step * (t + 1) for t in range(NUM_TIERS)], dtype=np.int64)


def group_tier_penalties(
    tier_counts: tuple[int, int, int],
    max_arc_cost: int,
    max_balance_total: int,
    churn_penalty: int = 0,
    num_backup_households: int = 0,
) -> tuple[np.ndarray, int]:
    """Strictly lexicographic penalties for problems with stairwell units.

    With units, one exchange may move many households at once, so the cycle
    bound of :func:`tier_penalties` no longer holds. Instead take ``G``, a
    bound on the secondary cost of *any* plan (every household on its
    dearest arc, every balance step paid, every churn penalty), the backup
    penalty ``Q = G + 1`` and::

        P_normal   = (n_backup + 1) · Q
        P_elevated = (n_normal + 1) · P_normal
        P_critical = (n_elevated + 1) · P_elevated

    Then one more covered household of a tier outweighs every household of
    the lower tiers, every backup and every secondary cost together.
    Returns ``(tier_penalty, backup_penalty)``.
    """
    n_normal, n_elevated, _ = (int(c) for c in tier_counts)
    households = sum(int(c) for c in tier_counts)
    bound = households * (max(int(max_arc_cost), 0) + max(int(churn_penalty), 0)) * (
        2 if num_backup_households else 1
    ) + max(int(max_balance_total), 0)
    backup = bound + 1
    normal = (num_backup_households + 1) * backup
    elevated = (n_normal + 1) * normal
    critical = (n_elevated + 1) * elevated
    if (tier_counts[2] + 1) * critical >= INT64_GUARD:
        raise OverflowError("strictly lexicographic penalties do not fit int64 for this problem")
    return np.array([normal, elevated, critical], dtype=np.int64), (backup if num_backup_households else 0)


def backup_penalty(num_members: int, max_arc_cost: int, max_balance_step: int, churn_penalty: int = 0) -> int:
    """Cost of a covered household that wants a backup and has none: above any secondary change."""
    return secondary_bound(num_members, max_arc_cost, max_balance_step, churn_penalty, True) + 1


@dataclass(frozen=True, slots=True)
class Components:
    """The objective broken into its parts."""

    total: int
    """Integer objective the engines minimise."""
    travel_cost: int
    """Σ arc_cost over covered households (travel, plus churn penalties under min-churn)."""
    travel_m_per_week: float
    """Σ visits_per_week × distance_m over covered households."""
    balance: int
    """Integer balance term."""
    imbalance: float
    """Σ load²/capacity − (Σ load)²/(Σ capacity) summed over all members with capacity (≥ 0)."""
    uncovered: tuple[int, int, int]
    """Uncovered households per tier (normal, elevated, critical)."""
    backup_missing: int = 0
    """Covered households that need a backup and have none."""
    backup_cost: int = 0
    """Σ arc_cost over backup arcs."""


def member_loads(problem: Problem, member_of: np.ndarray) -> np.ndarray:
    """int64[M]: households per member."""
    covered = member_of >= 0
    return np.bincount(member_of[covered], minlength=problem.num_members).astype(np.int64)


def balance_cost(problem: Problem, loads: np.ndarray) -> int:
    """Integer balance term for the given loads: each member's steps ``1..load`` (``costs.balance_steps``)."""
    if problem.balance_scale <= 0:
        return 0
    capacity = problem.member_capacity.astype(np.int64)
    # A member carrying one unit over capacity pays the same steps beyond it.
    load = np.asarray(loads, dtype=np.int64)
    active = np.flatnonzero((load > 0) & (capacity > 0))
    if active.size == 0:
        return 0
    member = np.repeat(active, load[active])
    starts = np.cumsum(load[active]) - load[active]
    k = np.arange(member.shape[0]) - np.repeat(starts, load[active]) + 1
    return int(costs.balance_steps(problem.balance_scale, capacity[member], k).sum())


def excess_imbalance(loads: np.ndarray, capacity: np.ndarray) -> float:
    """Σ load²/capacity above perfectly proportional loads (0 when proportional)."""
    mask = capacity > 0
    if not mask.any():
        return 0.0
    load = loads[mask].astype(np.float64)
    cap = capacity[mask].astype(np.float64)
    return float(max(0.0, (load**2 / cap).sum() - load.sum() ** 2 / cap.sum()))


def arc_of_assignment(problem: Problem, member_of: np.ndarray) -> np.ndarray:
    """int64[H]: arc index used by each household, -1 when uncovered.

    Raises ``ValueError`` when a household is given a member it has no arc to.
    """
    arcs = np.full(problem.num_households, -1, dtype=np.int64)
    covered = np.flatnonzero(member_of >= 0)
    found = problem.arc_indices(covered, member_of[covered])
    if (found < 0).any():
        h = int(covered[np.flatnonzero(found < 0)[0]])
        raise ValueError(f"household {h} assigned to member {member_of[h]} without an eligible arc")
    arcs[covered] = found
    return arcs


def evaluate(problem: Problem, member_of: np.ndarray, backup_of: np.ndarray | None = None) -> Components:
    """Objective components of ``member_of`` (int[H], -1 = uncovered).

    With backups, ``backup_of`` (int[H], -1 = none) adds the travel of each
    backup arc and ``backup_penalty`` for each covered household that needs
    a backup and has none.
    """
    member_of = np.asarray(member_of, dtype=np.int64)
    arcs = arc_of_assignment(problem, member_of)
    used = arcs[arcs >= 0]
    travel_cost = int(problem.arc_cost[used].sum())
    covered = member_of >= 0
    travel_m = float(costs.travel_m(problem.household_visits[covered], problem.arc_distance_m[arcs[covered]]).sum())
    loads = member_loads(problem, member_of)
    balance = balance_cost(problem, loads)
    uncovered = tuple(int(((~covered) & (problem.household_tier == t)).sum()) for t in range(NUM_TIERS))
    penalty = int(problem.uncovered_cost()[~covered].sum())
    backup_missing = backup_cost = 0
    if problem.household_backup is not None:
        wants = problem.household_backup & covered
        backups = (
            np.full(problem.num_households, -1, dtype=np.int64)
            if backup_of is None
            else np.asarray(backup_of, dtype=np.int64)
        )
        has = wants & (backups >= 0)
        backup_missing = int((wants & ~has).sum())
        rows = np.flatnonzero(has)
        found = problem.arc_indices(rows, backups[rows])
        if (found < 0).any():
            raise ValueError("a backup member has no eligible arc to its household")
        backup_cost = int(problem.arc_cost[found].sum())
    return Components(
        total=travel_cost + balance + penalty + backup_cost + backup_missing * int(problem.backup_penalty),
        backup_missing=backup_missing,
        backup_cost=backup_cost,
        travel_cost=travel_cost,
        travel_m_per_week=travel_m,
        balance=balance,
        imbalance=excess_imbalance(loads, problem.member_capacity.astype(np.int64)),
        uncovered=uncovered,  # type: ignore[arg-type]
    )
