"""Shortage diagnosis: why households stay uncovered and what would cover them.

Two entry points:

:func:`diagnose`
    After solving: for every branch with uncovered households, the shortfall
    per tier, the reasons, the spare capacity of the branch, and the members
    whose extra capacity or mobility would cover the most. The figures are
    computed, not estimated: each "what if" (member ``m`` takes ``k`` more
    households, or member ``m`` becomes mobile) is solved again with the
    exact flow engine (greedy where flow does not apply: stairwell units or
    hour budgets) on the branch's compiled problem with only that change.
:func:`scenario_check`
    Before solving: per branch, households per tier, members, capacity,
    households nobody can reach and a lower bound on the shortfall.

Coverage per tier does not depend on the secondary objective (the tier
penalties dominate every travel, balance and churn cost, see docs/model.md),
so the what-ifs solve a *coverage problem*: the branch problem without the
balance term and backups, and, for flow, without arc costs. Its optimum
covers exactly as many households per tier as any optimal plan of the same
branch. Everything reported is ids and counts; never names or coordinates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..errors import EngineError
from ..model import costs
from ..model.check import CHECK_COLUMNS, check_branches
from ..model.compile import (
    BranchProblem,
    _penalised,
    first_contact_changes,
    member_hours,
    visit_minutes,
)
from ..model.geo import distances_from_m, metres_to_chord, unit_vectors
from ..model.problem import NUM_TIERS, Problem, csr_pointer
from ..model.scenario import Scenario
from ..solving.params import Deadline
from ..solving.result import BranchResult, SolveResult
from .explain import branch_reasons
from .report import BranchShortfall, Suggestion, TierCounts

logger = logging.getLogger(__name__)

__all__ = [
    "BRANCH_TIME_LIMIT_S",
    "CHECK_COLUMNS",
    "DEFAULT_EXTRA_CAPACITY",
    "DIAGNOSIS_CUT",
    "MAX_CANDIDATES",
    "BranchShortfall",
    "Suggestion",
    "TierCounts",
    "diagnose",
    "scenario_check",
]

DEFAULT_EXTRA_CAPACITY = 3
"""Households added to a candidate's capacity in the "+k capacity" what-if."""
MAX_CANDIDATES = 20
"""Most members of one branch whose what-ifs are solved."""
TOP_SUGGESTIONS = 5
"""Suggestions kept per branch."""
BRANCH_TIME_LIMIT_S = 2.0
"""Wall-clock limit per branch: no what-if is started that the slowest solve so far
says would end later. The work limit below normally stops first."""
DIAGNOSIS_CUT = "the shortfall diagnosis stopped at the time limit: not every what-if was solved (complete false)"
"""What a solve's time limit cut when it left a branch's diagnosis incomplete (a ``time_limit_reached`` warning)."""
WORK_LIMIT = 10_000_000
"""Most (arcs + households) summed over the what-if solves of one branch (about
1.2 s of flow). A deterministic cap, so that identical runs give identical
report.json; the time limit only guards against a slow or busy machine."""
GREEDY_WORK_FACTOR = 16
"""The greedy engine costs about this many times the flow engine per arc (measured)."""
GREEDY_BUDGET_WORK_FACTOR = 128
"""... and this many times with hour budgets (measured)."""
REACH_FACTOR = 2.0
"""Candidates are ranked by uncovered households within this many times their reach."""


# -- after solving ------------------------------------------------------------------


def diagnose(
    result: SolveResult,
    *,
    extra_capacity: int = DEFAULT_EXTRA_CAPACITY,
    max_candidates: int = MAX_CANDIDATES,
    top: int = TOP_SUGGESTIONS,
    time_limit: float | None = BRANCH_TIME_LIMIT_S,
    deadline: Deadline | None = None,
    known: Mapping[str, BranchShortfall] | None = None,
) -> list[BranchShortfall]:
    """Diagnose every branch of a solve that leaves households uncovered.

    Parameters
    ----------
    result
        What a solve found (a plan's :attr:`~baohu_assign.Plan.result`):
        its branch results, scenario and objective are read.
    extra_capacity
        ``k`` of the "+k capacity" what-if. A member who reaches a whole
        uncovered stairwell unit is first offered the smallest change that
        lets the unit fit (its size minus the member's capacity, at least 1);
        only when that covers nothing more, ``k`` (at least the size of
        the smallest uncovered unit).
    max_candidates
        Most members per branch whose what-ifs are solved: the available
        members with most uncovered households within twice their reach
        (mobile members: in the whole branch), ties by member id.
    top
        Suggestions kept per branch.
    time_limit
        Seconds per branch after which no further candidate is tried
        (``None``: only the work limit applies).
    deadline
        When the whole diagnosis must end (a solve's time limit): each branch
        gets at most an equal part of what is left, and none once it has
        passed (its counts and reasons, but no what-ifs: ``complete`` false).
        A branch it cut is recorded in ``deadline.cuts`` as :data:`DIAGNOSIS_CUT`.
    known
        Diagnoses already made, by branch name, taken as they are: branches
        carried over unchanged from an earlier plan
        (:func:`~baohu_assign.results.events.apply_events`). ``None``: none.

    Returns
    -------
    list of BranchShortfall
        Sorted by branch; empty when every household is covered. Suggestions
        cover at least one more household each and are ordered by households
        covered in addition, critical first, then elevated, then normal, then
        the candidate order. Their figures are what solving the branch with that one
        change covers beyond solving it unchanged.
    """
    if extra_capacity < 1:
        raise ValueError(f"extra_capacity must be >= 1, got {extra_capacity}")
    out: list[BranchShortfall] = []
    short = [branch for branch in result.results if not (branch.solution.member_of >= 0).all()]
    if known:
        out.extend(known[b.branch.branch] for b in short if b.branch.branch in known)
        short = [b for b in short if b.branch.branch not in known]
    for index, branch_result in enumerate(short):
        started = time.perf_counter()
        limit = time_limit
        remaining = None if deadline is None else deadline.remaining()
        cut_by_deadline = remaining is not None and (limit is None or remaining / (len(short) - index) < limit)
        if cut_by_deadline:
            assert remaining is not None
            limit = remaining / (len(short) - index)
        shortfall = _diagnose_branch(result, branch_result, extra_capacity, max_candidates, top, limit)
        if cut_by_deadline and not shortfall.complete:
            assert deadline is not None
            deadline.cut(DIAGNOSIS_CUT)
        logger.info(
            "shortfall diagnosis: %d uncovered, %d candidates, %d suggestions, %.3f s",
            shortfall.uncovered.total,
            shortfall.candidates,
            len(shortfall.suggestions),
            time.perf_counter() - started,
        )
        out.append(shortfall)
    return sorted(out, key=lambda s: s.branch)


def _diagnose_branch(
    solved: SolveResult,
    result: BranchResult,
    extra_capacity: int,
    max_candidates: int,
    top: int,
    time_limit: float | None,
) -> BranchShortfall:
    branch = result.branch
    problem = branch.problem
    member_of = result.solution.member_of.astype(np.int64)
    uncovered = member_of < 0
    tier = problem.household_tier
    _, reasons = branch_reasons(branch, member_of, solved.objective)
    reason_counts = pd.Series(reasons[uncovered], dtype=object).value_counts()

    capacity = problem.member_capacity.astype(np.int64)
    load = np.bincount(member_of[~uncovered], minlength=problem.num_members)
    room = np.maximum(capacity - load, 0)
    reaches_uncovered = np.zeros(problem.num_members, dtype=bool)
    reaches_uncovered[problem.arc_member[uncovered[problem.arc_household]]] = True

    context = _Context(solved.scenario, branch)
    coverage = _coverage_problem(problem)
    # The plan's own solve of this branch tells what one what-if may cost.
    solves = _WhatIfSolves.start(coverage, time_limit, per_solve=float(result.solution.wall_s))
    candidates = _candidates(context, uncovered, max_candidates)
    found, tried, complete = _what_ifs(context, branch, coverage, uncovered, candidates, extra_capacity, solves)
    return BranchShortfall(
        branch=branch.branch,
        households=problem.num_households,
        uncovered=TierCounts.from_tiers(np.bincount(tier[uncovered], minlength=NUM_TIERS)),
        reasons={str(k): int(v) for k, v in sorted(reason_counts.items())},
        available_members=int((capacity > 0).sum()),
        capacity=int(capacity.sum()),
        spare_capacity=int(room.sum()),
        spare_members=int((room > 0).sum()),
        spare_capacity_in_reach=int(room[reaches_uncovered].sum()),
        engine=solves.engine,
        candidates=tried,
        complete=complete,
        suggestions=_ranked(found)[:top],
    )


@dataclass
class _WhatIfSolves:
    """The coverage solves of one branch's diagnosis, within the work limit and the branch's time limit.

    ``per_solve`` is the slowest solve seen (seconds): it keeps a slow engine
    (greedy with hour budgets) from starting a solve that could not finish in time.
    """

    engine: str
    deadline: Deadline
    limit: float
    work_per_solve: int
    per_solve: float
    started: float
    budget: int = WORK_LIMIT

    @classmethod
    def start(cls, coverage: Problem, time_limit: float | None, *, per_solve: float) -> _WhatIfSolves:
        engine = _engine_for(coverage)
        deadline = Deadline.after(time_limit)
        started = time.perf_counter()
        factor = 1 if engine == "flow" else GREEDY_BUDGET_WORK_FACTOR if coverage.has_budgets else GREEDY_WORK_FACTOR
        return cls(
            engine=engine,
            deadline=deadline,
            limit=np.inf if time_limit is None else time_limit,
            work_per_solve=(coverage.num_arcs + coverage.num_households + 1) * factor,
            per_solve=per_solve,
            started=started,
        )

    def affordable(self, solves: int) -> bool:
        """Whether ``solves`` more solves fit in the work left and, at the slowest pace seen, in the time left."""
        spent = time.perf_counter() - self.started
        return self.budget >= self.work_per_solve * solves and spent + self.per_solve * solves <= self.limit

    def baseline(self, coverage: Problem) -> np.ndarray:
        """Households covered per tier by the unchanged branch; the engine that managed it solves the what-ifs."""
        covered, self.engine = self._covered(coverage)
        return covered

    def what_if(self, coverage: Problem) -> np.ndarray:
        """Households covered per tier by a changed branch."""
        covered, _ = self._covered(coverage)
        return covered

    def _covered(self, coverage: Problem) -> tuple[np.ndarray, str]:
        clock = time.perf_counter()
        answer = _covered_per_tier(coverage, self.engine, self.deadline)
        self.per_solve = max(self.per_solve, time.perf_counter() - clock)
        self.budget -= self.work_per_solve
        return answer


def _what_ifs(
    context: _Context,
    branch: BranchProblem,
    coverage: Problem,
    uncovered: np.ndarray,
    candidates: list[int],
    extra_capacity: int,
    solves: _WhatIfSolves,
) -> tuple[list[tuple[int, Suggestion]], int, bool]:
    """Solve each candidate's what-ifs while they are affordable.

    Returns the (candidate rank, suggestion) of every change that covers
    more, how many candidates were tried, and whether that was all of them.
    """
    problem = branch.problem
    capacity = problem.member_capacity.astype(np.int64)
    # A stairwell unit goes whole to one member. A member who reaches one is
    # offered what lets it fit; otherwise at least the smallest uncovered unit.
    extra = max(extra_capacity, int(branch.group_size[uncovered].min()))
    unit_extra = _unit_extra(problem, branch.group_size, uncovered)
    found: list[tuple[int, Suggestion]] = []
    tried = 0
    complete = not candidates or solves.affordable(2)  # the unchanged branch and one what-if
    if candidates and complete:
        baseline = solves.baseline(coverage)
    for rank, m in enumerate(candidates if complete else []):
        # The smallest capacity change that lets a unit the member reaches fit; the default one after it.
        extras = sorted({k for k in (int(unit_extra[m]), extra) if k > 0})
        changes: list[tuple[str, int]] = [("capacity", k) for k in extras]
        if not context.mobile[m] and capacity[m] > 0:
            changes.append(("mobile", 0))
        if not solves.affordable(len(changes)):
            complete = False
            break
        tried += 1
        found_capacity = False
        for change, k in changes:
            if change == "capacity" and found_capacity:
                continue  # a smaller change already covers more
            modified = (
                _more_capacity(context, problem, m, k) if change == "capacity" else _made_mobile(context, problem, m)
            )
            gain = TierCounts.from_tiers(solves.what_if(_coverage_problem(modified)) - baseline)
            if not gain.better():
                continue
            found_capacity = found_capacity or change == "capacity"
            found.append((rank, _suggestion(context.member_ids[m], change, k, gain)))
    return found, tried, complete


def _suggestion(member_id: str, change: str, k: int, gain: TierCounts) -> Suggestion:
    """The suggestion to give ``member_id`` ``k`` more capacity (``change`` "capacity") or make them mobile."""
    text = (
        f"+{k} capacity for {member_id} covers {gain.describe()}"
        if change == "capacity"
        else f"making {member_id} mobile (移动包户) covers {gain.describe()}"
    )
    return Suggestion(
        member_id=member_id,
        change=change,  # type: ignore[arg-type]
        extra_capacity=k if change == "capacity" else 0,
        covers=gain,
        text=text,
    )


def _ranked(found: list[tuple[int, Suggestion]]) -> list[Suggestion]:
    """Most covered (critical first); ties: the smallest capacity change, then
    making a member mobile, then the member nearest most uncovered households."""
    ordered = sorted(
        found,
        key=lambda item: (
            -item[1].covers.critical,
            -item[1].covers.elevated,
            -item[1].covers.normal,
            item[1].change == "mobile",
            item[1].extra_capacity,
            item[0],
        ),
    )
    return [suggestion for _, suggestion in ordered]


def _unit_extra(problem: Problem, group_size: np.ndarray, uncovered: np.ndarray) -> np.ndarray:
    """int64[M]: per member, the smallest capacity increase that lets an uncovered unit it
    reaches whole fit within its capacity (size − capacity, at least 1); 0 when it reaches none."""
    extra = np.zeros(problem.num_members, dtype=np.int64)
    arcs = np.flatnonzero(uncovered[problem.arc_household] & (problem.household_group[problem.arc_household] >= 0))
    if arcs.size == 0:
        return extra
    members = problem.arc_member[arcs].astype(np.int64)
    need = np.maximum(group_size[problem.arc_household[arcs]] - problem.member_capacity[members], 1).astype(np.int64)
    best = np.full(problem.num_members, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, members, need)
    return np.where(best < np.iinfo(np.int64).max, best, 0)


class _Context:
    """What the what-ifs need beyond the problem: member and household data of the branch."""

    def __init__(self, scenario: Scenario, branch: BranchProblem) -> None:
        members = scenario.members.iloc[branch.member_rows]
        households = scenario.households.iloc[branch.household_rows]
        policy = scenario.policy
        self.branch = branch
        self.member_ids = [str(v) for v in members["member_id"].to_numpy(dtype=object)]
        self.available = members["available"].to_numpy(dtype=bool)
        self.mobile = members["mobile"].to_numpy(dtype=bool)
        self.reach = members["max_distance_m"].to_numpy(dtype=np.float64)
        self.member_lat = members["lat"].to_numpy(dtype=np.float64)
        self.member_lon = members["lon"].to_numpy(dtype=np.float64)
        self.hours = member_hours(members)
        self.household_lat = households["lat"].to_numpy(dtype=np.float64)
        self.household_lon = households["lon"].to_numpy(dtype=np.float64)
        self.minutes = visit_minutes(households, policy)
        self.speed = policy.walking_speed_m_per_min
        self.network = scenario.network

    def distances(self, m: int) -> np.ndarray:
        """float64[H]: metres from member ``m`` to every household of the branch, as the compiler
        measures them (along the walking network when there is one: ``inf`` where no path leads)."""
        if self.network is not None:
            return self.network.distances_from(
                self.member_lat[m], self.member_lon[m], self.household_lat, self.household_lon
            )
        return distances_from_m(self.member_lat[m], self.member_lon[m], self.household_lat, self.household_lon)


def _candidates(context: _Context, uncovered: np.ndarray, limit: int) -> list[int]:
    """Available members, most uncovered households within REACH_FACTOR × reach first, then id."""
    members = np.flatnonzero(context.available)
    if members.size == 0 or limit <= 0:
        return []
    points = unit_vectors(context.household_lat[uncovered], context.household_lon[uncovered])
    near = np.full(members.size, int(uncovered.sum()), dtype=np.int64)  # mobile: the whole branch
    fixed = ~context.mobile[members]
    if context.network is not None and points.shape[0]:
        # Along the network, as the reach itself is measured (mobile: households with a path).
        _, arc_member, _ = context.network.candidate_arcs(
            context.member_lat[members],
            context.member_lon[members],
            REACH_FACTOR * context.reach[members],
            context.mobile[members],
            context.household_lat[uncovered],
            context.household_lon[uncovered],
        )
        near = np.bincount(arc_member, minlength=members.size).astype(np.int64)
    elif fixed.any() and points.shape[0]:
        tree = cKDTree(points)
        centres = unit_vectors(context.member_lat[members[fixed]], context.member_lon[members[fixed]])
        radius = metres_to_chord(REACH_FACTOR * context.reach[members[fixed]])
        near[fixed] = np.asarray(tree.query_ball_point(centres, r=radius, return_length=True), dtype=np.int64)
    ids = np.array(context.member_ids, dtype=object)[members]
    order = sorted(range(members.size), key=lambda i: (-int(near[i]), str(ids[i])))
    return [int(members[i]) for i in order[:limit]]


def _coverage_problem(problem: Problem) -> Problem:
    """The problem whose optimum covers as many households per tier as the branch's, cheaper to solve.

    Backups never cost a primary contact and the balance term is secondary,
    so both go; where flow applies, arc costs go too (tier penalties of 1, 2, 3
    still make every optimum lexicographically maximal in coverage).
    """
    stripped = replace(
        problem,
        balance_scale=0.0,
        household_backup=None,
        member_backup_capacity=None,
        backup_penalty=0,
    )
    if not (stripped.has_groups or stripped.has_budgets):
        stripped = replace(
            stripped,
            objective="distance",
            arc_cost=np.zeros(stripped.num_arcs, dtype=np.int64),
            churn_penalty=0,
        )
    return _penalised(stripped)


def _engine_for(problem: Problem) -> str:
    return "greedy" if problem.has_groups or problem.has_budgets else "flow"


def _covered_per_tier(problem: Problem, engine: str, deadline: Deadline) -> tuple[np.ndarray, str]:
    """int64[3] households covered per tier by an optimum, and the engine that found it."""
    from .. import engines
    from ..engines.contract import GreedySettings

    if engine == "flow":
        from ..engines.flow import covered_per_tier

        try:
            # The counts every optimum of flow has, from maximum flows (cheaper than the optimum itself).
            return covered_per_tier(problem), engine
        except EngineError:
            # OR-Tools missing or failing: greedy covers the lexicographic maximum
            # on group-free problems too (transversal matroid), only slower.
            engine = "greedy"
    if engine == "greedy":
        member_of = engines.load("greedy").solve(problem, GreedySettings(), deadline.stop(), seed=0).member_of
    covered = np.asarray(member_of) >= 0
    return np.bincount(problem.household_tier[covered], minlength=NUM_TIERS).astype(np.int64), engine


def _more_capacity(context: _Context, problem: Problem, m: int, extra: int) -> Problem:
    """``problem`` with member ``m`` taking ``extra`` more households."""
    capacity = problem.member_capacity.copy()
    was_idle = capacity[m] <= 0
    capacity[m] += extra
    changed = replace(problem, member_capacity=capacity)
    if not was_idle:
        return changed
    # An available member with capacity 0 got no arcs when compiled: give it the
    # households within its reach, as the compiler would have.
    distance = context.distances(m)
    reach = np.isfinite(distance) if context.mobile[m] else distance <= context.reach[m]
    return _with_member_arcs(context, changed, m, distance, reach)


def _made_mobile(context: _Context, problem: Problem, m: int) -> Problem:
    """``problem`` with member ``m`` mobile: it reaches every household of the branch (it has a path to)."""
    distance = context.distances(m)
    return _with_member_arcs(context, problem, m, distance, np.isfinite(distance))


def _with_member_arcs(context: _Context, problem: Problem, m: int, distance: np.ndarray, reach: np.ndarray) -> Problem:
    """``problem`` plus arcs from member ``m`` to the households of ``reach`` it lacks.

    As in the compiler: pinned households keep only their pinned arc, and a
    household of a stairwell unit gets the arc only when ``m`` reaches the
    whole unit. Costs and hour weights follow the compiler's formulas.
    """
    H = problem.num_households
    wanted = reach & (problem.household_pin < 0)
    group = problem.household_group
    if (group >= 0).any():
        in_group = group >= 0
        whole = np.ones(int(group.max()) + 1, dtype=bool)
        np.logical_and.at(whole, group[in_group], reach[in_group])
        wanted &= ~in_group | whole[np.maximum(group, 0)]
    has = np.zeros(H, dtype=bool)
    has[problem.arc_household[problem.arc_member == m]] = True
    new_h = np.flatnonzero(wanted & ~has)
    if new_h.size == 0 and not problem.has_budgets:
        return problem
    travel = costs.travel_cost(problem.household_visits[new_h], distance[new_h], context.branch.travel_unit)
    new_cost = costs.arc_cost(
        travel,
        problem.household_current[new_h],
        m,
        problem.churn_penalty,
        first_contact_changes(context.branch.current_state)[new_h],
    )
    arc_h = np.concatenate([problem.arc_household, new_h.astype(np.int32)])
    arc_m = np.concatenate([problem.arc_member, np.full(new_h.size, m, dtype=np.int32)])
    order = np.lexsort((arc_m, arc_h))
    fields: dict[str, np.ndarray] = {
        "arc_household": arc_h[order].astype(np.int32),
        "arc_member": arc_m[order].astype(np.int32),
        "arc_distance_m": np.concatenate([problem.arc_distance_m, distance[new_h]])[order],
        "arc_cost": np.concatenate([problem.arc_cost, new_cost])[order],
        "household_arc_ptr": csr_pointer(arc_h[order], H),
    }
    if problem.has_budgets:
        assert problem.arc_weight is not None and problem.member_budget is not None
        weight = costs.arc_weight(
            problem.household_visits[new_h], context.minutes[new_h], distance[new_h], context.speed
        )
        arc_weight = np.concatenate([problem.arc_weight, weight])[order]
        fields["arc_weight"] = arc_weight
        budget = problem.member_budget.copy()
        if budget[m] <= 0 and problem.member_capacity[m] > 0:
            # The compiler gives idle members no hours; an unlimited member gets
            # more than all its arcs could use.
            all_weight = int(arc_weight.sum()) + 1
            budget[m] = int(costs.hours_budget(context.hours[m : m + 1], np.ones(1), unlimited=all_weight)[0])
        fields["member_budget"] = budget
    return replace(problem, **fields)  # type: ignore[arg-type]


# -- before solving -------------------------------------------------------------------


def scenario_check(scenario: Scenario) -> pd.DataFrame:
    """Per branch, before solving: demand, supply and the shortfall no plan can avoid.

    Parameters
    ----------
    scenario
        A validated scenario.

    Returns
    -------
    pandas.DataFrame
        One row per branch with households (sorted by branch; ``"*"`` when
        the policy lets members cross branches), columns
        :data:`CHECK_COLUMNS`: ``households`` and per priority; ``members``
        of the branch and ``available_members`` (available, capacity > 0);
        ``capacity`` of the available members; ``out_of_reach``: households
        no available member reaches; ``capacity_gap``: households minus
        capacity (0 when capacity suffices); ``shortfall_lower_bound``:
        households that stay uncovered in every plan, at least. Every member
        can cover at most min(load limit, households it may serve), where
        the load limit is the capacity or, with the policy's
        ``one_unit_over_capacity``, the largest stairwell unit it reaches
        whole if larger; a household without an eligible member (out of
        reach, or no member reaching its whole stairwell unit) is never
        covered, so ``shortfall_lower_bound`` = households − min(households
        without those, Σ min(load limit, eligible households)) ≥
        out_of_reach, and ≥ capacity_gap when no unit exceeds a capacity.
    """
    return check_branches(scenario.members, scenario.households, scenario.policy, scenario.network)
