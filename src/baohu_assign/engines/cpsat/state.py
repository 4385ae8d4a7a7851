"""A plan in unit form, its loads, and the start: a household plan read into units, backups added greedily."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...model.problem import Problem
from .units import _Units


@dataclass(slots=True)
class _State:
    """A plan in unit form: the chosen option of each unit and the backup of each household."""

    unit_option: np.ndarray  # int64[U], -1 uncovered
    backup_of: np.ndarray  # int64[H], -1 none

    def copy(self) -> _State:
        return _State(self.unit_option.copy(), self.backup_of.copy())


def _member_of(problem: Problem, units: _Units, state: _State) -> np.ndarray:
    member_of = np.full(problem.num_households, -1, dtype=np.int32)
    chosen = state.unit_option[units.household_unit]
    covered = chosen >= 0
    member_of[covered] = units.option_member[chosen[covered]]
    return member_of


def _loads(problem: Problem, units: _Units, state: _State) -> tuple[np.ndarray, np.ndarray]:
    """int64[M] households and int64[M] weight carried by each member."""
    M = problem.num_members
    used = state.unit_option[state.unit_option >= 0]
    members = units.option_member[used]
    load = np.bincount(members, weights=units.unit_size[units.option_unit[used]], minlength=M).astype(np.int64)
    weight = np.zeros(M, dtype=np.int64)
    if units.option_weight is not None:
        np.add.at(weight, members, units.option_weight[used])
    return load, weight


def _budgets(problem: Problem, units: _Units) -> np.ndarray | None:
    """int64[M]: the members' hour budgets (a copy), or None when the units carry no weights."""
    if units.option_weight is None or problem.member_budget is None:
        return None
    return problem.member_budget.astype(np.int64)


def _normal_load(problem: Problem, units: _Units, state: _State) -> np.ndarray:
    """int64[M]: households carried through options other than over options (the load of the tangent lines)."""
    used = state.unit_option[state.unit_option >= 0]
    used = used[~units.option_over[used]]
    return np.bincount(
        units.option_member[used], weights=units.unit_size[units.option_unit[used]], minlength=problem.num_members
    ).astype(np.int64)


def _charged(problem: Problem, units: _Units, state: _State) -> np.ndarray:
    """int64[M]: capacity used by each member (a unit over capacity uses all of it)."""
    used = state.unit_option[state.unit_option >= 0]
    return np.bincount(
        units.option_member[used], weights=units.option_charge[used], minlength=problem.num_members
    ).astype(np.int64)


def _greedy_backups(problem: Problem, units: _Units, state: _State) -> _State:
    """Give covered households that want a backup the cheapest member with backup room (critical first).

    Only where the arc costs less than the missing-backup penalty it saves.
    """
    if not problem.has_backups:
        return state
    assert problem.household_backup is not None and problem.member_backup_capacity is not None
    member_of = _member_of(problem, units, state)
    backup_of = state.backup_of.copy()
    held = backup_of[backup_of >= 0]
    room = problem.member_backup_capacity.astype(np.int64) - np.bincount(held, minlength=problem.num_members)
    open_ = np.flatnonzero(problem.household_backup & (member_of >= 0) & (backup_of < 0))
    penalty = int(problem.backup_penalty)
    for h in open_[np.lexsort((open_, -problem.household_tier[open_].astype(np.int64)))].tolist():
        sl = problem.arcs_of(h)
        members = problem.arc_member[sl].astype(np.int64)
        cost = problem.arc_cost[sl]
        ok = (members != member_of[h]) & (room[members] > 0) & (cost < penalty)
        if ok.any():
            pick = int(np.flatnonzero(ok)[np.argmin(cost[ok])])
            backup_of[h] = members[pick]
            room[members[pick]] -= 1
    return _State(state.unit_option, backup_of)


def _state_from_members(problem: Problem, units: _Units, member_of: np.ndarray) -> _State | None:
    """Unit form of a household plan, or ``None`` when it splits a unit or uses a missing option."""
    U = units.num_units
    first = member_of[units.unit_households[units.unit_ptr[:-1]]] if U else np.zeros(0, np.int64)
    if (member_of != first[units.household_unit]).any():
        return None
    unit_option = np.full(U, -1, dtype=np.int64)
    covered = np.flatnonzero(first >= 0)
    if covered.size:
        key = units.option_unit * max(problem.num_members, 1) + units.option_member
        query = covered * max(problem.num_members, 1) + first[covered]
        pos = np.searchsorted(key, query)
        pos = np.minimum(pos, max(key.shape[0] - 1, 0))
        if key.shape[0] == 0 or (key[pos] != query).any():
            return None
        unit_option[covered] = pos
    return _State(unit_option, np.full(problem.num_households, -1, dtype=np.int64))
