"""solve(): split branches → compile → choose engine → verify → fall back → Plan."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import ModuleType

import numpy as np

from . import engines
from .compile import BranchProblem, compile_scenario, with_balance
from .errors import EngineError
from .objective import evaluate
from .params import Deadline, SolveParams
from .plan import BranchResult, Plan
from .problem import OBJECTIVES
from .report import Status
from .scenario import Scenario
from .solution import Solution, violations

logger = logging.getLogger(__name__)

DEFAULT_SEARCH_SECONDS = 60.0
"""Budget shared by the branches that need search (units, hour budgets,
backups) when the caller gives no time limit: exact flow branches need none,
and CP-SAT would otherwise keep improving a near-optimal plan for minutes."""

BALANCED_SEARCH_SECONDS = 5.0
"""Most CP-SAT time per branch for the balanced objective (after greedy calibration)."""

CALIBRATION_SOLVES = {"flow": 14, "cpsat": 6, "greedy": 5}
"""Most engine runs spent finding the balance weight of one branch."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    solution: Solution
    status: Status
    balance_weight: float | None
    branch: BranchProblem
    notes: tuple[str, ...]


def solve(
    scenario: Scenario,
    *,
    objective: str = "balanced",
    strategy: str = "auto",
    time_limit: float | None = None,
    seed: int = 0,
    params: SolveParams | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Plan:
    """Assign members to households.

    Parameters
    ----------
    scenario
        Validated members and households.
    objective
        ``"balanced"`` (default): weekly travel plus a convex load-balance
        term; ``"distance"``: weekly travel; ``"min-churn"``: fewest changed
        contacts, then travel. Coverage (critical, then elevated, then
        normal) always comes first.
    strategy
        ``"auto"`` (best engine per branch, greedy as fallback), ``"flow"``,
        ``"cpsat"`` or ``"greedy"``.
    time_limit
        Wall-clock budget in seconds for the whole call. ``None``: exact
        branches run to optimality and branches that need search (stairwell
        units, hour budgets, backups) share :data:`DEFAULT_SEARCH_SECONDS`.
    seed
        Seed of every random choice; same input and seed give the same plan.
    params
        Advanced engine parameters; ``time_limit`` and ``seed`` override
        theirs when given.
    progress
        Called as ``progress("arcs", 0, 0)`` before the candidate pairs are
        built and ``progress("solving", k, n)`` as branch ``k`` of ``n``
        starts (see :mod:`baohu_assign.progress`); ``None``: silent.

    Returns
    -------
    Plan
        Immutable result: assignments, member summary, report.

    Examples
    --------
    >>> import baohu_assign as ba
    >>> town = ba.synth.make_town(0, households=300, branches=3)
    >>> plan = ba.solve(ba.Scenario.from_frames(town.members, town.households))
    >>> plan.report.status.value
    'optimal'
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose from {list(OBJECTIVES)}")
    if strategy not in engines.STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {list(engines.STRATEGIES)}")
    if time_limit is not None and time_limit < 0:
        raise ValueError(f"time_limit must be >= 0 seconds, got {time_limit}")
    started = time.perf_counter()
    base = params or SolveParams()
    base = replace(base, seed=seed, time_limit=time_limit if time_limit is not None else base.time_limit)

    if progress is not None:
        progress("arcs", 0, 0)
    branches = compile_scenario(
        scenario.members, scenario.households, objective=objective, policy=scenario.policy,
        network=scenario.network,
    )
    seeds = np.random.SeedSequence(seed).spawn(max(len(branches), 1))
    # Only branches that need search share the budget; flow branches are exact and fast.
    weights = [_search_weight(b) for b in branches]
    budget = base.time_limit
    if budget is None and strategy in ("auto", "cpsat") and any(weights):
        budget = DEFAULT_SEARCH_SECONDS
    deadline = Deadline.after(budget)
    results: list[BranchResult] = []
    for index, branch in enumerate(branches):
        if progress is not None:
            progress("solving", index + 1, len(branches))
        # Each branch gets a share of what is left, by its size.
        remaining = deadline.remaining()
        share = None
        if remaining is not None and weights[index]:
            share = remaining * weights[index] / sum(weights[index:])
        branch_params = replace(
            base,
            seed=int(seeds[index].generate_state(1)[0]),
            time_limit=share,
            deadline=Deadline.after(share),
        )
        outcome = _solve_branch(branch, objective, strategy, branch_params, scenario.policy)
        results.append(
            BranchResult(
                branch=outcome.branch,
                solution=outcome.solution,
                status=outcome.status,
                balance_weight=outcome.balance_weight,
                notes=outcome.notes,
            )
        )
        logger.info(
            "branch %d/%d: %s, %s, objective %d, %.3f s",
            index + 1, len(branches), outcome.solution.engine, outcome.status.value,
            outcome.solution.objective, outcome.solution.wall_s,
        )
    return Plan(
        scenario=scenario,
        results=tuple(results),
        objective=objective,
        strategy=strategy,
        seed=seed,
        time_limit=time_limit,
        wall_s=time.perf_counter() - started,
    )


def _search_weight(branch: BranchProblem) -> int:
    """Share of the time budget a branch deserves: its arcs when it needs search, else 0."""
    problem = branch.problem
    needs_search = problem.has_groups or problem.has_budgets or problem.has_backups
    return max(problem.num_arcs, 1) if needs_search else 0


def _candidates(strategy: str, branch: BranchProblem) -> list[str]:
    if strategy != "auto":
        return [strategy]
    return list(engines.AUTO_ORDER)


def _solve_branch(
    branch: BranchProblem, objective: str, strategy: str, params: SolveParams, policy
) -> _Outcome:
    notes: list[str] = []
    failed = False
    for name in _candidates(strategy, branch):
        try:
            engine = engines.load(name)
        except EngineError as exc:
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
            solution, weight, tuned = _run(engine, branch, objective, params, policy)
        except Exception as exc:  # noqa: BLE001 - any engine failure means: fall back, and say so
            logger.debug("engine %s failed", name, exc_info=True)
            notes.append(f"engine {name!r} failed on branch {branch.branch!r}: {type(exc).__name__}: {exc}")
            failed = True
            continue
        status = Status.OPTIMAL if solution.status == "optimal" else Status.FEASIBLE
        if failed:
            # An earlier engine failed or was missing: say so, whatever took over.
            status = Status.FALLBACK
        return _Outcome(solution, status, weight, tuned, tuple(notes))
    # Every choice failed or declined: greedy always applies and never imports OR-Tools.
    engine = engines.load(engines.FALLBACK)
    solution, weight, tuned = _run(engine, branch, objective, params, policy)
    return _Outcome(solution, Status.FALLBACK, weight, tuned, tuple(notes))


def _run(
    engine: ModuleType, branch: BranchProblem, objective: str, params: SolveParams, policy
) -> tuple[Solution, float | None, BranchProblem]:
    """Run one engine on one branch, calibrating the balance weight when asked."""
    if objective != "balanced":
        return _best_of(engine, branch, params), None, branch
    if policy.balance_weight is not None:
        tuned = with_balance(branch, policy.balance_weight)
        return _best_of(engine, tuned, params), policy.balance_weight, tuned
    if engine.NAME == "cpsat":
        return _calibrate_then_search(engine, branch, params, policy.balance_travel_budget)
    return _calibrate(engine, branch, params, policy.balance_travel_budget)


def _calibrate_then_search(
    engine: ModuleType, branch: BranchProblem, params: SolveParams, budget: float
) -> tuple[Solution, float, BranchProblem]:
    """Balanced objective on a branch that needs search.

    Calibrating the weight takes several solves; greedy makes them cheap.
    CP-SAT then searches the chosen weight with the time left, and the better
    plan is kept, with CP-SAT's bound either way.
    """
    greedy = engines.load(engines.FALLBACK)
    found, weight, tuned = _calibrate(greedy, branch, params, budget)
    # The balance term makes CP-SAT's bound weak, so more time rarely pays off.
    remaining = params.deadline.remaining()
    seconds = BALANCED_SEARCH_SECONDS if remaining is None else min(remaining, BALANCED_SEARCH_SECONDS)
    searched = _checked(engine, tuned, replace(params, time_limit=seconds, deadline=Deadline.after(seconds)))
    if searched.status == "optimal":
        return searched, weight, tuned
    if searched.objective <= found.objective:
        return searched, weight, tuned
    bound = searched.bound
    return replace(found, status="feasible", bound=bound), weight, tuned


def _best_of(engine: ModuleType, branch: BranchProblem, params: SolveParams) -> Solution:
    """Run the engine; a search engine must never do worse than greedy, so both run
    and the better plan is kept, with the search engine's bound."""
    if engine.NAME != "cpsat":
        return _checked(engine, branch, params)
    # Greedy first: it is fast, and the search engine then has the deadline to itself.
    quick = _checked(engines.load(engines.FALLBACK), branch, replace(params, deadline=Deadline()))
    solution = _checked(engine, branch, params)
    if solution.status != "optimal" and quick.objective < solution.objective:
        return replace(quick, status="feasible", bound=solution.bound)
    return solution


def _checked(engine: ModuleType, branch: BranchProblem, params: SolveParams) -> Solution:
    solution = engine.solve(branch.problem, params)
    broken = violations(branch.problem, solution.member_of, solution.backup_of)
    if broken:
        raise EngineError(f"engine {engine.NAME!r} returned an invalid plan: {broken[:3]}")
    return solution


def _calibrate(
    engine: ModuleType, branch: BranchProblem, params: SolveParams, budget: float
) -> tuple[Solution, float, BranchProblem]:
    """The most balanced plan whose travel stays within ``budget`` of the distance optimum.

    Weighted-sum optima are Pareto-optimal in (travel, imbalance), and travel
    grows with the weight, so a geometric search over the weight finds the
    largest one that respects the travel budget.
    """
    base_solution = _checked(engine, branch, params)
    base = evaluate(branch.problem, base_solution.member_of)
    limit = base.travel_m_per_week * (1.0 + budget)
    if base.imbalance <= 1e-9 or branch.problem.num_arcs == 0:
        return base_solution, 0.0, branch
    covered = max(int((base_solution.member_of >= 0).sum()), 1)
    weight = max(base.travel_cost / covered, 1.0) * branch.travel_unit
    best = (base_solution, 0.0, branch)
    good, bad = 0.0, None
    solves = CALIBRATION_SOLVES.get(engine.NAME, 5)
    for _ in range(solves - 1):
        if params.deadline.expired():
            break
        tuned = with_balance(branch, weight)
        solution = _checked(engine, tuned, params)
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
