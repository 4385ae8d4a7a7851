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
rule, and :meth:`_Engine._over` checks the rule itself.

Member budgets (``arc_weight``/``member_budget``) are checked on every move:
the construction skips members whose budget a household would exceed (and
tries again packing by budget share when that leaves households out), a
cycle that would exceed a budget is not applied (its edges are dropped until
the rows are rebuilt), and budget-feasible shifts and swaps follow. The
engine uses no randomness: the same problem gives the same answer for every
seed.
"""

from __future__ import annotations

import heapq
import time
from typing import Final

import numpy as np

from ..model import costs
from ..model.objective import evaluate
from ..model.problem import NUM_TIERS, Problem
from ..model.solution import Solution
from .contract import GreedySettings, initial_objective
from .stop import Stop

NAME: Final = "greedy"

_INF = np.int64(2**61)
"""Cost of a missing edge or of a member without room; sums of a few stay in int64."""

_KEY_NO_ROOM = 2**62
_KEY_ONE_OPTION = 2**61
_MAX_REQUEUE = 4
_MAKE_ROOM_TRIES = 12
_EJECTION_TRIES = 8
_DENSE_LIMIT = 20_000_000
"""Largest households × members for the dense matrices of the budgeted moves."""

Moves = list[tuple[int, int]]
"""(household, arc) pairs; arc ``-1`` uncovers the household."""


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


class _Engine:
    """Mutable assignment state with the construction and the local search."""

    def __init__(self, problem: Problem, settings: GreedySettings, stop: Stop) -> None:
        self.problem = problem
        self.settings = settings
        self.stop = stop
        self.stopped = False
        H, M = problem.num_households, problem.num_members
        self.H, self.M = H, M
        self.ptr = np.asarray(problem.household_arc_ptr, dtype=np.int64)
        self.arc_h = np.asarray(problem.arc_household, dtype=np.int64)
        self.arc_m = np.asarray(problem.arc_member, dtype=np.int64)
        self.arc_c = np.asarray(problem.arc_cost, dtype=np.int64)
        self.cap = np.maximum(np.asarray(problem.member_capacity, dtype=np.int64), 0)
        self.capf = self.cap.astype(np.float64)
        # Nominal capacities; ``cap`` is raised to the load of a member carrying one unit over it.
        self.cap0 = self.cap.copy()
        self.over_ok = bool(getattr(problem, "one_unit_over_capacity", False))
        self.scale = float(problem.balance_scale)
        self.tier = np.clip(np.asarray(problem.household_tier, dtype=np.int64), 0, NUM_TIERS - 1)
        # Cost of leaving each household uncovered (tier penalty, plus churn when it has a member today).
        self.pen = problem.uncovered_cost()
        self.pin = np.asarray(problem.household_pin, dtype=np.int64)

        weight, budget = getattr(problem, "arc_weight", None), getattr(problem, "member_budget", None)
        self.budgeted = weight is not None and budget is not None
        self.arc_w = np.asarray(weight, dtype=np.int64) if self.budgeted else np.zeros(self.arc_h.size, np.int64)
        self.budget = np.asarray(budget, dtype=np.int64) if self.budgeted else np.full(M, _INF, np.int64)

        self.member_of = np.full(H, -1, dtype=np.int64)
        self.cur_arc = np.full(H, -1, dtype=np.int64)
        self.cur_cost = np.zeros(H, dtype=np.int64)
        self.load = np.zeros(M, dtype=np.int64)
        self.used = np.zeros(M, dtype=np.int64)
        self.next_step = np.where(self.cap > 0, 0, _INF).astype(np.int64)
        self.last_step = np.zeros(M, dtype=np.int64)
        if self.scale > 0:
            for m in range(M):
                self._refresh_steps(m)
        self.dead = np.zeros(M, dtype=bool)
        self.by_weight = False
        self.journal: Moves | None = None
        self.moves = 0

        has_arcs = self.ptr[1:] > self.ptr[:-1]
        by_member = np.argsort(self.arc_m, kind="stable")
        self._member_arcs = np.split(by_member, np.searchsorted(self.arc_m[by_member], np.arange(1, M)))
        self._build_groups()
        self.movable = has_arcs & (self.pin < 0) & (self.group_of < 0)

    # ------------------------------------------------------------------ groups

    def _build_groups(self) -> None:
        """Stairwell units of two or more households, with their eligible members and costs."""
        group = np.asarray(self.problem.household_group, dtype=np.int64)
        self.group_of = np.full(self.H, -1, dtype=np.int64)
        self.g_households: list[np.ndarray] = []
        self.g_members: list[np.ndarray] = []
        self.g_arcs: list[np.ndarray] = []
        self.g_cost: list[np.ndarray] = []
        self.g_weight: list[np.ndarray] = []
        self.g_pin: list[int] = []
        if self.H and (group >= 0).any():
            in_group = np.flatnonzero(group >= 0)
            order = in_group[np.argsort(group[in_group], kind="stable")]
            cuts = np.flatnonzero(np.diff(group[order])) + 1
            for hs in np.split(order, cuts):
                if hs.size >= 2:  # a unit of one household is an ordinary household
                    self._add_group(hs)
        G = len(self.g_households)
        self.g_member = np.full(G, -1, dtype=np.int64)
        self.g_size = np.array([hs.size for hs in self.g_households], dtype=np.int64)
        self.g_tier = np.array([int(self.tier[hs].max()) for hs in self.g_households], dtype=np.int64)
        self.g_first = np.array([int(hs[0]) for hs in self.g_households], dtype=np.int64)
        self.g_pin_arr = np.array(self.g_pin, dtype=np.int64)
        # Cost of each group on each member (_INF: not eligible), for vectorised swaps.
        self.g_cost_dense: np.ndarray | None = None
        if G and G * self.M <= _DENSE_LIMIT:
            self.g_cost_dense = np.full((G, self.M), _INF, dtype=np.int64)
            for g in range(G):
                self.g_cost_dense[g, self.g_members[g]] = self.g_cost[g]

    def _add_group(self, hs: np.ndarray) -> None:
        self.group_of[hs] = len(self.g_households)
        idx = self._arcs_of(hs)
        members, counts = np.unique(self.arc_m[idx], return_counts=True)
        members = members[counts == hs.size]
        pins = self.pin[hs]
        pin = int(pins[pins >= 0][0]) if (pins >= 0).any() else -1
        if pin >= 0:
            members = members[members == pin]
        arcs = np.empty((members.size, hs.size), dtype=np.int64)
        for j, h in enumerate(hs.tolist()):
            lo, hi = self.ptr[h], self.ptr[h + 1]
            arcs[:, j] = lo + np.searchsorted(self.arc_m[lo:hi], members)
        self.g_households.append(hs)
        self.g_members.append(members)
        self.g_arcs.append(arcs)
        self.g_cost.append(self.arc_c[arcs].sum(axis=1))
        self.g_weight.append(self.arc_w[arcs].sum(axis=1))
        self.g_pin.append(pin)

    def _group_moves(self, g: int, j: int) -> Moves:
        """Moves that put group ``g`` on its ``j``-th eligible member (``j=-1``: uncover it)."""
        hs = self.g_households[g].tolist()
        arcs = self.g_arcs[g][j].tolist() if j >= 0 else [-1] * len(hs)
        return list(zip(hs, arcs, strict=True))

    def _set_group(self, g: int, j: int) -> None:
        for h, a in self._group_moves(g, j):
            self._move(h, a)
        self.g_member[g] = self.g_members[g][j] if j >= 0 else -1

    def _group_fits(self, g: int) -> np.ndarray:
        """bool per eligible member of ``g``: it can take the whole group now."""
        members = self.g_members[g]
        fits = self.cap[members] - self.load[members] >= self.g_size[g]
        if self.over_ok:
            fits |= (self.load[members] == 0) & (self.cap0[members] > 0)
        if self.budgeted:
            fits &= self.used[members] + self.g_weight[g] <= self.budget[members]
        return fits

    # --------------------------------------------------------------- primitives

    def _arcs_of(self, hs: np.ndarray) -> np.ndarray:
        """Concatenated arc indices of the households ``hs``."""
        starts = self.ptr[hs]
        lens = self.ptr[hs + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        offsets = np.cumsum(lens) - lens
        return np.repeat(starts - offsets, lens) + np.arange(total, dtype=np.int64)

    def _steps(self, members: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Balance cost of the ``k``-th household (1-based) of each member (``costs.balance_steps``).

        On the nominal capacity (``cap0``): ``cap`` is raised while a member carries a unit over it.
        """
        return costs.balance_steps(self.scale, self.cap0[members], k)

    def _balance(self, m: int, load: int) -> int:
        """Balance term of member ``m`` carrying ``load`` households."""
        if self.scale <= 0 or load <= 0:
            return 0
        return int(self._steps(np.full(load, m), np.arange(1, load + 1)).sum())

    def _refresh_steps(self, m: int) -> None:
        load, cap = int(self.load[m]), int(self.cap[m])
        nxt = last = 0
        if self.scale > 0 and cap > 0:
            nxt, last = self._steps(np.array([m, m]), np.array([load + 1, max(load, 1)])).tolist()
        self.next_step[m] = nxt if load < cap else _INF
        self.last_step[m] = last if load > 0 else 0

    def _move(self, h: int, arc: int) -> None:
        """Serve household ``h`` through ``arc`` (``-1``: leave it uncovered)."""
        old_arc = int(self.cur_arc[h])
        if self.journal is not None:
            self.journal.append((h, old_arc))
        if old_arc >= 0:
            old = int(self.arc_m[old_arc])
            self.load[old] -= 1
            self.used[old] -= self.arc_w[old_arc]
            if self.over_ok:
                self.cap[old] = max(int(self.cap0[old]), int(self.load[old]))
            self._refresh_steps(old)
        self.cur_arc[h] = arc
        if arc >= 0:
            m = int(self.arc_m[arc])
            self.member_of[h] = m
            self.cur_cost[h] = self.arc_c[arc]
            self.load[m] += 1
            self.used[m] += self.arc_w[arc]
            if self.over_ok:
                self.cap[m] = max(int(self.cap0[m]), int(self.load[m]))
            self._refresh_steps(m)
        else:
            self.member_of[h] = -1
            self.cur_cost[h] = 0

    def _arc_to(self, h: int, m: int) -> int:
        lo, hi = int(self.ptr[h]), int(self.ptr[h + 1])
        pos = lo + int(np.searchsorted(self.arc_m[lo:hi], m))
        return pos if pos < hi and self.arc_m[pos] == m else -1

    def _over(self, moves: Moves) -> list[int]:
        """Members that ``moves`` (applied together) would take over capacity or budget."""
        load: dict[int, int] = {}
        used: dict[int, int] = {}
        for h, arc in moves:
            old = int(self.cur_arc[h])
            if old >= 0:
                m = int(self.arc_m[old])
                load[m] = load.get(m, 0) - 1
                used[m] = used.get(m, 0) - int(self.arc_w[old])
            if arc >= 0:
                m = int(self.arc_m[arc])
                load[m] = load.get(m, 0) + 1
                used[m] = used.get(m, 0) + int(self.arc_w[arc])
        return [
            m
            for m in load
            if not self._count_ok(m, int(self.load[m] + load[m]), moves) or self.used[m] + used[m] > self.budget[m]
        ]

    def _count_ok(self, m: int, load: int, moves: Moves) -> bool:
        """Whether ``m`` may carry ``load`` households after ``moves``: within its nominal
        capacity, or (units over capacity allowed) exactly one whole unit."""
        if load <= self.cap0[m]:
            return True
        if not self.over_ok or self.cap0[m] <= 0:
            return False
        final = {h: arc for h, arc in moves}
        mine = [h for h in np.flatnonzero(self.member_of == m).tolist() if h not in final]
        mine += [h for h, arc in final.items() if arc >= 0 and int(self.arc_m[arc]) == m]
        groups = {int(self.group_of[h]) for h in mine}
        if len(groups) != 1 or -1 in groups:
            return False
        return len(mine) == int(self.g_size[groups.pop()])

    def _checkpoint(self) -> tuple[int, bool]:
        """Start (or nest into) recording moves so they can be rolled back."""
        own = self.journal is None
        if self.journal is None:
            self.journal = []
        return len(self.journal), own

    def _release(self, checkpoint: tuple[int, bool], keep: bool) -> None:
        """Keep or roll back the moves recorded since ``checkpoint``."""
        mark, own = checkpoint
        journal = self.journal
        assert journal is not None
        if not keep:
            self.journal = None
            while len(journal) > mark:
                h, arc = journal.pop()
                self._move(h, arc)
            self.journal = journal
            self._sync_groups()
        if own:
            self.journal = None

    def _budget_left(self) -> bool:
        limit = self.settings.max_moves
        if limit is not None and self.moves >= limit:
            return False
        if self.stop.expired():
            self.stopped = True
            return False
        return True

    # ------------------------------------------------------------ construction

    def construct(self, by_weight: bool = False) -> None:
        """Pins, then groups and single households tier by tier (see the module docstring).

        With ``by_weight`` (member budgets only) single households are
        placed by the share of the member's budget they use instead of by
        cost, which packs tight budgets better.
        """
        self.by_weight = by_weight and self.budgeted
        if self.H == 0 or self.M == 0:
            return
        self._place_pins()
        for tier in range(NUM_TIERS - 1, -1, -1):
            groups = [g for g in range(self.g_size.size) if self.g_tier[g] == tier and self.g_pin[g] < 0]
            groups.sort(key=lambda g: (-int(self.g_size[g]), g))
            for g in groups:
                self._cover_group(g)
            self._place_singles(np.flatnonzero(self.movable & (self.tier == tier)))
        self.dead[:] = False  # the local search moves households freely

    def start_from(self, initial: Solution) -> None:
        """Take ``initial``'s primary members (a valid plan) as the plan."""
        for h in np.flatnonzero(np.asarray(initial.member_of) >= 0).tolist():
            self._move(h, self._arc_to(h, int(initial.member_of[h])))
        self._sync_groups()

    def _place_pins(self) -> None:
        for g, pin in enumerate(self.g_pin):
            if pin >= 0 and self.g_members[g].size and self._group_fits(g)[0]:
                self._set_group(g, 0)
        for h in np.flatnonzero((self.pin >= 0) & (self.group_of < 0)).tolist():
            m = int(self.pin[h])
            arc = self._arc_to(h, m) if 0 <= m < self.M else -1
            if arc >= 0 and not self._over([(h, arc)]):
                self._move(h, arc)

    def _single_key(self, h: int) -> tuple[int, int]:
        """(regret, arc of the cheapest member with room or -1) of household ``h``."""
        lo, hi = int(self.ptr[h]), int(self.ptr[h + 1])
        members = self.arc_m[lo:hi]
        if self.by_weight:
            share = (self.arc_w[lo:hi] * 1_000_000) // np.maximum(self.budget[members], 1)
            cost = np.where(self.next_step[members] >= _INF, _INF, share)
        else:
            cost = self.arc_c[lo:hi] + self.next_step[members]
        if self.budgeted:
            cost = np.where(self.used[members] + self.arc_w[lo:hi] > self.budget[members], _INF, cost)
        best = int(np.argmin(cost))
        if cost[best] >= _INF:
            return _KEY_NO_ROOM, -1
        if hi - lo == 1:
            return _KEY_ONE_OPTION, lo + best
        two = np.partition(cost, 1)[:2]
        if two[1] >= _INF:
            return _KEY_ONE_OPTION, lo + best
        return int(two[1] - two[0]), lo + best

    def _place_singles(self, households: np.ndarray) -> None:
        heap: list[tuple[int, int, int]] = []
        for h in households.tolist():
            regret, _ = self._single_key(h)
            heap.append((-regret, h, 0))
        heapq.heapify(heap)
        while heap:
            neg, h, requeued = heapq.heappop(heap)
            regret, arc = self._single_key(h)
            if regret != -neg and requeued < _MAX_REQUEUE and heap:
                heapq.heappush(heap, (-regret, h, requeued + 1))
                continue
            if arc >= 0:
                self._move(h, arc)
            else:
                # Dead members stay full only while nothing but single households move.
                self._augment_single(h, mark_dead=not self.budgeted and self.g_size.size == 0)

    def _augment_single(self, h: int, mark_dead: bool = False) -> bool:
        """Cover ``h`` through an augmenting path when none of its members can take it directly."""
        lo, hi = int(self.ptr[h]), int(self.ptr[h + 1])
        alive = ~self.dead[self.arc_m[lo:hi]]
        starts = self.arc_m[lo:hi][alive]
        if starts.size == 0 or not (self.load < self.cap).any():
            return False
        # Prefer the cheapest first hop: BFS ties resolve to the lowest position.
        starts = starts[np.argsort(self.arc_c[lo:hi][alive], kind="stable")]
        path = self._bfs(starts, forbid=-1, mark_dead=mark_dead, incoming=h)
        if path is None:
            return self._make_room_for(h, starts)
        for hh, arc in path:
            self._move(hh, arc)
        return True

    def _make_room_for(self, h: int, members: np.ndarray) -> bool:
        """Cover ``h`` on one of ``members`` after moving a group from there to another member."""
        if self.g_size.size == 0:
            return False
        for m in members[:_MAKE_ROOM_TRIES].tolist():
            arc = self._arc_to(h, m)
            for g in np.flatnonzero(self.g_member == m).tolist():
                if self.g_pin[g] >= 0:
                    continue
                checkpoint = self._checkpoint()
                self._set_group(g, -1)
                ok = self._cover_group(g, forbid=m, depth=1) and not self._over([(h, arc)])
                if ok:
                    self._move(h, arc)
                self._release(checkpoint, keep=ok)
                if ok:
                    return True
        return False

    def _bfs(self, starts: np.ndarray, forbid: int, mark_dead: bool = False, incoming: int = -1) -> Moves | None:
        """Shortest chain of single-household moves that frees one place on a start member.

        With ``incoming`` the household then takes that place and is the last
        move. The moves are to be applied in order. With ``mark_dead``
        (construction only, without budgets) a failed search marks every
        member it reached as dead: they are full and no household on them
        can leave the set, which stays so while households are only added.
        """
        M = self.M
        room = self.cap - self.load
        for m in starts.tolist():
            if m != forbid and room[m] > 0:
                plan = [(incoming, self._arc_to(incoming, m))] if incoming >= 0 else []
                if not self._over(plan):
                    return plan
        visited = self.dead.copy()
        visited[starts] = True
        if forbid >= 0:
            visited[forbid] = True
        parent = np.full(M, -1, dtype=np.int64)
        frontier = np.zeros(M + 1, dtype=bool)
        frontier[starts + 1] = True
        reached = [starts]
        while True:
            hs = np.flatnonzero(frontier[self.member_of + 1] & self.movable)
            if hs.size == 0:
                break
            idx = self._arcs_of(hs)
            tgt = self.arc_m[idx]
            keep = ~visited[tgt]
            idx, tgt = idx[keep], tgt[keep]
            if idx.size == 0:
                break
            delta = self.arc_c[idx] - self.cur_cost[self.arc_h[idx]]
            order = np.lexsort((delta, tgt))
            idx, tgt = idx[order], tgt[order]
            new, first = np.unique(tgt, return_index=True)
            parent[new] = idx[first]
            visited[new] = True
            reached.append(new)
            open_ = room[new] > 0
            if self.budgeted:
                open_ &= self.used[new] + self.arc_w[parent[new]] <= self.budget[new]
            if open_.any():
                m = int(new[open_][0])
                plan = []
                while parent[m] >= 0:
                    arc = int(parent[m])
                    hh = int(self.arc_h[arc])
                    plan.append((hh, arc))  # into the member with room first, so none overflows
                    m = int(self.member_of[hh])
                if incoming >= 0:
                    plan.append((incoming, self._arc_to(incoming, m)))
                return None if self.budgeted and self._over(plan) else plan
            frontier[:] = False
            frontier[new + 1] = True
        if mark_dead and forbid < 0:
            self.dead[np.concatenate(reached)] = True
        return None

    def _group_add_cost(self, g: int, members: np.ndarray) -> np.ndarray:
        """Balance increase of adding group ``g`` to each of ``members``."""
        if self.scale <= 0:
            return np.zeros(members.size, dtype=np.int64)
        w = int(self.g_size[g])
        # No cut at capacity: a unit over it pays the same steps beyond (Problem.balance_step_costs).
        k = self.load[members][:, None] + np.arange(1, w + 1)[None, :]
        return self._steps(members[:, None], k).sum(axis=1)

    def _cover_group(self, g: int, forbid: int = -1, depth: int = 0) -> bool:
        """Place uncovered group ``g`` whole (never on ``forbid``), making room if needed.

        Room on a member is made by moving single households away along
        augmenting paths, or other groups to other members (at ``depth`` 0
        only, where they may make room in turn); nothing is uncovered. The
        candidates are tried cheapest first.
        """
        members = self.g_members[g]
        if members.size == 0:
            return False
        w = int(self.g_size[g])
        allowed = members != forbid
        fits = self._group_fits(g) & allowed
        if fits.any():
            cost = np.where(fits, self.g_cost[g] + self._group_add_cost(g, members), _INF)
            if self.over_ok:
                # Coverage first: use the least capacity (a unit over capacity takes all of a member's).
                used = np.minimum(w, self.cap0[members])
                cost = np.where(fits & (used == used[fits].min()), cost, _INF)
            self._set_group(g, int(np.argmin(cost)))
            return True
        if int((self.cap - self.load).sum()) < w and not self.over_ok:
            return False  # moving households around never frees more places than are free in all
        takes = (self.cap0[members] >= w) | (self.over_ok & (self.cap0[members] > 0))
        candidates = np.flatnonzero(takes & (self.g_weight[g] <= self.budget[members]) & allowed)
        candidates = candidates[np.argsort(self.g_cost[g][candidates], kind="stable")][:_MAKE_ROOM_TRIES]
        for j in candidates.tolist():
            m = int(members[j])
            checkpoint = self._checkpoint()
            for _ in range(int(self.load[m]) + 1):
                if self._group_fits(g)[j]:
                    break
                path = self._bfs(np.array([m]), forbid=m)
                if path is not None:
                    for hh, arc in path:
                        self._move(hh, arc)
                elif depth >= 1 or not self._relocate_group_off(m, g, depth):
                    break
            ok = bool(self._group_fits(g)[j])
            if ok:
                self._set_group(g, j)
            self._release(checkpoint, keep=ok)
            if ok:
                return True
        return False

    def _relocate_group_off(self, m: int, keep: int, depth: int) -> bool:
        """Move one group (not ``keep``) off member ``m`` to another member, making room there if needed."""
        for g in np.flatnonzero(self.g_member == m).tolist():
            if g == keep or self.g_pin[g] >= 0:
                continue
            checkpoint = self._checkpoint()
            self._set_group(g, -1)
            ok = self._cover_group(g, forbid=m, depth=depth + 1)
            self._release(checkpoint, keep=ok)
            if ok:
                return True
        return False

    def _sync_groups(self) -> None:
        """Recompute each group's member from the households (after an undo)."""
        self.g_member[:] = self.member_of[self.g_first]

    # ------------------------------------------------------------ local search

    def improve(self) -> None:
        """Local search until no improving move, the move budget or the deadline."""
        if self.H == 0 or self.M == 0 or self.arc_h.size == 0:
            return
        while self._budget_left():
            applied = self._cancel_cycles()
            if self.budgeted:
                applied += self._budget_pass()
            if self.g_size.size and self._budget_left():
                applied += self._cancel_group_cycles()
                applied += self._group_pass()
            if applied == 0 or (self.g_size.size == 0 and not self.budgeted):
                break

    # ------------------------------------------------------- budgeted moves

    def _budget_pass(self) -> int:
        """Budget-feasible shifts and swaps of single households (members with budgets only).

        Cycles of the move graph may need a member to take a household before
        it gives one away, which a tight budget forbids; these two moves check
        each budget exactly. Swaps keep every load, so they cost no balance.
        """
        if self.H * self.M > _DENSE_LIMIT:
            return 0
        INF = _INF
        cost = np.full((self.H, self.M), INF, dtype=np.int64)
        cost[self.arc_h, self.arc_m] = self.arc_c
        weight = np.full((self.H, self.M), INF, dtype=np.int64)
        weight[self.arc_h, self.arc_m] = self.arc_w
        applied = 0
        improved = True
        while improved and self._budget_left():
            improved = False
            for h1 in range(self.H):
                x = int(self.member_of[h1])
                if x < 0 or not self.movable[h1] or not self._budget_left():
                    continue
                # Shift h1 to a member with room and budget.
                room = (self.load < self.cap) & (self.used + weight[h1] <= self.budget)
                room[x] = False
                gain = np.where(room, cost[h1] - self.cur_cost[h1] + self.next_step - self.last_step[x], INF)
                y = int(np.argmin(gain))
                if gain[y] < 0:
                    self._move(h1, self._arc_to(h1, y))
                    applied += 1
                    self.moves += 1
                    improved = True
                    continue
                # Swap h1 with a household h2 of another member.
                others = np.flatnonzero((self.member_of >= 0) & (self.member_of != x) & self.movable)
                if others.size == 0:
                    continue
                ys = self.member_of[others]
                delta = cost[h1, ys] + cost[others, x] - self.cur_cost[h1] - self.cur_cost[others]
                ok = (cost[h1, ys] < INF) & (cost[others, x] < INF)
                ok &= self.used[x] - weight[h1, x] + weight[others, x] <= self.budget[x]
                ok &= self.used[ys] - weight[others, ys] + weight[h1, ys] <= self.budget[ys]
                delta = np.where(ok, delta, INF)
                k = int(np.argmin(delta))
                if delta[k] < 0:
                    h2, y = int(others[k]), int(ys[k])
                    self._move(h1, self._arc_to(h1, y))
                    self._move(h2, self._arc_to(h2, x))
                    applied += 1
                    self.moves += 1
                    improved = True
        return applied

    def _build_graph(self) -> None:
        n = self.M + 2
        self.W = np.full((n, n), _INF, dtype=np.int64)
        self.Wh = np.full((n, n), -1, dtype=np.int64)
        for m in range(self.M):
            self._refresh_row(m)
        self._refresh_uncovered_row()
        self._refresh_free()

    def _row_edges(self, hs: np.ndarray, base: np.ndarray, row: int) -> None:
        """Fill row ``row`` of the move graph from households ``hs`` (current cost ``base``)."""
        M = self.M
        self.W[row, :M] = _INF
        self.Wh[row, :M] = -1
        idx = self._arcs_of(hs) if hs.size else np.zeros(0, dtype=np.int64)
        if idx.size == 0:
            return
        tgt = self.arc_m[idx]
        owner = self.arc_h[idx]
        delta = self.arc_c[idx] - base[owner]
        if row < M:
            keep = tgt != row
            tgt, owner, delta = tgt[keep], owner[keep], delta[keep]
        order = np.lexsort((delta, tgt))
        tgt, owner, delta = tgt[order], owner[order], delta[order]
        new, first = np.unique(tgt, return_index=True)
        self.W[row, new] = delta[first]
        self.Wh[row, new] = owner[first]

    def _refresh_row(self, m: int) -> None:
        hs = np.flatnonzero((self.member_of == m) & self.movable)
        self._row_edges(hs, self.cur_cost, m)
        U = self.M
        if hs.size:
            gain = self.pen[hs] - self.cur_cost[hs]
            k = int(np.argmin(gain))
            self.W[m, U] = gain[k]
            self.Wh[m, U] = hs[k]
        else:
            self.W[m, U] = _INF
            self.Wh[m, U] = -1

    def _refresh_uncovered_row(self) -> None:
        hs = np.flatnonzero((self.member_of < 0) & self.movable)
        self._row_edges(hs, self.pen, self.M)

    def _refresh_free(self) -> None:
        M, U, F = self.M, self.M, self.M + 1
        self.W[F, :M] = np.where(self.load > 0, -self.last_step, _INF)
        self.W[:M, F] = self.next_step  # _INF when full
        self.W[F, U] = 0  # an augmenting path: uncovered → … → member with room → free → uncovered
        self.W[U, F] = _INF

    @staticmethod
    def _negative_cycles(W: np.ndarray) -> list[list[int]]:
        """Vertex-disjoint negative cycles of the move graph ``W`` (empty: none)."""
        n = W.shape[0]
        dist = np.zeros(n, dtype=np.int64)
        pred = np.full(n, -1, dtype=np.int64)
        cols = np.arange(n)
        for _ in range(2 * n + 2):
            cand = dist[:, None] + W
            src = np.argmin(cand, axis=0)
            best = cand[src, cols]
            upd = best < dist
            if not upd.any():
                return []
            dist = np.where(upd, best, dist)
            pred[upd] = src[upd]
            cycles = _Engine._pred_cycles(pred, W)
            if cycles:
                return cycles
        return []

    @staticmethod
    def _pred_cycles(pred: np.ndarray, W: np.ndarray) -> list[list[int]]:
        """Every cycle of the predecessor graph whose weight in ``W`` is negative."""
        n = pred.shape[0]
        stamp = [-1] * n
        p = pred.tolist()
        found: list[list[int]] = []
        for s in range(n):
            v = s
            while v >= 0 and stamp[v] < 0:
                stamp[v] = s
                v = p[v]
            if v >= 0 and stamp[v] == s:
                cycle = [v]
                u = p[v]
                while u != v:
                    cycle.append(u)
                    u = p[u]
                cycle.reverse()  # edges now run cycle[i] -> cycle[i+1]
                weight = sum(int(W[cycle[i], cycle[(i + 1) % len(cycle)]]) for i in range(len(cycle)))
                if weight < 0:
                    found.append(cycle)
        return found

    @staticmethod
    def _edges(cycle: list[int]) -> list[tuple[int, int]]:
        return [(x, cycle[(i + 1) % len(cycle)]) for i, x in enumerate(cycle)]

    def _ban_over(self, W: np.ndarray, edges: list[tuple[int, int]], over: list[int]) -> None:
        """Drop the edges of a cycle that lead into a member it would overload."""
        bad = set(over)
        for x, y in edges:
            if y in bad or x in bad:
                W[x, y] = _INF

    def _cancel_cycles(self) -> int:
        self._build_graph()
        M, U, F = self.M, self.M, self.M + 1
        applied = 0
        while self._budget_left():
            cycles = self._negative_cycles(self.W)
            if not cycles:
                break
            for cycle in cycles:
                if not self._budget_left():
                    break
                edges = self._edges(cycle)
                plan: Moves = []
                for x, y in edges:
                    if x != F and y != F:
                        h = int(self.Wh[x, y])
                        plan.append((h, self._arc_to(h, y) if y != U else -1))
                over = self._over(plan) if self.budgeted else []
                if over:
                    self._ban_over(self.W, edges, over)
                    continue
                for h, arc in plan:
                    self._move(h, arc)
                for x in cycle:
                    if x < M:
                        self._refresh_row(x)
                if U in cycle:
                    self._refresh_uncovered_row()
                self._refresh_free()
                self.moves += 1
                applied += 1
        return applied

    # ------------------------------------------------------------- group moves

    def _group_graph(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Move graph of the groups of one size, with the same nodes and meaning as for single households.

        Moving equal-sized groups around a cycle leaves every load unchanged,
        so only the edges of the *free* node carry balance costs and capacity.
        """
        M = self.M
        U, F = M, M + 1
        W = np.full((M + 2, M + 2), _INF, dtype=np.int64)
        Wg = np.full((M + 2, M + 2), -1, dtype=np.int64)
        for g in np.flatnonzero(self.g_size == size).tolist():
            members, cost = self.g_members[g], self.g_cost[g]
            if self.g_pin[g] >= 0 or members.size == 0:
                continue
            m1 = int(self.g_member[g])
            penalty = int(self.pen[self.g_households[g]].sum())
            if m1 >= 0:
                row = m1
                here = int(cost[int(np.searchsorted(members, m1))])
                delta = cost - here
                if penalty - here < W[row, U]:
                    W[row, U] = penalty - here
                    Wg[row, U] = g
            else:
                row = U
                delta = cost - penalty
            better = delta < W[row, members]
            if row < M:
                better &= members != row
            W[row, members[better]] = delta[better]
            Wg[row, members[better]] = g
        room = self.cap - self.load
        grow = np.zeros(M, dtype=np.int64)
        shrink = np.zeros(M, dtype=np.int64)
        if self.scale > 0:
            for m in range(M):
                load = int(self.load[m])
                if room[m] >= size:
                    grow[m] = self._balance(m, load + size) - self._balance(m, load)
                if load >= size:
                    shrink[m] = self._balance(m, load - size) - self._balance(m, load)
        W[:M, F] = np.where(room >= size, grow, _INF)
        W[F, :M] = np.where(self.load >= size, shrink, _INF)
        W[F, U] = 0
        return W, Wg

    def _cancel_group_cycles(self) -> int:
        """Negative-cycle cancelling over groups of equal size; improving moves applied."""
        applied = 0
        U, F = self.M, self.M + 1
        for size in np.unique(self.g_size).tolist():
            banned: set[tuple[int, int]] = set()
            while self._budget_left():
                W, Wg = self._group_graph(size)
                for x, y in banned:
                    W[x, y] = _INF
                cycles = self._negative_cycles(W)
                if not cycles:
                    break
                for cycle in cycles:
                    edges = self._edges(cycle)
                    steps = [(int(Wg[x, y]), y) for x, y in edges if x != F and y != F]
                    plan = [
                        move
                        for g, y in steps
                        for move in self._group_moves(g, int(np.searchsorted(self.g_members[g], y)) if y != U else -1)
                    ]
                    over = self._over(plan) if self.budgeted else []
                    if over:
                        banned.update((x, y) for x, y in edges if x in over or y in over)
                        continue
                    if U in cycle and not self._cycle_keeps_coverage(steps):
                        banned.update((x, y) for x, y in edges if U in (x, y))
                        continue
                    for g, _ in steps:
                        self._set_group(g, -1)
                    for g, y in steps:
                        if y != U:
                            self._set_group(g, int(np.searchsorted(self.g_members[g], y)))
                    banned.clear()
                    self.moves += 1
                    applied += 1
        return applied

    def _cycle_keeps_coverage(self, steps: list[tuple[int, int]]) -> bool:
        """Whether moving each group ``g`` of ``steps`` to ``y`` keeps coverage per tier (critical first)."""
        U = self.M
        none = [np.zeros(0, dtype=np.int64)]
        covered = [self.tier[self.g_households[g]] for g, _ in steps if self.g_member[g] < 0]
        uncovered = [self.tier[self.g_households[g]] for g, y in steps if y == U]
        gain = self._coverage_gain(np.concatenate(covered + none), np.concatenate(uncovered + none))
        return gain >= (0,) * NUM_TIERS

    def _group_pass(self) -> int:
        """One pass of group moves (cover, shift, swap, ejection, exchanges, drop); improving moves applied."""
        applied = 0
        for g in range(self.g_size.size):
            if not self._budget_left():
                break
            if self.g_pin[g] >= 0:
                continue
            if self.g_member[g] < 0:
                improved = self._cover_group(g) or self._exchange_in(g)
            else:
                improved = self._improve_group(g) or self._exchange_out(g) or self._try_drop(g)
            if improved:
                self.moves += 1
                applied += 1
        if applied:
            # Freed room may now cover single households.
            for h in np.flatnonzero((self.member_of < 0) & self.movable).tolist():
                self._augment_single(h)
        return applied

    def standing(self) -> tuple[tuple[int, ...], int]:
        """(covered per tier, critical first; minus the objective): larger is better."""
        covered = self.member_of >= 0
        count = np.bincount(self.tier[covered], minlength=NUM_TIERS)
        loads = np.bincount(self.member_of[covered], minlength=self.M)
        balance = sum(self._balance(m, int(loads[m])) for m in np.flatnonzero(loads).tolist())
        objective = int(self.cur_cost[covered].sum()) + int(self.pen[~covered].sum()) + balance
        return tuple(int(count[t]) for t in range(NUM_TIERS - 1, -1, -1)), -objective

    def _try_drop(self, g: int) -> bool:
        """Uncover group ``g``, re-optimise the single households, and keep it only if better.

        Tried only when uncovered single households could use the places
        the group frees.
        """
        m = int(self.g_member[g])
        hs_g = self.g_households[g]
        waiting = np.flatnonzero((self.member_of < 0) & self.movable)
        if waiting.size == 0 or not (self.arc_m[self._arcs_of(waiting)] == m).any():
            return False
        # Even the most important waiting households must at least match the group's coverage.
        hopeful = np.sort(self.tier[waiting])[::-1][: max(int(self.cap0[m] - self.load[m]) + hs_g.size, 0)]
        if self._coverage_gain(hopeful, self.tier[hs_g]) < (0,) * NUM_TIERS:
            return False
        before, moves = self.standing(), self.moves
        checkpoint = self._checkpoint()
        self._set_group(g, -1)
        self._cancel_cycles()
        better = self.standing() > before
        self._release(checkpoint, keep=better)
        if not better:
            self.moves = moves
        return better

    def _coverage_gain(self, gained: np.ndarray, lost: np.ndarray) -> tuple[int, ...]:
        """Change of the covered counts per tier, critical first (compare as tuples)."""
        diff = np.bincount(gained, minlength=NUM_TIERS) - np.bincount(lost, minlength=NUM_TIERS)
        return tuple(int(diff[t]) for t in range(NUM_TIERS - 1, -1, -1))

    def _plan_value(self, plan: Moves) -> tuple[tuple[int, ...], int]:
        """(coverage gain per tier, critical first; objective change) of applying ``plan``.

        Each household appears at most once in ``plan``.
        """
        delta = 0
        changes: dict[int, int] = {}
        gained: list[int] = []
        lost: list[int] = []
        for h, arc in plan:
            old = int(self.cur_arc[h])
            if old >= 0:
                delta -= int(self.cur_cost[h])
                m = int(self.arc_m[old])
                changes[m] = changes.get(m, 0) - 1
            else:
                delta -= int(self.pen[h])
            if arc >= 0:
                delta += int(self.arc_c[arc])
                m = int(self.arc_m[arc])
                changes[m] = changes.get(m, 0) + 1
            else:
                delta += int(self.pen[h])
            if (old >= 0) != (arc >= 0):
                (gained if arc >= 0 else lost).append(int(self.tier[h]))
        gain = self._coverage_gain(np.array(gained, dtype=np.int64), np.array(lost, dtype=np.int64))
        return gain, delta + self._delta_balance(changes)

    def _apply_plan(self, plan: Moves) -> None:
        for h, arc in plan:
            self._move(h, arc)
        self._sync_groups()

    def _better(self, value: tuple[tuple[int, ...], int], best: tuple[tuple[int, ...], int] | None) -> bool:
        """Whether ``value`` improves the solution and beats ``best`` (coverage first, then cost)."""
        gain, delta = value
        zero = (0,) * NUM_TIERS
        if gain < zero or (gain == zero and delta >= 0):
            return False
        return best is None or (gain, -delta) > (best[0], -best[1])

    def _exchange_out(self, g: int) -> bool:
        """Uncover covered group ``g`` and give its places to uncovered single households, if better.

        Accepted when coverage per tier (critical first) improves, or stays
        and the objective falls.
        """
        m = int(self.g_member[g])
        hs_g = self.g_households[g]
        free = max(int(self.cap0[m] - self.load[m]) + hs_g.size, 0)
        waiting = np.flatnonzero((self.member_of < 0) & self.movable)
        if waiting.size == 0:
            return False
        idx = self._arcs_of(waiting)
        idx = idx[self.arc_m[idx] == m]
        if idx.size == 0:
            return False
        owner = self.arc_h[idx]
        order = np.lexsort((self.arc_c[idx], -self.tier[owner]))[:free]
        idx, owner = idx[order], owner[order]
        best: tuple[tuple[int, ...], int] | None = None
        best_plan: Moves = []
        for k in range(1, idx.size + 1):
            plan = self._group_moves(g, -1) + [(int(h), int(a)) for h, a in zip(owner[:k], idx[:k], strict=True)]
            value = self._plan_value(plan)
            if self._better(value, best) and not self._over(plan):
                best, best_plan = value, plan
        if best is None:
            return False
        self._apply_plan(best_plan)
        return True

    def _exchange_in(self, g: int) -> bool:
        """Cover uncovered group ``g`` on a member by taking off what it carries now, if better.

        The member gives up its least important items (single households and
        other groups, lowest tier first) until the group fits; each goes to
        another member with room if it can, else it is uncovered. Places left
        over go to uncovered groups, then uncovered single households.
        Accepted when coverage per tier (critical first) improves, or stays
        and the objective falls.
        """
        members = self.g_members[g]
        w = int(self.g_size[g])
        takes = (self.cap0[members] >= w) | (self.over_ok & (self.cap0[members] > 0))
        candidates = np.flatnonzero(takes & (self.g_weight[g] <= self.budget[members]))
        candidates = candidates[np.argsort(self.g_cost[g][candidates], kind="stable")][:_MAKE_ROOM_TRIES]
        waiting = np.flatnonzero((self.member_of < 0) & self.movable)
        waiting_arcs = self._arcs_of(waiting) if waiting.size else np.zeros(0, dtype=np.int64)
        idle = [gg for gg in np.flatnonzero(self.g_member < 0).tolist() if gg != g and self.g_pin[gg] < 0]
        idle.sort(key=lambda gg: (-int(self.g_tier[gg]), -int(self.g_size[gg]), gg))
        best: tuple[tuple[int, ...], int] | None = None
        best_plan: Moves = []
        for j in candidates.tolist():
            m = int(members[j])
            over = w > self.cap0[m]  # a unit over capacity: m must give up everything
            need = int(self.load[m]) if over else w - int(self.cap[m] - self.load[m])
            if need <= 0:
                continue
            removed = self._least_important(m, need)
            if removed is None:
                continue
            room = self.cap - self.load
            room[m] = 0  # what m frees is for the group and the fill below
            plan: Moves = []
            for item in removed:
                plan += self._relocate(item, m, room)
            plan += self._group_moves(g, j)
            left = 0 if over else sum(hs.size for hs in removed) - need
            for gg in idle:
                k = int(np.searchsorted(self.g_members[gg], m))
                if self.g_size[gg] <= left and k < self.g_members[gg].size and self.g_members[gg][k] == m:
                    plan += self._group_moves(gg, k)
                    left -= int(self.g_size[gg])
            fill = waiting_arcs[self.arc_m[waiting_arcs] == m]
            fill = fill[np.lexsort((self.arc_c[fill], -self.tier[self.arc_h[fill]]))[:left]]
            plan += [(int(self.arc_h[a]), int(a)) for a in fill]
            value = self._plan_value(plan)
            if self._better(value, best) and not self._over(plan):
                best, best_plan = value, plan
        if best is None:
            return False
        self._apply_plan(best_plan)
        return True

    def _least_important(self, m: int, need: int) -> list[np.ndarray] | None:
        """Items (households of a single or of a group) on ``m`` freeing ``need`` places, least important first."""
        items = [np.array([h]) for h in np.flatnonzero((self.member_of == m) & self.movable).tolist()]
        items += [self.g_households[g] for g in np.flatnonzero(self.g_member == m).tolist() if self.g_pin[g] < 0]
        # Lowest tier first; then larger items (fewer of them), then the dearest to serve.
        items.sort(key=lambda hs: (int(self.tier[hs].max()), -hs.size, -int(self.cur_cost[hs].sum())))
        removed: list[np.ndarray] = []
        freed = 0
        for hs in items:
            if freed >= need:
                break
            removed.append(hs)
            freed += hs.size
        if freed < need:
            return None
        for i in range(len(removed) - 1, -1, -1):  # keep what later, larger removals made unnecessary
            if freed - removed[i].size >= need:
                freed -= removed.pop(i).size
        return removed

    def _relocate(self, item: np.ndarray, m: int, room: np.ndarray) -> Moves:
        """Moves taking ``item`` off ``m``: to the cheapest other member with ``room`` (updated), else uncovered."""
        g = int(self.group_of[item[0]])
        if g >= 0:
            members = self.g_members[g]
            ok = (members != m) & (room[members] >= item.size)
            if self.budgeted:
                ok &= self.used[members] + self.g_weight[g] <= self.budget[members]
            if not ok.any():
                return self._group_moves(g, -1)
            j = int(np.argmin(np.where(ok, self.g_cost[g], _INF)))
            room[members[j]] -= item.size
            return self._group_moves(g, j)
        h = int(item[0])
        lo, hi = int(self.ptr[h]), int(self.ptr[h + 1])
        targets = self.arc_m[lo:hi]
        ok = (targets != m) & (room[targets] > 0)
        if self.budgeted:
            ok &= self.used[targets] + self.arc_w[lo:hi] <= self.budget[targets]
        if not ok.any():
            return [(h, -1)]
        k = int(np.argmin(np.where(ok, self.arc_c[lo:hi], _INF)))
        room[targets[k]] -= 1
        return [(h, lo + k)]

    def _delta_balance(self, changes: dict[int, int]) -> int:
        """Balance change when each member ``m`` changes its load by ``changes[m]``."""
        if self.scale <= 0:
            return 0
        total = 0
        for m, d in changes.items():
            if d:
                old = int(self.load[m])
                total += self._balance(m, old + d) - self._balance(m, old)
        return total

    def _improve_group(self, g: int) -> bool:
        """Apply the best improving shift, swap or shift-with-ejection of group ``g``, if any."""
        members = self.g_members[g]
        m1 = int(self.g_member[g])
        j1 = int(np.searchsorted(members, m1))
        w = int(self.g_size[g])
        base = self.g_cost[g] - self.g_cost[g][j1]
        best_delta, best_plan = 0, None

        fits = self._group_fits(g) & (members != m1)
        if fits.any():
            remove = self._balance(m1, int(self.load[m1]) - w) - self._balance(m1, int(self.load[m1]))
            shift_delta = np.where(fits, base + self._group_add_cost(g, members) + remove, _INF)
            j = int(np.argmin(shift_delta))
            if shift_delta[j] < best_delta:
                best_delta, best_plan = int(shift_delta[j]), self._group_moves(g, j)

        if self.g_cost_dense is not None:
            dense = self.g_cost_dense
            others = np.flatnonzero((self.g_member >= 0) & (self.g_member != m1) & (self.g_pin_arr < 0))
            m2s = self.g_member[others]
            w2s = self.g_size[others]
            delta_v = dense[g, m2s] - dense[g, m1] + dense[others, m1] - dense[others, m2s]
            ok = (dense[g, m2s] < _INF) & (dense[others, m1] < _INF)
            ok &= (self.load[m1] - w + w2s <= self.cap[m1]) & (self.load[m2s] - w2s + w <= self.cap[m2s])
            order = np.flatnonzero(ok)
            order = order[np.argsort(delta_v[order], kind="stable")]
            for i in order.tolist():
                g2, m2, w2 = int(others[i]), int(m2s[i]), int(w2s[i])
                delta = int(delta_v[i])
                if self.scale <= 0 and delta >= best_delta:
                    break  # without balance the rest (sorted) are no better
                if w2 != w:
                    delta += self._delta_balance({m1: w2 - w, m2: w - w2})
                if delta < best_delta:
                    j2 = int(np.searchsorted(members, m2))
                    k1 = int(np.searchsorted(self.g_members[g2], m1))
                    plan = self._group_moves(g, j2) + self._group_moves(g2, k1)
                    if not (self.budgeted and self._over(plan)):
                        best_delta, best_plan = delta, plan

        # Shift with ejection (single households leave the target) and back-fill
        # (single households take the places the group frees).
        room = self.cap[members] - self.load[members]
        near = np.flatnonzero((self.cap[members] >= w) & (members != m1) & (self.g_weight[g] <= self.budget[members]))
        near = near[np.argsort(base[near], kind="stable")][:_EJECTION_TRIES]
        for j in near.tolist():
            m2 = int(members[j])
            need = w - int(room[j])
            ejected = self._ejection(g, m1, m2, need) if need > 0 else []
            if ejected is None:
                continue
            after = int(self.load[m1]) - w + sum(1 for _, a in ejected if self.arc_m[a] == m1)
            skip = {h for h, _ in ejected}
            fill = self._backfill(m1, after, int(self.cap0[m1]) - after, skip)
            plan = ejected + fill + self._group_moves(g, j)
            gain, delta = self._plan_value(plan)
            if gain == (0,) * NUM_TIERS and delta < best_delta and not self._over(plan):
                best_delta, best_plan = delta, plan

        if best_plan is None:
            return False
        gain, delta = self._plan_value(best_plan)
        if gain < (0,) * NUM_TIERS or delta >= 0 or self._over(best_plan):
            return False  # a safety net: every candidate above was checked the same way
        self._apply_plan(best_plan)
        return True

    def _backfill(self, m1: int, load: int, free: int, skip: set[int]) -> Moves:
        """Up to ``free`` single households cheaper on ``m1`` (then carrying ``load``) than where they are."""
        if free <= 0:
            return []
        arcs = self._member_arcs[m1]
        owner = self.arc_h[arcs]
        src = self.member_of[owner]
        delta = self.arc_c[arcs] - self.cur_cost[owner]
        if self.scale > 0:
            delta = delta + self._steps(np.full(arcs.size, m1), np.full(arcs.size, load + 1))
            delta = delta - self.last_step[np.maximum(src, 0)]
        picked = np.flatnonzero(self.movable[owner] & (src >= 0) & (src != m1) & (delta < 0))
        picked = picked[np.argsort(delta[picked], kind="stable")]
        moves: Moves = []
        for i in picked.tolist():
            h = int(owner[i])
            if h not in skip:
                moves.append((h, int(arcs[i])))
                if len(moves) == free:
                    break
        return moves

    def _ejection(self, g: int, m1: int, m2: int, need: int) -> Moves | None:
        """Cheapest-first moves of ``need`` single households off ``m2`` once group ``g`` leaves ``m1``."""
        hs = np.flatnonzero((self.member_of == m2) & self.movable)
        if hs.size < need:
            return None
        idx = self._arcs_of(hs)
        idx = idx[self.arc_m[idx] != m2]
        if idx.size == 0:
            return None
        tgt = self.arc_m[idx]
        owner = self.arc_h[idx]
        room = self.cap - self.load
        room[m1] = int(self.cap0[m1] - self.load[m1] + self.g_size[g])
        delta = self.arc_c[idx] - self.cur_cost[owner]
        if self.scale > 0:
            step = self.next_step[tgt]
            delta = delta + np.where(step >= _INF, 0, step)
        moves: Moves = []
        taken: set[int] = set()
        for pos in np.argsort(delta, kind="stable").tolist():
            h, m = int(owner[pos]), int(tgt[pos])
            if h in taken or room[m] <= 0:
                continue
            taken.add(h)
            room[m] -= 1
            moves.append((h, int(idx[pos])))
            if len(moves) == need:
                return moves
        return None

    # ----------------------------------------------------------------- backups

    def backups(self) -> np.ndarray | None:
        """Backup member per household (-1 none), or ``None`` when no backups are asked for."""
        wants = getattr(self.problem, "household_backup", None)
        if wants is None:
            return None
        backup_of = np.full(self.H, -1, dtype=np.int32)
        cap = getattr(self.problem, "member_backup_capacity", None)
        left = np.asarray(cap, dtype=np.int64).copy() if cap is not None else np.full(self.M, _INF, np.int64)
        rows = np.flatnonzero(np.asarray(wants, dtype=bool) & (self.member_of >= 0))
        if rows.size == 0:
            return backup_of
        options = [self._backup_options(h) for h in rows.tolist()]
        # Critical first, then fewest options, then the household order.
        order = sorted(range(rows.size), key=lambda i: (-int(self.tier[rows[i]]), len(options[i]), int(rows[i])))
        for i in order:
            for m in options[i]:
                if left[m] > 0:
                    left[m] -= 1
                    backup_of[rows[i]] = m
                    break
        return backup_of

    def _backup_options(self, h: int) -> list[int]:
        lo, hi = int(self.ptr[h]), int(self.ptr[h + 1])
        members = self.arc_m[lo:hi]
        order = np.argsort(self.arc_c[lo:hi], kind="stable")
        return [int(m) for m in members[order] if m != self.member_of[h] and self.cap[m] > 0]


ENGINE = GreedyEngine()
