"""Which days and rounds each household is visited on, levelled per member.

A week (a period of ``days`` days) has two rounds a day: round 1 in the
morning, round 2 in the afternoon. A household's ``visits_per_week`` becomes
a whole number of visits in the period (:func:`visits_in_period`); those are
spread evenly through the period (:func:`spread_days`), and the only choice
left is where the spread pattern starts. That choice is made per member by a
greedy model with improvement passes (:func:`level_days`): each household in
turn takes the start that keeps the member's days most level (smallest sum of
squared minutes per day, then of squared visits per day). See docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MORNING = 1
"""Round number of the morning round (上午)."""
AFTERNOON = 2
"""Round number of the afternoon round (下午)."""
ROUNDS_PER_DAY = 2
"""Rounds a day: a household is visited at most twice a day (the 86-year-old living alone)."""
MAX_PASSES = 20
"""Improvement passes of :func:`level_days` at most (it stops earlier when nothing moves)."""


def visits_in_period(visits_per_week: np.ndarray, days: int) -> np.ndarray:
    """int64: visits each household gets in a period of ``days`` days.

    ``ceil(visits_per_week × days / 7)``, at least 1 and at most two a day
    (``2 × days``): a fraction is rounded up, since ``visits_per_week`` is
    what a household must at least get; more than two visits a day does not
    fit the two rounds and is capped (docs/data-contract.md).
    """
    wanted = np.ceil(np.asarray(visits_per_week, dtype=np.float64) * days / 7.0 - 1e-9)
    return np.clip(np.nan_to_num(wanted, nan=1.0), 1, ROUNDS_PER_DAY * days).astype(np.int64)


def spread_days(count: int, days: int, start: int) -> tuple[int, ...]:
    """The ``count`` days (0-based, sorted) spread evenly through ``days`` days from ``start``.

    Day ``(start + ⌊k · days / count⌋) mod days`` for k = 0 … count − 1:
    3 in 7 from Monday gives Monday, Wednesday, Friday; consecutive visits
    are never more than ``⌈days / count⌉`` days apart, across the week's end too.
    """
    return tuple(sorted((start + (k * days) // count) % days for k in range(count)))


@lru_cache(maxsize=1024)
def slot_options(count: int, days: int, window: str) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Every way to give a household ``count`` visits: distinct tuples of (day, round) slots.

    Parameters
    ----------
    count
        Visits in the period, 1 … 2 × days (:func:`visits_in_period`).
    days
        Days in the period.
    window
        ``"am"``, ``"pm"`` or ``""`` (either; then the morning round).

    Returns
    -------
    tuple of tuple of (day, round)
        Options in order of their start day; slots sorted. Up to ``days``
        visits go on different days in the window's round; beyond that every
        day has one visit in the window's round and the extra visits are in
        the other round, spread through the period like the first ones.
    """
    main = AFTERNOON if window == "pm" else MORNING
    other = MORNING if main == AFTERNOON else AFTERNOON
    options: list[tuple[tuple[int, int], ...]] = []
    seen: set[tuple[tuple[int, int], ...]] = set()
    for start in range(days):
        if count <= days:
            slots = [(day, main) for day in spread_days(count, days, start)]
        else:
            slots = [(day, main) for day in range(days)]
            slots += [(day, other) for day in spread_days(count - days, days, start)]
        option = tuple(sorted(slots))
        if option not in seen:
            seen.add(option)
            options.append(option)
    return tuple(options)


@dataclass(frozen=True, slots=True)
class _Options:
    """One household's options as arrays: visits per day and minutes per day for each."""

    slots: tuple[tuple[tuple[int, int], ...], ...]
    visits: np.ndarray  # float64[options, days]
    minutes: np.ndarray  # float64[options, days]


def level_days(
    count: np.ndarray, window: np.ndarray, minutes_per_visit: np.ndarray, days: int
) -> list[tuple[tuple[int, int], ...]]:
    """One member's households: the (day, round) slots of each, days kept level.

    Parameters
    ----------
    count
        int64[k]: visits of each household in the period (:func:`visits_in_period`).
    window
        object[k]: ``"am"``, ``"pm"`` or ``""``.
    minutes_per_visit
        float64[k]: the estimated minutes one visit costs the member (door and
        walking there and back: the hour budget's reckoning), the weight of a
        visit when days are levelled.
    days
        Days in the period.

    Returns
    -------
    list of tuple of (day, round)
        For each household (input order), its slots.

    Notes
    -----
    Households are placed one by one, those with fewest options and most
    visits first (then most minutes, then input order); each takes the option
    that gives the smallest (Σ minutes², Σ visits²) over the days, the first
    such option on ties. Then passes take each household out and put it back
    at its best option, until a pass moves nothing (at most
    :data:`MAX_PASSES`). No randomness: the same input gives the same days.
    """
    k = len(count)
    options: list[_Options] = []
    for i in range(k):
        slots = slot_options(int(count[i]), days, str(window[i]))
        visits = np.zeros((len(slots), days), dtype=np.float64)
        for row, option in enumerate(slots):
            for day, _ in option:
                visits[row, day] += 1.0
        options.append(_Options(slots, visits, visits * float(minutes_per_visit[i])))
    order = sorted(range(k), key=lambda i: (len(options[i].slots), -int(count[i]), -float(minutes_per_visit[i]), i))
    load_minutes = np.zeros(days, dtype=np.float64)
    load_visits = np.zeros(days, dtype=np.float64)
    chosen = [-1] * k

    def best(i: int) -> int:
        opt = options[i]
        if len(opt.slots) == 1:
            return 0
        minutes = ((load_minutes + opt.minutes) ** 2).sum(axis=1)
        visits = ((load_visits + opt.visits) ** 2).sum(axis=1)
        # Rounded so that float noise never decides between equal options.
        return int(np.lexsort((np.arange(len(opt.slots)), visits, np.round(minutes, 6)))[0])

    def place(i: int, choice: int, sign: float) -> None:
        nonlocal load_minutes, load_visits
        load_minutes = load_minutes + sign * options[i].minutes[choice]
        load_visits = load_visits + sign * options[i].visits[choice]

    for i in order:
        chosen[i] = best(i)
        place(i, chosen[i], 1.0)
    movable = [i for i in order if len(options[i].slots) > 1]
    for _ in range(MAX_PASSES):
        moved = False
        for i in movable:
            place(i, chosen[i], -1.0)
            choice = best(i)
            place(i, choice, 1.0)
            if choice != chosen[i]:
                chosen[i] = choice
                moved = True
        if not moved:
            break
    return [options[i].slots[chosen[i]] for i in range(k)]
