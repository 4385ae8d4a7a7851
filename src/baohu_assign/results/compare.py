"""Compare two plans: KPIs side by side and the households whose contact differs.

Two sources are accepted: output folders written by :meth:`Plan.write
<baohu_assign.plan.Plan.write>` (``assignments.csv``, ``members.csv``,
``report.json``; :func:`compare`) and plans in memory
(:func:`compare_plans`). Both go through the same tables, so a plan and
the folder it wrote compare equal.

Typical uses: before and after a rebalance (what changed, and why), two
strategies or objectives on the same town, this week's plan against last
week's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError, Issue
from ..io.tables import missing_mask
from ..model import costs
from .explain import changed_mask
from .plan import PLAN_FILES, read_plan_folder

if TYPE_CHECKING:
    from .plan import Plan

__all__ = ["PLAN_FILES", "Comparison", "compare", "compare_plans"]

TIERS: tuple[str, ...] = ("critical", "elevated", "normal")

KPI_ROWS: tuple[str, ...] = (
    "households",
    "covered",
    "coverage critical (%)",
    "coverage elevated (%)",
    "coverage normal (%)",
    "uncovered",
    "utilisation p10 (%)",
    "utilisation median (%)",
    "utilisation p90 (%)",
    "utilisation max (%)",
    "weekly travel (km)",
    "changed contacts",
    "new households",
    "wall time (s)",
)
"""Row labels of :attr:`Comparison.kpis`, in order."""

CHANGE_KINDS: tuple[str, ...] = ("reassigned", "newly covered", "now uncovered")
"""Values of the ``change`` column of :attr:`Comparison.differing`."""

DIFFERING_COLUMNS: tuple[str, ...] = (
    "household_id",
    "branch",
    "priority",
    "member_a",
    "member_b",
    "distance_a_m",
    "distance_b_m",
    "change",
    "reason_b",
)
"""Columns of :attr:`Comparison.differing`."""

_ASSIGNMENT_NEEDS = ("household_id", "member_id", "distance_m", "branch", "priority")
_MEMBER_NEEDS = ("member_id", "branch", "households", "capacity", "utilisation")
_INT_ROWS = {"households", "covered", "uncovered", "changed contacts", "new households"}


@dataclass(frozen=True, slots=True)
class _Side:
    """One plan reduced to what a comparison needs."""

    label: str
    primary: pd.DataFrame  # one row per household; member_id "" when uncovered
    members: pd.DataFrame
    report: dict[str, Any]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two plans side by side.

    Attributes
    ----------
    labels
        Names of plan A and plan B (folder paths, or as given).
    kpis
        One row per KPI (:data:`KPI_ROWS`), columns ``a``, ``b`` and
        ``change`` (b − a). Coverage and utilisation in percent; coverage of
        a tier with no households is NaN.
    differing
        Households whose contact differs (:data:`DIFFERING_COLUMNS`): both
        members (empty when uncovered), both distances, ``change``
        (``reassigned``, ``newly covered``, ``now uncovered``) and B's
        ``reason``. Plan B's row order, then households only plan A has.
    status
        Each plan's ``report.json`` status.
    objective
        Each plan's objective.
    """

    labels: tuple[str, str]
    kpis: pd.DataFrame
    differing: pd.DataFrame
    status: tuple[str, str]
    objective: tuple[str, str]

    @property
    def num_differing(self) -> int:
        """Number of households whose contact differs."""
        return len(self.differing)

    def summary(self) -> str:
        """The KPI table and the differing households as readable text."""
        a, b = self.labels
        lines = [
            f"A: {a} ({self.status[0]}, {self.objective[0]})",
            f"B: {b} ({self.status[1]}, {self.objective[1]})",
            "",
        ]
        width = max(len(k) for k in self.kpis.index)
        lines.append(f"{'':<{width}}  {'A':>12}  {'B':>12}  {'change':>10}")
        for kpi, row in self.kpis.iterrows():
            lines.append(
                f"{kpi:<{width}}  {_fmt(row['a'], kpi):>12}  {_fmt(row['b'], kpi):>12}  "
                f"{_fmt(row['change'], kpi, signed=True):>10}"
            )
        lines.append("")
        n = self.num_differing
        kinds = self.differing["change"].value_counts()
        detail = ", ".join(f"{kind} {int(kinds[kind]):,}" for kind in CHANGE_KINDS if kind in kinds)
        lines.append(f"households whose contact differs: {n:,}" + (f" ({detail})" if detail else ""))
        reasons = self.differing["reason_b"].replace("", "(none)").value_counts()
        if len(reasons):
            lines.append("  reason in B: " + ", ".join(f"{r} {int(c):,}" for r, c in reasons.head(8).items()))
        return "\n".join(lines)

    def write_differing(self, path: str | Path) -> Path:
        """Write :attr:`differing` as CSV (UTF-8 with a byte-order mark, so Excel shows Chinese).

        Parameters
        ----------
        path
            The CSV file to write; its folder is created when missing.

        Returns
        -------
        Path
            The file written.
        """
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.differing.to_csv(out, index=False, encoding="utf-8-sig", lineterminator="\n")
        return out

    def __repr__(self) -> str:
        return f"<Comparison {self.labels[0]} vs {self.labels[1]}: {self.num_differing:,} households differ>"

    def _repr_html_(self) -> str:
        table = self.kpis.to_html(float_format=lambda v: f"{v:,.2f}", na_rep="–")
        return (
            f"<p><b>A</b> {self.labels[0]} &nbsp; <b>B</b> {self.labels[1]}</p>{table}"
            f"<p>{self.num_differing:,} households whose contact differs</p>"
        )


def compare(plan_a: str | Path | Plan, plan_b: str | Path | Plan) -> Comparison:
    """Compare two plan folders written by ``Plan.write`` (or ``baohu-assign solve --out``).

    Parameters
    ----------
    plan_a, plan_b
        Folders holding ``assignments.csv``, ``members.csv`` and
        ``report.json``. A :class:`~baohu_assign.plan.Plan` is accepted too.

    Returns
    -------
    Comparison
        KPIs side by side and the households whose contact differs.

    Raises
    ------
    InputError
        When a folder does not exist or lacks one of the files, or a file
        lacks a column the comparison needs.

    Examples
    --------
    >>> import baohu_assign as ba
    >>> c = ba.compare("out/before", "out/after")  # doctest: +SKIP
    >>> print(c.summary())  # doctest: +SKIP
    """
    return _compare(_side(plan_a, "A"), _side(plan_b, "B"))


def compare_plans(plan_a: Plan, plan_b: Plan, *, labels: tuple[str, str] = ("A", "B")) -> Comparison:
    """Compare two plans in memory.

    Parameters
    ----------
    plan_a, plan_b
        Plans from :func:`~baohu_assign.solve` or
        :func:`~baohu_assign.rebalance`, e.g. before and after a rebalance.
    labels
        Names shown for the two plans.

    Returns
    -------
    Comparison
        The same as :func:`compare` on the folders the plans would write.
    """
    return _compare(_from_plan(plan_a, labels[0]), _from_plan(plan_b, labels[1]))


# --------------------------------------------------------------------------- building sides


def _side(source: str | Path | Plan, label: str) -> _Side:
    if isinstance(source, (str, Path)):
        return _read_folder(Path(source))
    return _from_plan(source, label)


def _from_plan(plan: Plan, label: str) -> _Side:
    primary = plan.primary.copy()
    primary["member_id"] = primary["member_id"].astype("string").fillna("").astype(object)
    primary["reason"] = primary["reason"].astype("string").fillna("").astype(object)
    return _Side(label, primary, plan.members, plan.report.model_dump(mode="json"))


def _read_folder(folder: Path) -> _Side:
    plan = read_plan_folder(folder)
    assignments = _needs(plan.assignments, folder / "assignments.csv", _ASSIGNMENT_NEEDS)
    members = _needs(plan.members, folder / "members.csv", _MEMBER_NEEDS)
    report = plan.report
    if "role" in assignments:
        # Backup rows repeat their household; the comparison is about primary contacts.
        assignments = assignments[assignments["role"] != "backup"]
    primary = assignments.reset_index(drop=True)
    for column in ("distance_m", "visits_per_week"):
        if column in primary:
            primary[column] = pd.to_numeric(primary[column], errors="coerce")
    if "reason" not in primary:
        primary["reason"] = ""
    for column in ("households", "capacity", "utilisation"):
        members[column] = pd.to_numeric(members[column], errors="coerce")
    return _Side(str(folder), primary, members, report)


def _needs(frame: pd.DataFrame, path: Path, needs: tuple[str, ...]) -> pd.DataFrame:
    absent = [c for c in needs if c not in frame.columns]
    if absent:
        raise InputError([Issue(str(path), None, c, "column missing") for c in absent])
    return frame


# --------------------------------------------------------------------------- the comparison


def _compare(a: _Side, b: _Side) -> Comparison:
    ka, kb = _kpis(a), _kpis(b)
    kpis = pd.DataFrame({"a": ka, "b": kb}, index=list(KPI_ROWS))
    kpis["change"] = kpis["b"] - kpis["a"]
    kpis.index.name = "kpi"
    return Comparison(
        labels=(a.label, b.label),
        kpis=kpis,
        differing=_differing(a.primary, b.primary),
        status=(str(a.report.get("status", "")), str(b.report.get("status", ""))),
        objective=(str(a.report.get("objective", "")), str(b.report.get("objective", ""))),
    )


def _kpis(side: _Side) -> list[float]:
    primary, report = side.primary, side.report
    covered = ~missing_mask(primary["member_id"])
    priority = primary["priority"].astype(str)
    values: dict[str, float] = {"households": float(len(primary)), "covered": float(covered.sum())}
    for tier in TIERS:
        in_tier = priority == tier
        total = int(in_tier.sum())
        values[f"coverage {tier} (%)"] = 100.0 * float((covered & in_tier).sum()) / total if total else np.nan
    values["uncovered"] = float((~covered).sum())
    members = side.members
    capacity = pd.to_numeric(members["capacity"], errors="coerce")
    # Unavailable members (capacity 0) carry no load by definition: leaving them out
    # keeps the spread about the members who can actually serve.
    util = pd.to_numeric(members["utilisation"], errors="coerce")[capacity > 0].dropna()
    q = util.quantile([0.1, 0.5, 0.9]).to_numpy() if len(util) else np.full(3, np.nan)
    for name, value in zip(("p10", "median", "p90"), q, strict=True):
        values[f"utilisation {name} (%)"] = 100.0 * float(value)
    values["utilisation max (%)"] = 100.0 * float(util.max()) if len(util) else np.nan
    components = report.get("components") or {}
    travel = components.get("travel_m_per_week")
    if travel is None:
        visits = pd.to_numeric(primary.get("visits_per_week"), errors="coerce")
        weekly = pd.Series(costs.travel_m(visits, primary["distance_m"]), index=primary.index)
        travel = float(weekly.where(covered, 0.0).sum())
    values["weekly travel (km)"] = float(travel) / 1000.0
    if _current_given(primary):
        if "current_member_id" in primary:
            # The plan's own definition applied to its table, so every view counts the same households.
            values["changed contacts"] = float(changed_mask(primary["current_member_id"], primary["member_id"]).sum())
        else:
            values["changed contacts"] = float(components.get("changed", np.nan))
        values["new households"] = float(components.get("new_households", np.nan))
    else:
        # Without current contacts there is nothing to have changed from.
        values["changed contacts"] = values["new households"] = np.nan
    values["wall time (s)"] = float(report.get("wall_s", np.nan))
    return [values[k] for k in KPI_ROWS]


def _current_given(primary: pd.DataFrame) -> bool:
    """Whether the plan had current contacts: ``changed`` is blank throughout otherwise."""
    if "changed" not in primary:
        return True
    flags = primary["changed"].astype("string").fillna("")
    return bool((flags != "").any())


def _differing(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    ta, tb = a.set_index("household_id"), b.set_index("household_id")
    # B's order first (usually the newer plan), then households only A has.
    ids = tb.index.append(ta.index[~ta.index.isin(tb.index)])
    member_a = ta["member_id"].reindex(ids).fillna("").astype(str)
    member_b = tb["member_id"].reindex(ids).fillna("").astype(str)
    differs = changed_mask(member_a.to_numpy(dtype=object), member_b.to_numpy(dtype=object))
    ids = ids[differs]
    member_a, member_b = member_a[differs], member_b[differs]
    branch = tb["branch"].reindex(ids).fillna(ta["branch"].reindex(ids)).astype(str)
    priority = tb["priority"].reindex(ids).fillna(ta["priority"].reindex(ids)).astype(str)
    change = np.where(
        missing_mask(member_a), "newly covered", np.where(missing_mask(member_b), "now uncovered", "reassigned")
    )
    frame = pd.DataFrame(
        {
            "household_id": ids.astype(str),
            "branch": branch.to_numpy(),
            "priority": priority.to_numpy(),
            "member_a": member_a.to_numpy(),
            "member_b": member_b.to_numpy(),
            "distance_a_m": pd.to_numeric(ta["distance_m"].reindex(ids), errors="coerce").to_numpy(dtype=float),
            "distance_b_m": pd.to_numeric(tb["distance_m"].reindex(ids), errors="coerce").to_numpy(dtype=float),
            "change": change,
            "reason_b": tb["reason"].reindex(ids).fillna("").astype(str).to_numpy(),
        }
    )
    return frame.reset_index(drop=True)


def _fmt(value: float, kpi: str, *, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    sign = "+" if signed else ""
    if kpi in _INT_ROWS:
        return f"{round(value):{sign},}"
    if kpi.endswith("(s)"):
        return f"{value:{sign},.2f}"
    return f"{value:{sign},.1f}"
