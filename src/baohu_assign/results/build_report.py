"""The report (``report.json``) of a solve, built once from its index-level result.

:func:`build_report` is called by :func:`~baohu_assign.solve` and
:func:`~baohu_assign.rebalance` before they return, within the caller's time
limit: the shortfall diagnosis (:func:`~baohu_assign.diagnose.diagnose`) gets
what is left of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from .._version import __version__
from ..model.network import NetworkSummary
from ..model.objective import Components as ObjectiveParts
from ..model.objective import evaluate
from ..model.problem import Problem
from ..model.scenario import Scenario
from ..solving.result import BranchResult, SolveResult, Status
from .diagnose import DIAGNOSIS_CUT, diagnose
from .explain import PIN_REASONS
from .report import (
    BranchReport,
    BranchShortfall,
    Components,
    Counts,
    Report,
    ReportWarning,
    Uncovered,
)
from .rollup import hierarchy_report
from .tables import HouseholdOutcome

__all__ = ["EXAMPLES", "build_report"]

EXAMPLES = 5
"""Branches named in a ``time_limit_reached`` warning."""


def build_report(
    result: SolveResult, outcome: HouseholdOutcome, *, known_shortfalls: Mapping[str, BranchShortfall] | None = None
) -> Report:
    """The report of a solve.

    Parameters
    ----------
    result
        What the solve found.
    outcome
        Its per-household arrays (:func:`~baohu_assign.results.tables.household_outcome`).
    known_shortfalls
        Shortfall diagnoses to reuse, by branch name (``diagnose``'s ``known``).

    Returns
    -------
    Report
        Totals are summed over the branches' unrounded figures, then rounded.
    """
    scenario = result.scenario
    parts = [evaluate(r.branch.problem, r.solution.member_of, r.solution.backup_of) for r in result.results]
    branches = [_branch_report(r, p, outcome) for r, p in zip(result.results, parts, strict=True)]
    uncovered = tuple(sum(p.uncovered[t] for p in parts) for t in range(3))
    shortfalls = _shortfalls(result, sum(uncovered), known_shortfalls)
    household_ids = scenario.households["household_id"].to_numpy(dtype=object)
    warnings = [
        *(
            ReportWarning(code=w.code, message=w.message, count=w.count, examples=list(w.examples))
            for w in scenario.warnings
        ),
        *(warning for r in result.results for warning in _branch_warnings(r, household_ids)),
        *_time_limit_warnings(result, shortfalls),
        *_cancelled_warnings(result),
    ]
    engines: dict[str, int] = {}
    for r in result.results:
        engines[r.solution.engine] = engines.get(r.solution.engine, 0) + 1
    objective_value = sum((r.solution.objective for r in result.results), 0)
    bound = _bound_sum(result)
    return Report(
        version=__version__,
        status=_overall_status([r.status for r in result.results]),
        strategy=result.strategy,
        objective=result.objective,
        engines=dict(sorted(engines.items())),
        components=_components(result, parts, outcome, uncovered),
        objective_value=objective_value,
        bound=bound,
        gap=_gap(objective_value, bound),
        seed=result.seed,
        time_limit=result.time_limit,
        reproducible=all(r.reproducible for r in result.results),
        wall_s=round(result.wall_s, 3),
        counts=_counts(result, branches, sum(uncovered)),
        warnings=warnings,
        branches=branches,
        shortfalls=shortfalls,
        network=_network_summary(scenario),
        hierarchy=hierarchy_report(result),
    )


def _branch_report(result: BranchResult, parts: ObjectiveParts, outcome: HouseholdOutcome) -> BranchReport:
    branch, solution = result.branch, result.solution
    problem = branch.problem
    return BranchReport(
        branch=branch.branch,
        engine=solution.engine,
        status=result.status,
        households=problem.num_households,
        members=problem.num_members,
        available_members=int((problem.member_capacity > 0).sum()),
        capacity=int(problem.member_capacity.sum()),
        members_over_capacity_unit=_over_capacity_members(problem, solution.member_of),
        arcs=problem.num_arcs,
        covered=int((solution.member_of >= 0).sum()),
        uncovered=Uncovered.from_tiers(parts.uncovered),
        travel_m_per_week=round(parts.travel_m_per_week, 1),
        imbalance=round(parts.imbalance, 4),
        changed=int(outcome.changed[branch.household_rows].sum()),
        balance_weight=None if result.balance_weight is None else round(result.balance_weight, 6),
        objective_value=solution.objective,
        bound=solution.bound,
        gap=_gap(solution.objective, solution.bound),
        wall_s=round(solution.wall_s, 4),
        reproducible=result.reproducible,
    )


def _components(
    result: SolveResult, parts: list[ObjectiveParts], outcome: HouseholdOutcome, uncovered: tuple[int, ...]
) -> Components:
    """The objective's parts summed over the branches."""
    new = 0
    backups = 0
    for r in result.results:
        covered = r.solution.member_of >= 0
        new += int((covered & (r.branch.current_state == 0)).sum())
        if r.solution.backup_of is not None:
            backups += int((r.solution.backup_of >= 0).sum())
    return Components(
        travel_m_per_week=round(sum((p.travel_m_per_week for p in parts), 0.0), 1),
        imbalance=round(sum((p.imbalance for p in parts), 0.0), 4),
        changed=sum(int(outcome.changed[r.branch.household_rows].sum()) for r in result.results),
        new_households=new,
        uncovered=Uncovered.from_tiers(uncovered),
        backups=backups,
        backups_missing=sum(p.backup_missing for p in parts),
    )


def _counts(result: SolveResult, branches: list[BranchReport], uncovered: int) -> Counts:
    members = result.scenario.members
    households = len(result.scenario.households)
    return Counts(
        members=len(members),
        available_members=int(members["available"].sum()) if len(members) else 0,
        households=households,
        covered=households - uncovered,
        uncovered=uncovered,
        branches=len(result.results),
        arcs=sum(r.branch.problem.num_arcs for r in result.results),
        members_over_capacity_unit=sum(b.members_over_capacity_unit for b in branches),
    )


def _branch_warnings(result: BranchResult, household_ids: np.ndarray) -> Iterator[ReportWarning]:
    """A branch's engine fallbacks, a safety limit that stopped it, and its broken pins."""
    branch = result.branch
    for note in result.notes:
        yield ReportWarning(code="engine_fallback", message=note)
    if result.safety_limit_reached:
        yield ReportWarning(
            code="safety_time_limit",
            message=(
                f"branch {branch.branch!r}: the safety time limit stopped the search before its "
                "work budget was spent; the plan is valid but another run may give another plan"
            ),
        )
    for pin in branch.broken_pins:
        yield ReportWarning(
            code="pin_broken",
            message=f"pin cannot hold: {PIN_REASONS.get(pin.reason, pin.reason)}",
            household_id=str(household_ids[pin.household_row]),
            member_id=pin.member_id or None,
        )


def _shortfalls(
    result: SolveResult, uncovered: int, known: Mapping[str, BranchShortfall] | None = None
) -> list[BranchShortfall]:
    """Computed shortfall diagnosis per branch; only solves that leave households uncovered pay for it.

    Under a time limit it gets what is left of it (:func:`~baohu_assign.diagnose.diagnose`'s ``deadline``).
    """
    if not uncovered or result.cancelled:
        return []  # a cancelled call solves no what-ifs
    if result.deadline is not None:
        return diagnose(result, deadline=result.deadline, known=known)
    return diagnose(result, known=known)


def _cancelled_warnings(result: SolveResult) -> list[ReportWarning]:
    """A ``cancelled`` warning naming the branches whose search the caller's cancel flag cut short."""
    if not result.cancelled:
        return []
    names = [r.branch.branch for r in result.results if r.cancelled]
    return [
        ReportWarning(
            code="cancelled",
            message=(
                "the solve was cancelled: these branches keep the plan found so far (greedy's construction "
                "where no search had started) and no shortfall diagnosis was solved; the plan is valid, "
                "not the best this input allows"
            ),
            count=len(names),
            examples=names[:EXAMPLES],
        )
    ]


def _time_limit_warnings(result: SolveResult, shortfalls: list[BranchShortfall]) -> list[ReportWarning]:
    """``time_limit_reached`` warnings: what the time limit cut, for the whole call, then per kind of cut."""
    if result.deadline is None:
        return []
    out = []
    for cut in result.deadline.cuts:
        if cut == DIAGNOSIS_CUT:
            names = [s.branch for s in shortfalls if not s.complete]
            out.append(
                ReportWarning(code="time_limit_reached", message=cut, count=len(names), examples=names[:EXAMPLES])
            )
        else:
            out.append(ReportWarning(code="time_limit_reached", message=cut))
    by_cut: dict[str, list[str]] = {}
    for r in result.results:
        for cut in r.time_cuts:
            by_cut.setdefault(cut, []).append(r.branch.branch)
    for cut, names in by_cut.items():
        out.append(
            ReportWarning(
                code="time_limit_reached",
                message=f"{cut} ({len(names)} of {len(result.results)} branches)",
                count=len(names),
                examples=names[:EXAMPLES],
            )
        )
    return out


def _network_summary(scenario: Scenario) -> NetworkSummary | None:
    """The walking network's size and snap distances (report.json), or None without one."""
    network = scenario.network
    if network is None:
        return None
    mem, hh = scenario.members, scenario.households
    return network.summary(
        mem["lat"].to_numpy(dtype=np.float64),
        mem["lon"].to_numpy(dtype=np.float64),
        hh["lat"].to_numpy(dtype=np.float64),
        hh["lon"].to_numpy(dtype=np.float64),
    )


def _over_capacity_members(problem: Problem, member_of: np.ndarray) -> int:
    """Members carrying one whole stairwell unit larger than their capacity."""
    loads = np.bincount(member_of[member_of >= 0], minlength=problem.num_members)
    return int(((loads > problem.member_capacity) & (problem.member_capacity > 0)).sum())


def _bound_sum(result: SolveResult) -> float | None:
    """Σ of the branches' proven bounds; None when a branch has none."""
    bounds = [r.solution.bound for r in result.results]
    if any(b is None for b in bounds):
        return None
    return sum((float(b) for b in bounds if b is not None), 0.0)


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
