"""Construction: pins, then stairwell units and single households tier by tier."""

from __future__ import annotations

import heapq

import numpy as np

from ...model.problem import NUM_TIERS
from ...model.solution import Solution
from .state import (
    _INF,
    _KEY_NO_ROOM,
    _KEY_ONE_OPTION,
    _MAKE_ROOM_TRIES,
    _MAX_REQUEUE,
    Moves,
    _Assignment,
)


class _Construction(_Assignment):
    """Construction: a layer of the greedy engine."""

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
