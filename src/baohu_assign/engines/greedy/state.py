"""The greedy engine's assignment state, its stairwell units and the primitive moves."""

from __future__ import annotations

import numpy as np

from ...model import costs
from ...model.problem import NUM_TIERS, Problem
from ..contract import GreedySettings
from ..stop import Stop

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


class _Assignment:
    """Mutable assignment state: households, members, stairwell units and the moves between them."""

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

    def _sync_groups(self) -> None:
        """Recompute each group's member from the households (after an undo)."""
        self.g_member[:] = self.member_of[self.g_first]
