"""Plan: the immutable result of solve() and rebalance(), in ids and tables."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pandas as pd

from ..errors import InputError, Issue
from ..io.atomic import write_folder
from ..io.policy import PRIORITIES
from ..io.tables import csv_text
from ..solving.result import BranchResult, SolveResult
from .build_report import build_report
from .explain import changed_mask
from .plain import plain, table_records
from .report import BranchShortfall, Report
from .rollup import location_rollup
from .tables import (
    ASSIGNMENT_COLUMNS,
    HOUSEHOLD_COLUMNS,
    MEMBER_EXTRA_COLUMNS,
    MEMBER_SUMMARY_COLUMNS,
    HouseholdOutcome,
    assignments_table,
    household_outcome,
    members_table,
)

if TYPE_CHECKING:
    from ..model.scenario import Scenario
    from ..solving.params import Deadline

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "FOLDER_FILES",
    "HOUSEHOLD_COLUMNS",
    "PLAN_FILES",
    "PLAN_ID_LENGTH",
    "BranchResult",
    "Plan",
    "PlanFolder",
    "read_plan_folder",
]

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
    "assignments.parquet",
    "members.parquet",
)
"""Every file name a plan folder's writer owns: written together, replaced together, never carried over."""
PLAN_ID_LENGTH = 16
"""Hex digits of a plan id (the start of a SHA-256)."""


class Plan:
    """Who looks after whom, with the reasons and the report.

    Built by :func:`~baohu_assign.solve` and :func:`~baohu_assign.rebalance`
    with its report; never mutated (setting an attribute raises
    ``AttributeError``). The tables are computed from :attr:`result` on
    first access; ``assignments``, ``members`` and ``report`` hand out
    copies, so changing what they return never reaches the plan or the
    files :meth:`write` writes. Showing a plan (``repr``, :meth:`summary`)
    only formats the report and the tables.

    Constructed directly (the keyword arguments of a
    :class:`~baohu_assign.solving.result.SolveResult`), the report is built
    then; :meth:`from_result` does the same from a result.

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
    result
        The index-level :class:`~baohu_assign.solving.result.SolveResult`
        the plan shows (``scenario``, ``results``, ``objective``,
        ``strategy``, ``seed``, ``time_limit``, ``wall_s`` and ``deadline``
        are its fields).
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
        result = SolveResult(
            scenario=scenario,
            results=tuple(results),
            objective=objective,
            strategy=strategy,
            seed=seed,
            time_limit=time_limit,
            wall_s=wall_s,
            deadline=deadline,
        )
        self._build(result)

    @classmethod
    def from_result(cls, result: SolveResult, *, known_shortfalls: Mapping[str, BranchShortfall] | None = None) -> Plan:
        """The plan of a solve's result, its report built now (within the solve's time limit, if any).

        ``known_shortfalls``: shortfall diagnoses to reuse, by branch name, for
        branches carried over unchanged from an earlier plan; ``None``: every
        branch with uncovered households is diagnosed.
        """
        plan = cls.__new__(cls)
        plan._build(result, known_shortfalls)
        return plan

    def _build(self, result: SolveResult, known_shortfalls: Mapping[str, BranchShortfall] | None = None) -> None:
        outcome = household_outcome(result)
        report = build_report(result, outcome, known_shortfalls=known_shortfalls)
        tiers = result.scenario.households["priority"].value_counts()
        for name, value in (
            ("_result", result),
            ("_outcome", outcome),
            ("_report", report),
            ("_households_per_tier", {tier: int(tiers.get(tier, 0)) for tier in PRIORITIES}),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"a Plan is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"a Plan is immutable: cannot delete {name!r}")

    _result: SolveResult
    _outcome: HouseholdOutcome
    _report: Report
    _households_per_tier: dict[str, int]

    # -- what was solved ------------------------------------------------------
    @property
    def result(self) -> SolveResult:
        """The index-level result the plan shows (what :func:`~baohu_assign.diagnose.diagnose` and roll-ups take)."""
        return self._result

    @property
    def scenario(self) -> Scenario:
        """The scenario solved."""
        return self._result.scenario

    @property
    def results(self) -> tuple[BranchResult, ...]:
        """One :class:`~baohu_assign.solving.result.BranchResult` per branch (problem, solution, status)."""
        return self._result.results

    @property
    def objective(self) -> str:
        """The objective solved for."""
        return self._result.objective

    @property
    def strategy(self) -> str:
        """The strategy the call used."""
        return self._result.strategy

    @property
    def seed(self) -> int:
        """The seed the call used."""
        return self._result.seed

    @property
    def time_limit(self) -> float | None:
        """The call's time limit in seconds; ``None``: none."""
        return self._result.time_limit

    @property
    def wall_s(self) -> float:
        """Seconds the solving took (the report is built afterwards)."""
        return self._result.wall_s

    @property
    def deadline(self) -> Deadline | None:
        """The caller's time limit as a deadline (its ``cuts``); ``None`` without one."""
        return self._result.deadline

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
        return assignments_table(self.scenario, self._outcome)

    @cached_property
    def _members(self) -> pd.DataFrame:
        return members_table(self.scenario, self._outcome)

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
        return location_rollup(self._result, level)

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
        outcome = self._outcome
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
            total = self._households_per_tier[tier]
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
        uncovered = outcome.member_row < 0
        if outcome.current_given:
            lost = int((uncovered & outcome.changed).sum())
            lines.append(
                f"  changed contacts {r.components.changed:,} (new households {r.components.new_households:,}, "
                f"lost their contact {lost:,})"
            )
        if r.gap is not None:
            lines.append(f"  gap to bound {r.gap:.4%}")
        reasons = pd.Series(outcome.reason[uncovered], dtype="string").value_counts()
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
        crit_total = self._households_per_tier["critical"]
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

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON values: ``json.dumps(plan.to_dict())`` works, and reads back the same.

        The same rows and values as the files :meth:`write` writes, typed:
        text as ``str``, numbers as ``int`` or ``float``, flags as ``bool``,
        every empty cell (and NaN) as ``None``; no numpy or pandas values.
        The JSON Schema of this shape is ``docs/schemas/plan.schema.json``
        (``baohu-assign schema plan``).

        Returns
        -------
        dict
            ``assignments``: one object per row of assignments.csv, in its
            row order, keys its column names; ``members``: likewise for
            members.csv; ``report``: report.json (``plan_id`` included) but
            for ``files``, the checksums of a written folder.
        """
        report = plain(self._report.model_dump(mode="json"))
        report["plan_id"] = self.plan_id
        return {
            "assignments": table_records(_output_frame(self._assignments, self.scenario.household_columns)),
            "members": table_records(_output_frame(self._members, self.scenario.member_columns)),
            "report": report,
        }

    def write(
        self, directory: str | Path, *, extra: Mapping[str, str | bytes] | None = None, parquet: bool = False
    ) -> dict[str, Path]:
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
        parquet
            Also write the two tables as ``assignments.parquet`` and
            ``members.parquet``: the same rows and columns, typed (numbers,
            booleans, nulls), for analysis tools (pandas, Dask, DuckDB).

        Returns
        -------
        dict of str to pathlib.Path
            The files written, keyed by name without extension
            (``assignments``, ``members``, ``report``, ``rollup_buildings``, ``roster``, …);
            the Parquet tables as ``assignments_parquet`` and ``members_parquet``.
        """
        assignments, members = self._table_bytes()
        self.__dict__["plan_id"] = _plan_id(assignments, members)  # what plan_id would compute again
        files: dict[str, bytes] = {"assignments.csv": assignments, "members.csv": members}
        if parquet:
            files["assignments.parquet"] = _parquet_bytes(self._assignments, self.scenario.household_columns)
            files["members.parquet"] = _parquet_bytes(self._members, self.scenario.member_columns)
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
        write_folder(directory, files, owned=FOLDER_FILES)
        order = ("assignments.csv", "members.csv", "report.json")
        names = [*order, *(n for n in files if n not in order)]
        return {_path_key(name): Path(directory) / name for name in names}


def _path_key(name: str) -> str:
    """The key of a written file in :meth:`Plan.write`'s answer: its stem, but ``<stem>_parquet`` for a Parquet table.

    The two formats of one table share a stem; the CSV file keeps the plain key.
    """
    path = Path(name)
    return f"{path.stem}_parquet" if path.suffix == ".parquet" else path.stem


def _output_frame(frame: pd.DataFrame, original_names: dict[str, str]) -> pd.DataFrame:
    """A plan table under its output column names: pass-through input columns keep the headers given."""
    return frame.rename(
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


def _csv_text(frame: pd.DataFrame, original_names: dict[str, str]) -> str:
    out = _output_frame(frame, original_names).copy()
    for column in out.columns:
        if str(out[column].dtype) in ("boolean", "bool"):
            out[column] = out[column].map({True: "true", False: "false"}).astype("string")
    return csv_text(out)


def _parquet_bytes(frame: pd.DataFrame, original_names: dict[str, str]) -> bytes:
    """A plan table as a Parquet file: the CSV's columns and rows, typed."""
    buffer = io.BytesIO()
    _output_frame(frame, original_names).to_parquet(buffer, index=False)
    return buffer.getvalue()


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
