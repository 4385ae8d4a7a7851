"""The cost formulas of the model, each written once.

The compiler builds a :class:`~baohu_assign.problem.Problem` with these
functions, the engines and :func:`~baohu_assign.objective.evaluate` price
plans with them, the shortage diagnosis prices its what-if arcs with them
and the member table reports weekly travel and hours with them. A formula
that two of those wrote separately would let an engine optimise one model
and report another; docs/model.md states each one.

Everything is vectorised over numpy arrays; integer results are int64.
"""

from __future__ import annotations

import numpy as np

TRAVEL_UNIT_M = 0.1
"""Metre-visits per integer cost unit: decimetres, so rounding stays negligible
even inside an apartment community where members live a few metres away."""

WEIGHT_UNIT_MIN = 0.1
"""Minutes per integer unit of the hour-budget resource (arc_weight, member_budget)."""


def travel_m(visits: np.ndarray | float, distance_m: np.ndarray) -> np.ndarray:
    """float64: weekly travel of a household at ``distance_m`` from its member, in metre-visits.

    ``visits × distance``: what ``travel_m_per_week`` reports.
    """
    return np.asarray(visits, dtype=np.float64) * np.asarray(distance_m, dtype=np.float64)


def travel_cost(visits: np.ndarray | float, distance_m: np.ndarray, unit: float = TRAVEL_UNIT_M) -> np.ndarray:
    """int64: weekly travel in integer cost units, ``round(visits × distance / unit)``."""
    return np.rint(travel_m(visits, distance_m) / unit).astype(np.int64)


def weekly_minutes(
    visits: np.ndarray, minutes_per_visit: np.ndarray, distance_m: np.ndarray, walking_speed_m_per_min: float
) -> np.ndarray:
    """float64: a member's weekly minutes for one household.

    ``visits × (minutes at the door + walking there and back)``.
    """
    walk = 2.0 * walking_minutes(distance_m, walking_speed_m_per_min)
    return np.asarray(visits, dtype=np.float64) * (np.asarray(minutes_per_visit, dtype=np.float64) + walk)


def arc_weight(
    visits: np.ndarray, minutes_per_visit: np.ndarray, distance_m: np.ndarray, walking_speed_m_per_min: float
) -> np.ndarray:
    """int64: the hour-budget weight of serving a household at ``distance_m``.

    :func:`minutes_weight` of :func:`weekly_minutes`: what ``Problem.arc_weight`` holds.
    """
    return minutes_weight(weekly_minutes(visits, minutes_per_visit, distance_m, walking_speed_m_per_min))


def walking_minutes(distance_m: np.ndarray | float, walking_speed_m_per_min: float) -> np.ndarray:
    """float64: minutes to walk ``distance_m`` at the policy's walking speed.

    Shared by the hour budget (:func:`weekly_minutes`) and the visit rounds
    (:func:`round_minutes`).
    """
    return np.asarray(distance_m, dtype=np.float64) / walking_speed_m_per_min


def round_minutes(
    walk_m: np.ndarray | float, minutes_at_doors: np.ndarray | float, walking_speed_m_per_min: float
) -> np.ndarray:
    """float64: minutes of one visit round, ``walking + minutes at each door``.

    ``walk_m``: the whole walk from home through the stops and back;
    ``minutes_at_doors``: the sum of the stops' ``minutes_per_visit``. A round
    of one stop takes exactly that household's :func:`weekly_minutes` for one visit.
    """
    return walking_minutes(walk_m, walking_speed_m_per_min) + np.asarray(minutes_at_doors, dtype=np.float64)


def minutes_weight(minutes: np.ndarray) -> np.ndarray:
    """int64: weekly minutes in :data:`WEIGHT_UNIT_MIN` units, rounded up.

    Weights round up and budgets (:func:`hours_budget`) round down, so a plan
    within budget in integers is within budget in exact minutes too.
    """
    return np.ceil(np.asarray(minutes, dtype=np.float64) / WEIGHT_UNIT_MIN - 1e-9).astype(np.int64)


def hours_budget(hours_per_week: np.ndarray, capacity: np.ndarray, unlimited: int) -> np.ndarray:
    """int64: each member's hour budget in :data:`WEIGHT_UNIT_MIN` units, rounded down.

    ``unlimited`` where no hours are given (NaN), 0 for members without capacity.
    """
    hours = np.asarray(hours_per_week, dtype=np.float64)
    budget = np.where(
        np.isfinite(hours), np.floor(np.nan_to_num(hours) * 60.0 / WEIGHT_UNIT_MIN + 1e-9), unlimited
    ).astype(np.int64)
    return np.where(np.asarray(capacity) > 0, budget, 0).astype(np.int64)


def churned(current: np.ndarray, member: np.ndarray | int, first_contact: np.ndarray | None = None) -> np.ndarray:
    """bool: giving the household ``member`` changes its contact.

    A change when the household has a current member and ``member`` is not
    that one; ``member`` -1 (uncovered) is a change too: the household loses
    its contact. Where ``first_contact`` (bool, aligned with ``member``) is
    true, the household had no contact and any member it gets is a change as
    well (see :func:`baohu_assign.compile.first_contact_changes`). The same
    set :func:`~baohu_assign.explain.changed_mask` counts from ids.
    """
    current = np.asarray(current)
    member = np.asarray(member)
    changed = (current >= 0) & (member != current)
    if first_contact is not None:
        changed = changed | (np.asarray(first_contact, dtype=bool) & (member >= 0))
    return changed


def churn_penalty(objective: str, num_members: int, max_travel_cost: int) -> int:
    """Cost of one changed contact: ``2 · M · max travel + 1`` under min-churn, else 0.

    Larger than the travel any exchange of households can save, so one fewer
    change always wins (docs/model.md).
    """
    if objective != "min-churn":
        return 0
    return 2 * max(int(num_members), 1) * max(int(max_travel_cost), 0) + 1


def arc_cost(
    travel: np.ndarray,
    current: np.ndarray,
    member: np.ndarray | int,
    churn: int,
    first_contact: np.ndarray | None = None,
) -> np.ndarray:
    """int64: secondary cost of serving households through arcs.

    ``travel`` (int cost units) plus ``churn`` where the arc changes its
    household's contact (:func:`churned`); ``current`` and ``first_contact``
    are each arc's household's.
    """
    changes = churned(current, member, first_contact)
    return (np.asarray(travel, dtype=np.int64) + np.where(changes, int(churn), 0)).astype(np.int64)


def uncovered_cost(tier: np.ndarray, current: np.ndarray, tier_penalty: np.ndarray, churn: int) -> np.ndarray:
    """int64: cost of leaving each household uncovered.

    Its tier penalty, plus ``churn`` when it has a current member (losing the
    contact is a change too).
    """
    penalty = np.asarray(tier_penalty, dtype=np.int64)[np.asarray(tier, dtype=np.int64)]
    return (penalty + np.where(churned(current, -1), int(churn), 0)).astype(np.int64)


def group_uncovered_cost(household_cost: np.ndarray, household_group: np.ndarray, num_groups: int) -> np.ndarray:
    """int64[num_groups]: cost of leaving each group (stairwell unit) uncovered, in exact integers.

    The sum of its households' :func:`uncovered_cost` (summed in int64: float
    weights would round penalties above 2⁵³).
    """
    total = np.zeros(int(num_groups), dtype=np.int64)
    np.add.at(total, np.asarray(household_group, dtype=np.int64), np.asarray(household_cost, dtype=np.int64))
    return total


def balance_steps(scale: float, capacity: np.ndarray, k: np.ndarray) -> np.ndarray:
    """int64: balance cost of the ``k``-th household (``k`` ≥ 1) of members with ``capacity``.

    ``round(scale · (2k − 1) / capacity)``: the steps sum to the integer form
    of ``scale · load² / capacity``. 0 when the term is off (``scale`` ≤ 0)
    or the member has no capacity.
    """
    capacity = np.asarray(capacity, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if scale <= 0:
        return np.zeros(np.broadcast(capacity, k).shape, dtype=np.int64)
    steps = np.rint(scale * (2.0 * k - 1.0) / np.maximum(capacity, 1.0)).astype(np.int64)
    return np.where(capacity > 0, steps, 0).astype(np.int64)
