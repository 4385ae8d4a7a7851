"""Bounds: the min-cost-flow and LP relaxations, and reduced-cost fixing."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...errors import EngineUnavailable
from ...model.problem import Problem
from ..stop import Stop
from .state import _State
from .units import _Units

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Relaxation:
    """Lower bound and LP reduced costs (``None`` when only the flow bound is known)."""

    bound: int
    lagrangian: float = -math.inf  # LP bound before rounding, for reduced-cost fixing
    tolerance: float = 0.0
    option_rc: np.ndarray | None = None  # float64[O]
    uncovered_rc: np.ndarray | None = None  # float64[U], +inf for pinned units
    member_price: np.ndarray | None = None  # float64[M]: value of a free household slot / budget unit

    def fixing(self, units: _Units, incumbent: int, state: _State) -> tuple[np.ndarray, np.ndarray]:
        """Options that may appear in a plan better than ``incumbent``, and units that must be covered.

        A plan using option ``o`` costs at least ``bound + rc[o]`` (the LP bound
        with the duals fixed is a Lagrangian bound, valid for every plan), so
        options with ``rc > incumbent − 1 − bound`` can be dropped. The
        incumbent's own choices are always kept, so the pruned model contains it.
        """
        forced = units.unit_pinned.copy()
        if self.option_rc is None or self.uncovered_rc is None:
            return np.ones(units.num_options, dtype=bool), forced
        slack = incumbent - 1 - self.lagrangian + self.tolerance
        allowed = self.option_rc <= slack
        current = state.unit_option[state.unit_option >= 0]
        allowed[current] = True
        forced |= (self.uncovered_rc > slack) & (state.unit_option >= 0)
        return allowed, forced


def _flow_relaxation(problem: Problem) -> tuple[int, np.ndarray] | None:
    """Min-cost-flow optimum without groups, budgets and backups, and its plan.

    With units over capacity allowed, each member's capacity is relaxed to its
    load limit (smaller balance steps, so still a lower bound); the plan may
    then break the capacity rule and is checked before use.
    ``None`` when OR-Tools' flow is missing or its costs are beyond flow's range.
    """
    try:
        from .. import flow
    except ImportError:  # pragma: no cover - flow ships with the package
        return None
    relaxed = replace(
        problem,
        member_capacity=problem.member_load_limit().astype(np.int32),
        household_group=np.full(problem.num_households, -1, dtype=np.int32),
        arc_weight=None,
        member_budget=None,
        household_backup=None,
        member_backup_capacity=None,
    )
    if not flow.fits_cost_range(relaxed):
        return None
    try:
        solution = flow.ENGINE.solve(relaxed, None, Stop(), seed=0)
    except EngineUnavailable as exc:
        logger.debug("flow relaxation not available: %s", exc)
        return None
    return int(solution.objective), solution.member_of.astype(np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class _UnitLp:
    """The unit model as a linear program: columns are the options, then "uncovered" per free unit, then
    the balance steps; ``A_eq`` (one row per unit) = 1, ``A_ub`` ≤ ``b_ub`` (capacity or tangent load,
    budget, and capacity of over options)."""

    cost: np.ndarray  # float64[n]
    A_eq: Any  # scipy.sparse csr, U × n
    A_ub: Any  # scipy.sparse csr, rows × n
    b_ub: np.ndarray
    free_units: np.ndarray  # units with an "uncovered" column, in column order after the options
    num_steps: int


def _unit_lp(problem: Problem, units: _Units) -> _UnitLp:
    """The matrices of the unit model's LP relaxation (without backups)."""
    import scipy.sparse as sp

    O, U, M = units.num_options, units.num_units, problem.num_members  # noqa: E741 - the sizes of the LP, named as in its matrix
    free_units = np.flatnonzero(~units.unit_pinned)
    Y = free_units.shape[0]
    capacity = problem.member_capacity.astype(np.int64)
    balanced = problem.balance_scale > 0
    if balanced:
        step_member = np.repeat(np.arange(M), np.maximum(capacity, 0))
        step_cost = np.concatenate([problem.balance_step_costs(m) for m in range(M)]) if M else np.zeros(0, np.int64)
    else:
        step_member = np.zeros(0, dtype=np.int64)
        step_cost = np.zeros(0, dtype=np.int64)
    S = step_member.shape[0]
    n = O + Y + S
    option_cost = units.option_cost + units.option_over_balance
    cost = np.concatenate([option_cost, units.unit_penalty[free_units], step_cost]).astype(np.float64)
    eq = sp.csr_matrix((np.ones(O + Y), (np.r_[units.option_unit, free_units], np.arange(O + Y))), shape=(U, n))
    size = units.unit_size[units.option_unit].astype(np.float64)
    rows = [units.option_member]
    cols = [np.arange(O)]
    # Over options carry their balance in their cost: no load on the tangent lines.
    vals = [np.where(units.option_over, 0.0, size) if balanced else units.option_charge.astype(np.float64)]
    if balanced:
        rows.append(step_member)
        cols.append(O + Y + np.arange(S))
        vals.append(-np.ones(S))
        rhs = [np.zeros(M)]
    else:
        rhs = [capacity.astype(np.float64)]
    num_rows = M
    if units.option_weight is not None:
        assert problem.member_budget is not None
        rows.append(M + units.option_member)
        cols.append(np.arange(O))
        vals.append(units.option_weight.astype(np.float64))
        rhs.append(problem.member_budget.astype(np.float64))
        num_rows += M
    if balanced and problem.one_unit_over_capacity:
        # Over options use capacity but no tangent-line load: capacity rows of their own.
        rows.append(num_rows + units.option_member)
        cols.append(np.arange(O))
        vals.append(units.option_charge.astype(np.float64))
        rhs.append(capacity.astype(np.float64))
        num_rows += M
    ub = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(num_rows, n))
    return _UnitLp(cost, eq, ub, np.concatenate(rhs), free_units, S)


def _lp_relaxation(problem: Problem, units: _Units, time_limit: float | None) -> _Relaxation | None:
    """LP relaxation of the unit model (without backups) solved by HiGHS.

    Returns the Lagrangian bound ``y·b + Σ min(rc, 0)`` computed from the
    duals ``y`` (valid for any duals of the right sign, so HiGHS tolerances
    cannot make it wrong) and the reduced costs of options and of leaving a
    unit uncovered. ``None`` when scipy is missing or HiGHS does not finish.
    """
    try:
        from scipy.optimize import linprog
    except ImportError:  # pragma: no cover - scipy is a dependency
        return None
    O, U, M = units.num_options, units.num_units, problem.num_members  # noqa: E741 - the sizes of the LP, named as in its matrix
    if O == 0 or U == 0:
        return None
    lp = _unit_lp(problem, units)
    cost, eq, ub, b_ub, free_units = lp.cost, lp.A_eq, lp.A_ub, lp.b_ub, lp.free_units
    Y = free_units.shape[0]
    options: dict[str, bool | float] = {"presolve": True}
    if time_limit is not None:
        options["time_limit"] = max(float(time_limit), 0.05)
    try:
        result = linprog(
            cost, A_ub=ub, b_ub=b_ub, A_eq=eq, b_eq=np.ones(U), bounds=(0, 1), method="highs", options=options
        )
    except (ValueError, MemoryError) as exc:  # pragma: no cover - defensive
        logger.debug("LP relaxation failed: %s", exc)
        return None
    if result.status != 0 or result.eqlin is None or result.ineqlin is None:
        logger.debug("LP relaxation not solved: %s", result.message)
        return None
    y_eq = np.asarray(result.eqlin.marginals, dtype=np.float64)
    y_ub = np.minimum(np.asarray(result.ineqlin.marginals, dtype=np.float64), 0.0)
    rc = cost - eq.T @ y_eq - ub.T @ y_ub
    terms = np.concatenate([y_eq, y_ub * b_ub, np.minimum(rc, 0.0)])
    lagrangian = float(y_eq.sum() + (y_ub * b_ub).sum() + np.minimum(rc, 0.0).sum())
    # Float error of the sum above; costs are integers, so round up after it.
    tolerance = 1e-9 * float(np.abs(terms).sum()) + 1e-6
    uncovered_rc = np.full(U, np.inf)
    uncovered_rc[free_units] = rc[O : O + Y]
    # Dual price of a free household slot and of a free budget unit (for choosing neighbourhoods).
    price = -y_ub[:M]
    budget_price = -y_ub[M : 2 * M] if units.option_weight is not None else np.zeros(M)
    relaxation = _Relaxation(
        bound=math.ceil(lagrangian - tolerance),
        lagrangian=lagrangian,
        tolerance=tolerance,
        option_rc=rc[:O],
        uncovered_rc=uncovered_rc,
        member_price=np.stack([price, budget_price]),
    )
    return relaxation
