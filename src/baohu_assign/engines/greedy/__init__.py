"""Fallback engine: regret construction with augmenting paths, then local search.

Needs only numpy; never imports OR-Tools, so it is always available.

Algorithm
---------
1. **Pins.** Pinned households (and pinned stairwell units) go to their
   member first.
2. **Coverage, tier by tier** (critical, elevated, normal). Within a tier the
   stairwell units (groups) come first, largest first: each goes whole to the
   member with room that adds least cost; when no eligible member has room,
   room is made on one by moving single households away along augmenting
   paths, or another group to another member. Then the single households of
   the tier, in order of regret (the second-cheapest minus the cheapest
   marginal cost over members with room, recomputed lazily as members fill):
   each goes to its cheapest member with room or, when all of its members are
   full, through an augmenting path found by breadth-first search over
   members, which shifts covered households one step each and never uncovers
   any. The covered set grows as in the greedy algorithm of the transversal
   matroid, so without groups the number covered per tier is the
   lexicographic maximum.
3. **Local search** until no improving move, ``max_moves`` moves or the
   stop: negative-cycle cancelling on a member graph. Its nodes are the
   members, an *uncovered* node and a *free* node; the edge ``m1 → m2`` costs
   the cheapest change of moving one single household from ``m1`` to ``m2``;
   ``m → free`` is the marginal balance cost of one more household on ``m``
   (only when ``m`` has room) and ``free → m`` the saving of one fewer;
   ``uncovered → m`` covers an uncovered household (minus its tier penalty)
   and ``m → uncovered`` uncovers one. A negative cycle, found with a
   vectorised Bellman–Ford, is an improving shift (a path through *free*),
   swap (2-cycle), ejection chain, or exchange (an uncovered household
   replaces a covered one of the same tier). The cycles of the predecessor
   graph are vertex-disjoint, so every negative one is applied at once.
   Every improvement by moving single households is such a cycle, so without
   groups the search stops at the optimum.
4. **Groups** (stairwell units) get the same graph with whole units of one
   size as the moving items (loads along a cycle do not change), then shift,
   swap and shift-with-ejection-and-back-fill moves (single households leave
   the target member and fill the places the group frees), and exchanges
   that trade a group for uncovered households or the reverse. With groups,
   "better" means more covered per tier, critical first, and then a lower
   objective: the tier penalties alone could trade one critical household
   for a large group of normal ones.
5. **Backups** (when asked for): each covered household that wants one gets
   the cheapest eligible member other than its primary with backup capacity
   left, critical households first.

With ``one_unit_over_capacity`` a unit larger than a member's capacity may
go to an empty member, which is then full: its working capacity is raised to
the unit's size while it carries it (``cap``; the nominal one, ``cap0``,
still sets the balance steps), so every move that respects room keeps the
rule, and :meth:`~baohu_assign.engines.greedy.state._Assignment._over` checks the rule itself.

Member budgets (``arc_weight``/``member_budget``) are checked on every move:
the construction skips members whose budget a household would exceed (and
tries again packing by budget share when that leaves households out), a
cycle that would exceed a budget is not applied (its edges are dropped until
the rows are rebuilt), and budget-feasible shifts and swaps follow. The
engine uses no randomness: the same problem gives the same answer for every
seed.
"""

from __future__ import annotations

import time
from typing import Final

import numpy as np

from ...model.objective import evaluate
from ...model.problem import Problem
from ...model.solution import Solution
from ..contract import GreedySettings, initial_objective
from ..stop import Stop
from .engine import _Engine

NAME: Final = "greedy"


class GreedyEngine:
    """The :class:`~baohu_assign.engines.contract.Engine` of the greedy construction and local search."""

    name: Final = NAME

    def supports(self, problem: Problem) -> bool:
        """The greedy engine handles every problem (groups, pins, budgets and backups)."""
        return True

    def solve(
        self,
        problem: Problem,
        settings: GreedySettings,
        stop: Stop,
        *,
        seed: int,
        initial: Solution | None = None,
    ) -> Solution:
        """Assign households with the greedy construction (or from ``initial``) and local search.

        Parameters
        ----------
        problem
            The compiled problem of one branch.
        settings
            ``max_moves`` caps the improving moves of the local search.
        stop
            Stops the local search (the construction always completes).
        seed
            Accepted for the contract; the engine uses no randomness.
        initial
            A valid plan to improve instead of constructing one; the result is never worse.

        Returns
        -------
        Solution
            ``status="feasible"``, ``bound=None``; ``iterations`` is the number of
            improving local-search moves applied; ``stopped`` when ``stop`` ended
            the construction's second try or the local search.
        """
        start = time.perf_counter()
        if initial is None:
            engine = _construct(problem, settings, stop)
        else:
            start_objective = initial_objective(problem, initial)
            engine = _Engine(problem, settings, stop)
            engine.start_from(initial)
        engine.improve()
        member_of = engine.member_of.astype(np.int32)
        backup_of = engine.backups()
        objective = int(evaluate(problem, member_of, backup_of).total)
        if initial is not None and objective > start_objective:
            # The local search ranks coverage before cost, and backups are placed afresh:
            # a start better than the result is returned as it was.
            member_of, backup_of, objective = initial.member_of, initial.backup_of, start_objective
        return Solution(
            member_of=member_of,
            status="feasible",
            objective=objective,
            bound=None,
            engine=NAME,
            wall_s=time.perf_counter() - start,
            iterations=engine.moves,
            backup_of=backup_of,
            stopped=engine.stopped,
        )


def _construct(problem: Problem, settings: GreedySettings, stop: Stop) -> _Engine:
    """The construction, tried a second time packing by budget share when the first left households out."""
    engine = _Engine(problem, settings, stop)
    engine.construct()
    if engine.budgeted and ((engine.member_of < 0) & engine.movable).any():
        # The second construction only tries to cover more; past the stop the first one is the plan.
        if stop.expired():
            engine.stopped = True
            return engine
        packed = _Engine(problem, settings, stop)
        packed.construct(by_weight=True)
        if packed.standing() > engine.standing():
            return packed
    return engine


ENGINE = GreedyEngine()
