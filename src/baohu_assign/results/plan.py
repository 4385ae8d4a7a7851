"""Plan: the immutable result of solve() and rebalance(), in ids and tables."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import InputError, Issue
from ..model import costs
from ..model.compile import BranchProblem, visit_minutes
from ..model.network import NetworkSummary
from ..model.objective import evaluate
from ..model.policy import PRIORITIES
from ..model.problem import Problem
from ..model.solution import Solution
from ..solving.params import Deadline
from .diagnose import DIAGNOSIS_CUT, BranchShortfall, diagnose
from .explain import PIN_REASONS, branch_reasons, changed_mask
from .report import (
    BranchReport,
    Components,
    Counts,
    Report,
    ReportWarning,
    Status,
    Uncovered,
)
from .rollup import hierarchy_report, location_rollup

if TYPE_CHECKING:
    from ..model.scenario import Scenario

EXAMPLES = 5
"""Branches named in a ``time_limit_reached`` warning."""

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
PLAN_FILES: tuple[str, ...] = ("assignments.csv", "members.csv", "report.json")
"""The files every plan folder holds (written by :meth:`Plan.write`)."""
FOLDER_FILES: tuple[str, ...] = (
    *PLAN_FILES,
    "roster.xlsx",
    "map.html",
    "leaders.csv",
    "rollup_buildings.csv",
    "rollup_compounds.csv",
    "visits.csv",
    "member_days.csv",
)
"""Every file name a plan folder's writer owns: written together, replaced together, never carried over."""
PLAN_ID_LENGTH = 16
"""Hex digits of a plan id (the start of a SHA-256)."""


@dataclass(frozen=True, slots=True, eq=False)
class BranchResult:
    """One branch's problem, solution and how it was reached.

    ``notes``: why greedy took over an unavailable engine (``engine_fallback``
    warnings). ``engine_errors``: faults inside an engine that greedy covered
    for (``engine_error`` warnings). ``reproducible``: no wall-clock limit can
    have shaped the plan, so the same input, seed and versions give it again.
    ``safety_limit_reached``: the safety time limit of a run without a time
    limit stopped the search before its work budget was spent (then
    ``reproducible`` is false too).
    ``time_cuts``: what the caller's time limit stopped or left out in this
    branch (``time_limit_reached`` warnings); empty when nothing was cut.
    """

    branch: BranchProblem
    solution: Solution
    status: Status
    balance_weight: float | None
    notes: tuple[str, ...] = ()
    engine_errors: tuple[str, ...] = ()
    reproducible: bool = True
    safety_limit_reached: bool = False
    time_cuts: tuple[str, ...] = ()


class Plan:
    """Who looks after whom, with the reasons and the report.

    Built by :func:`~baohu_assign.solve` and :func:`~baohu_assign.rebalance`;
    never mutated. Tables are computed on first access; ``assignments``,
    ``members`` and ``report`` hand out copies, so changing what they return
    never reaches the plan or the files :meth:`write` writes.

    Attributes
    ----------
    assignments
        One row per input household (input order): household_id, member_id
        (empty when uncovered), role, distance_m, changed
        (:func:`~baohu_assign.explain.changed_mask`; empty when no household
        has a current member), reason, then the household's input columns.
    members
        One row per member: load, capacity, utilisation, weekly visits and travel.
    report
        :class:`~baohu_assign.report.Report` (``report.json``).
    """

    def __init__(
        self,
        *,
        scenario: Scenario,
        results: tuple[BranchResult, ...],
        objective: str,
        strategy: str,
        seed: int,
        time_limit: float | None,
        wall_s: float,
        deadline: Deadline | None = None,
    ) -> None:
        self.scenario = scenario
        self.results = results
        for result in results:
            # The tables are computed from these on first access: nobody may change them in between.
            for array in (result.solution.member_of, result.solution.backup_of):
                if array is not None:
                    array.flags.writeable = False
        self.objective = objective
        self.strategy = strategy
        self.seed = seed
        self.time_limit = time_limit
        self.wall_s = wall_s
        # The caller's time limit, which the report (its shortfall diagnosis) also keeps; None: unlimited.
        self.deadline = deadline

    # -- index-level results ------------------------------------------------
    @cached_property
    def _rows(self) -> dict[str, np.ndarray]:
        """Per scenario household row: member row, distance, changed, reason."""
        n = len(self.scenario.households)
        member_row = np.full(n, -1, dtype=np.int64)
        distance = np.full(n, np.nan)
        reason = np.full(n, "", dtype=object)
        for result in self.results:
            branch = result.branch
            problem = branch.problem
            member_of = result.solution.member_of.astype(np.int64)
            rows = branch.household_rows
            covered = member_of >= 0
            member_row[rows[covered]] = branch.member_rows[member_of[covered]]
            for h in np.flatnonzero(covered):
                a = problem.arc_index(int(h), int(member_of[h]))
                distance[rows[h]] = problem.arc_distance_m[a]
            _, rs = branch_reasons(branch, member_of, self.objective)
            if not self._current_given:
                # Without any current contacts there is nothing to be new against.
                rs = np.where(rs == "new_household", "", rs)
            reason[rows] = rs
            for pin in branch.broken_pins:
                why = PIN_REASONS.get(pin.reason, pin.reason)
                text = reason[pin.household_row]
                reason[pin.household_row] = f"{text}; pin broken: {why}" if text else f"pin broken: {why}"
        changed = np.zeros(n, dtype=bool)
        if self._current_given:
            member_ids = np.append(self.scenario.members["member_id"].to_numpy(dtype=object), [None])
            current_ids = self.scenario.households["current_member_id"].to_numpy(dtype=object)
            changed = changed_mask(current_ids, member_ids[member_row])  # -1 picks the trailing None
        backup_row = np.full(n, -1, dtype=np.int64)
        backup_distance = np.full(n, np.nan)
        for result in self.results:
            backup_of = result.solution.backup_of
            if backup_of is None:
                continue
            branch = result.branch
            has = np.flatnonzero(backup_of >= 0)
            rows_b = branch.household_rows[has]
            backup_row[rows_b] = branch.member_rows[backup_of[has]]
            arcs = branch.problem.arc_indices(has, backup_of[has])
            backup_distance[rows_b] = branch.problem.arc_distance_m[arcs]
        return {
            "member_row": member_row,
            "distance": distance,
            "changed": changed,
            "reason": reason,
            "backup_row": backup_row,
            "backup_distance": backup_distance,
        }

    @cached_property
    def _current_given(self) -> bool:
        current = self.scenario.households.get("current_member_id")
        return bool(current is not None and current.notna().any())

    # -- tables ---------------------------------------------------------------
    @property
    def assignments(self) -> pd.DataFrame:
        """One row per input household (then backup rows), as a copy of the plan's table."""
        return _handed_out(self._assignments)

    @property
    def members(self) -> pd.DataFrame:
        """One row per member with load, capacity and travel, as a copy of the plan's table."""
        return _handed_out(self._members)

    @cached_property
    def _assignments(self) -> pd.DataFrame:
        hh = self.scenario.households
        rows = self._rows
        member_ids = np.append(self.scenario.members["member_id"].to_numpy(dtype=object), [None])
        member = member_ids[rows["member_row"]]  # -1 picks the trailing None
        # numpy's stubs reject None as a branch of np.where, which takes it as an object.
        role = np.where(rows["member_row"] >= 0, "primary", None)  # type: ignore[call-overload]
        data: dict[str, Any] = {
            "household_id": hh["household_id"].astype("string").to_numpy(),
            "member_id": pd.array(member, dtype="string"),
            "role": pd.array(role, dtype="string"),
            "distance_m": np.round(rows["distance"], 1),
            "changed": pd.array(rows["changed"], dtype="boolean")
            if self._current_given
            else pd.array([pd.NA] * len(hh), dtype="boolean"),
            "reason": pd.array(rows["reason"], dtype="string"),
        }
        frame = pd.DataFrame(data)
        for column in HOUSEHOLD_COLUMNS:
            if column in hh:
                frame[column] = hh[column].to_numpy()
        for column in _extra_columns(hh, ("household_id", *HOUSEHOLD_COLUMNS)):
            frame[column] = hh[column].to_numpy()
        backups = np.flatnonzero(rows["backup_row"] >= 0)
        if backups.size == 0:
            return frame
        # Each backup row follows its household's primary row.
        extra = frame.iloc[backups].copy()
        extra["member_id"] = pd.array(member_ids[rows["backup_row"][backups]], dtype="string")
        extra["role"] = pd.array(["backup"] * backups.size, dtype="string")
        extra["distance_m"] = np.round(rows["backup_distance"][backups], 1)
        extra["changed"] = pd.array([pd.NA] * backups.size, dtype="boolean")
        extra["reason"] = pd.array([""] * backups.size, dtype="string")
        order = np.concatenate([np.arange(len(frame)) * 2, backups * 2 + 1])
        combined = pd.concat([frame, extra], ignore_index=True)
        return combined.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)

    @cached_property
    def _members(self) -> pd.DataFrame:
        mem = self.scenario.members
        hh = self.scenario.households
        rows = self._rows
        covered = rows["member_row"] >= 0
        served_by = rows["member_row"][covered]
        n = len(mem)
        load = np.bincount(served_by, minlength=n)
        visits = hh["visits_per_week"].to_numpy(dtype=np.float64)[covered]
        weekly_visits = np.bincount(served_by, weights=visits, minlength=n)
        travel = np.bincount(served_by, weights=costs.travel_m(visits, rows["distance"][covered]), minlength=n)
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
        backup_rows = rows["backup_row"][rows["backup_row"] >= 0]
        if backup_rows.size:
            frame["backups"] = np.bincount(backup_rows, minlength=n).astype(np.int64)
        if "hours_per_week" in mem and mem["hours_per_week"].notna().any():
            minutes = visit_minutes(hh, self.scenario.policy)[covered]
            speed = self.scenario.policy.walking_speed_m_per_min
            per_week = costs.weekly_minutes(visits, minutes, rows["distance"][covered], speed)
            frame["hours_used"] = np.round(np.bincount(served_by, weights=per_week, minlength=n) / 60.0, 2)
        for column in MEMBER_EXTRA_COLUMNS:
            if column in mem:
                frame[column] = mem[column].to_numpy()
        for column in _extra_columns(mem, ("member_id", "branch", "capacity", *MEMBER_EXTRA_COLUMNS, "lat", "lon")):
            frame[column] = mem[column].to_numpy()
        return frame

    @property
    def primary(self) -> pd.DataFrame:
        """The assignments without backup rows: exactly one row per input household."""
        frame = self._assignments
        return frame[frame["role"].fillna("primary") != "backup"].reset_index(drop=True)

    def rollup(self, level: str = "building") -> pd.DataFrame:
        """Households, coverage per priority and members per building or compound.

        Needs a scenario built with ``locations``; see
        :func:`baohu_assign.rollup.location_rollup` for the columns.

        Parameters
        ----------
        level
            ``"building"`` (楼栋) or ``"compound"`` (楼院).

        Returns
        -------
        pandas.DataFrame
            One row per location of the level (``locations.csv`` order), then
            one with a blank ``location_id`` for everyone outside them.
        """
        return location_rollup(self, level)

    def uncovered(self) -> pd.DataFrame:
        """Households without a contact, with their reason."""
        frame = self.primary
        return frame[frame["member_id"].isna()].reset_index(drop=True)

    def explain(self, household_id: str) -> dict[str, Any]:
        """Why this household has this member (or none), as a record."""
        frame = self._assignments
        match = frame[frame["household_id"] == str(household_id)]
        if match.empty:
            raise KeyError(f"no household {household_id!r} in this plan")
        record = {k: (None if v is pd.NA else v) for k, v in match.iloc[0].to_dict().items()}
        if len(match) > 1:
            record["backup_member_id"] = match.iloc[1]["member_id"]
        return record

    def diff(self, other: Plan) -> pd.DataFrame:
        """Households whose contact differs between ``other`` (before) and this plan (after)."""
        before = other.primary[["household_id", "member_id"]].rename(columns={"member_id": "member_before"})
        after = self.primary[["household_id", "member_id", "reason"]].rename(columns={"member_id": "member_after"})
        merged = before.merge(after, on="household_id", how="outer", sort=False)
        differs = changed_mask(
            merged["member_before"].to_numpy(dtype=object), merged["member_after"].to_numpy(dtype=object)
        )
        return merged[differs].reset_index(drop=True)

    # -- report -----------------------------------------------------------------
    @property
    def report(self) -> Report:
        """The :class:`~baohu_assign.report.Report` (``report.json``), as a copy of the plan's."""
        return self._report.model_copy(deep=True)

    @cached_property
    def _report(self) -> Report:
        return self._build_report()

    def _build_report(self) -> Report:
        branches: list[BranchReport] = []
        warnings: list[ReportWarning] = [
            ReportWarning(code=w.code, message=w.message, count=w.count, examples=list(w.examples))
            for w in self.scenario.warnings
        ]
        total_travel = total_imbalance = 0.0
        total_changed = total_new = total_backups = total_backups_missing = 0
        total_objective = 0
        bound_sum: float | None = 0.0
        uncovered = [0, 0, 0]
        engines: dict[str, int] = {}
        statuses: list[Status] = []
        household_ids = self.scenario.households["household_id"].to_numpy(dtype=object)
        for result in self.results:
            branch, solution = result.branch, result.solution
            problem = branch.problem
            parts = evaluate(problem, solution.member_of, solution.backup_of)
            if solution.backup_of is not None:
                total_backups += int((solution.backup_of >= 0).sum())
            total_backups_missing += parts.backup_missing
            state_given = branch.current_state != 0
            covered = solution.member_of >= 0
            new = int((covered & ~state_given).sum())
            changed = int(self._rows["changed"][branch.household_rows].sum())
            total_travel += parts.travel_m_per_week
            total_imbalance += parts.imbalance
            total_changed += changed
            total_new += new
            total_objective += solution.objective
            if solution.bound is None or bound_sum is None:
                bound_sum = None
            else:
                bound_sum += solution.bound
            for t in range(3):
                uncovered[t] += parts.uncovered[t]
            engines[solution.engine] = engines.get(solution.engine, 0) + 1
            statuses.append(result.status)
            gap = _gap(solution.objective, solution.bound)
            branches.append(
                BranchReport(
                    branch=branch.branch,
                    engine=solution.engine,
                    status=result.status,
                    households=problem.num_households,
                    members=problem.num_members,
                    available_members=int((problem.member_capacity > 0).sum()),
                    capacity=int(problem.member_capacity.sum()),
                    members_over_capacity_unit=_over_capacity_members(problem, solution.member_of),
                    arcs=problem.num_arcs,
                    covered=int(covered.sum()),
                    uncovered=_uncovered(parts.uncovered),
                    travel_m_per_week=round(parts.travel_m_per_week, 1),
                    imbalance=round(parts.imbalance, 4),
                    changed=changed,
                    balance_weight=None if result.balance_weight is None else round(result.balance_weight, 6),
                    objective_value=solution.objective,
                    bound=solution.bound,
                    gap=gap,
                    wall_s=round(solution.wall_s, 4),
                    reproducible=result.reproducible,
                )
            )
            for note in result.notes:
                warnings.append(ReportWarning(code="engine_fallback", message=note))
            for error in result.engine_errors:
                warnings.append(ReportWarning(code="engine_error", message=error))
            if result.safety_limit_reached:
                warnings.append(
                    ReportWarning(
                        code="safety_time_limit",
                        message=(
                            f"branch {branch.branch!r}: the safety time limit stopped the search before its "
                            "work budget was spent; the plan is valid but another run may give another plan"
                        ),
                    )
                )
            for pin in branch.broken_pins:
                warnings.append(
                    ReportWarning(
                        code="pin_broken",
                        message=f"pin cannot hold: {PIN_REASONS.get(pin.reason, pin.reason)}",
                        household_id=str(household_ids[pin.household_row]),
                        member_id=pin.member_id or None,
                    )
                )
        shortfalls = self._shortfalls(sum(uncovered))
        warnings.extend(self._time_limit_warnings(shortfalls))
        status = _overall_status(statuses)
        num_households = len(self.scenario.households)
        covered_total = num_households - sum(uncovered)
        members = self.scenario.members
        return Report(
            version=__version__,
            status=status,
            strategy=self.strategy,
            objective=self.objective,
            engines=dict(sorted(engines.items())),
            components=Components(
                travel_m_per_week=round(total_travel, 1),
                imbalance=round(total_imbalance, 4),
                changed=total_changed,
                new_households=total_new,
                uncovered=_uncovered(tuple(uncovered)),
                backups=total_backups,
                backups_missing=total_backups_missing,
            ),
            objective_value=total_objective,
            bound=bound_sum,
            gap=_gap(total_objective, bound_sum),
            seed=self.seed,
            time_limit=self.time_limit,
            reproducible=all(result.reproducible for result in self.results),
            wall_s=round(self.wall_s, 3),
            counts=Counts(
                members=len(members),
                available_members=int(members["available"].sum()) if len(members) else 0,
                households=num_households,
                covered=covered_total,
                uncovered=sum(uncovered),
                branches=len(self.results),
                arcs=sum(r.branch.problem.num_arcs for r in self.results),
                members_over_capacity_unit=sum(b.members_over_capacity_unit for b in branches),
            ),
            warnings=warnings,
            branches=branches,
            shortfalls=shortfalls,
            network=self._network_summary(),
            hierarchy=hierarchy_report(self),
        )

    def _network_summary(self) -> NetworkSummary | None:
        """The walking network's size and snap distances (report.json), or None without one."""
        network = self.scenario.network
        if network is None:
            return None
        mem, hh = self.scenario.members, self.scenario.households
        return network.summary(
            mem["lat"].to_numpy(dtype=np.float64),
            mem["lon"].to_numpy(dtype=np.float64),
            hh["lat"].to_numpy(dtype=np.float64),
            hh["lon"].to_numpy(dtype=np.float64),
        )

    def _time_limit_warnings(self, shortfalls: list[BranchShortfall]) -> list[ReportWarning]:
        """``time_limit_reached`` warnings: what the time limit cut, for the whole call, then per kind of cut."""
        if self.deadline is None:
            return []
        out = []
        for cut in self.deadline.cuts:
            if cut == DIAGNOSIS_CUT:
                names = [s.branch for s in shortfalls if not s.complete]
                out.append(
                    ReportWarning(
                        code="time_limit_reached",
                        message=cut,
                        count=len(names),
                        examples=names[:EXAMPLES],
                    )
                )
            else:
                out.append(ReportWarning(code="time_limit_reached", message=cut))
        by_cut: dict[str, list[str]] = {}
        for result in self.results:
            for cut in result.time_cuts:
                by_cut.setdefault(cut, []).append(result.branch.branch)
        for cut, names in by_cut.items():
            out.append(
                ReportWarning(
                    code="time_limit_reached",
                    message=f"{cut} ({len(names)} of {len(self.results)} branches)",
                    count=len(names),
                    examples=names[:EXAMPLES],
                )
            )
        return out

    # -- shortage diagnosis (diagnose.py) ------------------------------------------
    def _shortfalls(self, uncovered: int) -> list[BranchShortfall]:
        """Computed shortfall diagnosis per branch; only plans that leave households uncovered pay for it.

        Under a time limit it gets what is left of it (:func:`~baohu_assign.diagnose.diagnose`'s ``deadline``).
        """
        if not uncovered:
            return []
        return diagnose(self, deadline=self.deadline) if self.deadline is not None else diagnose(self)

    def _shortfall_lines(self, limit: int = 10) -> list[str]:
        """Summary lines: each short branch's shortfall and its best computed fix."""
        lines = []
        shortfalls = self._report.shortfalls
        for s in shortfalls[:limit]:
            u = s.uncovered
            lines.append(
                f"  shortfall {s.branch}: {u.total:,} uncovered (critical {u.critical:,}, elevated "
                f"{u.elevated:,}, normal {u.normal:,}); spare capacity in the branch {s.spare_capacity:,}"
            )
            if s.suggestions:
                lines.append(f"    best fix: {s.suggestions[0].text}")
        if len(shortfalls) > limit:
            lines.append(f"  shortfall in {len(shortfalls) - limit} more branches (see report.json)")
        return lines

    # -- presentation -----------------------------------------------------------
    def summary(self) -> str:
        """A readable multi-line summary: coverage per tier, loads, travel, status, time."""
        r = self._report
        hh = self.scenario.households
        lines = [
            f"baohu_assign {r.version}: {r.status.value} ({r.strategy} → "
            + ", ".join(f"{k} ×{v}" for k, v in r.engines.items())
            + f"), objective {r.objective}, {r.wall_s:.2f} s",
            f"  members   {r.counts.members:>8,}  ({r.counts.available_members:,} available)",
            f"  households{r.counts.households:>8,}  in {r.counts.branches} branches, "
            f"{r.counts.arcs:,} candidate pairs",
        ]
        if r.network is not None:
            lines.append(
                f"  distances along the walking network {r.network.file} ({r.network.nodes:,} nodes; households "
                f"{r.network.household_snap_median_m:,.0f} m from it, at most {r.network.household_snap_max_m:,.0f} m)"
            )
        unc = r.components.uncovered
        for tier in reversed(PRIORITIES):
            total = int((hh["priority"] == tier).sum())
            missing = getattr(unc, tier)
            share = 100.0 * (total - missing) / total if total else 100.0
            lines.append(f"  {tier:<9} {total - missing:>8,} / {total:,} covered ({share:.1f}%)")
        util = self._members["utilisation"].dropna()
        util = util[self._members.loc[util.index, "capacity"] > 0]
        if len(util):
            q = util.quantile([0.1, 0.5, 0.9]).to_numpy()
            lines.append(f"  utilisation p10 {q[0]:.0%}  median {q[1]:.0%}  p90 {q[2]:.0%}  max {util.max():.0%}")
        if r.counts.members_over_capacity_unit:
            lines.append(f"  {r.counts.members_over_capacity_unit:,} members take one whole unit over capacity")
        lines.append(f"  weekly travel {r.components.travel_m_per_week / 1000:,.1f} km (visits × distance)")
        if self._current_given:
            lost = int((self.primary["member_id"].isna() & self.primary["changed"].fillna(False)).sum())
            lines.append(
                f"  changed contacts {r.components.changed:,} (new households {r.components.new_households:,}, "
                f"lost their contact {lost:,})"
            )
        if r.gap is not None:
            lines.append(f"  gap to bound {r.gap:.4%}")
        reasons = self.uncovered()["reason"].value_counts()
        for reason, count in reasons.items():
            lines.append(f"  uncovered: {count:,} × {reason}")
        lines.extend(self._shortfall_lines())
        if not r.reproducible:
            why = (
                "the safety time limit stopped the search"
                if any(result.safety_limit_reached for result in self.results)
                else "searched under a time limit; without one the same seed gives the same plan"
            )
            lines.append(f"  another run may give another plan ({why})")
        for warning in r.warnings:
            if warning.code == "time_limit_reached":
                lines.append(f"  time limit reached: {warning.message}")
        if r.warnings:
            lines.append(f"  warnings: {len(r.warnings)} (see report.json)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        r = self._report
        crit_total = int((self.scenario.households["priority"] == "critical").sum())
        crit = crit_total - r.components.uncovered.critical
        crit_share = f"{100 * crit / crit_total:.0f}%" if crit_total else "n/a"
        return (
            f"<Plan {r.status.value} | covered {r.counts.covered:,}/{r.counts.households:,} "
            f"(critical {crit_share}) | travel {r.components.travel_m_per_week / 1000:,.0f} km/wk | "
            f"{r.wall_s:.1f} s>"
        )

    def _repr_html_(self) -> str:
        r = self._report
        rows = "".join(
            f"<tr><td>{b.branch}</td><td>{b.engine}</td><td>{b.status.value}</td>"
            f"<td>{b.covered}/{b.households}</td><td>{b.travel_m_per_week / 1000:.1f}</td></tr>"
            for b in r.branches[:50]
        )
        return (
            f"<p><b>Plan</b> {r.status.value}, {r.counts.covered:,}/{r.counts.households:,} covered, "
            f"{r.wall_s:.2f} s</p><table><tr><th>branch</th><th>engine</th><th>status</th>"
            f"<th>covered</th><th>km/week</th></tr>{rows}</table>"
        )

    # -- files ------------------------------------------------------------------
    def _table_bytes(self) -> tuple[bytes, bytes]:
        """assignments.csv and members.csv as written (not kept: a large town's are tens of megabytes)."""
        return (
            _csv_text(self._assignments, self.scenario.household_columns).encode("utf-8"),
            _csv_text(self._members, self.scenario.member_columns).encode("utf-8"),
        )

    @cached_property
    def plan_id(self) -> str:
        """The plan's identifier: the start of the SHA-256 of its assignments.csv and members.csv.

        Two plans with the same assignments and member tables have the same
        id, so a rerun with the same input, options and seed (when
        ``report.reproducible``) gives the same id. ``report.json`` carries
        it (key ``plan_id``).
        """
        return _plan_id(*self._table_bytes())

    def write(self, directory: str | Path, *, extra: Mapping[str, str | bytes] | None = None) -> dict[str, Path]:
        """Write the plan folder as one unit: assignments.csv, members.csv, report.json and ``extra``.

        With a place hierarchy (``locations``) also ``rollup_buildings.csv``
        and ``rollup_compounds.csv`` (:meth:`rollup`). CSVs are UTF-8 with a
        byte-order mark so Excel opens Chinese text correctly.

        The folder is written whole or not at all: every file goes into a
        temporary sibling folder, which then takes the folder's place in one
        rename, so a reader (or a run killed at any moment) sees the previous
        plan folder or this one, never a mix. Files of the folder that the
        writer does not own (anything but :data:`FOLDER_FILES`) and
        sub-folders are carried into the new folder; an owned file this call
        does not write (say, the map of an earlier run) is dropped with the
        old plan. ``report.json`` gets ``plan_id`` (:attr:`plan_id`) and
        ``files`` (the SHA-256 of every other file written), which
        :func:`read_plan_folder` checks. Files follow the umask (as any file
        writer: 0644 under umask 022).

        Parameters
        ----------
        directory
            The plan folder; created when missing (with its parents).
            Neither the current folder nor one holding it (it is replaced).
        extra
            More files of the same plan, written in the same unit: file name
            (one of :data:`FOLDER_FILES` other than the plan's own, e.g.
            ``"roster.xlsx"`` from :func:`baohu_assign.roster.roster_bytes`)
            to its content (text is written as UTF-8).

        Returns
        -------
        dict of str to pathlib.Path
            The files written, keyed by name without extension
            (``assignments``, ``members``, ``report``, ``rollup_buildings``, ``roster``, …).
        """
        assignments, members = self._table_bytes()
        self.__dict__["plan_id"] = _plan_id(assignments, members)  # what plan_id would compute again
        files: dict[str, bytes] = {"assignments.csv": assignments, "members.csv": members}
        if self.scenario.locations is not None:
            for level, name in (("building", "rollup_buildings"), ("compound", "rollup_compounds")):
                files[f"{name}.csv"] = _csv_text(self.rollup(level), {}).encode("utf-8")
        for name, content in (extra or {}).items():
            if name not in FOLDER_FILES or name in PLAN_FILES or name in files:
                allowed = [n for n in FOLDER_FILES if n not in PLAN_FILES and n not in files]
                raise ValueError(f"extra: cannot write {name!r} into a plan folder; choose from {allowed}")
            files[name] = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        report = self._report.model_dump(mode="json")
        report["plan_id"] = self.plan_id
        report["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        text = json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        files["report.json"] = text.encode("utf-8")
        write_folder(directory, files)
        order = ("assignments.csv", "members.csv", "report.json")
        names = [*order, *(n for n in files if n not in order)]
        return {Path(name).stem: Path(directory) / name for name in names}


def _over_capacity_members(problem: Problem, member_of: np.ndarray) -> int:
    """Members carrying one whole stairwell unit larger than their capacity."""
    loads = np.bincount(member_of[member_of >= 0], minlength=problem.num_members)
    return int(((loads > problem.member_capacity) & (problem.member_capacity > 0)).sum())


def _extra_columns(frame: pd.DataFrame, known: tuple[str, ...]) -> list[str]:
    return [c for c in frame.columns if c not in known and c != "row"]


def _uncovered(counts: tuple[int, ...]) -> Uncovered:
    return Uncovered(normal=counts[0], elevated=counts[1], critical=counts[2])


def _gap(objective: int, bound: float | None) -> float | None:
    if bound is None:
        return None
    return round(max(0.0, objective - bound) / max(abs(objective), 1), 8)


def _overall_status(statuses: list[Status]) -> Status:
    if not statuses or all(s == Status.OPTIMAL for s in statuses):
        return Status.OPTIMAL
    if any(s == Status.FALLBACK for s in statuses):
        return Status.FALLBACK
    if any(s == Status.INFEASIBLE for s in statuses):
        return Status.INFEASIBLE
    return Status.FEASIBLE


def _csv_text(frame: pd.DataFrame, original_names: dict[str, str]) -> str:
    renamed = frame.rename(
        columns={
            k: v
            for k, v in original_names.items()
            if k in frame.columns
            and k not in ASSIGNMENT_COLUMNS
            and k not in HOUSEHOLD_COLUMNS
            and k not in MEMBER_SUMMARY_COLUMNS
            and k not in MEMBER_EXTRA_COLUMNS
        }
    )
    out = renamed.copy()
    for column in out.columns:
        if str(out[column].dtype) in ("boolean", "bool"):
            out[column] = out[column].map({True: "true", False: "false"}).astype("string")
    return "\ufeff" + out.to_csv(index=False, lineterminator="\n")


def _handed_out(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of one of the plan's tables that the caller may change freely.

    Under pandas copy-on-write (the default from pandas 3) a shallow copy is
    enough and costs nothing until the caller writes to it; otherwise the
    data are copied.
    """
    return frame.copy(deep=not _COPY_ON_WRITE)


_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(pd.get_option("mode.copy_on_write") is True)


def _plan_id(assignments: bytes, members: bytes) -> str:
    digest = hashlib.sha256()
    for data in (assignments, members):
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:PLAN_ID_LENGTH]


# -- reading a plan folder -----------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class PlanFolder:
    """A plan folder read back and checked by :func:`read_plan_folder`.

    Attributes
    ----------
    path
        The folder.
    assignments, members
        assignments.csv and members.csv with every cell as text (ids keep
        their leading zeros; an empty cell is ``""``).
    report
        report.json as a dict.
    plan_id
        The plan id the folder was written with; ``None`` for a folder
        written before plan ids existed (its files cannot be checked).
    """

    path: Path
    assignments: pd.DataFrame
    members: pd.DataFrame
    report: dict[str, Any]
    plan_id: str | None


def read_plan_folder(path: str | Path) -> PlanFolder:
    """Read a plan folder (:meth:`Plan.write`, ``baohu-assign solve --out``), checking its files agree.

    Every file listed in report.json's ``files`` must be present with the
    content it was written with, and ``plan_id`` must be that of
    assignments.csv and members.csv: a folder whose files come from
    different plans (copied together by hand, or edited) is refused rather
    than read as one plan. Files written into the folder afterwards (say,
    :func:`~baohu_assign.roster.write_roster` on its own) are not checked.

    Parameters
    ----------
    path
        The plan folder.

    Returns
    -------
    PlanFolder
        Its tables and report.

    Raises
    ------
    InputError
        The folder or one of :data:`PLAN_FILES` is missing, a file cannot
        be read, or the files do not belong to one plan (the message names
        the file).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(Issue(str(folder), None, None, "plan folder not found"))
    missing = [name for name in PLAN_FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(
            Issue(
                str(folder),
                None,
                None,
                f"not a plan folder: missing {', '.join(missing)} "
                "(a plan folder is what `baohu-assign solve --out DIR` or Plan.write writes)",
            )
        )
    raw = {name: (folder / name).read_bytes() for name in PLAN_FILES}
    report_path = folder / "report.json"
    try:
        report = json.loads(raw["report.json"].decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(Issue(str(report_path), None, None, f"not valid JSON: {exc}")) from None
    if not isinstance(report, dict):
        raise InputError(Issue(str(report_path), None, None, "not a plan report (expected a JSON object)"))
    plan_id = _check_folder_agrees(folder, report, raw)
    return PlanFolder(
        path=folder,
        assignments=_read_text_csv(folder / "assignments.csv", raw["assignments.csv"]),
        members=_read_text_csv(folder / "members.csv", raw["members.csv"]),
        report=report,
        plan_id=plan_id,
    )


def _check_folder_agrees(folder: Path, report: dict[str, Any], raw: dict[str, bytes]) -> str | None:
    plan_id, digests = report.get("plan_id"), report.get("files")
    if plan_id is None and digests is None:
        return None  # written before plan ids: nothing to check against
    written = f"is not the file written with plan {plan_id} (report.json): changed since, or from another plan"
    advice = "; this folder's files do not belong to one plan: write the plan again"
    if not isinstance(digests, dict) or not isinstance(plan_id, str):
        raise InputError(Issue(str(folder / "report.json"), None, None, "plan_id or files malformed" + advice))
    for name, digest in sorted(digests.items()):
        target = folder / str(name)
        if not target.is_file():
            raise InputError(Issue(str(target), None, None, f"missing, though written with plan {plan_id}" + advice))
        data = raw.get(name)
        if hashlib.sha256(data if data is not None else target.read_bytes()).hexdigest() != digest:
            raise InputError(Issue(str(target), None, None, written + advice))
    if _plan_id(raw["assignments.csv"], raw["members.csv"]) != plan_id:
        raise InputError(Issue(str(folder / "assignments.csv"), None, None, written + advice))
    return plan_id


def _read_text_csv(path: Path, data: bytes) -> pd.DataFrame:
    try:
        # Ids are text (leading zeros survive); empty cells stay "" rather than NaN.
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(Issue(str(path), None, None, f"cannot read as CSV: {exc}")) from None
    return frame.astype(object)


# -- writing files and folders -------------------------------------------------------
#
# One writer: every output file is created by _write_new (mode 0666, so the
# umask decides, as for any file writer), either straight into a temporary
# folder that becomes the plan folder (write_folder), or as a temporary file
# renamed over a single file (_atomic_write_bytes).

_RENAME_EXCHANGE = 2  # renameat2 flag (Linux): swap two paths in one step
_AT_FDCWD = -100


def write_folder(directory: str | Path, files: Mapping[str, bytes]) -> Path:
    """Replace a folder's owned files by ``files`` as one unit; see :meth:`Plan.write`.

    Parameters
    ----------
    directory
        The folder; created with its parents when missing.
    files
        File name (no folder) to content.

    Returns
    -------
    pathlib.Path
        The folder written (symbolic links resolved).

    Notes
    -----
    Steps: a temporary sibling ``.NAME.writing-*`` receives ``files``, then
    hard links (copies where links are impossible) of the entries of the
    old folder that the writer does not own; it then swaps places with the
    folder in one rename (Linux ``renameat2`` exchange) and the old folder
    is deleted. Where no atomic exchange exists (not Linux, or a file system
    without it) the old folder is first renamed aside: for that instant the
    folder is absent, never mixed. Leftover ``.NAME.writing-*`` folders of a
    killed run are removed by the next write.
    """
    out = Path(os.path.abspath(directory)).resolve()
    _refuse_folder(out, directory)
    out.parent.mkdir(parents=True, exist_ok=True)
    for leftover in sorted(out.parent.glob(f".{out.name}.writing-*")):
        if leftover.name.endswith("-old") and not out.exists():
            os.rename(leftover, out)  # killed between the two renames of a swap without exchange
        else:
            _remove_tree(leftover)
    staging = out.parent / f".{out.name}.writing-{secrets.token_hex(6)}"
    try:
        os.mkdir(staging, 0o777)
    except PermissionError:
        raise InputError(
            Issue(
                str(directory),
                None,
                None,
                f"cannot create a folder in {out.parent} (permission denied): the plan folder "
                "is written beside itself and then swapped in; choose a folder whose parent "
                "you may write to",
            )
        ) from None
    replaced = False
    try:
        if out.is_dir():
            os.chmod(staging, stat.S_IMODE(out.stat().st_mode))
        for name, data in files.items():
            _write_new(staging / name, data)
        if out.is_dir():
            for entry in sorted(os.scandir(out), key=lambda e: e.name):
                if not _owned(entry.name) and entry.name not in files:
                    _carry_entry(Path(entry.path), staging / entry.name)
        _fsync_dir(staging)
        replaced = _swap(staging, out)
    finally:
        # After the swap the staging name holds the old folder; before it, a partial new one.
        _remove_tree(staging)
        if replaced:
            _fsync_dir(out.parent)
    return out


def _owned(name: str) -> bool:
    """Whether the folder writer owns a file name (its files and the temporary files of the file writer)."""
    return name in FOLDER_FILES or any(name.startswith(f".{owned}.") for owned in FOLDER_FILES)


def _refuse_folder(out: Path, given: str | Path) -> None:
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise InputError(
            Issue(
                str(given),
                None,
                None,
                "the plan folder is replaced as a whole, so it cannot be the current folder or "
                "hold it; choose a sub-folder such as out/",
            )
        )
    if out.exists() and not out.is_dir():
        raise InputError(Issue(str(given), None, None, "exists and is not a folder"))
    if out.is_dir() and os.path.ismount(out):
        raise InputError(Issue(str(given), None, None, "is a mount point and cannot be replaced; choose a sub-folder"))


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with ``data``, durably; its mode follows the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    handle = os.open(path, flags, 0o666)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _carry_entry(source: Path, target: Path) -> None:
    """Bring a file or folder the writer does not own into the new folder: hard links, copies where impossible."""
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, target)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _swap(staging: Path, out: Path) -> bool:
    """Put ``staging`` where ``out`` is; ``staging`` then names the old folder (if any). True once done."""
    if not out.exists():
        os.rename(staging, out)
        return True
    if _exchange(staging, out):
        return True
    aside = staging.with_name(staging.name + "-old")
    os.rename(out, aside)
    os.rename(staging, out)
    os.rename(aside, staging)
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    """Make a folder's entries durable (where the system allows opening folders)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _atomic_write(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`_atomic_write_bytes`)."""
    _atomic_write_bytes(path, text.encode("utf-8"))


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write one file to a temporary file beside ``path``, then rename over it,
    so a killed run never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        _write_new(temp, data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
