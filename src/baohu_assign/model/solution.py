"""An engine's answer in index form, and the independent rule checker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem


@dataclass(frozen=True, slots=True, eq=False)
class Solution:
    """What an engine returns.

    Attributes
    ----------
    member_of
        int32[H]: member index serving each household, -1 when uncovered.
    status
        ``"optimal"`` only when the engine proved it, else ``"feasible"``.
    objective
        Integer objective (see :func:`~baohu_assign.objective.evaluate`).
    bound
        Proven lower bound on the integer objective, or ``None``.
    engine
        Name of the engine that produced it.
    wall_s
        Seconds the engine ran.
    iterations
        Engine-specific work count (local-search moves, flow solves).
    backup_of
        int32[H]: backup member per household (-1 none), or ``None``.
    stopped
        Whether the engine's stop criterion (deadline or cancel) cut its work
        short: the plan is valid, but the engine would have searched on.
    """

    member_of: np.ndarray
    status: str
    objective: int
    bound: float | None
    engine: str
    wall_s: float
    iterations: int = 0
    backup_of: np.ndarray | None = None
    stopped: bool = False


def violations(problem: Problem, member_of: np.ndarray, backup_of: np.ndarray | None = None) -> list[str]:
    """Every hard rule ``member_of`` (and ``backup_of``) breaks, as readable strings (empty: valid).

    Independent of the engines: checks eligibility (branch, availability and
    reach are all encoded in the arcs), capacity (or one whole unit over it,
    see :meth:`~baohu_assign.problem.Problem.load_allowed`), budgets, whole groups,
    pins, and backups (eligible, not the primary, only for covered
    households that need one, within backup capacity).
    """
    found: list[str] = []
    member_of = np.asarray(member_of, dtype=np.int64)
    if member_of.shape != (problem.num_households,):
        return [f"member_of has shape {member_of.shape}, expected ({problem.num_households},)"]
    bad = (member_of < -1) | (member_of >= problem.num_members)
    for h in np.flatnonzero(bad):
        found.append(f"household {h}: member index {member_of[h]} out of range")
    if bad.any():
        return found
    covered = np.flatnonzero(member_of >= 0)
    arcs = problem.arc_indices(covered, member_of[covered])
    for h in covered[arcs < 0]:
        found.append(f"household {h}: member {member_of[h]} is not eligible")
    loads = np.bincount(member_of[member_of >= 0], minlength=problem.num_members)
    for m in np.flatnonzero(~problem.load_allowed(member_of)):
        found.append(f"member {m}: {loads[m]} households over capacity {problem.member_capacity[m]}")
    groups = problem.household_group
    if (groups >= 0).any():
        for g in np.unique(groups[groups >= 0]):
            served = np.unique(member_of[groups == g])
            if served.shape[0] > 1:
                found.append(f"group {g}: split across {served.tolist()}")
    if problem.has_budgets:
        assert problem.arc_weight is not None and problem.member_budget is not None
        ok = arcs >= 0
        used = np.bincount(
            member_of[covered[ok]], weights=problem.arc_weight[arcs[ok]], minlength=problem.num_members
        ).astype(np.int64)
        for m in np.flatnonzero(used > problem.member_budget):
            found.append(f"member {m}: weight {used[m]} over budget {problem.member_budget[m]}")
    if backup_of is not None:
        found.extend(_backup_violations(problem, member_of, np.asarray(backup_of, dtype=np.int64)))
    pins = np.flatnonzero(problem.household_pin >= 0)
    for h in pins[member_of[pins] != problem.household_pin[pins]]:
        found.append(f"household {h}: pinned to member {problem.household_pin[h]}, got {member_of[h]}")
    return found


def _backup_violations(problem: Problem, member_of: np.ndarray, backup_of: np.ndarray) -> list[str]:
    found: list[str] = []
    if backup_of.shape != member_of.shape:
        return [f"backup_of has shape {backup_of.shape}, expected {member_of.shape}"]
    rows = np.flatnonzero(backup_of >= 0)
    if rows.size == 0:
        return found
    wants = problem.household_backup if problem.household_backup is not None else np.zeros_like(member_of, bool)
    for h in rows[~wants[rows]]:
        found.append(f"household {h}: backup given but none asked for")
    for h in rows[member_of[rows] < 0]:
        found.append(f"household {h}: backup without a primary")
    for h in rows[backup_of[rows] == member_of[rows]]:
        found.append(f"household {h}: backup is the primary member")
    arcs = problem.arc_indices(rows, backup_of[rows])
    for h in rows[arcs < 0]:
        found.append(f"household {h}: backup member {backup_of[h]} is not eligible")
    cap = problem.member_backup_capacity
    loads = np.bincount(backup_of[rows], minlength=problem.num_members)
    if cap is not None:
        for m in np.flatnonzero(loads > cap):
            found.append(f"member {m}: {loads[m]} backups over backup capacity {cap[m]}")
    return found
