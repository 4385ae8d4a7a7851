"""Moves of single households: negative-cycle cancelling on the member graph, budget-feasible shifts and swaps."""

from __future__ import annotations

import numpy as np

from .construction import _Construction
from .state import (
    _DENSE_LIMIT,
    _INF,
    Moves,
)


class _Cycles(_Construction):
    """Moves of single households: a layer of the greedy engine."""

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
            cycles = _Cycles._pred_cycles(pred, W)
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
