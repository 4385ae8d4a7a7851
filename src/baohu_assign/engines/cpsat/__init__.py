"""CP-SAT engine: stairwell units, hour budgets and backups, exactly or by LNS.

Model
-----
Households of one stairwell unit (``household_group``) share one member, so
the model works on *units* (a group, or a household on its own). A unit's
*options* are the members eligible for every household of the unit; an
option costs the sum of its arcs' ``arc_cost`` and weighs the sum of their
``arc_weight``. One Boolean ``x[o]`` per option (never dense)::

    Σ_{o of u} x[o] ≤ 1             (= 1 for pinned units)    per unit u
    Σ_{o at m} charge(o) x[o] ≤ c(m)                         per member m
    Σ_{o at m} weight(o) x[o] ≤ budget(m)                    per member m (budgets)
    bal(m) ≥ F(k) + s(k+1)·(load(m) − k),  k = 0..c(m)−1      per member m (balanced)

    minimise Σ (cost(o) − penalty(u)) x[o] + Σ_u penalty(u) + Σ_m bal(m)  [+ backups]

``charge(o)`` is the unit's size; with ``one_unit_over_capacity`` an option
whose unit is larger than ``c(m)`` (an *over* option) is kept and charges
``c(m)``: it fills the member alone, and two such options, or one and
anything else, exceed ``c(m)``. ``load(m)`` sums the sizes of the other
options; an over option carries its member's whole balance term,
``F(size)`` (the same formula past the capacity), in its cost, which keeps
the LP relaxation tight.
``penalty(u)`` is what leaving the unit's households uncovered costs
(:meth:`~baohu_assign.problem.Problem.uncovered_cost`: tier penalty, plus
churn for a household with a current member), so the model pays it exactly
when the unit stays uncovered (a unit that must be covered
gets ``= 1`` and plain costs instead: small coefficients solve faster). ``F`` is the cumulative sum
of :meth:`~baohu_assign.problem.Problem.balance_step_costs` (convex, so
the tangent lines meet exactly at integer loads and the LP relaxation is
the convex hull). Backups get a second Boolean ``b[a]`` per arc of a
household that wants one: ``Σ b ≤ covered``, ``b[a] + x[primary option at the
same member] ≤ 1``, ``Σ b ≤ member_backup_capacity`` per member, cost
``arc_cost`` and ``backup_penalty`` for a covered household without one.
If the tier penalties are not large enough to dominate every backup term
(see :func:`_backups_are_safe`), the engine first solves without backups and
then keeps each tier's coverage as a floor (lexicographic).

Size
----
1. Bounds: the min-cost-flow optimum without groups, budgets and backups is
   a relaxation (those only restrict or add non-negative costs); when its
   plan happens to satisfy them and there are no backups, it is optimal and
   returned at once. The LP relaxation of the unit model (HiGHS, up to
   ``LP_MAX_OPTIONS`` options) gives a better bound and, through its duals,
   reduced costs ``rc``. Its Lagrangian bound ``L = y·b + Σ min(rc, 0)`` holds
   for any duals of the right sign, so solver tolerances cannot break it. An
   option with ``rc > incumbent − 1 − L`` cannot be in a better plan and is
   dropped; a unit whose "uncovered" variable has such a reduced cost must be
   covered (reduced-cost fixing). The incumbent always stays in the model, so
   "optimal" on the pruned model is optimal for the full problem and its
   bound is a bound for every plan.
2. Start: the cheapest of ``initial`` (in :func:`baohu_assign.solve`,
   greedy's plan), the relaxation's plan when that keeps every rule, and,
   once the LP is known, the engine's own regret start (units placed in
   order of the regret of their best option by reduced cost, then one
   ejection per unit left out; on tight budgets much the best of them).
   Without ``initial``, the greedy engine's plan within the stop joins them
   only when neither of the others covers every unit that has an option.
3. Models of at most ``SMALL_MODEL_OPTIONS`` options (after fixing) are
   solved whole with the start as hint, which usually proves optimality.
   Larger ones first solve a heuristic *core* (each unit's ``CORE_RANK`` best
   options by reduced cost), then run large neighbourhood search: a seed
   member (chosen by its reduced cost plus the LP price of its unused
   capacity and budget, or next to an uncovered unit) and related members
   (sharing good options) give up their units, which a small CP-SAT model
   re-assigns among them (each unit keeps its ``LNS_LOCAL_RANK`` best options
   there) while everything else stays fixed; half the neighbourhoods span
   twice the members but free only their most mobile units. A plan no worse
   is kept. Two threads solve disjoint neighbourhoods (without backups), and
   the size adapts to how often sub-models are proven optimal.
4. With time left, the whole pruned model is solved with the best plan as
   hint, which improves the bound and may prove optimality. Models beyond
   ``FULL_MODEL_OPTIONS`` options are never built whole: only the LNS runs.
   Under a wall-clock deadline, without backups, the balance term or
   cancel flags, and when the plan after the first solve is within
   ``MIP_MAX_GAP`` of the bound, HiGHS's branch and cut first gets
   ``MIP_SHARE`` of that time on the pruned model (up to
   ``MIP_MAX_OPTIONS`` options; on wider gaps it found nothing in the time
   and the LNS keeps it), and the
   final phase then has ``MIP_FINAL_SHARE`` of the time after the first
   solve instead of ``FINAL_SHARE``; its plan is kept when better, its
   bound when its costs are small enough to be exact in floating point.
   Under a wall-clock limit the final phase gets no share at all when that
   would be under ``FINAL_LOAD_FACTOR`` times the whole model's load time:
   the LNS keeps the time.

Determinism
-----------
Every random choice comes from ``numpy.random.default_rng(seed)``,
CP-SAT gets ``random_seed`` from ``seed``, and every neighbourhood solve
is single-threaded with a deterministic time limit.

- ``CpsatSettings(lns_rounds=N)``: work-limited mode (what
  :func:`baohu_assign.solve` uses when the caller gives no time limit). The
  LNS runs up to ``N`` rounds; each round picks up to ``LNS_THREADS``
  neighbourhoods, solves them on up to ``workers`` threads and merges
  them in a fixed order. Every whole-model solve runs on one CP-SAT worker
  with ``N × LNS_DETERMINISTIC_TIME`` deterministic seconds (CP-SAT's
  deterministic multi-worker mode, ``interleave_search``, would tie the plan
  to ``workers`` and measured two to three times slower than one worker
  on two cores). So the same problem, start and seed give the identical plan whatever
  ``workers`` and however loaded the machine, with the same versions of
  this package, OR-Tools, SciPy and NumPy (tested on one platform; across
  platforms expected, not tested) — provided the stop, kept only as a
  safety net, does not bind. Every phase may use all the time left
  before it (none is cut to a share), so when the clock stops anything the
  deadline has passed by the time this engine returns;
  :func:`baohu_assign.solve` checks that to report the branch as not
  reproducible.
- Otherwise (wall-clock mode) whole-model solves run CP-SAT's parallel
  portfolio on ``workers`` threads and the LNS threads run independently
  until the stop (or ``STALL_ROUNDS`` neighbourhoods without
  improvement), so the plan can depend on machine speed, load and thread
  timing; of several tied optima any may come back. It is always valid, the
  bound always holds, and "optimal" is always proven. Without a deadline
  every whole-model solve stops after ``UNLIMITED_DETERMINISTIC_TIME``.

A cancel flag of the stop ends the phase running (a CP-SAT solve is
interrupted) and every later one, as a passed deadline does.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Final

import numpy as np

from ...errors import EngineError, EngineUnavailable
from ...model.objective import evaluate
from ...model.problem import Problem
from ...model.solution import Solution
from ..contract import CpsatSettings, initial_objective
from ..stop import Stop
from .limits import NAME
from .model import _Context
from .phases import _search
from .state import _member_of
from .units import _balance_tables, _build_units

logger = logging.getLogger(__name__)


class CpsatEngine:
    """The :class:`~baohu_assign.engines.contract.Engine` of CP-SAT (whole model when small, LNS when large)."""

    name: Final = NAME

    def supports(self, problem: Problem) -> bool:
        """CP-SAT expresses every rule: groups, pins, budgets, balance and backups."""
        return True

    def solve(
        self,
        problem: Problem,
        settings: CpsatSettings,
        stop: Stop,
        *,
        seed: int,
        initial: Solution | None = None,
    ) -> Solution:
        """Solve ``problem`` with CP-SAT.

        Parameters
        ----------
        problem
            The compiled problem; every feature is supported.
        settings
            Threads; ``lns_rounds`` switches to the reproducible work-limited
            mode (see the module docstring).
        stop
            Deadline and cancel flags; in work-limited mode only a safety net.
        seed
            Seed of every random choice.
        initial
            A valid plan to start from (its plan is the hint); the result is never worse.
            ``None``: the greedy engine's plan.

        Returns
        -------
        Solution
            ``status`` is ``"optimal"`` only when proven for the full problem;
            ``bound`` is a proven lower bound on the objective of every valid plan;
            ``stopped`` when ``stop`` ended the search before a proof.

        Raises
        ------
        EngineUnavailable
            OR-Tools is missing.
        EngineError
            Pins cannot all hold, or CP-SAT rejects the model.
        """
        try:
            from ortools.sat.python import cp_model  # noqa: F401
        except ImportError as exc:  # pragma: no cover - exercised by patching the import
            raise EngineUnavailable(f"OR-Tools is not importable: {exc}") from exc
        start = time.perf_counter()
        if problem.num_households == 0:
            empty = np.zeros(0, dtype=np.int32)
            backup = empty.copy() if problem.household_backup is not None else None
            return Solution(empty, "optimal", 0, 0.0, NAME, 0.0, backup_of=backup)
        start_objective = None if initial is None else initial_objective(problem, initial)
        units = _build_units(problem)
        tables = _balance_tables(problem) if problem.balance_scale > 0 else None
        ctx = _Context(problem, units, tables, settings, seed, stop, work_mode=settings.work_limited)
        found = _search(ctx, initial, start)
        if isinstance(found, Solution):
            return found
        state, objective, bound = found
        member_of = _member_of(problem, units, state)
        backup_of = state.backup_of.astype(np.int32) if problem.household_backup is not None else None
        total = int(evaluate(problem, member_of, backup_of).total)
        if total != objective:
            raise EngineError(f"CP-SAT plan costs {total}, the model said {objective}")
        if initial is not None and start_objective is not None and start_objective < total:
            # Only the lexicographic backup phases can end above their start: the start stays.
            member_of, backup_of, total = initial.member_of, initial.backup_of, start_objective
        final_bound = None if not math.isfinite(bound) else float(min(math.ceil(bound - 1e-9), total))
        status = "optimal" if final_bound is not None and final_bound >= total else "feasible"
        logger.info(
            "cpsat: %s objective %d bound %s (%d CP-SAT solves, %.2f s)",
            status,
            total,
            final_bound,
            ctx.solves,
            time.perf_counter() - start,
        )
        return Solution(
            member_of=member_of,
            status=status,
            objective=total,
            bound=final_bound,
            engine=NAME,
            wall_s=time.perf_counter() - start,
            iterations=ctx.solves,
            backup_of=backup_of,
            stopped=status != "optimal" and stop.expired(),
        )


ENGINE = CpsatEngine()
