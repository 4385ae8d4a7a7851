"""apply_events(): a plan after a few events, re-solving only the branches they touch.

The events (:mod:`baohu_assign.io.events`) edit the plan's scenario; today's
contacts become the plan's primary members, as ``rebalance(current=plan)``
takes them. The branches the events touch are re-solved by
:func:`~baohu_assign.solving.rebalance.rebalance` on a scenario of those
branches alone, under ``min-churn``; every other branch keeps its
:class:`~baohu_assign.solving.result.BranchResult` from the plan, its
assignment carried over unchanged (a branch's problem depends only on its own
rows), only renumbered to the edited tables' rows.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Issue
from ..io.events import (
    CapacityChanged,
    HouseholdAdded,
    HouseholdMoved,
    HouseholdRemoved,
    MemberAdded,
    MemberAvailable,
    MemberRemoved,
    MemberUnavailable,
    PinReleased,
    PinSet,
    PriorityChanged,
    parse_events,
)
from ..io.records import records_frame
from ..io.validate import InputWarning, cross_check, validate_households, validate_members
from ..model.compile import CROSS_BRANCH_KEY, CURRENT_ELIGIBLE, CURRENT_NONE, BranchProblem
from ..model.scenario import Scenario
from ..solving import rebalance as rebalancing
from ..solving.rebalance import current_members
from ..solving.result import BranchResult, SolveResult
from .plan import Plan

__all__ = ["apply_events"]

EVENTS_OBJECTIVE = "min-churn"
"""The objective the touched branches are re-solved under: fewest changed contacts."""


def apply_events(plan: Plan, events: Sequence[Any]) -> Plan:
    """The plan after ``events``, re-solving only the branches they touch, with the fewest changed contacts.

    Parameters
    ----------
    plan
        The plan in force; its primary members are today's contacts.
    events
        Event models of :mod:`baohu_assign.io.events` or JSON objects such as
        ``{"type": "member_unavailable", "member_id": "M001"}``, applied in order.

    Returns
    -------
    Plan
        On the edited members and households. Branches the events touch are
        re-solved as :func:`~baohu_assign.rebalance` with ``current=plan`` and
        ``objective="min-churn"`` would; every other branch keeps the plan's
        assignment unchanged (its solution, status and objective value). The
        ``changed`` flags compare with the plan's contacts. The report's
        ``warnings`` hold one ``events_applied`` entry (how many events, the
        touched branches as examples).

    Raises
    ------
    InputError
        A bad event (issue ``events[i]`` naming the field), an unknown member
        or household id, a record of ``member_added``/``household_added``
        the validator rejects, an id added twice.
    TypeError
        ``plan`` is not a :class:`~baohu_assign.Plan`.
    """
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be a baohu_assign.Plan, got {type(plan).__name__}")
    started = time.perf_counter()
    parsed = parse_events(events)
    original = plan.result
    scenario = original.scenario
    members, households, touched = _edited_frames(scenario, original, parsed)
    if scenario.policy.allow_cross_branch:
        touched = {CROSS_BRANCH_KEY}
    cross = scenario.policy.allow_cross_branch
    in_touched = _rows_of(households, touched, cross)
    members_in_touched = _rows_of(members, touched, cross)
    # One validation, of the touched branches' rows: the others are the plan's own, already valid
    # and unchanged but for today's contacts.
    part = Scenario.from_frames(
        members.iloc[members_in_touched].reset_index(drop=True),
        households.iloc[in_touched].reset_index(drop=True),
        policy=scenario.policy,
        network=scenario.network,
        locations=scenario.locations,
    )
    merged_members = _merged(scenario.members, members, part.members, members_in_touched)
    merged_households = _merged(scenario.households, households, part.households, in_touched)
    edited = dataclasses.replace(
        scenario,
        members=merged_members,
        households=merged_households,
        warnings=tuple(cross_check(merged_members, merged_households)),
    )
    # The touched branches are solved with every member (rows as in ``edited``), as a whole solve would.
    part = dataclasses.replace(part, members=merged_members)
    kept = [r for r in original.results if r.branch.branch not in touched]
    resolved = _resolve_touched(part, original, in_touched)
    results = sorted([*_carried_over(kept, scenario, edited), *resolved], key=lambda r: r.branch.branch)
    note = InputWarning(
        "events_applied",
        f"{len(parsed)} event(s) applied; {len(resolved)} branch(es) re-solved under {EVENTS_OBJECTIVE}, "
        f"{len(kept)} kept from the plan",
        len(parsed),
        sorted(touched)[:5],
    )
    edited = dataclasses.replace(edited, warnings=(*edited.warnings, note))
    # An untouched branch's diagnosis depends only on its own problem and solution: the plan's holds.
    known = {s.branch: s for s in plan.report.shortfalls if s.branch not in touched}
    return Plan.from_result(
        SolveResult(
            scenario=edited,
            results=tuple(results),
            objective=original.objective,
            strategy=original.strategy,
            seed=original.seed,
            time_limit=None,
            wall_s=time.perf_counter() - started,
        ),
        known_shortfalls=known,
    )


def _rows_of(households: pd.DataFrame, touched: set[str], cross_branch: bool) -> np.ndarray:
    """int64: rows of the households in the touched branches."""
    if cross_branch:
        return np.arange(len(households) if touched else 0, dtype=np.int64)
    return np.flatnonzero(households["branch"].astype(str).isin(touched).to_numpy()).astype(np.int64)


def _merged(before: pd.DataFrame, edited: pd.DataFrame, validated: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The whole edited table: ``edited``'s rows, those at ``rows`` as ``validated`` holds them.

    The frame :meth:`Scenario.replace` gives for the edited table (columns in ``before``'s order,
    ``row`` numbered afresh), without validating the other rows again.
    """
    others = np.setdiff1d(np.arange(len(edited)), rows)
    merged = pd.concat([edited.iloc[others], validated.drop(columns=["row"])], ignore_index=True)
    merged.index = np.r_[others, rows]
    merged = merged.sort_index().reset_index(drop=True)
    merged["row"] = np.arange(len(merged), dtype=np.int64) + 2  # as re-validating the frame numbers them
    columns = list(before.columns)
    merged = merged[[c for c in columns if c in merged] + [c for c in merged if c not in columns]]
    for column, dtype in validated.dtypes.items():
        merged[column] = merged[column].astype(dtype)
    return merged


def _edited_frames(
    scenario: Scenario, original: SolveResult, events: list[Any]
) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """The members and households after the events (today's contacts: the plan's), and the branches touched."""
    members = scenario.members.drop(columns=["row"], errors="ignore").copy()
    households = scenario.households.drop(columns=["row"], errors="ignore").copy()
    households["current_member_id"] = pd.array(
        households["household_id"].astype(str).map(current_members(original)).to_numpy(dtype=object), dtype="string"
    )
    issues: list[Issue] = []
    touched: set[str] = set()

    def locate(frame: pd.DataFrame, key: str, value: str, index: int, field: str) -> int | None:
        hits = np.flatnonzero(frame[key].astype(str).to_numpy() == value)
        if hits.size == 0:
            issues.append(Issue("events", index, field, f"unknown {key.split('_')[0]} id", value, numbering="record"))
            return None
        return int(hits[0])

    for index, event in enumerate(events):
        if isinstance(event, (MemberAdded, HouseholdAdded)):
            added = _validated_record(event, index, scenario, issues)
            if added is None:
                continue
            frame, key = (members, "member_id") if isinstance(event, MemberAdded) else (households, "household_id")
            new_id = str(added[key].iloc[0])
            if (frame[key].astype(str) == new_id).any():
                issues.append(Issue("events", index, key, "id already in the table", new_id, numbering="record"))
                continue
            if isinstance(event, MemberAdded):
                members = pd.concat([members, added], ignore_index=True)
            else:
                households = pd.concat([households, added], ignore_index=True)
            touched.add(str(added["branch"].iloc[0]))
        elif isinstance(event, (MemberUnavailable, MemberAvailable, MemberRemoved, CapacityChanged)):
            row = locate(members, "member_id", event.member_id, index, "member_id")
            if row is None:
                continue
            touched.add(str(members["branch"].iloc[row]))
            if isinstance(event, MemberRemoved):
                members = members.drop(index=members.index[row]).reset_index(drop=True)
            elif isinstance(event, CapacityChanged):
                members.loc[members.index[row], "capacity"] = event.capacity
            else:
                members.loc[members.index[row], "available"] = isinstance(event, MemberAvailable)
        else:
            row = locate(households, "household_id", event.household_id, index, "household_id")
            if row is None:
                continue
            touched.add(str(households["branch"].iloc[row]))
            at = households.index[row]
            if isinstance(event, HouseholdRemoved):
                households = households.drop(index=at).reset_index(drop=True)
            elif isinstance(event, HouseholdMoved):
                households.loc[at, ["lat", "lon"]] = [event.lat, event.lon]
            elif isinstance(event, PriorityChanged):
                defaults = scenario.policy.visits_per_week
                if households.loc[at, "visits_per_week"] == defaults.get(str(households.loc[at, "priority"])):
                    households.loc[at, "visits_per_week"] = np.nan  # the policy's default: the new priority's
                households.loc[at, "priority"] = event.priority
            elif isinstance(event, PinSet):
                if event.member_id is not None:
                    if locate(members, "member_id", event.member_id, index, "member_id") is None:
                        continue
                    households.loc[at, "current_member_id"] = event.member_id
                households.loc[at, "pinned"] = True
            elif isinstance(event, PinReleased):
                households.loc[at, "pinned"] = False
    if issues:
        raise InputError(issues)
    return members, households, touched


def _validated_record(
    event: MemberAdded | HouseholdAdded, index: int, scenario: Scenario, issues: list[Issue]
) -> pd.DataFrame | None:
    """The record of an added member or household, checked by the CSV path's validator; issues name the event."""
    is_member = isinstance(event, MemberAdded)
    record = event.member if isinstance(event, MemberAdded) else event.household
    name = f"events[{index}].{'member' if is_member else 'household'}"
    try:
        raw = records_frame([record], name)
        validator = validate_members if is_member else validate_households
        frame = validator(raw, scenario.policy, file=name)
    except InputError as exc:
        issues.extend(exc.issues)
        return None
    return frame.drop(columns=["row"], errors="ignore")


def _resolve_touched(part: Scenario, original: SolveResult, in_touched: np.ndarray) -> list[BranchResult]:
    """The touched branches re-solved under min-churn from the plan, their rows those of the edited scenario.

    ``part`` holds every member (rows as in the edited scenario) and the touched households, whose
    rows in the edited scenario are ``in_touched``.
    """
    if len(part.households) == 0:
        return []
    solved = rebalancing.rebalance(part, objective=EVENTS_OBJECTIVE, strategy=original.strategy, seed=original.seed)
    return [
        dataclasses.replace(r, branch=dataclasses.replace(r.branch, household_rows=in_touched[r.branch.household_rows]))
        for r in solved.results
    ]


def _carried_over(kept: list[BranchResult], before: Scenario, after: Scenario) -> list[BranchResult]:
    """The untouched branches' results, renumbered to ``after``'s rows, today's contacts their own plan's."""
    member_row = _row_map(before.members["member_id"], after.members["member_id"])
    household_row = _row_map(before.households["household_id"], after.households["household_id"])
    carried = []
    for result in kept:
        branch = result.branch
        member_of = result.solution.member_of.astype(np.int32)
        problem = dataclasses.replace(branch.problem, household_current=member_of.copy())
        renumbered: BranchProblem = dataclasses.replace(
            branch,
            problem=problem,
            household_rows=household_row[branch.household_rows],
            member_rows=member_row[branch.member_rows],
            current_state=np.where(member_of >= 0, CURRENT_ELIGIBLE, CURRENT_NONE).astype(np.int8),
        )
        carried.append(dataclasses.replace(result, branch=renumbered))
    return carried


def _row_map(before: pd.Series, after: pd.Series) -> np.ndarray:
    """int64: for each row of ``before``, the row of the same id in ``after``."""
    position = pd.Index(after.astype(str).to_numpy(dtype=object))
    return position.get_indexer(before.astype(str).to_numpy(dtype=object)).astype(np.int64)
