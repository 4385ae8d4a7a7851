"""Moves of whole stairwell units: cycles of units, shifts, swaps, ejections, exchanges."""

from __future__ import annotations

import numpy as np

from ...model.problem import NUM_TIERS
from .cycles import _Cycles
from .state import (
    _EJECTION_TRIES,
    _INF,
    _MAKE_ROOM_TRIES,
    Moves,
)


class _GroupMoves(_Cycles):
    """Moves of whole stairwell units: a layer of the greedy engine."""

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
