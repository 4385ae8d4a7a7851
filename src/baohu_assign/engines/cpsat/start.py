"""The engine's own start: regret greedy over units by reduced cost, then one ejection per uncovered unit.

Tight knapsack budgets (the GAP instances, hour budgets) are where a plan
built household by household in cost order does worst; ranking options by
the LP's reduced costs and placing the units with the most to lose first
gives a markedly better start there.
"""

from __future__ import annotations

import numpy as np

from ...model.problem import NUM_TIERS, Problem
from .lns import _option_rank
from .state import _budgets, _charged, _loads, _State
from .units import _Units


def _regret_start(problem: Problem, units: _Units, score: np.ndarray, tables: list[np.ndarray] | None) -> _State:
    """Regret greedy: pinned units first, then by tier, then by regret of their best option.

    ``score`` ranks options (reduced cost when the LP is known, else cost);
    the marginal balance cost is added when the balance term is on. Units
    left out are then covered by :func:`_repair` where one ejection makes room.
    """
    U = units.num_units
    over_balance = units.option_over_balance
    capacity = problem.member_capacity.astype(np.int64).copy()
    budget = _budgets(problem, units)
    load = np.zeros(problem.num_members, dtype=np.int64)
    charged = np.zeros(problem.num_members, dtype=np.int64)
    unit_option = np.full(U, -1, dtype=np.int64)
    ptr = units.option_ptr
    counts = np.diff(ptr)
    best = np.full(U, np.inf)
    second = np.full(U, np.inf)
    has = counts > 0
    rank = _option_rank(units, score)
    for nth, values in ((0, best), (1, second)):
        at = np.flatnonzero(rank == nth)
        values[units.option_unit[at]] = score[at]
    regret = np.full(U, np.inf)
    finite = np.isfinite(second) & np.isfinite(best)
    regret[finite] = second[finite] - best[finite]
    top_tier = np.where(units.unit_tiers > 0, np.arange(NUM_TIERS), -1).max(axis=1)
    # Sort keys, last is primary: pinned first, then higher tier, then larger regret, then index.
    order = np.lexsort((np.arange(U), -np.nan_to_num(regret, posinf=1e300), -top_tier, ~units.unit_pinned))
    for u in order[has[order]]:
        lo, hi = int(ptr[u]), int(ptr[u + 1])
        members = units.option_member[lo:hi]
        size = int(units.unit_size[u])
        ok = capacity[members] >= charged[members] + units.option_charge[lo:hi]
        if budget is not None:
            assert units.option_weight is not None
            ok &= budget[members] >= units.option_weight[lo:hi]
        if not ok.any():
            continue
        value = score[lo:hi].astype(np.float64).copy()
        if tables is not None:
            value += np.array(
                [
                    0
                    if not ok[i]
                    else over_balance[lo + i]
                    if units.option_over[lo + i]
                    else tables[m][load[m] + size] - tables[m][load[m]]
                    for i, m in enumerate(members)
                ]
            )
        value[~ok] = np.inf
        pick = int(np.argmin(value))
        unit_option[u] = lo + pick
        m = int(members[pick])
        load[m] += 0 if units.option_over[lo + pick] else size
        charged[m] += int(units.option_charge[lo + pick])
        if budget is not None:
            assert units.option_weight is not None
            budget[m] -= int(units.option_weight[lo + pick])
    state = _State(unit_option, np.full(problem.num_households, -1, dtype=np.int64))
    _repair(problem, units, state, score, order[has[order]])
    return state


def _repair(problem: Problem, units: _Units, state: _State, score: np.ndarray, order: np.ndarray) -> None:
    """Cover what the greedy left out by moving one unit aside (one ejection), in place.

    For an uncovered unit ``u`` and an option of it at member ``m``, look for a
    unit ``v`` at ``m`` that another member can take so that ``u`` then fits at
    ``m``; take the cheapest such pair of moves by ``score``.
    """
    capacity = problem.member_capacity.astype(np.int64)
    budget = _budgets(problem, units)
    weight_of = units.option_weight
    charge = units.option_charge
    for u in order[state.unit_option[order] < 0].tolist():
        _, weight = _loads(problem, units, state)
        load = _charged(problem, units, state)
        placed = state.unit_option >= 0
        holder = np.where(placed, units.option_member[np.maximum(state.unit_option, 0)], -1)
        best: tuple[float, int, int, int] | None = None
        for o in range(int(units.option_ptr[u]), int(units.option_ptr[u + 1])):
            m = int(units.option_member[o])
            w_u = 0 if weight_of is None else int(weight_of[o])
            for v in np.flatnonzero(holder == m).tolist():
                cur = int(state.unit_option[v])
                # u must fit at m once v has left.
                if load[m] - int(charge[cur]) + int(charge[o]) > capacity[m]:
                    continue
                if budget is not None and weight_of is not None and weight[m] - int(weight_of[cur]) + w_u > budget[m]:
                    continue
                alts = np.arange(int(units.option_ptr[v]), int(units.option_ptr[v + 1]))
                members = units.option_member[alts]
                ok = (members != m) & (load[members] + charge[alts] <= capacity[members])
                if budget is not None and weight_of is not None:
                    ok &= weight[members] + weight_of[alts] <= budget[members]
                if not ok.any():
                    continue
                alt = alts[ok][int(np.argmin(score[alts[ok]]))]
                delta = float(score[o] + score[alt] - score[cur])
                if best is None or delta < best[0]:
                    best = (delta, o, v, int(alt))
        if best is not None:
            _, o, v, alt = best
            state.unit_option[v] = alt
            state.unit_option[u] = o
