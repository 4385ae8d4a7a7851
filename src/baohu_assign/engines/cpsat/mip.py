"""Branch and cut (HiGHS) on the pruned unit model, looking only for plans better than the incumbent.

On tight knapsack budgets whose LP bound is close to the optimum (the GAP
instances of types C and E), HiGHS's cuts and branching close the last
tenths of a percent faster than CP-SAT's whole-model search; on others
CP-SAT's search does better, so this is one phase among them, never the
only one. The model is the LP of :func:`~.relaxations._unit_lp` with integer
options and "uncovered" columns, restricted to the options reduced-cost
fixing keeps (every plan better than the incumbent is among them). A cut-off
row (objective ≤ incumbent − 1) was tried and measured slower: HiGHS then
often finds no plan at all in the time.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from ...model.solution import violations
from .model import _Context
from .relaxations import _unit_lp
from .state import _member_of, _State

logger = logging.getLogger(__name__)

EXACT_FLOAT_COSTS = 2.0**31
"""Below this sum of absolute costs HiGHS's tolerances cannot turn a worse plan into a better one, so its
bound and its proof of "no better plan" are used; above, only a plan it finds (checked again)."""


@dataclass(slots=True)
class _MipResult:
    state: _State | None  # HiGHS's plan (the caller keeps it when it is better), or None
    bound: float | None  # a bound on every plan of the pruned model (None: unknown)
    proven: bool  # the plan is optimal for the pruned model
    wall_s: float


def _mip_improve(ctx: _Context, state: _State, objective: int, time_limit: float) -> _MipResult:
    """HiGHS on the pruned model (``ctx.allowed``, ``ctx.forced``): a plan better than ``objective``, if found."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    start = time.perf_counter()
    problem, units = ctx.problem, ctx.units
    lp = _unit_lp(problem, units)
    O = units.num_options  # noqa: E741 - as in the LP's matrix
    forced = units.unit_pinned if ctx.forced is None else ctx.forced
    keep_option = np.ones(O, dtype=bool) if ctx.allowed is None else ctx.allowed.copy()
    keep_option[state.unit_option[state.unit_option >= 0]] = True
    keep = np.concatenate([keep_option, ~forced[lp.free_units], np.ones(lp.num_steps, dtype=bool)])
    columns = np.flatnonzero(keep)
    cost = lp.cost[columns]
    A_eq = lp.A_eq.tocsc()[:, columns]
    A_ub = lp.A_ub.tocsc()[:, columns]
    b_ub = lp.b_ub
    kept_options = int(keep_option.sum())
    integer_columns = kept_options + int((~forced[lp.free_units]).sum())
    integrality = np.r_[np.ones(integer_columns), np.zeros(lp.num_steps)]
    result = milp(
        cost,
        integrality=integrality,
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(A_eq, 1, 1), LinearConstraint(A_ub, -np.inf, b_ub)],
        options={"time_limit": max(float(time_limit), 0.05), "mip_rel_gap": 0.0, "presolve": True},
    )
    exact = float(np.abs(cost).sum()) < EXACT_FLOAT_COSTS
    wall = time.perf_counter() - start
    if result.status == 2:  # pragma: no cover - the incumbent is in the model
        return _MipResult(None, None, False, wall)
    dual = getattr(result, "mip_dual_bound", None)
    bound = float(dual) - 1e-6 if exact and dual is not None and math.isfinite(dual) else None
    if result.x is None:
        return _MipResult(None, bound, False, wall)
    chosen = np.flatnonzero(keep_option)[result.x[:kept_options] > 0.5]
    unit_option = np.full(units.num_units, -1, dtype=np.int64)
    if np.unique(units.option_unit[chosen]).size != chosen.size:
        return _MipResult(None, bound, False, wall)
    unit_option[units.option_unit[chosen]] = chosen
    found = _State(unit_option, state.backup_of.copy())
    if (forced & (unit_option < 0)).any() or violations(problem, _member_of(problem, units, found)):
        logger.debug("HiGHS's plan breaks a rule after rounding; ignored")
        return _MipResult(None, bound, False, wall)
    return _MipResult(found, bound, result.status == 0 and exact, wall)
