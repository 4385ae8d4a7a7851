"""Households folded into stairwell units, and each unit's options (the (unit, member) pairs)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ...errors import EngineError
from ...model import costs
from ...model.problem import NUM_TIERS, Problem


@dataclass(frozen=True, slots=True, eq=False)
class _Units:
    """Households folded into units (stairwell groups) and the options of each unit."""

    household_unit: np.ndarray  # int64[H]
    unit_ptr: np.ndarray  # int64[U+1] into unit_households
    unit_households: np.ndarray  # int64[H], households ordered by unit
    unit_size: np.ndarray  # int64[U]
    unit_tiers: np.ndarray  # int64[U, NUM_TIERS]: households of each tier
    unit_penalty: np.ndarray  # int64[U]: cost of leaving the unit uncovered (tier penalties and churn)
    unit_pinned: np.ndarray  # bool[U]
    unit_wants_backup: np.ndarray  # int64[U]: households of the unit that want a backup
    option_ptr: np.ndarray  # int64[U+1]
    option_unit: np.ndarray  # int64[O]
    option_member: np.ndarray  # int64[O]
    option_cost: np.ndarray  # int64[O]
    option_weight: np.ndarray | None  # int64[O]
    option_charge: np.ndarray  # int64[O]: capacity it uses (its size, or the capacity for a unit over it)
    option_over: np.ndarray  # bool[O]: a unit larger than the member's capacity (then all the member carries)
    option_over_balance: np.ndarray  # int64[O]: balance term of an over option's member (0 for the others)
    member_ptr: np.ndarray  # int64[M+1] into member_options
    member_options: np.ndarray  # int64[O], options ordered by member

    @property
    def num_units(self) -> int:
        return int(self.unit_size.shape[0])

    @property
    def num_options(self) -> int:
        return int(self.option_unit.shape[0])


def _build_units(problem: Problem) -> _Units:
    """Fold groups into units and aggregate their arcs into options (vectorised)."""
    H, M = problem.num_households, problem.num_members
    group = problem.household_group.astype(np.int64)
    representative = np.arange(H, dtype=np.int64)
    grouped = np.flatnonzero(group >= 0)
    if grouped.size:
        # A unit is named by its first household, so units follow household order.
        first = np.full(int(group.max()) + 1, H, dtype=np.int64)
        np.minimum.at(first, group[grouped], grouped)
        representative[grouped] = first[group[grouped]]
    _, household_unit = np.unique(representative, return_inverse=True)
    household_unit = household_unit.astype(np.int64)
    U = int(household_unit.max()) + 1 if H else 0
    unit_households = np.argsort(household_unit, kind="stable").astype(np.int64)
    unit_ptr = np.searchsorted(household_unit[unit_households], np.arange(U + 1)).astype(np.int64)
    unit_size = np.bincount(household_unit, minlength=U).astype(np.int64)
    unit_tiers = np.zeros((U, NUM_TIERS), dtype=np.int64)
    np.add.at(unit_tiers, (household_unit, problem.household_tier.astype(np.int64)), 1)
    # Leaving a unit uncovered costs what evaluate() charges its households: tier penalty and churn.
    unit_penalty = costs.group_uncovered_cost(problem.uncovered_cost(), household_unit, U)
    backup = problem.household_backup
    wants = backup if backup is not None and problem.has_backups else np.zeros(H, dtype=bool)
    unit_wants_backup = np.bincount(household_unit, weights=wants.astype(np.int64), minlength=U).astype(np.int64)

    # Pins: a unit with a pinned household may only go to that member.
    unit_pin = np.full(U, -1, dtype=np.int64)
    pinned = np.flatnonzero(problem.household_pin >= 0)
    if pinned.size:
        pins = problem.household_pin[pinned].astype(np.int64)
        units_of_pins = household_unit[pinned]
        unit_pin[units_of_pins] = pins
        if (unit_pin[units_of_pins] != pins).any():
            raise EngineError("a stairwell unit has households pinned to different members")

    # Options: (unit, member) pairs that every household of the unit reaches.
    arc_unit = household_unit[problem.arc_household]
    key = arc_unit * M + problem.arc_member.astype(np.int64)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]]) if key.size else np.zeros(0, np.int64)
    counts = np.diff(np.r_[starts, key.size])
    option_key = sorted_key[starts]
    option_unit = option_key // M if M else option_key
    option_member = option_key % M if M else option_key
    option_cost = np.add.reduceat(problem.arc_cost[order], starts) if key.size else np.zeros(0, np.int64)
    option_weight = None
    if problem.has_budgets:
        assert problem.arc_weight is not None
        option_weight = (
            np.add.reduceat(problem.arc_weight.astype(np.int64)[order], starts) if key.size else np.zeros(0, np.int64)
        )
    keep = counts == unit_size[option_unit]
    keep &= (unit_pin[option_unit] < 0) | (unit_pin[option_unit] == option_member)
    # An option larger than its member's capacity (unless one unit over it is allowed) or budget can never be used.
    keep &= problem.unit_fits(option_member, unit_size[option_unit])
    if option_weight is not None:
        assert problem.member_budget is not None
        keep &= option_weight <= problem.member_budget.astype(np.int64)[option_member]
    option_unit, option_member = option_unit[keep].astype(np.int64), option_member[keep].astype(np.int64)
    option_cost = option_cost[keep].astype(np.int64)
    if option_weight is not None:
        option_weight = option_weight[keep].astype(np.int64)
    option_charge = np.minimum(unit_size[option_unit], problem.member_capacity.astype(np.int64)[option_member])
    option_ptr = np.searchsorted(option_unit, np.arange(U + 1)).astype(np.int64)
    unit_pinned = unit_pin >= 0
    stranded = unit_pinned & (np.diff(option_ptr) == 0)
    if stranded.any():
        u = int(np.flatnonzero(stranded)[0])
        raise EngineError(
            f"household {int(unit_households[unit_ptr[u]])} is pinned to a member that cannot take its unit"
        )
    member_options = np.argsort(option_member, kind="stable").astype(np.int64)
    member_ptr = np.searchsorted(option_member[member_options], np.arange(M + 1)).astype(np.int64)
    return _Units(
        household_unit=household_unit,
        unit_ptr=unit_ptr,
        unit_households=unit_households,
        unit_size=unit_size,
        unit_tiers=unit_tiers,
        unit_penalty=unit_penalty.astype(np.int64),
        unit_pinned=unit_pinned,
        unit_wants_backup=unit_wants_backup,
        option_ptr=option_ptr,
        option_unit=option_unit,
        option_member=option_member,
        option_cost=option_cost,
        option_weight=option_weight,
        option_charge=option_charge.astype(np.int64),
        option_over=option_charge < unit_size[option_unit],
        option_over_balance=_balance_alone(problem, option_member, unit_size[option_unit], option_charge),
        member_ptr=member_ptr,
        member_options=member_options,
    )


def _balance_alone(problem: Problem, members: np.ndarray, sizes: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """int64[O]: Σ of the balance steps 1..size of each over option's member (0 where charge = size)."""
    value = np.zeros(members.shape[0], dtype=np.int64)
    over = np.flatnonzero(charge < sizes)
    if problem.balance_scale <= 0 or over.size == 0:
        return value
    for o in over.tolist():
        value[o] = int(problem.balance_step_costs(int(members[o]), int(sizes[o])).sum())
    return value


def _balance_tables(problem: Problem) -> list[np.ndarray]:
    """Per member: int64[c+1], the balance cost F(k) of carrying k households."""
    return [np.r_[0, np.cumsum(problem.balance_step_costs(m))].astype(np.int64) for m in range(problem.num_members)]


def _backups_are_safe(problem: Problem) -> bool:
    """Whether the tier penalties dominate every backup term, so one model is lexicographic.

    Coverage improves only through exchanges whose primary cost changes by at
    most ``B = 2·M·max arc cost + 2·max balance step`` (docs/model.md); backups
    change the objective by at most ``K = (households wanting one) ·
    max(backup_penalty, max arc cost)``. If every penalty step exceeds
    ``B + K``, trading coverage for backups never pays.
    """
    if not problem.has_backups:
        return True
    assert problem.household_backup is not None
    max_cost = int(problem.arc_cost.max()) if problem.num_arcs else 0
    limit = problem.member_load_limit()
    max_step = max(
        (int(problem.balance_step_costs(m, int(limit[m])).max(initial=0)) for m in range(problem.num_members)),
        default=0,
    )
    primary = 2 * max(problem.num_members, 1) * max_cost + 2 * max_step
    backups = int(problem.household_backup.sum()) * max(int(problem.backup_penalty), max_cost)
    penalties = [int(p) for p in problem.tier_penalty]
    step = min(penalties[0], *(b - a for a, b in itertools.pairwise(penalties)))
    return step > primary + backups
