"""solve(): split branches → compile → choose engine → verify → fall back → SolveResult.

Reproducibility
---------------
Branches that need search (stairwell units, hour budgets, backups) run in
one of two modes:

- No time limit (the default): work-limited. CP-SAT gets a deterministic
  work budget per branch (:func:`_work_rounds`) and runs in its
  work-limited mode, so the same input and seed give the identical plan on
  every run. A wall-clock safety net (:data:`SEARCH_SAFETY_SECONDS`) only
  stops runs the budget would make far too long; a branch it stops is
  reported (``reproducible`` false and a ``safety_time_limit`` warning).
- A time limit: wall-clock. CP-SAT makes the best of the time (parallel
  portfolio, free-running LNS threads), so tied or unfinished plans may
  differ between runs; plans are valid and bounds hold either way.

Where greedy and CP-SAT both run, CP-SAT starts from greedy's plan and
never returns a worse one, so the branch's plan is CP-SAT's: never
whichever finished first.

Engines
-------
Each engine call gets the engine's own settings (from ``params``: greedy's
``max_moves`` is ``max_iterations``, CP-SAT's ``lns_rounds`` the branch's
work budget, its ``workers`` ``num_workers``) and a
:class:`~baohu_assign.engines.stop.Stop` at the branch's deadline (see
:mod:`baohu_assign.engines.contract`). Where CP-SAT runs, greedy's plan is
its starting plan (``initial``), so CP-SAT's plan is never worse than
greedy's.

Fallback
--------
Greedy takes over a branch only when the chosen engine is unavailable
(:class:`~baohu_assign.errors.EngineUnavailable`: OR-Tools missing, or no
plan within the time) or cannot express the branch; the report then warns
``engine_fallback``. Any other exception inside an engine (a plan that
breaks a rule, an objective that disagrees with
:func:`~baohu_assign.objective.evaluate`, a crash) is a fault and raises
:class:`~baohu_assign.errors.EngineError` naming the engine and the branch:
it is never hidden behind a greedy plan.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import engines
from ..engines.contract import CpsatSettings, Engine, GreedySettings
from ..errors import EngineError, EngineUnavailable
from ..model.compile import BranchProblem, compile_scenario, with_balance
from ..model.objective import evaluate
from ..model.problem import OBJECTIVES
from ..model.scenario import Scenario
from ..model.solution import Solution, violations
from .params import Deadline, SolveParams, check_seed, check_time_limit, now
from .result import BranchResult, SolveResult, Status

logger = logging.getLogger(__name__)

SEARCH_SAFETY_SECONDS = 600.0
"""Wall-clock safety net shared by the branches that need search when the
caller gives no time limit. They stop on their work budget long before it
(measured on two busy cores: the 12,000-household town with hour budgets in
about 25 s under the distance objective, 50–70 s under the balanced one); it
only ends a run that a much slower or overloaded machine would drag on, and
such a run is reported as not reproducible."""

ARCS_PER_WORK_ROUND = 20_000
"""Work budget of a search branch without a time limit: one LNS round (and a tenth of a
deterministic second for each whole-model solve) per this many eligible pairs, within
:data:`MIN_WORK_ROUNDS` … :data:`MAX_WORK_ROUNDS`."""

MIN_WORK_ROUNDS = 2
"""Smallest work budget: small branches mostly prove optimality well within it."""

MAX_WORK_ROUNDS = 10
"""Largest work budget: on the 12,000-household town with hour budgets, 100 rounds on every
branch instead of 10 took twice as long and improved the total objective by less than a millionth."""

BALANCED_SEARCH_SECONDS = 5.0
"""Most CP-SAT time per branch for the balanced objective (after greedy calibration), under a time limit."""

BALANCED_WORK_ROUNDS = 3
"""Most CP-SAT work rounds per branch for the balanced objective (after greedy calibration), without one."""

CALIBRATION_SOLVES = {"flow": 14, "cpsat": 6, "greedy": 5}
"""Most engine runs spent finding the balance weight of one branch."""

GREEDY_SHARE = 0.5
"""Under a time limit, the share of a search branch's time for greedy (local search, or the
balance calibration) before CP-SAT gets the rest; all of it when CP-SAT would not fit."""

FLOOR_SECONDS_PER_ARC = 1.5e-6
"""Most estimated time of a branch's cheapest plan (greedy's construction) per eligible pair. Under
a time limit this much is kept back for every branch still to come, so that each gets at least that
plan (measured: about 1 s for the 934,000 pairs of the 12,000-household town with hour budgets
on two busy cores, 0.35 s of CPU)."""

FLOOR_PER_COMPILE_SECOND = 1.5
"""The same estimate from this call's own compiling time, which scales with the pairs and the
machine's speed and load alike (greedy's constructions measured 1.0 to 1.3 times as long as
compiling); the smaller of the two is kept back (a walking network makes compiling much slower)."""

SEARCH_SETUP_SECONDS_PER_ARC = 3e-6
"""Estimated time CP-SAT needs per eligible pair before it can search (relaxation, units, start
plan; about 0.4 s for a branch of 144,000 pairs on two busy cores). Under a time limit a branch
whose time for CP-SAT is shorter keeps greedy's plan."""

MIN_SEARCH_SECONDS = 0.5
"""Under a time limit, the least time beyond its floor a search branch gets when the slack allows
(at most an equal split of it among the search branches still to come). A share by arcs alone
left a 14-household branch of a 32-branch town 0.05 s of a 10 s limit and greedy's plan, twice
the optimum that CP-SAT proves in 0.03 s, while the whole solve ended after 2.5 s: a small branch
that is done early gives the rest back to the later ones, so the minimum costs them little."""

REPORT_SECONDS_PER_HOUSEHOLD = 2e-5
"""Estimated time of building the report per household (about 0.1 s for 12,000 on two busy
cores), kept back from the search under a time limit; the shortfall diagnosis gets what is left."""

CUT_CONSTRUCTION_ONLY = "too little time left for this branch: greedy's construction, no search"
CUT_SEARCH_LEFT_OUT = "too little time for CP-SAT: greedy's plan kept"
CUT_SEARCH_STOPPED = "the search stopped at the time limit"
CUT_CALIBRATION = "the balance weight search stopped at the time limit"


@dataclass(frozen=True, slots=True)
class _Outcome:
    solution: Solution
    status: Status
    balance_weight: float | None
    branch: BranchProblem
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Run:
    """What the engine calls of one branch share: the caller's parameters, the branch's seed and deadline."""

    params: SolveParams
    seed: int
    deadline: Deadline


def solve(
    scenario: Scenario,
    *,
    objective: str = "balanced",
    strategy: str = "auto",
    time_limit: float | None = None,
    seed: int | None = None,
    params: SolveParams | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> SolveResult:
    """Assign members to households, in indices: the solving part of :func:`baohu_assign.solve`.

    Parameters, checks and errors as for :func:`baohu_assign.solve`, which
    builds the plan (its tables and report) from the result returned here.
    Under a time limit, :data:`REPORT_SECONDS_PER_HOUSEHOLD` per household
    is kept back for that report.

    Returns
    -------
    SolveResult
        Per branch its problem, solution and status, with the call's
        options, time and deadline.
    """
    base = _checked_arguments(scenario, objective, strategy, time_limit, seed, params, progress)
    started = time.perf_counter()
    seed = base.seed
    # The caller's limit covers the whole call, so its deadline starts before compiling.
    timed = base.time_limit is not None
    events = () if base.cancel is None else (base.cancel,)
    deadline = Deadline.after(base.time_limit, events)

    if progress is not None:
        progress("arcs", 0, 0)
    compiling = time.perf_counter()
    branches = compile_scenario(
        scenario.members,
        scenario.households,
        objective=objective,
        policy=scenario.policy,
        network=scenario.network,
    )
    compile_s = time.perf_counter() - compiling
    if timed and deadline.expired():
        deadline.cut(f"compiling took longer than the time limit of {base.time_limit:g} s")
    seeds = np.random.SeedSequence(seed).spawn(max(len(branches), 1))
    # Only branches that need search share the budget; flow branches are exact and fast.
    weights = [_search_weight(b) for b in branches]
    uses_cpsat = strategy in ("auto", "cpsat")
    # Without a time limit (or with the caller's own work budget) search stops on work, not on the clock.
    work_limited = base.time_limit is None or base.max_iterations is not None
    if not timed and uses_cpsat and any(weights):
        deadline = Deadline.after(SEARCH_SAFETY_SECONDS, events)
    # Kept back under a time limit: the cheapest plan of every branch still to come, and the report.
    arcs = [max(b.problem.num_arcs, 1) for b in branches]
    per_arc = min(FLOOR_SECONDS_PER_ARC, FLOOR_PER_COMPILE_SECOND * compile_s / max(sum(arcs), 1))
    floors = [per_arc * n for n in arcs]
    report_reserve = REPORT_SECONDS_PER_HOUSEHOLD * len(scenario.households)
    results: list[BranchResult] = []
    for index, branch in enumerate(branches):
        if progress is not None:
            progress("solving", index + 1, len(branches))
        seed_i = int(seeds[index].generate_state(1)[0])
        if timed:
            run, no_time_left = _timed_branch_run(
                base, seed_i, deadline, weights[index:], floors[index:], report_reserve
            )
        else:
            run, no_time_left = _untimed_branch_run(base, seed_i, deadline, weights[index:]), False
        work = None
        if work_limited:
            work = (
                base.max_iterations
                if base.max_iterations is not None
                else _work_rounds(branch, objective, scenario.policy)
            )
        outcome = _solve_branch(branch, objective, strategy, run, scenario.policy, work)
        searched_by_clock = not work_limited and uses_cpsat and weights[index] > 0
        results.append(
            _branch_result(
                outcome,
                run,
                timed=timed,
                no_time_left=no_time_left,
                work_limited=work_limited,
                searched_by_clock=searched_by_clock,
            )
        )
        logger.info(
            "branch %d/%d: %s, %s, objective %d, %.3f s",
            index + 1,
            len(branches),
            outcome.solution.engine,
            outcome.status.value,
            outcome.solution.objective,
            outcome.solution.wall_s,
        )
    return SolveResult(
        scenario=scenario,
        results=tuple(results),
        objective=objective,
        strategy=strategy,
        seed=seed,
        time_limit=base.time_limit,
        wall_s=time.perf_counter() - started,
        deadline=deadline if timed else None,
        cancelled=deadline.cancelled(),
    )


def _checked_arguments(
    scenario: object,
    objective: object,
    strategy: object,
    time_limit: object,
    seed: object,
    params: object,
    progress: object,
) -> SolveParams:
    """The call's parameters: ``params`` (or the defaults) with ``seed`` and ``time_limit`` where given.

    TypeError or ValueError naming the argument when one is not what solve() takes.
    """
    check_scenario(scenario)
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose from {list(OBJECTIVES)}")
    if not isinstance(strategy, str) or strategy not in engines.STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {list(engines.STRATEGIES)}")
    checked_limit = check_time_limit(time_limit)
    checked_seed = None if seed is None else check_seed(seed)
    if params is not None and not isinstance(params, SolveParams):
        raise TypeError(f"params must be a SolveParams or None, got {type(params).__name__}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {type(progress).__name__}")
    base = params or SolveParams()
    # An argument left at None keeps what params says.
    return replace(
        base,
        seed=base.seed if checked_seed is None else checked_seed,
        time_limit=base.time_limit if checked_limit is None else checked_limit,
    )


def _branch_result(
    outcome: _Outcome, run: _Run, *, timed: bool, no_time_left: bool, work_limited: bool, searched_by_clock: bool
) -> BranchResult:
    """The branch's result, with what the caller's time limit cut from it and whether it is reproducible."""
    # Every wall-clock limit a branch obeys is its deadline (work-limited CP-SAT lets each phase run
    # up to it), so a clock that shaped the plan has always passed the deadline by now.
    clock_stopped = run.deadline.expired()
    cancelled = run.deadline.cancelled()
    time_cuts: tuple[str, ...] = ()
    if timed and outcome.status != Status.OPTIMAL:
        # What the limit left out of this branch; a plan proven optimal lost nothing.
        if cancelled:
            pass  # the caller stopped it, not the limit: reported as cancelled
        elif no_time_left:
            run.deadline.cuts[:] = [CUT_CONSTRUCTION_ONLY]
        elif clock_stopped and not work_limited:
            run.deadline.cut(CUT_SEARCH_STOPPED)
        time_cuts = tuple(run.deadline.cuts)
    return BranchResult(
        branch=outcome.branch,
        solution=outcome.solution,
        status=outcome.status,
        balance_weight=outcome.balance_weight,
        notes=outcome.notes,
        reproducible=not (clock_stopped or searched_by_clock),
        safety_limit_reached=clock_stopped and work_limited and not cancelled,
        time_cuts=time_cuts,
        cancelled=cancelled,
    )


def _untimed_branch_run(base: SolveParams, seed: int, deadline: Deadline, weights: list[int]) -> _Run:
    """The run of the next branch without a caller's time limit: a share of the safety limit left, by size.

    ``weights`` are this branch's and the later ones' (:func:`_search_weight`);
    a branch without search gets no deadline.
    """
    remaining = deadline.remaining()
    share = None
    if remaining is not None and weights[0]:
        share = remaining * weights[0] / sum(weights)
    return _Run(base, seed, Deadline.after(share, deadline.events))


def _timed_branch_run(
    base: SolveParams, seed: int, deadline: Deadline, weights: list[int], floors: list[float], reserve: float
) -> tuple[_Run, bool]:
    """The run of the next branch under the caller's time limit, and whether it gets no time to search.

    ``weights`` and ``floors`` are this branch's and the later ones'
    (:func:`_search_weight`, and the estimated time of their cheapest plan);
    ``reserve`` the seconds kept back for the report. Each branch gets its
    floor, plus, when it needs search, a share of the time beyond every
    floor by its weight, but at least :data:`MIN_SEARCH_SECONDS` or an equal
    split of that time among the search branches left, whichever is less; a
    branch without search may use all of that time
    (flow is exact and fast). When the time left does not cover every floor,
    each branch gets its part of it by its floor, with no search. The
    branch's deadline records its cuts in a list of its own.
    """
    assert deadline.at is not None
    start = now()
    left = max(deadline.at - reserve - start, 0.0)
    slack = left - sum(floors)
    if slack <= 0.0:
        seconds = left * floors[0] / sum(floors) if sum(floors) > 0.0 else 0.0
    else:
        searching = sum(1 for w in weights if w)
        share = (
            max(slack * weights[0] / sum(weights), min(MIN_SEARCH_SECONDS, slack / searching)) if weights[0] else slack
        )
        seconds = floors[0] + share
    return _Run(base, seed, Deadline(start + seconds, events=deadline.events)), slack <= 0.0


def check_scenario(scenario: object, name: str = "scenario") -> None:
    """TypeError naming ``name`` unless ``scenario`` is a :class:`~baohu_assign.scenario.Scenario`."""
    if not isinstance(scenario, Scenario):
        raise TypeError(
            f"{name} must be a baohu_assign.Scenario (build it with Scenario.from_csv or "
            f"Scenario.from_frames), got {type(scenario).__name__}"
        )


def _search_weight(branch: BranchProblem) -> int:
    """Share of the time budget a branch deserves: its arcs when it needs search, else 0."""
    problem = branch.problem
    needs_search = problem.has_groups or problem.has_budgets or problem.has_backups
    return max(problem.num_arcs, 1) if needs_search else 0


def _work_rounds(branch: BranchProblem, objective: str, policy) -> int:
    """Deterministic work budget of a search branch without a time limit: CP-SAT rounds by its size.

    Under the balanced objective with a calibrated weight CP-SAT only tries
    to improve greedy's plan, and its bound is weak, so a few rounds do.
    """
    rounds = math.ceil(branch.problem.num_arcs / ARCS_PER_WORK_ROUND)
    rounds = min(max(rounds, MIN_WORK_ROUNDS), MAX_WORK_ROUNDS)
    if objective == "balanced" and policy.balance_weight is None:
        rounds = min(rounds, BALANCED_WORK_ROUNDS)
    return rounds


def _candidates(strategy: str, branch: BranchProblem) -> list[str]:
    if strategy != "auto":
        return [strategy]
    return list(engines.AUTO_ORDER)


def _solve_branch(
    branch: BranchProblem, objective: str, strategy: str, run: _Run, policy, work: int | None
) -> _Outcome:
    """Solve one branch with the strategy's engines, falling back to greedy.

    ``work``: CP-SAT's deterministic work budget (its ``lns_rounds``); ``None``:
    wall-clock mode within the run's deadline. An unavailable engine is a
    note (``engine_fallback``); a fault inside one raises
    :class:`~baohu_assign.errors.EngineError`.
    """
    notes: list[str] = []
    failed = False
    for name in _candidates(strategy, branch):
        try:
            engine = engines.load(name)
        except EngineUnavailable as exc:
            notes.append(str(exc))
            failed = True
            continue
        if not engine.supports(branch.problem):
            if strategy != "auto":
                notes.append(
                    f"engine {name!r} cannot solve branch {branch.branch!r} "
                    "(stairwell units, hour budgets or backups); greedy used"
                )
                failed = True
            continue
        try:
            solution, weight, tuned = _run(engine, branch, objective, run, policy, work)
        except EngineUnavailable as exc:
            notes.append(f"engine {name!r} unavailable on branch {branch.branch!r}: {exc}")
            failed = True
            continue
        except EngineError as exc:
            raise EngineError(f"branch {branch.branch!r}: {exc}") from exc
        status = Status.OPTIMAL if solution.status == "optimal" else Status.FEASIBLE
        if failed:
            # An earlier engine was missing or could not express the branch: say so, whatever took over.
            status = Status.FALLBACK
        return _Outcome(solution, status, weight, tuned, tuple(notes))
    # Every choice was missing or declined: greedy always applies and never imports OR-Tools.
    engine = engines.load(engines.FALLBACK)
    solution, weight, tuned = _run(engine, branch, objective, run, policy, work)
    return _Outcome(solution, Status.FALLBACK, weight, tuned, tuple(notes))


def _run(
    engine: Engine[Any], branch: BranchProblem, objective: str, run: _Run, policy, work: int | None
) -> tuple[Solution, float | None, BranchProblem]:
    """Run one engine on one branch, calibrating the balance weight when asked."""
    if objective != "balanced":
        return _best_of(engine, branch, run, work), None, branch
    if policy.balance_weight is not None:
        tuned = with_balance(branch, policy.balance_weight)
        return _best_of(engine, tuned, run, work), policy.balance_weight, tuned
    if engine.name == "cpsat":
        return _calibrate_then_search(engine, branch, run, policy.balance_travel_budget, work)
    return _calibrate(engine, branch, run, policy.balance_travel_budget)


def _settings(engine: Engine[Any], run: _Run, work: int | None) -> Any:
    """The engine's settings from the caller's parameters: CP-SAT's work budget is ``work``
    (``None``: wall-clock mode), greedy's local search stops after ``max_iterations`` moves."""
    if engine.name == "cpsat":
        return CpsatSettings(workers=run.params.num_workers, lns_rounds=work)
    if engine.name == "greedy":
        return GreedySettings(max_moves=run.params.max_iterations)
    return None


def _keep_better(greedy_plan: Solution, searched: Solution) -> Solution:
    """The better of greedy's and CP-SAT's plans, with CP-SAT's bound.

    CP-SAT starts from greedy's plan and never returns a worse one, so this
    only guards that promise: decided by objective alone, CP-SAT's plan on a
    tie, never by which engine finished first.
    """
    if searched.status == "optimal" or searched.objective <= greedy_plan.objective:
        return searched
    return replace(greedy_plan, status="feasible", bound=searched.bound)


def _calibrate_then_search(
    engine: Engine[Any], branch: BranchProblem, run: _Run, budget: float, work: int | None
) -> tuple[Solution, float, BranchProblem]:
    """Balanced objective on a branch that needs search.

    Calibrating the weight takes several solves; greedy makes them cheap.
    CP-SAT then searches the chosen weight from greedy's plan (on its work
    budget, or with the time left).
    """
    greedy = engines.load(engines.FALLBACK)
    if work is None and run.deadline.at is not None:
        # Under a time limit greedy calibrates in its share, CP-SAT searches in the rest (when it fits).
        search = _search_fits(branch, run.deadline, 1.0 - GREEDY_SHARE)
        calibration = replace(run, deadline=run.deadline.part(GREEDY_SHARE)) if search else run
        found, weight, tuned = _calibrate(greedy, branch, calibration, budget)
        if not _search_fits(tuned, run.deadline):
            run.deadline.cut(CUT_SEARCH_LEFT_OUT)
            return found, weight, tuned
    else:
        found, weight, tuned = _calibrate(greedy, branch, run, budget)
    search_run = run
    if work is None:
        # The balance term makes CP-SAT's bound weak, so more time rarely pays off.
        remaining = run.deadline.remaining()
        seconds = BALANCED_SEARCH_SECONDS if remaining is None else min(remaining, BALANCED_SEARCH_SECONDS)
        search_run = replace(run, deadline=run.deadline.within(seconds))
    searched = _checked(engine, tuned, search_run, work, initial=found)
    return _keep_better(found, searched), weight, tuned


def _search_fits(branch: BranchProblem, deadline: Deadline, fraction: float = 1.0) -> bool:
    """Whether ``fraction`` of the time left is enough for CP-SAT to search the branch (always without a limit)."""
    remaining = deadline.remaining()
    return remaining is None or remaining * fraction >= SEARCH_SETUP_SECONDS_PER_ARC * max(branch.problem.num_arcs, 1)


def _best_of(engine: Engine[Any], branch: BranchProblem, run: _Run, work: int | None) -> Solution:
    """Run the engine; a search engine starts from greedy's plan, so it never does worse than greedy."""
    if engine.name != "cpsat":
        return _checked(engine, branch, run)
    greedy = engines.load(engines.FALLBACK)
    if work is None and run.deadline.at is not None:
        # Under a time limit greedy's plan comes first (the floor), in its share of the branch's time.
        search = _search_fits(branch, run.deadline, 1.0 - GREEDY_SHARE)
        quick = _checked(
            greedy, branch, replace(run, deadline=run.deadline.part(GREEDY_SHARE) if search else run.deadline)
        )
        if not _search_fits(branch, run.deadline):
            run.deadline.cut(CUT_SEARCH_LEFT_OUT)
            return quick
        return _keep_better(quick, _checked(engine, branch, run, work, initial=quick))
    # Greedy first: it is fast, and the search engine then has the deadline to itself.
    quick = _checked(greedy, branch, replace(run, deadline=Deadline(events=run.deadline.events)))
    return _keep_better(quick, _checked(engine, branch, run, work, initial=quick))


def _checked(
    engine: Engine[Any],
    branch: BranchProblem,
    run: _Run,
    work: int | None = None,
    initial: Solution | None = None,
) -> Solution:
    """The engine's plan of the branch within the run's deadline; any fault is an EngineError naming the engine."""
    try:
        solution = engine.solve(
            branch.problem, _settings(engine, run, work), run.deadline.stop(), seed=run.seed, initial=initial
        )
    except (EngineUnavailable, EngineError):
        raise
    except Exception as exc:
        raise EngineError(f"engine {engine.name!r} failed: {type(exc).__name__}: {exc}") from exc
    broken = violations(branch.problem, solution.member_of, solution.backup_of)
    if broken:
        raise EngineError(f"engine {engine.name!r} returned an invalid plan: {broken[:3]}")
    return solution


def _calibrate(
    engine: Engine[Any], branch: BranchProblem, run: _Run, budget: float
) -> tuple[Solution, float, BranchProblem]:
    """The most balanced plan whose travel stays within ``budget`` of the distance optimum.

    Weighted-sum optima are Pareto-optimal in (travel, imbalance), and travel
    grows with the weight, so a geometric search over the weight finds the
    largest one that respects the travel budget.
    """
    base_solution = _checked(engine, branch, run)
    base = evaluate(branch.problem, base_solution.member_of)
    limit = base.travel_m_per_week * (1.0 + budget)
    if base.imbalance <= 1e-9 or branch.problem.num_arcs == 0:
        return base_solution, 0.0, branch
    covered = max(int((base_solution.member_of >= 0).sum()), 1)
    weight = max(base.travel_cost / covered, 1.0) * branch.travel_unit
    best = (base_solution, 0.0, branch)
    good, bad = 0.0, None
    solves = CALIBRATION_SOLVES.get(engine.name, 5)
    longest = base_solution.wall_s
    for _ in range(solves - 1):
        remaining = run.deadline.remaining()
        if remaining is not None and remaining <= longest:
            # Under a time limit a solve is only started when one as long as the longest so far fits.
            run.deadline.cut(CUT_CALIBRATION)
            break
        tuned = with_balance(branch, weight)
        solution = _checked(engine, tuned, run)
        longest = max(longest, solution.wall_s)
        parts = evaluate(tuned.problem, solution.member_of)
        if parts.travel_m_per_week <= limit + 1e-9:
            good, best = weight, (solution, weight, tuned)
            if parts.imbalance <= 1e-9:
                break
        else:
            bad = weight
        if bad is None:
            weight *= 4.0
        else:
            if good and bad / good < 1.15:
                break
            weight = float(np.sqrt(max(good, bad / 64.0) * bad))
    return best
