"""Large neighbourhood search: choosing related members, solving their sub-models, merging."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..stop import now
from . import solver
from .limits import (
    AFFINITY_RANK,
    FULL_MODEL_OPTIONS,
    LNS_DETERMINISTIC_TIME,
    LNS_INITIAL_TARGET,
    LNS_LOCAL_RANK,
    LNS_MIN_TARGET,
    LNS_THREADS,
    PARTIAL_SHARE,
    PARTIAL_SPREAD,
    STALL_ROUNDS,
    WHOLE_SHARE_OF_UNITS,
)
from .model import _build, _Context, _Sub
from .relaxations import _Relaxation
from .solver import _apply, _Result
from .state import _charged, _loads, _State
from .units import _Units


def _option_rank(units: _Units, score: np.ndarray) -> np.ndarray:
    """int64[O]: position of each option among its unit's options by ``score`` (0 = best)."""
    order = np.lexsort((score, units.option_unit))
    rank = np.empty(units.num_options, dtype=np.int64)
    rank[order] = np.arange(units.num_options) - units.option_ptr[units.option_unit[order]]
    return rank


class _Neighbourhoods:
    """Related members (they share good options) and how bad each member's part of the plan is."""

    def __init__(self, ctx: _Context, score: np.ndarray, relaxation: _Relaxation | None, rng: np.random.Generator):
        import scipy.sparse as sp

        problem, units = ctx.problem, ctx.units
        M = problem.num_members
        self.ctx = ctx
        self.rng = rng
        self.score = score
        self.relaxation = relaxation
        # Members of each unit's best options are related: co-occurrence counts.
        top = np.flatnonzero(_option_rank(units, score) < AFFINITY_RANK)
        incidence = sp.csr_matrix(
            (np.ones(top.shape[0]), (units.option_unit[top], units.option_member[top])), shape=(units.num_units, M)
        )
        affinity = (incidence.T @ incidence).tocsr()
        affinity.setdiag(0)
        affinity.eliminate_zeros()
        self.affinity = affinity
        self.has_options = np.diff(units.member_ptr) > 0
        self.target = float(LNS_INITIAL_TARGET)
        self.allowed = np.ones(units.num_options, dtype=bool)
        self.restrict(ctx.allowed)

    def restrict(self, safe: np.ndarray | None) -> None:
        """Options the sub-models may use: the provably useful ones."""
        self.allowed = np.ones(self.ctx.units.num_options, dtype=bool) if safe is None else safe

    def badness(self, state: _State) -> np.ndarray:
        """Per member: reduced cost of its units plus the LP price of its unused room."""
        units, problem = self.ctx.units, self.ctx.problem
        M = problem.num_members
        used = state.unit_option[state.unit_option >= 0]
        bad = np.bincount(units.option_member[used], weights=np.maximum(self.score[used], 0), minlength=M)
        if self.relaxation is not None and self.relaxation.member_price is not None:
            _, weight = _loads(problem, units, state)
            load = _charged(problem, units, state)
            price = self.relaxation.member_price
            bad = bad + price[0] * np.maximum(problem.member_capacity - load, 0)
            if problem.member_budget is not None and units.option_weight is not None:
                bad = bad + price[1] * np.maximum(problem.member_budget - weight, 0)
        return np.maximum(bad, 0.0)

    def _mobile(self, state: _State, free: np.ndarray, in_set: np.ndarray, target: int) -> np.ndarray:
        """The ``target`` units of ``free`` that can move most cheaply to another chosen member."""
        units = self.ctx.units
        current = state.unit_option[free]
        starts, ends = units.option_ptr[free], units.option_ptr[free + 1]
        lengths = ends - starts
        opts = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(int(lengths.sum()))
        owner = np.repeat(np.arange(free.size), lengths)
        ok = in_set[units.option_member[opts]] & self.allowed[opts] & (opts != current[owner])
        cost = np.full(free.size, np.inf)
        np.minimum.at(cost, owner[ok], self.score[opts[ok]])
        move = cost - self.score[current]
        finite = np.isfinite(move)
        spread = float(np.std(move[finite])) if finite.sum() > 1 else 1.0
        key = np.where(finite, move + self.rng.random(free.size) * (spread + 1e-9), np.inf)
        return np.sort(free[np.argsort(key, kind="stable")[:target]])

    def pick(self, state: _State, taken: np.ndarray, claimed: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Members and free units of one neighbourhood disjoint from ``taken`` members and ``claimed`` units."""
        ctx, units, rng = self.ctx, self.ctx.units, self.rng
        M = ctx.problem.num_members
        avail = self.has_options & ~taken
        if not avail.any():
            return None
        uncovered = np.flatnonzero((state.unit_option < 0) & (np.diff(units.option_ptr) > 0) & ~claimed)
        seed_member = -1
        if uncovered.size and rng.random() < 0.5:
            u = int(uncovered[rng.integers(uncovered.size)])
            opts = np.arange(units.option_ptr[u], units.option_ptr[u + 1])
            cand = units.option_member[opts][avail[units.option_member[opts]]]
            if cand.size:
                seed_member = int(cand[rng.integers(cand.size)])
        if seed_member < 0:
            bad = self.badness(state)
            weight = (bad + 1e-3 + 0.05 * bad.mean()) * avail
            total = weight.sum()
            if total <= 0:
                return None
            seed_member = int(rng.choice(M, p=weight / total))
        chosen = [seed_member]
        in_set = np.zeros(M, dtype=bool)
        in_set[seed_member] = True
        unit_member = np.where(state.unit_option >= 0, units.option_member[np.maximum(state.unit_option, 0)], -1)
        count = int((unit_member == seed_member).sum())
        target = round(self.target)
        # Half the time, more members each give up only their most mobile units.
        partial = rng.random() < PARTIAL_SHARE
        wanted = target * (PARTIAL_SPREAD if partial else 1)
        while count < wanted:
            rows = self.affinity[chosen]
            cand = rows.indices
            w = rows.data
            ok = avail[cand] & ~in_set[cand]
            cand, w = cand[ok], w[ok]
            if cand.size == 0:
                break
            # Merge duplicates across rows.
            uniq, inv = np.unique(cand, return_inverse=True)
            w = np.bincount(inv, weights=w)
            m = int(uniq[rng.choice(uniq.size, p=w / w.sum())])
            chosen.append(m)
            in_set[m] = True
            count += int((unit_member == m).sum())
        members = np.array(sorted(chosen), dtype=np.int64)
        free = np.flatnonzero(in_set[np.maximum(unit_member, 0)] & (unit_member >= 0) & ~claimed)
        if partial and free.size > target:
            free = self._mobile(state, free, in_set, target)
        # Uncovered units that could go to these members join, a few at a time.
        if uncovered.size:
            reachable = np.zeros(units.num_units, dtype=bool)
            reachable[units.option_unit[in_set[units.option_member] & self.allowed]] = True
            extra = uncovered[reachable[uncovered]]
            if extra.size > target:
                extra = np.sort(rng.choice(extra, target, replace=False))
            free = np.union1d(free, extra)
        return members, free.astype(np.int64)


def _lns(
    ctx: _Context,
    state: _State,
    objective: int,
    hood: _Neighbourhoods,
    *,
    end: float | None,
    rounds: int | None,
    threads: int,
    seed: int,
    known_bound: float = -math.inf,
) -> tuple[_State, int, int]:
    """Large neighbourhood search until ``end`` (monotonic) or ``rounds`` rounds.

    In work-limited mode (or with backups, or one thread) it runs in rounds:
    each round solves up to ``LNS_THREADS`` disjoint neighbourhoods (one with
    backups, or with one thread in wall-clock mode) on up to ``threads``
    threads and merges them in a fixed order, so the result is reproducible.
    Otherwise each thread runs its own loop and claims its members and units
    while it solves, so no thread waits for a slow neighbourhood of the other.
    Returns (state, objective, neighbourhoods solved).
    """
    search = _Search(ctx, state, objective, hood, end=end, seed=seed)
    search.known_bound = known_bound
    if threads > 1 and not ctx.work_mode and not ctx.backups and rounds is None:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(search.run_free, t) for t in range(threads)]:
                future.result()
    else:
        # Neighbourhoods with backups go one at a time, as in wall-clock mode. Otherwise work-limited mode
        # fixes the neighbourhoods per round, so the thread count changes only the speed, never the plan.
        per_round = 1 if ctx.backups else (LNS_THREADS if ctx.work_mode else threads)
        search.run_rounds(per_round, min(per_round, threads), rounds)
    return search.state, search.objective, search.solved


class _Search:
    """Shared state of the LNS threads; every mutation happens under ``lock``."""

    def __init__(
        self, ctx: _Context, state: _State, objective: int, hood: _Neighbourhoods, *, end: float | None, seed: int
    ):

        self.ctx, self.state, self.objective, self.hood = ctx, state, objective, hood
        self.end, self.seed = end, seed
        self.lock = threading.Lock()
        self.taken = np.zeros(ctx.problem.num_members, dtype=bool)
        self.claimed = np.zeros(ctx.units.num_units, dtype=bool)
        self.solved = 0
        self.stall = 0  # neighbourhoods in a row without improvement
        self.known_bound = -math.inf
        self.whole_possible = ctx.units.num_options <= FULL_MODEL_OPTIONS

    def over(self) -> bool:
        if self.objective <= self.known_bound:
            return True
        if self.hood.target >= WHOLE_SHARE_OF_UNITS * self.ctx.units.num_units and self.whole_possible:
            # Neighbourhoods as large as most of the problem: the whole model does better.
            return True
        # Wall-clock mode leaves a neighbourhood too short to be worth starting; work-limited mode
        # goes on to the deadline itself, so that a clock that cut the search has always passed it.
        margin = 0.0 if self.ctx.work_mode else 0.02
        if self.ctx.stop.cancelled() or (self.end is not None and now() >= self.end - margin):
            return True
        return not self.ctx.work_mode and self.stall >= STALL_ROUNDS

    def _next(self) -> tuple[np.ndarray, np.ndarray, _Sub] | None:
        """Pick, claim and build one neighbourhood (caller holds the lock)."""
        picked = self.hood.pick(self.state, self.taken, self.claimed)
        if picked is None:
            return None
        members, free = picked
        self.taken[members] = True
        self.claimed[free] = True
        sub = _build(self.ctx, self.state, free, members, self.hood.allowed, LNS_LOCAL_RANK, self.hood.score)
        return members, free, sub

    def _solve(self, sub: _Sub, workers: int, index: int) -> _Result:
        remaining = None if self.end is None else max(self.end - now(), 0.01)
        return solver._solve_model(
            self.ctx,
            sub,
            wall=remaining,
            deterministic=LNS_DETERMINISTIC_TIME,
            workers=workers,
            seed=self.seed + 7919 * index,
        )

    def _merge(self, members: np.ndarray, free: np.ndarray, sub: _Sub, result: _Result) -> bool:
        """Keep the sub-model's plan when it is no worse; adapt the size; release claims.

        The caller holds the lock. Returns whether the plan improved.
        """
        hood = self.hood
        self.taken[members] = False
        self.claimed[free] = False
        self.solved += 1
        if result.values is None or result.objective is None:
            hood.target = max(float(LNS_MIN_TARGET), hood.target * 0.8)
            return False
        if result.status == "optimal":
            hood.target = min(400.0, hood.target * 1.04)
        else:
            hood.target = max(float(LNS_MIN_TARGET), hood.target * 0.9)
        if result.objective > sub.hint_objective:
            return False
        gain = sub.hint_objective - result.objective
        self.state = _apply(self.ctx, self.state, sub, result.values)
        self.objective -= gain
        return gain > 0

    def run_rounds(self, per_round: int, threads: int, rounds: int | None) -> None:
        done = 0
        pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        try:
            while not self.over() and (rounds is None or done < rounds):
                picked = []
                for _ in range(per_round):
                    item = self._next()
                    if item is None:
                        break
                    picked.append(item)
                done += 1
                if not picked:
                    self.stall += 1
                    continue
                workers = 1 if per_round > 1 else self.ctx.settings.workers
                index = [done * per_round + i for i in range(len(picked))]
                if pool is not None and len(picked) > 1:
                    futures = [
                        pool.submit(self._solve, item[2], workers, i) for item, i in zip(picked, index, strict=True)
                    ]
                    results = [f.result() for f in futures]
                else:
                    results = [self._solve(item[2], workers, i) for item, i in zip(picked, index, strict=True)]
                improved = False
                for (members, free, sub), result in zip(picked, results, strict=True):
                    improved |= self._merge(members, free, sub, result)
                self.stall = 0 if improved else self.stall + 1
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def run_free(self, thread: int) -> None:
        count = 0
        while True:
            with self.lock:
                if self.over():
                    return
                item = self._next()
            if item is None:
                time.sleep(0.001)
                continue
            members, free, sub = item
            count += 1
            result = self._solve(sub, 1, 2 * count + thread)
            with self.lock:
                improved = self._merge(members, free, sub, result)
                self.stall = 0 if improved else self.stall + 1
