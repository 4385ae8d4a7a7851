"""The week's visit rounds of every member, from a plan: :func:`plan_visits` → :class:`VisitPlan`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io.atomic import atomic_write_bytes
from ..io.tables import csv_text
from ..io.validate import visit_windows, yes_values
from ..model import costs
from ..model.geo import great_circle_m
from ..model.scenario import Scenario
from ..results.plain import table_records
from ..results.plan import Plan
from .routing import round_order
from .schedule import level_days, visits_in_period

VISIT_COLUMNS: tuple[str, ...] = ("member_id", "day", "round", "stop", "household_id", "walk_m", "arrive_min")
"""Columns of ``visits.csv``, one row per visit, in member, day, round and stop order."""
MEMBER_DAY_COLUMNS: tuple[str, ...] = ("member_id", "day", "rounds", "visits", "walk_m", "minutes")
"""Columns of ``member_days.csv``, one row per member with households and day of the period."""
MEMBER_WEEK_COLUMNS: tuple[str, ...] = (
    "member_id",
    "branch",
    "households",
    "visits",
    "walk_m",
    "minutes",
    "hours",
    "hours_estimate",
    "hours_per_week",
)
"""Columns of :attr:`VisitPlan.member_weeks`: the period's totals beside the hour budget."""
VISIT_FILES: tuple[str, ...] = ("visits.csv", "member_days.csv")
"""The files :meth:`VisitPlan.write` writes (also as ``extra`` of :meth:`~baohu_assign.Plan.write`)."""
DAY_NAMES_ZH: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
"""Day 1 … 7 of a week's plan (a period of 7 days starts on Monday)."""
ROUND_NAMES_ZH: dict[int, str] = {1: "上午", 2: "下午"}
"""Round 1 is the morning round, round 2 the afternoon round."""
FOUR_ONES_ZH: tuple[str, ...] = ("测体温", "消毒", "清运垃圾", "代购生活用品")
"""The daily "四个一" service of a quarantined household: the checklist printed at its visits."""


def needs_four_ones(households: pd.DataFrame, days: int = 7) -> np.ndarray:
    """bool[n]: households whose visits get the 四个一 checklist.

    With the optional households column ``quarantined`` (yes/no, 是/否), the
    households it marks yes. Without it, critical households visited at
    least once every day of the period (the quarantined households, and those
    living alone that are visited twice a day): the checklist does no harm
    where it is not needed.
    """
    if "quarantined" in households.columns:
        return yes_values(households["quarantined"])
    count = visits_in_period(households["visits_per_week"].to_numpy(dtype=np.float64), days)
    return (households["priority"].astype(str).to_numpy() == "critical") & (count >= days)


def day_name_zh(day: int, days: int) -> str:
    """Chinese name of day ``day`` (1-based): 周一 … 周日 in a 7-day period, else 第N天."""
    return DAY_NAMES_ZH[day - 1] if days == 7 else f"第{day}天"


@dataclass(frozen=True, eq=False)
class VisitPlan:
    """Every member's rounds over a period: who visits whom, on which day, in which order.

    Built by :func:`plan_visits`; never mutated: the tables are handed out as copies.

    Attributes
    ----------
    days
        Days in the period (7: a week, day 1 = Monday).
    visits
        One row per visit (:data:`VISIT_COLUMNS`): ``day`` 1 … days,
        ``round`` 1 (morning) or 2 (afternoon), ``stop`` 1 … in walking order,
        ``walk_m`` from the previous stop (the member's home for stop 1),
        ``arrive_min`` minutes after the round starts.
    member_days
        One row per member with households and day (:data:`MEMBER_DAY_COLUMNS`):
        ``walk_m`` includes the walk back home; ``minutes`` = walking at the
        policy's speed + minutes at each door (:func:`~baohu_assign.model.costs.round_minutes`).
    member_weeks
        One row per member with households (:data:`MEMBER_WEEK_COLUMNS`):
        the period's visits, walk and minutes, ``hours`` = minutes / 60,
        ``hours_estimate`` = the hour budget's reckoning (each visit walked
        there and back alone), ``hours_per_week`` = the member's budget
        (empty: none given).
    """

    days: int
    _visits: pd.DataFrame
    _member_days: pd.DataFrame
    _member_weeks: pd.DataFrame

    @property
    def visits(self) -> pd.DataFrame:
        """One row per visit, as a copy."""
        return self._visits.copy()

    @property
    def member_days(self) -> pd.DataFrame:
        """One row per member and day, as a copy."""
        return self._member_days.copy()

    @property
    def member_weeks(self) -> pd.DataFrame:
        """One row per member with households: the period's totals and the hour budget, as a copy."""
        return self._member_weeks.copy()

    def files(self) -> dict[str, bytes]:
        """``visits.csv`` and ``member_days.csv`` as bytes (UTF-8 with BOM), for ``Plan.write(dir, extra=...)``."""
        return {"visits.csv": _csv_bytes(self._visits), "member_days.csv": _csv_bytes(self._member_days)}

    def to_dict(self) -> dict[str, Any]:
        """The visit plan as plain JSON values, as :meth:`baohu_assign.Plan.to_dict` gives a plan.

        Returns
        -------
        dict
            ``days``, then ``visits``, ``member_days`` and ``member_weeks``:
            one object per row of each table (the first two as visits.csv
            and member_days.csv hold them), empty cells as ``None``.
        """
        return {
            "days": self.days,
            "visits": table_records(self._visits),
            "member_days": table_records(self._member_days),
            "member_weeks": table_records(self._member_weeks),
        }

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``visits.csv`` and ``member_days.csv`` into ``directory`` (created when missing).

        Each file is replaced atomically; other files of the folder are left
        alone. To write them as part of a plan folder, pass :meth:`files` as
        ``extra`` to :meth:`baohu_assign.Plan.write` instead.

        Returns
        -------
        dict of str to pathlib.Path
            ``visits`` and ``member_days``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        for name, data in self.files().items():
            atomic_write_bytes(out / name, data)
            written[Path(name).stem] = out / name
        return written

    def summary(self) -> str:
        """Two lines for people: visits, rounds and walking of the period, and how level the days are."""
        days = self._member_days
        spread = days.groupby("member_id")["visits"].agg(lambda v: int(v.max() - v.min())) if len(days) else None
        level = 0 if spread is None or spread.empty else int(spread.max())
        return (
            f"  visits          {len(self._visits):,} in {int(days['rounds'].sum()) if len(days) else 0:,} rounds "
            f"over {self.days} days by {self._member_weeks.shape[0]:,} members, "
            f"walking {days['walk_m'].sum() / 1000.0 if len(days) else 0.0:,.1f} km\n"
            f"  level days      a member's busiest day has at most {level} visit(s) more than their quietest"
        )

    def __repr__(self) -> str:
        members = self._member_weeks.shape[0]
        return f"VisitPlan(days={self.days}, members={members}, visits={len(self._visits)})"


def plan_visits(plan: Plan, days: int = 7) -> VisitPlan:
    """Each member's rounds over ``days`` days: which households on which day and round, in which order.

    Every covered household is visited by its primary member
    ``ceil(visits_per_week × days / 7)`` times (at least once, at most twice a
    day): twice a day in the morning and afternoon rounds, daily, or on that
    many different days spread through the period; a ``visit_window``
    (``am``/``pm``, 上午/下午) puts its visits in that round. Days are chosen
    so that each member's days are level; each round is the shortest walk
    found from home through its stops and back (see docs/model.md).
    Distances are along the walking network when the scenario has one,
    great-circle otherwise. Deterministic: the same plan gives the same week.

    Parameters
    ----------
    plan
        A plan from :func:`~baohu_assign.solve` or :func:`~baohu_assign.rebalance`.
    days
        Days in the period (7: a week starting on Monday).

    Returns
    -------
    VisitPlan
    """
    if int(days) != days or days < 1:
        raise ValueError(f"days must be a whole number ≥ 1, got {days!r}")
    week = _Week.of(plan, int(days))
    visit_rows: list[tuple[str, int, int, int, str, float, float]] = []
    day_rows: list[tuple[str, int, int, int, float, float]] = []
    week_rows: list[dict[str, object]] = []
    for member, rows in _households_by_member(plan.primary, week.member_ids):
        week_rows.append(_member_week(week, member, rows, visit_rows, day_rows))
    visits = pd.DataFrame(visit_rows, columns=list(VISIT_COLUMNS))
    member_days = pd.DataFrame(day_rows, columns=list(MEMBER_DAY_COLUMNS))
    member_weeks = pd.DataFrame(week_rows, columns=list(MEMBER_WEEK_COLUMNS))
    for frame in (visits, member_days, member_weeks):
        frame["member_id"] = frame["member_id"].astype("string")
    visits["household_id"] = visits["household_id"].astype("string")
    return VisitPlan(week.days, visits, member_days, member_weeks)


@dataclass(frozen=True, eq=False)
class _Week:
    """What planning the rounds needs: per household (rows of the plan's primary table) and per member."""

    scenario: Scenario
    days: int
    speed: float  # metres per minute
    household_ids: np.ndarray
    household_lat: np.ndarray
    household_lon: np.ndarray
    door: np.ndarray  # minutes per visit
    count: np.ndarray  # visits in the period
    window: np.ndarray  # "", "am" or "pm"
    estimate: np.ndarray  # the hour budget's reckoning of one visit, in minutes
    reach: np.ndarray  # metres from the primary member
    member_ids: np.ndarray
    member_lat: np.ndarray
    member_lon: np.ndarray
    hours_budget: np.ndarray  # NaN: no budget

    @classmethod
    def of(cls, plan: Plan, days: int) -> _Week:
        scenario = plan.scenario
        speed = scenario.policy.walking_speed_m_per_min
        households = plan.primary
        members = scenario.members
        door = households["minutes_per_visit"].to_numpy(dtype=np.float64)
        if "visit_window" in households:
            window = visit_windows(households["visit_window"])
        else:
            window = np.full(len(households), "", dtype=object)
        # The hour budget's reckoning of one visit: the weight of a visit when days are levelled.
        estimate = costs.weekly_minutes(
            np.ones(len(households)), door, households["distance_m"].to_numpy(dtype=np.float64), speed
        )
        return cls(
            scenario=scenario,
            days=days,
            speed=speed,
            household_ids=households["household_id"].astype("string").to_numpy(dtype=object),
            household_lat=households["lat"].to_numpy(dtype=np.float64),
            household_lon=households["lon"].to_numpy(dtype=np.float64),
            door=door,
            count=visits_in_period(households["visits_per_week"].to_numpy(dtype=np.float64), days),
            window=window,
            estimate=estimate,
            reach=households["distance_m"].to_numpy(dtype=np.float64),
            member_ids=members["member_id"].astype("string").to_numpy(dtype=object),
            member_lat=members["lat"].to_numpy(dtype=np.float64),
            member_lon=members["lon"].to_numpy(dtype=np.float64),
            hours_budget=(
                members["hours_per_week"].to_numpy(dtype=np.float64)
                if "hours_per_week" in members
                else np.full(len(members), np.nan)
            ),
        )


def _households_by_member(households: pd.DataFrame, member_ids: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(member row, its covered households' rows in input order), members in scenario order."""
    member_row = {str(m): i for i, m in enumerate(member_ids)}
    served = np.flatnonzero(households["member_id"].notna().to_numpy())
    hh_member = np.array([member_row[str(m)] for m in households["member_id"].to_numpy(dtype=object)[served]])
    order = np.argsort(hh_member, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(hh_member[order]) != 0]) if order.size else np.zeros(0, np.int64)
    bounds = np.r_[starts, order.size]
    return [(int(hh_member[order[first]]), served[order[first:last]]) for first, last in itertools.pairwise(bounds)]


def _member_week(
    week: _Week,
    member: int,
    rows: np.ndarray,
    visit_rows: list[tuple[str, int, int, int, str, float, float]],
    day_rows: list[tuple[str, int, int, int, float, float]],
) -> dict[str, object]:
    """Plan one member's rounds: append its visits and days to the lists, return its row of the period's totals."""
    days = week.days
    mid = str(week.member_ids[member])
    distance = _distance_matrix(
        week.scenario,
        np.r_[week.member_lat[member], week.household_lat[rows]],
        np.r_[week.member_lon[member], week.household_lon[rows]],
        week.reach[rows].max(),
    )
    slots = level_days(week.count[rows], week.window[rows], week.estimate[rows], days)
    rounds: dict[tuple[int, int], list[int]] = {}
    for local, option in enumerate(slots):
        for slot in option:
            rounds.setdefault(slot, []).append(local + 1)  # index in distance: 0 is home
    day_walk = np.zeros(days)
    day_minutes = np.zeros(days)
    day_visits = np.zeros(days, dtype=np.int64)
    day_rounds = np.zeros(days, dtype=np.int64)
    routes: dict[tuple[int, ...], list[int]] = {}
    for day, round_no in sorted(rounds):
        stops = tuple(rounds[(day, round_no)])
        if stops not in routes:  # a daily round repeats: order it once
            routes[stops] = [stops[i - 1] for i in round_order(distance[np.ix_((0, *stops), (0, *stops))])]
        path = routes[stops]
        walked = _walk_round(week, mid, day, round_no, rows, path, distance, visit_rows)
        day_walk[day] += walked
        day_minutes[day] += float(costs.round_minutes(walked, week.door[rows[[p - 1 for p in path]]].sum(), week.speed))
        day_visits[day] += len(path)
        day_rounds[day] += 1
    for day in range(days):
        day_rows.append(
            (
                mid,
                day + 1,
                int(day_rounds[day]),
                int(day_visits[day]),
                round(day_walk[day], 1),
                round(day_minutes[day], 1),
            )
        )
    budget = float(week.hours_budget[member])
    return {
        "member_id": mid,
        "branch": str(week.scenario.members["branch"].iloc[member]),
        "households": len(rows),
        "visits": int(day_visits.sum()),
        "walk_m": round(float(day_walk.sum()), 1),
        "minutes": round(float(day_minutes.sum()), 1),
        "hours": round(float(day_minutes.sum()) / 60.0, 2),
        "hours_estimate": round(float((week.estimate[rows] * week.count[rows]).sum()) / 60.0, 2),
        "hours_per_week": budget if np.isfinite(budget) else np.nan,
    }


def _walk_round(
    week: _Week,
    mid: str,
    day: int,
    round_no: int,
    rows: np.ndarray,
    path: list[int],
    distance: np.ndarray,
    visit_rows: list[tuple[str, int, int, int, str, float, float]],
) -> float:
    """Walk one round from home along ``path`` (indices into ``distance``; 0 is home) and back.

    Appends a row per stop to ``visit_rows``; returns the metres walked, the way home included.
    """
    clock = 0.0
    previous = 0
    walked = 0.0
    for stop_no, point in enumerate(path, start=1):
        leg = float(distance[previous, point])
        walked += leg
        clock += float(costs.walking_minutes(leg, week.speed))
        visit_rows.append(
            (mid, day + 1, round_no, stop_no, str(week.household_ids[rows[point - 1]]), round(leg, 1), round(clock, 1))
        )
        clock += float(week.door[rows[point - 1]])
        previous = point
    return walked + float(distance[previous, 0])


def _distance_matrix(scenario: Scenario, lat: np.ndarray, lon: np.ndarray, farthest_m: float) -> np.ndarray:
    """Metres between every pair of a member's points (home first): along the network, or great-circle.

    ``farthest_m``: the member's farthest household. On an undirected
    network no leg between the member's points is longer than twice that
    (through home), so the searches stop there. A leg the network has no
    path for within it (one-way edges the wrong way) is taken as the
    great-circle distance: the round still has to be walked.
    """
    straight = great_circle_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    network = scenario.network
    if network is None:
        distance = straight
    else:
        distance = network.distance_matrix(lat, lon, limit=2.0 * float(farthest_m) * (1.0 + 1e-9) + 1.0)
        distance = np.where(np.isfinite(distance), distance, straight)
    np.fill_diagonal(distance, 0.0)
    return distance


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return csv_text(frame).encode("utf-8")


__all__ = ["FOUR_ONES_ZH", "VisitPlan", "day_name_zh", "needs_four_ones", "plan_visits"]
