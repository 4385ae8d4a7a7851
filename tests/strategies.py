"""The suite's generators of small random cases.

:func:`scenarios`: a hypothesis strategy of (members, households) frames.
:func:`random_problem` and :func:`geometric_problem`: compiled Problems
built straight from numpy for the engine tests, with what the compiler
guarantees (a pin has a single arc to a member with room, groups share
their members), from a seed: random eligibility, or points in a square
with arcs within a radius.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from baohu_assign.model.objective import tier_penalties
from baohu_assign.model.problem import NUM_TIERS, Problem, csr_pointer

BRANCHES = ("甲村", "乙社区", "丙村")
PRIORITIES = ("normal", "elevated", "critical")
VISITS = {"normal": 1.0, "elevated": 3.0, "critical": 14.0}


@st.composite
def scenarios(
    draw,
    *,
    max_members: int = 4,
    max_households: int = 8,
    max_branches: int = 2,
    groups: bool = False,
    pins: bool = False,
    current: bool = False,
    min_members: int = 0,
    min_households: int = 0,
    hours: bool = False,
    max_capacity: int = 3,
    grid: int = 8,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(members, households) with integer-grid coordinates about 100 m apart.

    Reaches end in .5 m so no pair lies exactly on a reach boundary. With
    ``hours``, members give ``hours_per_week`` (blank, or small enough to bind).
    ``grid``: largest grid coordinate (smaller: more pairs within reach).
    """
    num_branches = draw(st.integers(1, max_branches))
    branches = BRANCHES[:num_branches]
    num_m = draw(st.integers(min_members, max_members))
    num_h = draw(st.integers(min_households, max_households))
    grid = st.tuples(st.integers(0, grid), st.integers(0, grid))
    members = []
    for i in range(num_m):
        y, x = draw(grid)
        members.append(
            {
                "member_id": f"M{i:02d}",
                "branch": draw(st.sampled_from(branches)),
                "lat": 34.70 + y * 0.001,
                "lon": 114.00 + x * 0.001,
                "capacity": draw(st.integers(0, max_capacity)),
                "max_distance_m": draw(st.sampled_from([150.5, 300.5, 600.5])),
                "mobile": draw(st.booleans().map(lambda b: b and draw(st.integers(0, 4)) == 0)),
                "available": draw(st.integers(0, 7)) > 0,
            }
        )
        if hours:
            members[-1]["hours_per_week"] = draw(st.sampled_from([None, 0.5, 1.0, 4.0]))
    households = []
    member_ids = [m["member_id"] for m in members]
    for i in range(num_h):
        y, x = draw(grid)
        priority = draw(st.sampled_from(PRIORITIES))
        row = {
            "household_id": f"H{i:02d}",
            "branch": draw(st.sampled_from(branches)),
            "lat": 34.70 + y * 0.001,
            "lon": 114.00 + x * 0.001,
            "priority": priority,
            "visits_per_week": VISITS[priority],
        }
        if groups:
            row["group_id"] = draw(st.sampled_from([None, None, "G1", "G2"]))
        if current or pins:
            row["current_member_id"] = draw(st.sampled_from([None, *member_ids])) if member_ids else None
        if pins:
            row["pinned"] = bool(row["current_member_id"]) and draw(st.integers(0, 3)) == 0
        households.append(row)
    m_cols = ["member_id", "branch", "lat", "lon", "capacity", "max_distance_m", "mobile", "available"]
    if hours:
        m_cols.append("hours_per_week")
    h_cols = ["household_id", "branch", "lat", "lon", "priority", "visits_per_week"]
    if groups:
        h_cols.append("group_id")
    if current or pins:
        h_cols.append("current_member_id")
    if pins:
        h_cols.append("pinned")
    return pd.DataFrame(members, columns=m_cols), pd.DataFrame(households, columns=h_cols)


def random_problem(
    seed: int,
    *,
    households: int,
    members: int,
    density: float = 0.7,
    groups: bool = False,
    budgets: bool = False,
    pins: bool = False,
    backups: bool = False,
    balance: float = 0.0,
    safe_backups: bool = True,
    max_capacity: int = 3,
) -> Problem:
    """A random Problem built straight from numpy, honouring what the compiler guarantees.

    Pins get a single arc to a member with room; with ``safe_backups`` the
    tier penalties also dominate every backup term.
    """
    rng = np.random.default_rng(seed)
    H, M = households, members
    eligible = rng.random((H, M)) < density
    capacity = rng.integers(0, max_capacity + 1, M).astype(np.int32)
    pin = np.full(H, -1, dtype=np.int32)
    if pins:
        room = capacity.astype(np.int64).copy()
        for h in rng.permutation(H)[: max(1, H // 3)]:
            choices = np.flatnonzero(eligible[h] & (room > 0))
            if choices.size:
                m = int(rng.choice(choices))
                pin[h] = m
                room[m] -= 1
                eligible[h] = False
                eligible[h, m] = True
    group = np.full(H, -1, dtype=np.int32)
    if groups:
        free = np.flatnonzero(pin < 0)
        count = 0
        for _g, chunk in enumerate(np.array_split(rng.permutation(free), max(1, free.size // 2))):
            if chunk.size >= 2 and rng.random() < 0.7:
                group[chunk] = count
                count += 1
    hh, mm = np.nonzero(eligible)
    arc_household, arc_member = hh.astype(np.int32), mm.astype(np.int32)
    A = arc_household.shape[0]
    visits = rng.choice([1.0, 3.0, 14.0], H)
    distance = rng.integers(50, 900, A).astype(np.float64)
    cost = np.rint(visits[arc_household] * distance).astype(np.int64)
    tier = rng.integers(0, 3, H).astype(np.int8)
    step = Problem.balance_step_costs
    problem = Problem(
        objective="balanced" if balance > 0 else "distance",
        household_tier=tier,
        household_visits=visits,
        household_group=group,
        household_pin=pin,
        household_current=np.full(H, -1, dtype=np.int32),
        member_capacity=capacity,
        arc_household=arc_household,
        arc_member=arc_member,
        arc_distance_m=distance,
        arc_cost=cost,
        household_arc_ptr=csr_pointer(arc_household, H),
        balance_scale=float(balance),
        tier_penalty=np.zeros(3, dtype=np.int64),
        churn_penalty=0,
    )
    max_step = max((int(step(problem, m).max(initial=0)) for m in range(M)), default=0)
    penalty = tier_penalties(M, int(cost.max(initial=0)), max_step)
    extra: dict[str, object] = {}
    if budgets:
        extra["arc_weight"] = rng.integers(1, 6, A).astype(np.int64)
        extra["member_budget"] = rng.integers(0, 4 * max_capacity, M).astype(np.int64)
        if pins:
            # The compiler keeps pins feasible; give pinned arcs a weight that fits.
            for h in np.flatnonzero(pin >= 0):
                a = problem.arc_index(int(h), int(pin[h]))
                extra["arc_weight"][a] = 0  # type: ignore[index]
    if backups:
        wants = rng.random(H) < 0.6
        wants[: min(2, H)] = True
        extra["household_backup"] = wants
        extra["member_backup_capacity"] = rng.integers(0, 3, M).astype(np.int32)
        extra["backup_penalty"] = int(cost.max(initial=0)) * 3 + 1
        if safe_backups:
            room = int(np.asarray(extra["household_backup"]).sum()) * max(
                int(extra["backup_penalty"]), int(cost.max(initial=0))
            )
            penalty = penalty + room * np.array([1, 2, 3], dtype=np.int64)
    problem = replace(problem, tier_penalty=penalty, **extra)
    problem.validate()
    return problem


TIER_VISITS = np.array([1.0, 3.0, 14.0])
"""Visits a week of each tier (normal, elevated, critical) in :func:`geometric_problem`."""


def geometric_problem(
    seed: int,
    households: int,
    members: int,
    *,
    side_m: float = 1500.0,
    radius_m: float = 600.0,
    capacity: tuple[int, int] = (0, 4),
    groups: bool = False,
    pins: bool = False,
    balance: float = 0.0,
    tier_p: tuple[float, float, float] = (0.7, 0.2, 0.1),
    current: bool = False,
) -> Problem:
    """A random Problem: points in a square, arcs within ``radius_m``, optional groups and pins.

    Groups keep only the members within reach of every household of the
    group; a pin fits its member's capacity and leaves its household (or
    whole group) exactly that one arc, as the compiler guarantees. With
    ``current`` households get today's member and arcs to any other member
    cost a churn penalty on top of travel, as under the min-churn objective.
    """
    rng = np.random.default_rng(seed)
    H, M = households, members
    hxy = rng.uniform(0.0, side_m, (H, 2))
    mxy = rng.uniform(0.0, side_m, (M, 2))
    cap = rng.integers(capacity[0], capacity[1] + 1, M).astype(np.int32)
    tier = rng.choice(NUM_TIERS, H, p=list(tier_p)).astype(np.int8)
    visits = TIER_VISITS[tier]
    dist = np.sqrt(((hxy[:, None, :] - mxy[None, :, :]) ** 2).sum(axis=2)) if H and M else np.zeros((H, M))
    eligible = dist <= radius_m

    group = np.full(H, -1, dtype=np.int32)
    if groups and H:
        h, g = 0, 0
        while h < H:
            size = int(rng.integers(1, 5))
            if rng.random() < 0.5 and size > 1:
                members_of = np.arange(h, min(H, h + size))
                group[members_of] = g
                eligible[members_of] = eligible[members_of].all(axis=0)
                g += 1
            h += size
    pin = np.full(H, -1, dtype=np.int32)
    if pins and H:
        pinned_load = np.zeros(M, dtype=np.int64)
        units = [np.flatnonzero(group == g) for g in range(int(group.max()) + 1)] if groups else []
        units += [np.array([h]) for h in np.flatnonzero(group < 0)]
        for unit in units:
            if rng.random() >= 0.2:
                continue
            options = np.flatnonzero(eligible[unit[0]] & (pinned_load + unit.size <= cap))
            if options.size:
                m = int(rng.choice(options))
                pin[unit] = m
                pinned_load[m] += unit.size
                eligible[unit] = False
                eligible[unit, m] = True

    arc_h, arc_m = np.nonzero(eligible)
    arc_d = dist[arc_h, arc_m]
    arc_cost = np.rint(visits[arc_h] * arc_d).astype(np.int64)
    today = np.full(H, -1, dtype=np.int32)
    churn = 0
    if current and arc_h.size:
        for h in range(H):
            options = arc_m[arc_h == h]
            if options.size and rng.random() < 0.7:
                today[h] = int(rng.choice(options))
        churn = 2 * max(M, 1) * int(arc_cost.max()) + 1
        arc_cost = arc_cost + np.where((today[arc_h] >= 0) & (arc_m != today[arc_h]), churn, 0)
    max_step = int(np.rint(2.0 * balance)) if balance > 0 else 0
    max_travel = int(arc_cost.max()) if arc_cost.size else 0
    problem = Problem(
        objective="min-churn" if current else "balanced" if balance > 0 else "distance",
        household_tier=tier,
        household_visits=visits,
        household_group=group,
        household_pin=pin,
        household_current=today,
        member_capacity=cap,
        arc_household=arc_h.astype(np.int32),
        arc_member=arc_m.astype(np.int32),
        arc_distance_m=arc_d.astype(np.float64),
        arc_cost=arc_cost,
        household_arc_ptr=csr_pointer(arc_h, H),
        balance_scale=float(balance),
        tier_penalty=tier_penalties(M, max_travel, max_step, churn),
        churn_penalty=churn,
    )
    problem.validate()
    return problem
