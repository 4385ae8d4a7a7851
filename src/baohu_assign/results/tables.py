"""A solve's outcome per household (member, distance, changed, reason) and the plan's two tables.

:func:`household_outcome` turns the index-level :class:`~baohu_assign.solving.result.SolveResult`
into arrays per scenario household, once; the report and the tables
(:func:`assignments_table`, :func:`members_table`) are built from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..model import costs
from ..model.compile import visit_minutes
from ..model.scenario import Scenario
from ..solving.result import SolveResult
from .explain import PIN_REASONS, branch_reasons, changed_mask

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "HOUSEHOLD_COLUMNS",
    "MEMBER_EXTRA_COLUMNS",
    "MEMBER_SUMMARY_COLUMNS",
    "HouseholdOutcome",
    "assignments_table",
    "household_outcome",
    "members_table",
]

ASSIGNMENT_COLUMNS = ("household_id", "member_id", "role", "distance_m", "changed", "reason")
HOUSEHOLD_COLUMNS = (
    "head_name",
    "branch",
    "lat",
    "lon",
    "size",
    "priority",
    "visits_per_week",
    "group_id",
    "current_member_id",
    "pinned",
    "minutes_per_visit",
)
MEMBER_SUMMARY_COLUMNS = (
    "member_id",
    "branch",
    "households",
    "capacity",
    "utilisation",
    "visits_per_week",
    "travel_m_per_week",
    "critical_households",
    "over_capacity_unit",
)
MEMBER_EXTRA_COLUMNS = ("name", "available", "mobile", "max_distance_m", "age", "hours_per_week")


@dataclass(frozen=True, slots=True, eq=False)
class HouseholdOutcome:
    """Per scenario household row (read-only arrays): what the solve gave it.

    ``member_row`` / ``backup_row``: scenario row of its primary / backup
    member, -1 for none; ``distance`` / ``backup_distance``: metres to them
    (NaN for none); ``changed``: :func:`~baohu_assign.explain.changed_mask`
    (all false when ``current_given`` is false); ``reason``: the reason text
    of assignments.csv. ``current_given``: some household has a current member.
    """

    member_row: np.ndarray
    distance: np.ndarray
    changed: np.ndarray
    reason: np.ndarray
    backup_row: np.ndarray
    backup_distance: np.ndarray
    current_given: bool


def current_given(scenario: Scenario) -> bool:
    """Whether any household has a current member (else nothing can be "changed" or "new")."""
    current = scenario.households.get("current_member_id")
    return bool(current is not None and current.notna().any())


def household_outcome(result: SolveResult) -> HouseholdOutcome:
    """The per-household arrays of a solve (see :class:`HouseholdOutcome`)."""
    scenario = result.scenario
    given = current_given(scenario)
    n = len(scenario.households)
    member_row = result.primary_member_rows()
    distance = np.full(n, np.nan)
    reason = np.full(n, "", dtype=object)
    for branch_result in result.results:
        branch = branch_result.branch
        problem = branch.problem
        member_of = branch_result.solution.member_of.astype(np.int64)
        rows = branch.household_rows
        covered = np.flatnonzero(member_of >= 0)
        distance[rows[covered]] = problem.arc_distance_m[problem.arc_indices(covered, member_of[covered])]
        _, rs = branch_reasons(branch, member_of, result.objective)
        if not given:
            # Without any current contacts there is nothing to be new against.
            rs = np.where(rs == "new_household", "", rs)
        reason[rows] = rs
        for pin in branch.broken_pins:
            why = PIN_REASONS.get(pin.reason, pin.reason)
            text = reason[pin.household_row]
            reason[pin.household_row] = f"{text}; pin broken: {why}" if text else f"pin broken: {why}"
    changed = np.zeros(n, dtype=bool)
    if given:
        member_ids = np.append(scenario.members["member_id"].to_numpy(dtype=object), [None])
        current_ids = scenario.households["current_member_id"].to_numpy(dtype=object)
        changed = changed_mask(current_ids, member_ids[member_row])  # -1 picks the trailing None
    backup_row, backup_distance = _backups(result)
    arrays = (member_row, distance, changed, reason, backup_row, backup_distance)
    for array in arrays:
        array.flags.writeable = False
    return HouseholdOutcome(*arrays, current_given=given)


def _backups(result: SolveResult) -> tuple[np.ndarray, np.ndarray]:
    """Per scenario household row: its backup member's row (-1: none) and the distance to it."""
    n = len(result.scenario.households)
    backup_row = np.full(n, -1, dtype=np.int64)
    backup_distance = np.full(n, np.nan)
    for branch_result in result.results:
        backup_of = branch_result.solution.backup_of
        if backup_of is None:
            continue
        branch = branch_result.branch
        has = np.flatnonzero(backup_of >= 0)
        rows_b = branch.household_rows[has]
        backup_row[rows_b] = branch.member_rows[backup_of[has]]
        arcs = branch.problem.arc_indices(has, backup_of[has])
        backup_distance[rows_b] = branch.problem.arc_distance_m[arcs]
    return backup_row, backup_distance


def assignments_table(scenario: Scenario, outcome: HouseholdOutcome) -> pd.DataFrame:
    """assignments.csv as a frame: one row per household (input order), each backup row after its primary."""
    hh = scenario.households
    member_ids = np.append(scenario.members["member_id"].to_numpy(dtype=object), [None])
    member = member_ids[outcome.member_row]  # -1 picks the trailing None
    # numpy's stubs reject None as a branch of np.where, which takes it as an object.
    role = np.where(outcome.member_row >= 0, "primary", None)  # type: ignore[call-overload]
    data: dict[str, Any] = {
        "household_id": hh["household_id"].astype("string").to_numpy(),
        "member_id": pd.array(member, dtype="string"),
        "role": pd.array(role, dtype="string"),
        "distance_m": np.round(outcome.distance, 1),
        "changed": pd.array(outcome.changed, dtype="boolean")
        if outcome.current_given
        else pd.array([pd.NA] * len(hh), dtype="boolean"),
        "reason": pd.array(outcome.reason, dtype="string"),
    }
    frame = pd.DataFrame(data)
    for column in HOUSEHOLD_COLUMNS:
        if column in hh:
            frame[column] = hh[column].to_numpy()
    for column in _extra_columns(hh, ("household_id", *HOUSEHOLD_COLUMNS)):
        frame[column] = hh[column].to_numpy()
    backups = np.flatnonzero(outcome.backup_row >= 0)
    if backups.size == 0:
        return frame
    # Each backup row follows its household's primary row.
    extra = frame.iloc[backups].copy()
    extra["member_id"] = pd.array(member_ids[outcome.backup_row[backups]], dtype="string")
    extra["role"] = pd.array(["backup"] * backups.size, dtype="string")
    extra["distance_m"] = np.round(outcome.backup_distance[backups], 1)
    extra["changed"] = pd.array([pd.NA] * backups.size, dtype="boolean")
    extra["reason"] = pd.array([""] * backups.size, dtype="string")
    order = np.concatenate([np.arange(len(frame)) * 2, backups * 2 + 1])
    combined = pd.concat([frame, extra], ignore_index=True)
    return combined.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def members_table(scenario: Scenario, outcome: HouseholdOutcome) -> pd.DataFrame:
    """members.csv as a frame: one row per member with load, capacity, weekly visits and travel."""
    mem = scenario.members
    hh = scenario.households
    covered = outcome.member_row >= 0
    served_by = outcome.member_row[covered]
    n = len(mem)
    load = np.bincount(served_by, minlength=n)
    visits = hh["visits_per_week"].to_numpy(dtype=np.float64)[covered]
    weekly_visits = np.bincount(served_by, weights=visits, minlength=n)
    travel = np.bincount(served_by, weights=costs.travel_m(visits, outcome.distance[covered]), minlength=n)
    critical = (hh["priority"].to_numpy(dtype=object)[covered] == "critical").astype(np.int64)
    critical_count = np.bincount(served_by, weights=critical, minlength=n).astype(np.int64)
    capacity = np.where(mem["available"].to_numpy(dtype=bool), mem["capacity"].to_numpy(dtype=np.int64), 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(capacity > 0, load / np.maximum(capacity, 1), np.nan)
    frame = pd.DataFrame(
        {
            "member_id": mem["member_id"].astype("string").to_numpy(),
            "branch": mem["branch"].astype("string").to_numpy(),
            "households": load.astype(np.int64),
            "capacity": capacity.astype(np.int64),
            "utilisation": np.round(utilisation, 4),
            "visits_per_week": np.round(weekly_visits, 3),
            "travel_m_per_week": np.round(travel, 1),
            "critical_households": critical_count,
            # The capacity rule lets a member carry more than capacity only as one whole unit.
            "over_capacity_unit": (load > capacity) & (capacity > 0),
        }
    )
    backup_rows = outcome.backup_row[outcome.backup_row >= 0]
    if backup_rows.size:
        frame["backups"] = np.bincount(backup_rows, minlength=n).astype(np.int64)
    if "hours_per_week" in mem and mem["hours_per_week"].notna().any():
        minutes = visit_minutes(hh, scenario.policy)[covered]
        speed = scenario.policy.walking_speed_m_per_min
        per_week = costs.weekly_minutes(visits, minutes, outcome.distance[covered], speed)
        frame["hours_used"] = np.round(np.bincount(served_by, weights=per_week, minlength=n) / 60.0, 2)
    for column in MEMBER_EXTRA_COLUMNS:
        if column in mem:
            frame[column] = mem[column].to_numpy()
    for column in _extra_columns(mem, ("member_id", "branch", "capacity", *MEMBER_EXTRA_COLUMNS, "lat", "lon")):
        frame[column] = mem[column].to_numpy()
    return frame


def _extra_columns(frame: pd.DataFrame, known: tuple[str, ...]) -> list[str]:
    return [c for c in frame.columns if c not in known and c != "row"]
