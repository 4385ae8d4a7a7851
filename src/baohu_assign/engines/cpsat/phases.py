"""The phases of one solve: bounds, start, core or whole model, LNS, final whole-model solve."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from ...errors import EngineError
from ...model.objective import evaluate
from ...model.problem import Problem
from ...model.solution import Solution
from ..contract import GreedySettings
from ..stop import now
from . import mip, relaxations, solver
from .limits import (
    CORE_RANK,
    CORE_SHARE,
    FINAL_LOAD_FACTOR,
    FINAL_SHARE,
    FULL_MODEL_OPTIONS,
    LNS_DETERMINISTIC_TIME,
    LNS_THREADS,
    LP_MAX_OPTIONS,
    LP_SECONDS_PER_OPTION,
    MIP_FINAL_SHARE,
    MIP_MAX_GAP,
    MIP_MAX_OPTIONS,
    MIP_SHARE,
    NAME,
    SMALL_MODEL_OPTIONS,
    UNLIMITED_DETERMINISTIC_TIME,
    WHOLE_MODEL_SECONDS_PER_OPTION,
)
from .lns import _lns, _Neighbourhoods, _option_rank
from .model import _build, _Context
from .relaxations import _flow_relaxation, _Relaxation
from .solver import _apply, _total
from .start import _regret_start
from .state import _greedy_backups, _loads, _member_of, _State, _state_from_members
from .units import _backups_are_safe, _Units

logger = logging.getLogger(__name__)


def _search(ctx: _Context, initial: Solution | None, start: float) -> Solution | tuple[_State, int, float]:
    """Bounds, start, then the phases of :func:`_optimise`: (state, objective, bound), or the
    relaxation's plan as a :class:`Solution` when it is valid and optimal."""
    problem, units, settings = ctx.problem, ctx.units, ctx.settings
    end = ctx.stop.at
    rng = np.random.default_rng(ctx.seed)

    # Relaxation bound; when its plan is valid and nothing else is asked, it is optimal.
    bound: float = -math.inf
    flow_relaxed = _flow_relaxation(problem)
    start_state: _State | None = None
    if flow_relaxed is not None:
        flow_bound, flow_plan = flow_relaxed
        bound = float(flow_bound)
        start_state = _state_from_members(problem, units, flow_plan)
        if start_state is not None and not problem.load_allowed(flow_plan).all():
            start_state = None  # relaxed capacities (units over capacity allowed) let it break the rule
        if start_state is not None and _fits_budgets(problem, units, start_state) and not problem.has_backups:
            member_of = _member_of(problem, units, start_state)
            total = int(evaluate(problem, member_of).total)
            if total == flow_bound:
                return Solution(member_of, "optimal", total, float(total), NAME, time.perf_counter() - start, 1)
        if start_state is not None and not _fits_budgets(problem, units, start_state):
            start_state = None
    relaxed = start_state

    relaxation = None
    lp_limit = _phase_seconds(ctx, end, 0.2)
    if units.num_options <= LP_MAX_OPTIONS and _fits(ctx, lp_limit, units.num_options * LP_SECONDS_PER_OPTION):
        relaxation = relaxations._lp_relaxation(problem, units, None if lp_limit is None else max(lp_limit, 0.05))
        if relaxation is not None:
            bound = max(bound, float(relaxation.bound))
    score = (
        relaxation.option_rc.copy()
        if relaxation is not None and relaxation.option_rc is not None
        else units.option_cost.astype(np.float64)
    )
    regret = None
    if relaxation is not None and relaxation.option_rc is not None:
        regret = _regret_start(problem, units, score, ctx.tables)
    start_state = _start(ctx, relaxed, initial, regret)

    safe = _backups_are_safe(problem)
    if problem.has_backups and not safe:
        # Lexicographic: coverage without backups first, then backups under coverage floors.
        state, objective, bound_primary, _ = _optimise(
            replace(ctx, backups=False),
            start_state,
            score,
            relaxation,
            rng,
            _split(ctx, end, 0.5),
            pool_workers=settings.workers,
            known_bound=bound,
        )
        ctx.keep_coverage = True
        ctx.backups = True
        objective = _total(ctx, state)
        state, objective, bound_full, _proven = _optimise(
            ctx, state, score, relaxation, rng, end, pool_workers=settings.workers
        )
        # Floors restrict the plans, so only the bound without backups holds for all of them.
        bound = max(bound, min(bound_primary, bound_full))
    else:
        ctx.backups = problem.has_backups
        state, objective, bound_model, _proven = _optimise(
            ctx, start_state, score, relaxation, rng, end, pool_workers=settings.workers, known_bound=bound
        )
        bound = max(bound, bound_model)
    return state, objective, bound


def _start(ctx: _Context, relaxed: _State | None, initial: Solution | None, regret: _State | None) -> _State:
    """The plan the search starts from, the cheapest of (first on a tie):

    - with ``initial``: ``initial``'s plan, the relaxation's plan, the regret start;
    - without: the relaxation's plan, the regret start, and the greedy engine's
      plan within the stop, computed only when neither of the others covers
      every unit that has an option (it covers as many as can be, and on the
      tight budgets of the GAP instances it costs seconds).
    """
    problem, units = ctx.problem, ctx.units
    candidates: list[_State] = []
    if initial is not None:
        given = _state_from_members(problem, units, np.asarray(initial.member_of, dtype=np.int64))
        if given is None:
            raise ValueError("initial splits a stairwell unit or uses a pair the problem does not allow")
        if initial.backup_of is not None:
            given.backup_of[:] = initial.backup_of
        candidates.append(given)
    candidates += [state for state in (relaxed, regret) if state is not None]
    coverable = np.diff(units.option_ptr) > 0
    if initial is None and not any(not ((state.unit_option < 0) & coverable).any() for state in candidates):
        from ..greedy import ENGINE as greedy

        plan = greedy.solve(problem, GreedySettings(), ctx.stop, seed=ctx.seed)
        state = _state_from_members(problem, units, np.asarray(plan.member_of, dtype=np.int64))
        if state is None:  # pragma: no cover - greedy keeps units whole and uses only arcs
            raise EngineError("the greedy engine's plan splits a stairwell unit")
        candidates.append(state)
    if initial is not None and relaxed is not None:
        # The relaxation's plan wins a tie with initial's, as it always has.
        candidates[0], candidates[1] = candidates[1], candidates[0]
    totals = [_start_total(ctx, state) for state in candidates]
    logger.debug("start candidates: objectives %s", totals)
    return candidates[int(np.argmin(totals))]


def _start_total(ctx: _Context, state: _State) -> int:
    """Objective of a start's primary plan (its backups left out: the search adds them)."""
    return int(evaluate(ctx.problem, _member_of(ctx.problem, ctx.units, state)).total)


def _whole_model_work(ctx: _Context, end: float | None) -> float | None:
    """Deterministic time limit of a whole-model solve: the LNS's work in work-limited mode."""
    if ctx.settings.deterministic_time is not None:
        return ctx.settings.deterministic_time
    if ctx.settings.lns_rounds is not None:
        return max(ctx.settings.lns_rounds, 1) * LNS_DETERMINISTIC_TIME
    return UNLIMITED_DETERMINISTIC_TIME if end is None else None


def _fits_budgets(problem: Problem, units: _Units, state: _State) -> bool:
    if units.option_weight is None or problem.member_budget is None:
        return True
    _, weight = _loads(problem, units, state)
    return bool((weight <= problem.member_budget).all())


def _split(ctx: _Context, end: float | None, share: float) -> float | None:
    """A deadline ``share`` of the way from now to ``end`` (``end`` itself in work-limited mode)."""
    seconds = _phase_seconds(ctx, end, share)
    return None if seconds is None else now() + seconds


def _phase_seconds(ctx: _Context, end: float | None, share: float) -> float | None:
    """Wall-clock seconds a phase may take: ``share`` of the time left before ``end``.

    In work-limited mode the deadline is only a safety net: every phase may
    use all the time left, so the work budget, not the clock, ends it, and a
    phase the clock does stop has run up to the deadline (which ``solve()``
    can then see has passed).
    """
    if ctx.stop.cancelled():
        return 0.0
    if end is None:
        return None
    left = max(end - now(), 0.0)
    return left if ctx.work_mode else share * left


def _fits(ctx: _Context, seconds: float | None, needed: float) -> bool:
    """Whether a phase needing about ``needed`` seconds may start with ``seconds`` for it.

    In work-limited mode the work budget ends a phase and the clock is only a
    safety net: the phase runs unless the deadline has already passed.
    """
    if seconds is None:
        return True
    return seconds > 0.0 if ctx.work_mode else seconds >= needed


def _whole_model_seconds(options: int) -> float:
    """About how long CP-SAT needs to load a whole model of ``options`` options."""
    return max(0.05, options * WHOLE_MODEL_SECONDS_PER_OPTION)


@dataclass(slots=True)
class _Incumbent:
    """The best plan of one :func:`_optimise` run, its bound, and the options reduced-cost fixing keeps."""

    ctx: _Context
    relaxation: _Relaxation | None
    end: float | None
    state: _State
    objective: int
    bound: float = -math.inf
    proven: bool = False
    hood: _Neighbourhoods | None = None

    def refix(self) -> None:
        """Options that may still improve on the incumbent, and units that must be covered."""
        ctx, units = self.ctx, self.ctx.units
        if self.relaxation is not None:
            ctx.allowed, ctx.forced = self.relaxation.fixing(units, self.objective, self.state)
        else:
            ctx.allowed, ctx.forced = None, units.unit_pinned.copy()
        if self.hood is not None:
            self.hood.restrict(ctx.allowed)

    def safe_count(self) -> int:
        """Options left after fixing."""
        ctx = self.ctx
        return ctx.units.num_options if ctx.allowed is None else int(ctx.allowed.sum())

    def settled(self, known_bound: float) -> bool:
        return self.proven or self.objective <= known_bound

    def result(self, proven: bool) -> tuple[_State, int, float, bool]:
        return self.state, self.objective, self.bound, proven

    def full_solve(self, limit: float | None, core: np.ndarray | None) -> None:
        """Solve the whole pruned model (or its ``core`` of options) with the incumbent as hint; keep a plan
        no worse, and the bound of the whole model."""
        ctx, units, relaxation = self.ctx, self.ctx.units, self.relaxation
        allowed = ctx.allowed
        if core is not None:
            allowed = core if allowed is None else (core & allowed)
        sub = _build(ctx, self.state, np.arange(units.num_units), None, allowed)
        if core is not None and relaxation is not None and relaxation.uncovered_rc is not None:
            missing = (self.state.unit_option < 0) & (relaxation.uncovered_rc > 0) & (np.diff(units.option_ptr) > 0)
            if missing.any():
                # A start that leaves out units the LP covers misleads the search more than it helps.
                sub.builder.proto.clear_solution_hint()
        deterministic = _whole_model_work(ctx, self.end)
        result = solver._solve_model(
            ctx, sub, wall=limit, deterministic=deterministic, workers=ctx.settings.workers, seed=ctx.seed
        )
        logger.debug(
            "%s model: %d options, %s, objective %s (incumbent %d), bound %s, %.2f s",
            "core" if core is not None else "whole",
            sub.options.shape[0],
            result.status,
            result.objective,
            self.objective,
            result.bound,
            result.wall_s,
        )
        if result.status == "infeasible" and core is None:
            raise EngineError("no plan satisfies the pins and capacities")
        if result.values is not None and result.objective is not None and result.objective <= self.objective:
            self.state = _apply(ctx, self.state, sub, result.values)
            self.objective = result.objective
        if core is None and result.bound is not None:
            # The pruned model contains the incumbent, so its bound holds for every plan.
            self.bound = max(self.bound, min(result.bound, self.objective))
            self.proven = self.proven or result.status == "optimal"

    def mip_solve(self, limit: float) -> None:
        """Branch and cut on the pruned model for a plan better than the incumbent; keep it and the bound."""
        ctx = self.ctx
        found = mip._mip_improve(ctx, self.state, self.objective, limit)
        objective = None if found.state is None else _total(ctx, found.state)
        logger.debug(
            "HiGHS on the pruned model: objective %s (incumbent %d), bound %s, proven %s, %.2f s",
            objective,
            self.objective,
            found.bound,
            found.proven,
            found.wall_s,
        )
        if found.state is not None and objective is not None and objective < self.objective:
            self.state, self.objective = found.state, objective
        if found.bound is not None:
            # A bound on every plan better than the incumbent: with the incumbent, one on every plan.
            self.bound = max(self.bound, min(math.ceil(found.bound), self.objective))
        self.proven = self.proven or found.proven or self.bound >= self.objective


def _mip_fits(ctx: _Context, end: float | None, options: int) -> bool:
    """Whether the branch-and-cut phase may run: under a wall-clock deadline only (HiGHS has no work limit)
    and without cancel flags (it cannot be interrupted), without backups and the balance term, on a pruned
    model of at most ``MIP_MAX_OPTIONS`` options."""
    return (
        end is not None
        and ctx.tables is None
        and not ctx.work_mode
        and not ctx.backups
        and not ctx.keep_coverage
        and not ctx.stop.events
        and options <= MIP_MAX_OPTIONS
    )


def _optimise(
    ctx: _Context,
    start_state: _State,
    score: np.ndarray,
    relaxation: _Relaxation | None,
    rng: np.random.Generator,
    end: float | None,
    *,
    pool_workers: int,
    known_bound: float = -math.inf,
) -> tuple[_State, int, float, bool]:
    """From the start, whole-model or core solve, LNS, final whole-model solve.

    Returns (state, objective, bound, proven) where ``bound`` is valid for
    every plan the context allows (floors included).
    """
    units = ctx.units
    state = start_state
    if ctx.backups:
        state = _greedy_backups(ctx.problem, units, state)
    best = _Incumbent(ctx, relaxation, end, state, _total(ctx, state))
    logger.debug("start: objective %d", best.objective)

    best.refix()
    if SMALL_MODEL_OPTIONS < best.safe_count() <= FULL_MODEL_OPTIONS:
        core = None
        if relaxation is not None and relaxation.option_rc is not None:
            # A core of each unit's best options gives a strong start quickly.
            core = (_option_rank(units, score) < CORE_RANK) | (score <= 0)
        limit = _phase_seconds(ctx, end, CORE_SHARE)
        if _fits(ctx, limit, _whole_model_seconds(best.safe_count() if core is None else int(core.sum()))):
            best.full_solve(limit, core)
            best.refix()
    if best.settled(known_bound):
        return best.result(True)
    if best.safe_count() <= SMALL_MODEL_OPTIONS:
        # Small (possibly after reduced-cost fixing): the whole model often proves optimality outright.
        limit = _phase_seconds(ctx, end, 0.5)
        if _fits(ctx, limit, _whole_model_seconds(best.safe_count())):
            best.full_solve(limit, None)
            best.refix()
            if best.settled(known_bound):
                return best.result(True)
    allowed_count = best.safe_count()

    best.hood = _Neighbourhoods(ctx, score, relaxation, rng)
    final_share = FINAL_SHARE if _final_worth(ctx, end, allowed_count) else 0.0
    # Branch and cut closes small gaps (GAP types C and E) and wastes its time on wide ones (type D).
    use_mip = _mip_fits(ctx, end, allowed_count) and _gap(best.objective, max(known_bound, best.bound)) <= MIP_MAX_GAP
    if final_share and use_mip:
        # Branch and cut in the final phase does better with more of the time (measured on GAP types C and E).
        final_share = MIP_FINAL_SHARE
    before = best.objective
    best.state, best.objective, done = _lns(
        ctx,
        best.state,
        best.objective,
        best.hood,
        end=_split(ctx, end, 1.0 - final_share),
        rounds=ctx.settings.lns_rounds,
        threads=min(LNS_THREADS, pool_workers),
        seed=ctx.seed,
        known_bound=max(known_bound, best.bound),
    )
    logger.debug(
        "LNS: %d neighbourhoods, objective %d -> %d, target %.0f units", done, before, best.objective, best.hood.target
    )
    best.refix()
    if best.settled(known_bound):
        return best.result(True)
    # Without a wall-clock limit only small models are solved whole (large ones might never end).
    final_size = SMALL_MODEL_OPTIONS if end is None and not ctx.work_mode else FULL_MODEL_OPTIONS
    final_count = best.safe_count()
    rem = _remaining(ctx, end)
    # CP-SAT needs about this long to even load a model of this size; below it the solve is wasted.
    # Work-limited mode never lets the clock make that choice: the solve runs and the deadline stops it.
    enough = _whole_model_seconds(final_count) if not ctx.work_mode else 0.0
    if use_mip and _mip_fits(ctx, end, final_count) and rem is not None and rem > enough:
        best.mip_solve(rem * MIP_SHARE)
        if best.proven:
            return best.result(True)
        rem = _remaining(ctx, end)
    if final_count <= final_size and (rem is None or rem > enough):
        best.full_solve(rem, None)
    return best.result(best.proven)


def _gap(objective: int, bound: float) -> float:
    """Relative distance of ``objective`` above ``bound`` (infinite without a bound)."""
    if not math.isfinite(bound):
        return math.inf
    return (objective - bound) / max(abs(bound), 1.0)


def _final_worth(ctx: _Context, end: float | None, options: int) -> bool:
    """Whether the final phase gets its share of the time: on a model CP-SAT may build whole, and under a
    wall-clock deadline only with ``FINAL_LOAD_FACTOR`` times its load time; else the LNS keeps the time."""
    if options > FULL_MODEL_OPTIONS:
        return False
    seconds = _phase_seconds(ctx, end, FINAL_SHARE)
    return ctx.work_mode or seconds is None or seconds >= FINAL_LOAD_FACTOR * _whole_model_seconds(options)


def _remaining(ctx: _Context, end: float | None) -> float | None:
    """Seconds left before ``end`` (0 once cancelled), ``None`` without one."""
    if ctx.stop.cancelled():
        return 0.0
    return None if end is None else max(end - now(), 0.0)
