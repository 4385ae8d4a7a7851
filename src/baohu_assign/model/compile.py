"""Scenario frames → one numeric :class:`~baohu_assign.problem.Problem` per branch.

This module and ``plan.py`` are the only places that translate between ids
and indices. Canonical order (households and members sorted by id within a
branch, arcs by household then member) makes results independent of the
order of input rows.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import ScalingWarning
from ..io.policy import PRIORITIES, Policy
from ..io.tables import is_missing, missing_mask
from . import costs
from .costs import TRAVEL_UNIT_M, WEIGHT_UNIT_MIN  # noqa: F401 - WEIGHT_UNIT_MIN re-exported
from .geo import candidate_arcs, unit_vectors
from .network import WalkingNetwork
from .objective import INT64_GUARD, backup_penalty, group_tier_penalties, tier_penalties
from .problem import Problem, csr_pointer

logger = logging.getLogger(__name__)

CROSS_BRANCH_KEY = "*"

# What became of a household's current member (BranchProblem.current_state).
CURRENT_NONE = 0  # no current member named
CURRENT_UNKNOWN = 1  # the named member does not exist
CURRENT_OTHER_BRANCH = 2  # exists, but may not serve this branch
CURRENT_UNAVAILABLE = 3  # unavailable or capacity 0
CURRENT_OUT_OF_REACH = 4  # available, but the household is beyond reach
CURRENT_ELIGIBLE = 5  # could keep serving it


@dataclass(frozen=True, slots=True)
class BrokenPin:
    """A pin that cannot hold, with the reason code."""

    household_row: int
    member_id: str
    reason: str


@dataclass(frozen=True, slots=True, eq=False)
class BranchProblem:
    """The Problem of one branch and the maps back to scenario rows.

    Attributes
    ----------
    branch
        Branch name (``"*"`` when the policy lets members cross branches).
    problem
        The numeric problem.
    household_rows, member_rows
        int64: positions in the scenario frames of problem households/members.
    reachable_members
        int32[H]: members that could serve each household alone (branch,
        availability, reach), before groups and capacity: explains why a
        household stays uncovered.
    group_size
        int32[H]: size of each household's group (1 when none).
    current_state
        int8[H]: what became of each household's current member, one of the
        ``CURRENT_*`` codes of this module.
    broken_pins
        Pins that cannot hold, with reasons.
    travel_unit
        Metre-visits per integer cost unit (``TRAVEL_UNIT_M`` unless costs had
        to be scaled down).
    household_connected
        bool[H]: whether some available member of the branch has a path to the
        household on the walking network, at any distance; ``None`` without a
        network. Tells "no path at all" from "too far".
    """

    branch: str
    problem: Problem
    household_rows: np.ndarray
    member_rows: np.ndarray
    reachable_members: np.ndarray
    group_size: np.ndarray
    current_state: np.ndarray
    broken_pins: tuple[BrokenPin, ...]
    travel_unit: float = TRAVEL_UNIT_M
    household_connected: np.ndarray | None = None


def compile_scenario(
    members: pd.DataFrame,
    households: pd.DataFrame,
    *,
    objective: str,
    policy: Policy | None = None,
    network: WalkingNetwork | None = None,
) -> list[BranchProblem]:
    """Compile validated frames into one problem per branch, sorted by branch name.

    ``members`` and ``households`` are the normalised frames of
    :mod:`baohu_assign.validate`. Branches with households but no members
    still get a problem (every household uncovered, with a reason).
    The balanced objective is compiled with ``balance_scale = 0``; see
    :func:`with_balance`. From the policy: crossing branches, hour budgets
    (walking speed) and which tiers get backups. With a walking ``network``
    every distance (reach, costs, hours) is measured along it
    (:meth:`~baohu_assign.network.WalkingNetwork.candidate_arcs`); without
    one, great-circle.
    """
    policy = policy or Policy()
    allow_cross_branch = policy.allow_cross_branch
    m_key = np.where(allow_cross_branch, CROSS_BRANCH_KEY, members["branch"].to_numpy(dtype=object))
    h_key = np.where(allow_cross_branch, CROSS_BRANCH_KEY, households["branch"].to_numpy(dtype=object))
    m_key = np.broadcast_to(m_key, (len(members),)) if len(members) else np.zeros(0, dtype=object)
    h_key = np.broadcast_to(h_key, (len(households),)) if len(households) else np.zeros(0, dtype=object)
    member_ids = members["member_id"].to_numpy(dtype=object)
    household_ids = households["household_id"].to_numpy(dtype=object)
    # Canonical order: branch, then id (stable), so input row order never matters.
    m_order = np.lexsort((member_ids.astype(str), m_key.astype(str))) if len(members) else np.zeros(0, np.int64)
    h_order = np.lexsort((household_ids.astype(str), h_key.astype(str))) if len(households) else np.zeros(0, np.int64)
    m_groups = _split_sorted(m_key[m_order].astype(str), m_order)
    h_groups = _split_sorted(h_key[h_order].astype(str), h_order)
    branches = sorted(h_groups)
    id_to_row = {mid: i for i, mid in enumerate(member_ids)}
    member_columns = _MemberColumns.of(members)
    household_columns = _HouseholdColumns.of(households, member_ids, id_to_row, policy)
    # Each member row's index within its branch, and which branch that is (index into ``branches``, -1: none).
    member_local = np.full(len(members), -1, dtype=np.int64)
    member_branch = np.full(len(members), -1, dtype=np.int64)
    for index, branch in enumerate(branches):
        rows = m_groups.get(branch)
        if rows is not None:
            member_local[rows] = np.arange(rows.shape[0])
            member_branch[rows] = index
    result = []
    for index, branch in enumerate(branches):
        member_rows = m_groups.get(branch, np.zeros(0, np.int64))
        household_rows = h_groups[branch]
        # A household's current member is one of this branch's when that member's rows are here.
        current_row = household_columns.current_row[household_rows]
        current = np.full(household_rows.shape[0], -1, dtype=np.int32)
        named = np.flatnonzero(current_row >= 0)
        here = named[member_branch[current_row[named]] == index]
        current[here] = member_local[current_row[here]]
        result.append(
            _compile_branch(
                branch,
                member_columns,
                household_columns.take(household_rows),
                member_rows,
                household_rows,
                current,
                id_to_row,
                objective,
                policy,
                network,
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class _MemberColumns:
    """The member columns the compiler reads, as numpy arrays taken once for every branch.

    A branch is then a slice of arrays instead of a pandas selection, which
    at hundreds of branches costs more than the branch's own work.
    """

    member_id: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    capacity: np.ndarray
    available: np.ndarray
    max_distance_m: np.ndarray
    mobile: np.ndarray
    hours_per_week: np.ndarray

    @classmethod
    def of(cls, members: pd.DataFrame) -> _MemberColumns:
        return cls(
            member_id=members["member_id"].to_numpy(dtype=object),
            lat=members["lat"].to_numpy(dtype=np.float64),
            lon=members["lon"].to_numpy(dtype=np.float64),
            capacity=members["capacity"].to_numpy(dtype=np.int64),
            available=members["available"].to_numpy(dtype=bool),
            max_distance_m=members["max_distance_m"].to_numpy(dtype=np.float64),
            mobile=members["mobile"].to_numpy(dtype=bool),
            hours_per_week=member_hours(members),
        )

    def take(self, rows: np.ndarray) -> _MemberColumns:
        return _MemberColumns(*(getattr(self, name)[rows] for name in self.__slots__))

    def __len__(self) -> int:
        return self.member_id.shape[0]


@dataclass(frozen=True, slots=True)
class _HouseholdColumns:
    """The household columns the compiler reads, as numpy arrays taken once for every branch.

    ``group_code`` numbers the stairwell units by sorted ``group_id`` over the
    whole scenario (-1: none); ``current_row`` is the member row of
    ``current_member_id`` (-1: blank or no such member); ``minutes_per_visit``
    as :func:`visit_minutes` gives it.
    """

    lat: np.ndarray
    lon: np.ndarray
    tier: np.ndarray
    visits: np.ndarray
    minutes_per_visit: np.ndarray
    group_code: np.ndarray
    current_id: np.ndarray
    current_missing: np.ndarray
    current_row: np.ndarray
    pinned: np.ndarray

    @classmethod
    def of(
        cls, households: pd.DataFrame, member_ids: np.ndarray, id_to_row: dict[str, int], policy: Policy
    ) -> _HouseholdColumns:
        num_h = len(households)
        group_ids = households["group_id"] if "group_id" in households else pd.Series(pd.NA, index=households.index)
        has_group = ~missing_mask(group_ids)
        group_code = np.full(num_h, -1, dtype=np.int64)
        if has_group.any():
            codes, _ = pd.factorize(group_ids[has_group].astype(str), sort=True)
            group_code[has_group] = codes
        if "current_member_id" in households:
            current_cells = households["current_member_id"]
        else:
            current_cells = pd.Series(pd.NA, index=households.index)
        current_id = current_cells.to_numpy(dtype=object)
        current_missing = missing_mask(current_cells)
        current_row = np.full(num_h, -1, dtype=np.int64)
        named = np.flatnonzero(~current_missing)
        if named.size:
            texts = np.array([str(cid) for cid in current_id[named]], dtype=object)
            index = pd.Index(member_ids)
            if index.is_unique:
                current_row[named] = index.get_indexer(texts)
            else:  # repeated ids (never after validation): the last row of an id, as a dict keeps it
                current_row[named] = [id_to_row.get(t, -1) for t in texts]
        return cls(
            lat=households["lat"].to_numpy(dtype=np.float64),
            lon=households["lon"].to_numpy(dtype=np.float64),
            tier=pd.Categorical(households["priority"], categories=list(PRIORITIES)).codes.astype(np.int8),
            visits=households["visits_per_week"].to_numpy(dtype=np.float64),
            minutes_per_visit=visit_minutes(households, policy),
            group_code=group_code,
            current_id=current_id,
            current_missing=current_missing,
            current_row=current_row,
            pinned=(
                households["pinned"].to_numpy(dtype=bool) if "pinned" in households else np.zeros(num_h, dtype=bool)
            ),
        )

    def take(self, rows: np.ndarray) -> _HouseholdColumns:
        return _HouseholdColumns(*(getattr(self, name)[rows] for name in self.__slots__))

    def __len__(self) -> int:
        return self.lat.shape[0]


def _split_sorted(keys: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    if keys.shape[0] == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], keys.shape[0]]
    return {str(keys[s]): rows[s:e].astype(np.int64) for s, e in zip(starts, ends, strict=True)}


def _compile_branch(
    branch: str,
    members: _MemberColumns,
    hh: _HouseholdColumns,
    member_rows: np.ndarray,
    household_rows: np.ndarray,
    current: np.ndarray,
    id_to_row: dict[str, int],
    objective: str,
    policy: Policy,
    network: WalkingNetwork | None = None,
) -> BranchProblem:
    """The branch's problem from the branch's households ``hh``; ``current``: their current members, branch indices."""
    mem = members.take(member_rows)
    num_h, num_m = len(hh), len(mem)

    capacity = np.where(mem.available, mem.capacity, 0).astype(np.int32)
    arc_h, arc_m, distance, connected = _candidate_arcs(mem, hh, capacity, network)
    reachable = np.bincount(arc_h, minlength=num_h).astype(np.int32)
    reach_keys = arc_h.astype(np.int64) * (num_m + 1) + arc_m

    tier = hh.tier
    visits = hh.visits

    # Groups: a stairwell unit goes whole to one member, so each of its
    # households keeps only members eligible for every household of the unit.
    group, group_size = _groups(hh.group_code)
    if (group >= 0).any():
        arc_h, arc_m, distance = _restrict_groups(arc_h, arc_m, distance, group, np.bincount(group[group >= 0]))

    # Current members and pins.
    current_ids = hh.current_id
    current_state = _current_state(hh, current, members.available, capacity, reach_keys, num_m)
    pinned = hh.pinned
    budgets = _budgets(mem, hh, arc_h, arc_m, distance, visits, capacity, policy)
    pin, broken = _resolve_pins(
        pinned,
        current,
        current_ids,
        household_rows,
        mem,
        capacity,
        arc_h,
        arc_m,
        tier,
        group,
        group_size,
        id_to_row,
        members,
        budgets,
        one_unit_over_capacity=policy.one_unit_over_capacity,
    )
    if (pin >= 0).any():
        keep = (pin[arc_h] < 0) | (pin[arc_h] == arc_m)
        arc_h, arc_m, distance = arc_h[keep], arc_m[keep], distance[keep]
        if budgets["arc_weight"] is not None:
            budgets["arc_weight"] = budgets["arc_weight"][keep]

    problem, unit = _costed_problem(
        branch,
        objective,
        policy,
        tier=tier,
        visits=visits,
        group=group,
        pin=pin,
        current=current,
        first_contact=first_contact_changes(current_state),
        capacity=capacity,
        arc_h=arc_h,
        arc_m=arc_m,
        distance=distance,
        budgets=budgets,
    )
    logger.debug("compiled branch: %d households, %d members, %d arcs", num_h, num_m, arc_h.size)
    return BranchProblem(
        branch=branch,
        problem=problem,
        household_rows=household_rows,
        member_rows=member_rows,
        reachable_members=reachable,
        group_size=group_size,
        current_state=current_state,
        broken_pins=tuple(broken),
        travel_unit=unit,
        household_connected=connected,
    )


def _candidate_arcs(
    mem: _MemberColumns, hh: _HouseholdColumns, capacity: np.ndarray, network: WalkingNetwork | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The branch's (household, member, distance) pairs within reach, and which households the network connects.

    Only members with capacity get arcs; member indices are the branch's.
    Without a network the last item is ``None``; with one, ``False`` marks a
    household no member can reach along the network at any distance.
    """
    num_h = len(hh)
    active = np.flatnonzero(capacity > 0)
    m_lat = mem.lat[active]
    m_lon = mem.lon[active]
    h_lat, h_lon = hh.lat, hh.lon
    reach_m = mem.max_distance_m[active]
    mobile = mem.mobile[active]
    if network is None:
        arc_h, arc_m_active, distance = candidate_arcs(
            unit_vectors(m_lat, m_lon), reach_m, mobile, unit_vectors(h_lat, h_lon)
        )
    else:
        arc_h, arc_m_active, distance = network.candidate_arcs(m_lat, m_lon, reach_m, mobile, h_lat, h_lon)
    arc_m = active[arc_m_active].astype(np.int32)  # local active index → branch member index
    connected = None
    if network is not None:
        connected = np.ones(num_h, dtype=bool)
        unreached = np.flatnonzero(np.bincount(arc_h, minlength=num_h) == 0)
        if unreached.size and active.size:
            connected[unreached] = network.reachable(m_lat, m_lon, h_lat[unreached], h_lon[unreached])
    return arc_h, arc_m, distance, connected


def _groups(group_code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each household's group index (-1: none; groups numbered by sorted ``group_id``) and its group's size.

    ``group_code``: the scenario's group numbers (in sorted ``group_id`` order) of the branch's households.
    """
    num_h = group_code.shape[0]
    has_group = group_code >= 0
    group = np.full(num_h, -1, dtype=np.int32)
    if has_group.any():
        _, codes = np.unique(group_code[has_group], return_inverse=True)
        group[has_group] = codes.astype(np.int32)
    group_size = np.ones(num_h, dtype=np.int32)
    if (group >= 0).any():
        sizes = np.bincount(group[group >= 0])
        group_size[group >= 0] = sizes[group[group >= 0]]
    return group, group_size


def _costed_problem(
    branch: str,
    objective: str,
    policy: Policy,
    *,
    tier: np.ndarray,
    visits: np.ndarray,
    group: np.ndarray,
    pin: np.ndarray,
    current: np.ndarray,
    first_contact: np.ndarray,
    capacity: np.ndarray,
    arc_h: np.ndarray,
    arc_m: np.ndarray,
    distance: np.ndarray,
    budgets: dict[str, np.ndarray | None],
) -> tuple[Problem, float]:
    """The penalised Problem and its travel unit (metres).

    Costs are in decimetre-visits per week; scaled down by tens (with a
    :class:`~baohu_assign.errors.ScalingWarning`) only if int64 head-room demands it.
    """
    num_h, num_m = tier.shape[0], capacity.shape[0]
    unit = TRAVEL_UNIT_M
    while True:
        travel = costs.travel_cost(visits[arc_h], distance, unit)
        churn = costs.churn_penalty(objective, num_m, int(travel.max()) if travel.size else 0)
        arc_cost = costs.arc_cost(travel, current[arc_h], arc_m, churn, first_contact[arc_h])
        backups = _backups(tier, capacity, policy)
        problem = _penalised(
            Problem(
                objective=objective,
                household_tier=tier,
                household_visits=visits,
                household_group=group,
                household_pin=pin,
                household_current=current,
                member_capacity=capacity,
                arc_household=arc_h.astype(np.int32),
                arc_member=arc_m.astype(np.int32),
                arc_distance_m=distance.astype(np.float64),
                arc_cost=arc_cost.astype(np.int64),
                household_arc_ptr=csr_pointer(arc_h, num_h),
                balance_scale=0.0,
                tier_penalty=np.zeros(3, dtype=np.int64),
                churn_penalty=int(churn),
                arc_weight=budgets["arc_weight"],
                member_budget=budgets["member_budget"],
                household_backup=backups["household_backup"],
                member_backup_capacity=backups["member_backup_capacity"],
                one_unit_over_capacity=policy.one_unit_over_capacity,
            )
        )
        if _fits(problem):
            return problem, unit
        unit *= 10.0
        warnings.warn(
            f"branch {branch!r}: costs scaled to {unit:g} metre-visits per unit to avoid int64 overflow",
            ScalingWarning,
            stacklevel=3,  # points into compile_scenario
        )


def first_contact_changes(current_state: np.ndarray) -> np.ndarray:
    """bool[H]: households whose first member counts as a changed contact.

    Those that name no current member, in a branch where some household
    names one (a rebalance); in a fresh plan every household is new alike and
    none is charged. A current member outside the branch (unknown, or another
    branch's) is lost whatever the plan does, so it adds nothing to choose by.
    Leaving a household with a current member uncovered is charged through
    :func:`~baohu_assign.costs.uncovered_cost`.
    """
    none = current_state == CURRENT_NONE
    return none if (~none).any() else np.zeros_like(none)


def _budgets(
    mem: _MemberColumns,
    hh: _HouseholdColumns,
    arc_h: np.ndarray,
    arc_m: np.ndarray,
    distance: np.ndarray,
    visits: np.ndarray,
    capacity: np.ndarray,
    policy: Policy,
) -> dict[str, np.ndarray | None]:
    """Weekly minutes per arc and per-member budgets, when any member gives hours_per_week.

    A member's week = Σ :func:`~baohu_assign.costs.weekly_minutes`. Arc
    weights round up and budgets round down, so a plan within budget in
    integers is within budget in exact minutes too.
    """
    hours = mem.hours_per_week
    if not np.isfinite(hours).any():
        return {"arc_weight": None, "member_budget": None}
    minutes = hh.minutes_per_visit
    weight = costs.arc_weight(visits[arc_h], minutes[arc_h], distance, policy.walking_speed_m_per_min)
    budget = costs.hours_budget(hours, capacity, unlimited=int(weight.sum()) + 1)
    return {"arc_weight": weight, "member_budget": budget}


def member_hours(members: pd.DataFrame) -> np.ndarray:
    """float64[M]: each member's ``hours_per_week``; NaN (no hour limit) where blank or without the column."""
    if "hours_per_week" not in members:
        return np.full(len(members), np.nan)
    return members["hours_per_week"].to_numpy(dtype=np.float64)


def visit_minutes(households: pd.DataFrame, policy: Policy) -> np.ndarray:
    """float64[H]: minutes at the door per visit; the policy's default without the column."""
    if "minutes_per_visit" not in households:
        return np.full(len(households), policy.minutes_per_visit)
    return households["minutes_per_visit"].to_numpy(dtype=np.float64)


def _backups(tier: np.ndarray, capacity: np.ndarray, policy: Policy) -> dict[str, np.ndarray | None]:
    if not policy.backup_tiers:
        return {"household_backup": None, "member_backup_capacity": None}
    wanted = np.isin(tier, [PRIORITIES.index(p) for p in policy.backup_tiers])
    backup_capacity = np.where(capacity > 0, policy.backup_capacity, 0).astype(np.int32)
    return {"household_backup": wanted, "member_backup_capacity": backup_capacity}


def _penalised(problem: Problem) -> Problem:
    """The problem with tier and backup penalties set from its own costs."""
    max_arc = int(problem.arc_cost.max()) if problem.num_arcs else 0
    max_step = int(np.rint(2.0 * problem.balance_scale)) if problem.balance_scale > 0 else 0
    num_backup = int(problem.household_backup.sum()) if problem.household_backup is not None else 0
    if problem.has_groups:
        counts = np.bincount(problem.household_tier, minlength=3)
        limit = problem.member_load_limit()
        balance_total = sum(int(problem.balance_step_costs(m, int(limit[m])).sum()) for m in range(problem.num_members))
        try:
            tiers, backup = group_tier_penalties(
                (int(counts[0]), int(counts[1]), int(counts[2])),
                max_arc,
                balance_total,
                problem.churn_penalty,
                num_backup,
            )
            return replace(problem, tier_penalty=tiers, backup_penalty=backup)
        except OverflowError:
            # Tens of thousands of households with units in one branch: the
            # exponential penalties cannot be represented. Fall back to the
            # cycle penalties; the engines still place critical units first.
            warnings.warn(
                "too many households with stairwell units in one branch for strictly "
                "lexicographic penalties; coverage order relies on the engines' construction",
                ScalingWarning,
                stacklevel=3,
            )
    return replace(
        problem,
        tier_penalty=tier_penalties(problem.num_members, max_arc, max_step, problem.churn_penalty, num_backup),
        backup_penalty=(
            backup_penalty(problem.num_members, max_arc, max_step, problem.churn_penalty) if num_backup else 0
        ),
    )


def _current_state(
    hh: _HouseholdColumns,
    current: np.ndarray,
    member_available: np.ndarray,
    capacity: np.ndarray,
    reach_keys: np.ndarray,
    num_m: int,
) -> np.ndarray:
    """int8[H]: the ``CURRENT_*`` code of each household's current member.

    ``member_available``: every member row's availability; ``capacity``: the branch's.
    """
    state = np.full(current.shape[0], CURRENT_NONE, dtype=np.int8)
    named = ~hh.current_missing
    row = hh.current_row
    here = current >= 0
    state[named & (row < 0)] = CURRENT_UNKNOWN
    elsewhere = np.flatnonzero(named & (row >= 0) & ~here)
    state[elsewhere] = np.where(member_available[row[elsewhere]], CURRENT_OTHER_BRANCH, CURRENT_UNAVAILABLE)
    served_here = np.flatnonzero(named & here)
    state[served_here] = np.where(capacity[current[served_here]] > 0, CURRENT_ELIGIBLE, CURRENT_UNAVAILABLE)
    check = np.flatnonzero(state == CURRENT_ELIGIBLE)
    if check.size:
        keys = check.astype(np.int64) * (num_m + 1) + current[check]
        inside = np.isin(keys, reach_keys)
        state[check[~inside]] = CURRENT_OUT_OF_REACH
    return state


def _fits(problem: Problem) -> bool:
    """Whether the largest possible objective stays well inside int64.

    Min-cost-flow solvers multiply costs by about the node count, so problems
    flow may take need that head-room too; problems with stairwell units
    (never given to flow) need only their objective to fit.
    """
    if problem.has_groups:
        # Penalties are lexicographic: every plan costs less than (n_critical + 1) · P_critical.
        critical = int((problem.household_tier == 2).sum())
        return (critical + 1) * int(problem.tier_penalty[-1]) < INT64_GUARD
    worst = int(problem.tier_penalty[-1]) * max(problem.num_households, 1)
    return worst * (problem.num_households + problem.num_members + 2) < INT64_GUARD


def _restrict_groups(
    arc_h: np.ndarray, arc_m: np.ndarray, distance: np.ndarray, group: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = group[arc_h]
    in_group = g >= 0
    key = g[in_group].astype(np.int64) * (int(arc_m.max()) + 1 if arc_m.size else 1) + arc_m[in_group]
    _uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    whole = counts[inverse] == sizes[g[in_group]]
    keep = np.ones(arc_h.shape[0], dtype=bool)
    keep[np.flatnonzero(in_group)] = whole
    return arc_h[keep], arc_m[keep], distance[keep]


def _resolve_pins(
    pinned: np.ndarray,
    current: np.ndarray,
    current_ids: np.ndarray,
    household_rows: np.ndarray,
    mem: _MemberColumns,
    capacity: np.ndarray,
    arc_h: np.ndarray,
    arc_m: np.ndarray,
    tier: np.ndarray,
    group: np.ndarray,
    group_size: np.ndarray,
    id_to_row: dict[str, int],
    members: _MemberColumns,
    budgets: dict[str, np.ndarray | None],
    one_unit_over_capacity: bool = False,
) -> tuple[np.ndarray, list[BrokenPin]]:
    """Pins that can hold (member index per household, -1 none) and the broken ones.

    With ``one_unit_over_capacity`` a member may keep one pinned unit larger
    than its capacity when nothing else is pinned to it.
    """
    num_h = pinned.shape[0]
    pin = np.full(num_h, -1, dtype=np.int32)
    broken: list[BrokenPin] = []
    if not pinned.any():
        return pin, broken
    eligible = {pair: a for a, pair in enumerate(zip(arc_h.tolist(), arc_m.tolist(), strict=True))}
    candidates: list[tuple[int, int]] = []  # (household, member)
    for h in np.flatnonzero(pinned).tolist():
        cid = current_ids[h]
        cid_text = "" if is_missing(cid) else str(cid)
        row = int(household_rows[h])
        if not cid_text:
            broken.append(BrokenPin(row, "", "pin_without_member"))
        elif cid_text not in id_to_row:
            broken.append(BrokenPin(row, cid_text, "member_unknown"))
        elif current[h] < 0:
            broken.append(BrokenPin(row, cid_text, "member_other_branch"))
        elif not bool(members.available[id_to_row[cid_text]]) or capacity[current[h]] <= 0:
            broken.append(BrokenPin(row, cid_text, "member_unavailable"))
        elif (h, int(current[h])) not in eligible:
            broken.append(BrokenPin(row, cid_text, "out_of_reach"))
        else:
            candidates.append((int(h), int(current[h])))
    # A pin inside a stairwell unit pins the whole unit; conflicting pins keep
    # the member named most often (ties: lowest member index).
    by_group: dict[int, list[tuple[int, int]]] = {}
    singles: list[tuple[int, int]] = []
    for h, m in candidates:
        (by_group.setdefault(int(group[h]), []).append((h, m)) if group[h] >= 0 else singles.append((h, m)))
    items: list[tuple[list[int], int]] = [([h], m) for h, m in singles]
    for g, pins in sorted(by_group.items()):
        votes: dict[int, int] = {}
        for _, m in pins:
            votes[m] = votes.get(m, 0) + 1
        chosen = min(votes, key=lambda m: (-votes[m], m))
        for h, m in pins:
            if m != chosen:
                broken.append(BrokenPin(int(household_rows[h]), str(mem.member_id[m]), "group_pinned_elsewhere"))
        items.append((np.flatnonzero(group == g).tolist(), chosen))
    # Pins beyond a member's capacity (or hour budget) cannot all hold: keep the most critical first.
    items.sort(key=lambda item: (-int(tier[item[0]].max()), item[0][0]))
    load = np.zeros(capacity.shape[0], dtype=np.int64)
    weight, budget = budgets["arc_weight"], budgets["member_budget"]
    used = np.zeros(capacity.shape[0], dtype=np.int64)
    # A member holding a unit over its capacity is full: the unit must stay all it carries.
    full = np.zeros(capacity.shape[0], dtype=bool)
    for hs, m in items:
        extra = int(sum(weight[eligible[(h, m)]] for h in hs)) if weight is not None else 0
        fits_budget = budget is None or used[m] + extra <= budget[m]
        over_unit = one_unit_over_capacity and group[hs[0]] >= 0 and load[m] == 0 and len(hs) > capacity[m]
        fits_count = not full[m] and (load[m] + len(hs) <= capacity[m] or over_unit)
        if fits_count and fits_budget:
            load[m] += len(hs)
            used[m] += extra
            full[m] = bool(over_unit)
            pin[hs] = m
        else:
            why = "over_capacity" if not fits_count else "over_hour_budget"
            for h in hs:
                if pinned[h]:
                    broken.append(BrokenPin(int(household_rows[h]), str(mem.member_id[m]), why))
    broken.sort(key=lambda b: b.household_row)
    return pin, broken


def with_balance(branch: BranchProblem, scale: float) -> BranchProblem:
    """The same branch with the balance term weighted by ``scale`` (metre-visits)."""
    scale = float(scale) / branch.travel_unit
    return replace(branch, problem=_penalised(replace(branch.problem, balance_scale=scale)))
