"""Plan: the immutable result of solve() and rebalance(), in ids and tables."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import __version__
from .compile import BranchProblem
from .diagnose import DIAGNOSIS_CUT, BranchShortfall, diagnose
from .explain import PIN_REASONS, branch_reasons
from .network import NetworkSummary
from .objective import evaluate
from .params import Deadline
from .policy import PRIORITIES
from .rollup import hierarchy_report, location_rollup
from .report import (
    BranchReport,
    Components,
    Counts,
    Report,
    ReportWarning,
    Status,
    Uncovered,
)
from .solution import Solution

if TYPE_CHECKING:
    from .scenario import Scenario

EXAMPLES = 5
"""Branches named in a ``time_limit_reached`` warning."""

ASSIGNMENT_COLUMNS = ("household_id", "member_id", "role", "distance_m", "changed", "reason")
HOUSEHOLD_COLUMNS = (
    "head_name", "branch", "lat", "lon", "size", "priority", "visits_per_week",
    "group_id", "current_member_id", "pinned", "minutes_per_visit",
)
MEMBER_SUMMARY_COLUMNS = (
    "member_id", "branch", "households", "capacity", "utilisation", "visits_per_week",
    "travel_m_per_week", "critical_households",
)
MEMBER_EXTRA_COLUMNS = ("name", "available", "mobile", "max_distance_m", "age", "hours_per_week")


@dataclass(frozen=True, slots=True, eq=False)
class BranchResult:
    """One branch's problem, solution and how it was reached.

    ``reproducible``: no wall-clock limit can have shaped the plan, so the
    same input, seed and versions give it again. ``safety_limit_reached``:
    the safety time limit of a run without a time limit stopped the search
    before its work budget was spent (then ``reproducible`` is false too).
    ``time_cuts``: what the caller's time limit stopped or left out in this
    branch (``time_limit_reached`` warnings); empty when nothing was cut.
    """

    branch: BranchProblem
    solution: Solution
    status: Status
    balance_weight: float | None
    notes: tuple[str, ...] = ()
    reproducible: bool = True
    safety_limit_reached: bool = False
    time_cuts: tuple[str, ...] = ()


class Plan:
    """Who looks after whom, with the reasons and the report.

    Built by :func:`~baohu_assign.solve` and :func:`~baohu_assign.rebalance`;
    never mutated. Tables are computed on first access.

    Attributes
    ----------
    assignments
        One row per input household (input order): household_id, member_id
        (empty when uncovered), role, distance_m, changed, reason, then the
        household's input columns.
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
        changed = np.zeros(n, dtype=bool)
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
            ch, rs = branch_reasons(branch, member_of, self.objective)
            if not self._current_given:
                # Without any current contacts there is nothing to be new against.
                rs = np.where(rs == "new_household", "", rs)
            changed[rows] = ch
            reason[rows] = rs
            for pin in branch.broken_pins:
                why = PIN_REASONS.get(pin.reason, pin.reason)
                text = reason[pin.household_row]
                reason[pin.household_row] = f"{text}; pin broken: {why}" if text else f"pin broken: {why}"
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
            "member_row": member_row, "distance": distance, "changed": changed, "reason": reason,
            "backup_row": backup_row, "backup_distance": backup_distance,
        }

    @cached_property
    def _current_given(self) -> bool:
        current = self.scenario.households.get("current_member_id")
        return bool(current is not None and current.notna().any())

    # -- tables ---------------------------------------------------------------
    @cached_property
    def assignments(self) -> pd.DataFrame:
        hh = self.scenario.households
        rows = self._rows
        member_ids = np.append(self.scenario.members["member_id"].to_numpy(dtype=object), None)
        member = member_ids[rows["member_row"]]  # -1 picks the trailing None
        data: dict[str, Any] = {
            "household_id": hh["household_id"].astype("string").to_numpy(),
            "member_id": pd.array(member, dtype="string"),
            "role": pd.array(np.where(rows["member_row"] >= 0, "primary", None), dtype="string"),
            "distance_m": np.round(rows["distance"], 1),
            "changed": pd.array(rows["changed"], dtype="boolean") if self._current_given
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
    def members(self) -> pd.DataFrame:
        mem = self.scenario.members
        hh = self.scenario.households
        rows = self._rows
        covered = rows["member_row"] >= 0
        served_by = rows["member_row"][covered]
        n = len(mem)
        load = np.bincount(served_by, minlength=n)
        visits = hh["visits_per_week"].to_numpy(dtype=np.float64)[covered]
        weekly_visits = np.bincount(served_by, weights=visits, minlength=n)
        travel = np.bincount(served_by, weights=visits * rows["distance"][covered], minlength=n)
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
            }
        )
        backup_rows = rows["backup_row"][rows["backup_row"] >= 0]
        if backup_rows.size:
            frame["backups"] = np.bincount(backup_rows, minlength=n).astype(np.int64)
        if "hours_per_week" in mem and mem["hours_per_week"].notna().any():
            minutes = hh["minutes_per_visit"].to_numpy(dtype=np.float64)[covered]
            speed = self.scenario.policy.walking_speed_m_per_min
            per_week = visits * (minutes + 2.0 * rows["distance"][covered] / speed)
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
        frame = self.assignments
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
        frame = self.assignments
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
        differs = merged["member_before"].fillna("") != merged["member_after"].fillna("")
        return merged[differs].reset_index(drop=True)

    # -- report -----------------------------------------------------------------
    @cached_property
    def report(self) -> Report:
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
            total_travel += parts.travel_m_per_week
            total_imbalance += parts.imbalance
            total_changed += parts.changed
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
                    arcs=problem.num_arcs,
                    covered=int(covered.sum()),
                    uncovered=_uncovered(parts.uncovered),
                    travel_m_per_week=round(parts.travel_m_per_week, 1),
                    imbalance=round(parts.imbalance, 4),
                    changed=parts.changed,
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
            mem["lat"].to_numpy(dtype=np.float64), mem["lon"].to_numpy(dtype=np.float64),
            hh["lat"].to_numpy(dtype=np.float64), hh["lon"].to_numpy(dtype=np.float64),
        )

    def _time_limit_warnings(self, shortfalls: list[BranchShortfall]) -> list[ReportWarning]:
        """``time_limit_reached`` warnings: what the time limit cut, for the whole call, then per kind of cut."""
        if self.deadline is None:
            return []
        out = []
        for cut in self.deadline.cuts:
            if cut == DIAGNOSIS_CUT:
                names = [s.branch for s in shortfalls if not s.complete]
                out.append(ReportWarning(
                    code="time_limit_reached", message=cut, count=len(names), examples=names[:EXAMPLES],
                ))
            else:
                out.append(ReportWarning(code="time_limit_reached", message=cut))
        by_cut: dict[str, list[str]] = {}
        for result in self.results:
            for cut in result.time_cuts:
                by_cut.setdefault(cut, []).append(result.branch.branch)
        for cut, names in by_cut.items():
            out.append(ReportWarning(
                code="time_limit_reached", message=f"{cut} ({len(names)} of {len(self.results)} branches)",
                count=len(names), examples=names[:EXAMPLES],
            ))
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
        shortfalls = self.report.shortfalls
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
        r = self.report
        hh = self.scenario.households
        lines = [
            f"baohu_assign {r.version}: {r.status.value} ({r.strategy} → "
            + ", ".join(f"{k} ×{v}" for k, v in r.engines.items())
            + f"), objective {r.objective}, {r.wall_s:.2f} s",
            f"  members   {r.counts.members:>8,}  ({r.counts.available_members:,} available)",
            f"  households{r.counts.households:>8,}  in {r.counts.branches} branches, {r.counts.arcs:,} candidate pairs",
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
        util = self.members["utilisation"].dropna()
        util = util[self.members.loc[util.index, "capacity"] > 0]
        if len(util):
            q = util.quantile([0.1, 0.5, 0.9]).to_numpy()
            lines.append(
                f"  utilisation p10 {q[0]:.0%}  median {q[1]:.0%}  p90 {q[2]:.0%}  max {util.max():.0%}"
            )
        lines.append(f"  weekly travel {r.components.travel_m_per_week / 1000:,.1f} km (visits × distance)")
        if self._current_given:
            lines.append(
                f"  changed contacts {r.components.changed:,}  new households {r.components.new_households:,}"
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
        r = self.report
        crit_total = int((self.scenario.households["priority"] == "critical").sum())
        crit = crit_total - r.components.uncovered.critical
        crit_share = f"{100 * crit / crit_total:.0f}%" if crit_total else "n/a"
        return (
            f"<Plan {r.status.value} | covered {r.counts.covered:,}/{r.counts.households:,} "
            f"(critical {crit_share}) | travel {r.components.travel_m_per_week / 1000:,.0f} km/wk | "
            f"{r.wall_s:.1f} s>"
        )

    def _repr_html_(self) -> str:
        r = self.report
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
    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write assignments.csv, members.csv and report.json atomically.

        With a place hierarchy (``locations``) also ``rollup_buildings.csv``
        and ``rollup_compounds.csv`` (:meth:`rollup`). CSVs are UTF-8 with a
        byte-order mark so Excel opens Chinese text correctly. Returns the
        paths written.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "assignments": out / "assignments.csv",
            "members": out / "members.csv",
            "report": out / "report.json",
        }
        _atomic_write(paths["assignments"], _csv_text(self.assignments, self.scenario.household_columns))
        _atomic_write(paths["members"], _csv_text(self.members, self.scenario.member_columns))
        report = json.dumps(self.report.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True)
        _atomic_write(paths["report"], report + "\n")
        if self.scenario.locations is not None:
            for level, name in (("building", "rollup_buildings"), ("compound", "rollup_compounds")):
                paths[name] = out / f"{name}.csv"
                _atomic_write(paths[name], _csv_text(self.rollup(level), {}))
        return paths


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
    renamed = frame.rename(columns={k: v for k, v in original_names.items() if k in frame.columns and k not in ASSIGNMENT_COLUMNS and k not in HOUSEHOLD_COLUMNS and k not in MEMBER_SUMMARY_COLUMNS and k not in MEMBER_EXTRA_COLUMNS})
    out = renamed.copy()
    for column in out.columns:
        if str(out[column].dtype) in ("boolean", "bool"):
            out[column] = out[column].map({True: "true", False: "false"}).astype("string")
    return "\ufeff" + out.to_csv(index=False, lineterminator="\n")


def _atomic_write(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`_atomic_write_bytes`)."""
    _atomic_write_bytes(path, text.encode("utf-8"))


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename over it, so a
    killed run never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
