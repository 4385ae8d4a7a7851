"""Building CP-SAT models (whole, or one neighbourhood) straight into their proto."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ...model.problem import NUM_TIERS, Problem
from ..contract import CpsatSettings
from ..stop import Stop
from .limits import INT64_MAX
from .state import _budgets, _charged, _loads, _normal_load, _State
from .units import _Units

search_logger = logging.getLogger("baohu_assign.engines.cpsat.search")
"""CP-SAT's own search log (DEBUG), apart from the phase lines."""


class _Builder:
    """A CP-SAT model written straight into its proto (fast for 10⁵ variables)."""

    def __init__(self) -> None:
        from ortools.sat.python import cp_model

        self.model = cp_model.CpModel()
        self.proto = self.model.proto
        self.num_vars = 0
        self.obj_vars: list[np.ndarray] = []
        self.obj_coeffs: list[np.ndarray] = []
        self.hint_values: list[np.ndarray] = []
        self.objective_vars = np.zeros(0, dtype=np.int64)
        self.objective_coeffs = np.zeros(0, dtype=np.int64)

    def new_vars(self, lower: int, upper: int, count: int, hint: np.ndarray) -> int:
        """``count`` integer variables in ``[lower, upper]``; returns the first index."""
        first = self.num_vars
        variables = self.proto.variables
        domain = [int(lower), int(upper)]
        for _ in range(count):
            variables.add().domain.extend(domain)
        self.num_vars += count
        self.hint_values.append(np.asarray(hint, dtype=np.int64).reshape(count))
        return first

    def linear(self, variables: np.ndarray, coeffs: np.ndarray, lower: int, upper: int) -> None:
        c = self.proto.constraints.add().linear
        c.vars.extend(np.asarray(variables, dtype=np.int64).tolist())
        c.coeffs.extend(np.asarray(coeffs, dtype=np.int64).tolist())
        c.domain.extend([int(max(lower, -INT64_MAX)), int(min(upper, INT64_MAX))])

    def at_most_one(self, literals: np.ndarray) -> None:
        self.proto.constraints.add().at_most_one.literals.extend(np.asarray(literals, dtype=np.int64).tolist())

    def exactly_one(self, literals: np.ndarray) -> None:
        self.proto.constraints.add().exactly_one.literals.extend(np.asarray(literals, dtype=np.int64).tolist())

    def minimise(self, variables: np.ndarray, coeffs: np.ndarray) -> None:
        self.obj_vars.append(np.asarray(variables, dtype=np.int64))
        self.obj_coeffs.append(np.asarray(coeffs, dtype=np.int64))

    def finish(self) -> int:
        """Write objective and hint; returns the objective value of the hint."""
        variables = np.concatenate(self.obj_vars) if self.obj_vars else np.zeros(0, np.int64)
        coeffs = np.concatenate(self.obj_coeffs) if self.obj_coeffs else np.zeros(0, np.int64)
        keep = coeffs != 0
        variables, coeffs = variables[keep], coeffs[keep]
        self.objective_vars, self.objective_coeffs = variables, coeffs
        self.proto.objective.vars.extend(variables.tolist())
        self.proto.objective.coeffs.extend(coeffs.tolist())
        hint = np.concatenate(self.hint_values) if self.hint_values else np.zeros(0, np.int64)
        self.proto.solution_hint.vars.extend(range(self.num_vars))
        self.proto.solution_hint.values.extend(hint.tolist())
        return int((coeffs * hint[variables]).sum()) if variables.size else 0


@dataclass(slots=True)
class _Sub:
    """A built (sub-)model and how to read its solution back into a state."""

    builder: _Builder
    units: np.ndarray  # free units
    options: np.ndarray  # option id of each x variable
    x_first: int
    backup_households: np.ndarray  # households whose backup is decided here
    backup_arcs: np.ndarray  # arc id of each b variable
    b_first: int
    offset: int  # constant added to the CP-SAT objective
    hint_objective: int  # objective of the current plan restricted to this model
    balance_terms: list[_BalanceTerm] = field(default_factory=list)


@dataclass(frozen=True, slots=True, eq=False)
class _BalanceTerm:
    """A member's balance variable and how its least value follows from the x variables."""

    var: int
    literals: np.ndarray  # x variables of the member's options in the model
    sizes: np.ndarray  # households each of them brings
    fixed_load: int
    table: np.ndarray  # F(k), the member's balance cost of carrying k households


@dataclass(slots=True)
class _Context:
    """Everything the phases share."""

    problem: Problem
    units: _Units
    tables: list[np.ndarray] | None
    settings: CpsatSettings
    seed: int
    stop: Stop
    keep_coverage: bool = False  # lexicographic backups: coverage per tier may never drop
    backups: bool = False
    allowed: np.ndarray | None = None  # bool[O]
    forced: np.ndarray | None = None  # bool[U]
    work_mode: bool = False
    solves: int = 0
    log: bool = field(default_factory=lambda: search_logger.isEnabledFor(logging.DEBUG))


def _build(
    ctx: _Context,
    state: _State,
    free_units: np.ndarray,
    members: np.ndarray | None,
    allowed: np.ndarray | None,
    local_rank: int | None = None,
    score: np.ndarray | None = None,
) -> _Sub:
    """Model of ``free_units`` over ``members`` (``None``: all), everything else fixed at ``state``.

    Members in ``members`` keep the load of fixed units; options of free
    units to other members are left out, so their load is unchanged. Only
    ``allowed`` options (``None``: all) and the current ones are modelled.
    """
    problem, units = ctx.problem, ctx.units
    M = problem.num_members
    b = _Builder()
    in_set = np.ones(M, dtype=bool) if members is None else np.zeros(M, dtype=bool)
    if members is not None:
        in_set[members] = True
    free_mask = np.zeros(units.num_units, dtype=bool)
    free_mask[free_units] = True

    options = _free_options(ctx, state, free_units, in_set, allowed, local_rank, score)
    X = options.shape[0]
    option_unit = units.option_unit[options]
    x_hint = (state.unit_option[option_unit] == options).astype(np.int64)
    x_first = b.new_vars(0, 1, X, x_hint)
    x_var = x_first + np.arange(X)

    forced = units.unit_pinned if ctx.forced is None else ctx.forced
    _one_member_per_unit(b, free_units, option_unit, x_var, forced)
    # A unit the model must cover never pays its penalty; leaving it out of the
    # coefficients keeps them small, which CP-SAT solves markedly faster.
    open_unit = ~forced[option_unit]
    coeff = units.option_cost[options] - np.where(open_unit, units.unit_penalty[option_unit], 0)
    offset = int(units.unit_penalty[free_units][~forced[free_units]].sum())
    if ctx.tables is not None:
        # Over options carry their member's whole balance term in their cost.
        coeff = coeff + units.option_over_balance[options]
    balance_terms = _member_limits(ctx, b, state, free_units, options, x_var)
    # Balance of members outside the model stays as it is (constant, not needed).

    backup_households = np.zeros(0, dtype=np.int64)
    backup_arcs = np.zeros(0, dtype=np.int64)
    b_first = b.num_vars
    if ctx.backups:
        coeff, offset, backup_households, backup_arcs, b_first = _add_backups(
            ctx, b, state, free_mask, in_set, options, x_var, coeff, offset
        )

    if ctx.keep_coverage:
        _keep_coverage(ctx, b, state, free_units, option_unit, x_var)

    b.minimise(x_var, coeff)
    hint_objective = b.finish() + offset
    return _Sub(
        b, free_units, options, x_first, backup_households, backup_arcs, b_first, offset, hint_objective, balance_terms
    )


def _free_options(
    ctx: _Context,
    state: _State,
    free_units: np.ndarray,
    in_set: np.ndarray,
    allowed: np.ndarray | None,
    local_rank: int | None,
    score: np.ndarray | None,
) -> np.ndarray:
    """Options of the free units to members in ``in_set`` that the model keeps, in unit order:
    the ``allowed`` ones (each unit's ``local_rank`` best by ``score``, when given), and the current ones."""
    units = ctx.units
    # Options of free units, in unit order.
    starts, ends = units.option_ptr[free_units], units.option_ptr[free_units + 1]
    lengths = ends - starts
    options = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(int(lengths.sum()))
    options = options.astype(np.int64)
    keep = in_set[units.option_member[options]]
    if allowed is not None:
        keep &= allowed[options]
    if local_rank is not None and score is not None:
        # Keep each unit's best few options among these members (heuristic, for speed).
        cand = options[keep]
        order = np.lexsort((score[cand], units.option_unit[cand]))
        cand = cand[order]
        cu = units.option_unit[cand]
        first = np.r_[0, np.flatnonzero(cu[1:] != cu[:-1]) + 1]
        rank = np.arange(cand.size) - np.repeat(first, np.diff(np.r_[first, cand.size]))
        keep = np.zeros(options.size, dtype=bool)
        keep[np.searchsorted(options, cand[rank < local_rank])] = True
    keep |= state.unit_option[units.option_unit[options]] == options
    return options[keep]


def _one_member_per_unit(
    b: _Builder, free_units: np.ndarray, option_unit: np.ndarray, x_var: np.ndarray, forced: np.ndarray
) -> None:
    """At most one option per free unit; exactly one for pinned and provably covered (``forced``) units."""
    X = x_var.shape[0]
    bounds = np.searchsorted(option_unit, free_units)
    bounds = np.r_[bounds, X]
    for i, u in enumerate(free_units.tolist()):
        lits = x_var[bounds[i] : bounds[i + 1]]
        if forced[u]:
            b.exactly_one(lits)
        elif lits.size > 1:
            b.at_most_one(lits)


def _member_limits(
    ctx: _Context, b: _Builder, state: _State, free_units: np.ndarray, options: np.ndarray, x_var: np.ndarray
) -> list[_BalanceTerm]:
    """Capacity, budget and balance rows of the members the options reach, with the load of fixed units added."""
    problem, units = ctx.problem, ctx.units
    M = problem.num_members
    option_unit = units.option_unit[options]
    fixed = state.unit_option.copy()
    fixed[free_units] = -1
    fixed_state = _State(fixed, state.backup_of)
    _, fixed_weight = _loads(problem, units, fixed_state)
    fixed_load = _normal_load(problem, units, fixed_state)
    fixed_charged = _charged(problem, units, fixed_state)
    option_member = units.option_member[options]
    # Over options carry their balance in their cost, so they add no load to the tangent lines.
    size = np.where(units.option_over[options], 0, units.unit_size[option_unit])
    charge = units.option_charge[options]
    by_member = np.argsort(option_member, kind="stable")
    member_bounds = np.searchsorted(option_member[by_member], np.arange(M + 1))
    active = np.flatnonzero(np.diff(member_bounds) > 0)
    capacity = problem.member_capacity.astype(np.int64)
    budget = _budgets(problem, units)
    current_load = _normal_load(problem, units, state)
    balance_terms: list[_BalanceTerm] = []
    for m in active.tolist():
        rows = by_member[member_bounds[m] : member_bounds[m + 1]]
        lits = x_var[rows]
        room = int(capacity[m] - fixed_charged[m])
        if int(charge[rows].sum()) > room:
            b.linear(lits, charge[rows], -INT64_MAX, room)
        if budget is not None:
            assert units.option_weight is not None
            weights = units.option_weight[options[rows]]
            left = int(budget[m] - fixed_weight[m])
            if int(weights.sum()) > left:
                b.linear(lits, weights, -INT64_MAX, left)
        if ctx.tables is not None and capacity[m] > 0:
            table = ctx.tables[m]
            top = int(min(capacity[m], fixed_load[m] + size[rows].sum()))
            if table[top] > table[fixed_load[m]]:
                bal = b.new_vars(0, int(table[top]), 1, np.array([table[min(current_load[m], top)]]))
                steps = np.diff(table)
                # Tangent k: bal ≥ F(k) + s(k+1)·(load − k); only where the slope changes.
                for k in range(int(fixed_load[m]), top):
                    s = int(steps[k])
                    if k > fixed_load[m] and s == int(steps[k - 1]):
                        continue
                    rhs = int(table[k]) + s * (int(fixed_load[m]) - k)
                    b.linear(np.r_[bal, lits], np.r_[1, -s * size[rows]], rhs, INT64_MAX)
                b.minimise(np.array([bal]), np.array([1]))
                balance_terms.append(_BalanceTerm(bal, lits, size[rows], int(fixed_load[m]), table))
    return balance_terms


def _keep_coverage(
    ctx: _Context, b: _Builder, state: _State, free_units: np.ndarray, option_unit: np.ndarray, x_var: np.ndarray
) -> None:
    """Lexicographic mode: coverage of each tier within the free units may not drop."""
    units = ctx.units
    covered_now = state.unit_option[free_units] >= 0
    for t in range(NUM_TIERS):
        need = int(units.unit_tiers[free_units[covered_now], t].sum())
        weights = units.unit_tiers[option_unit, t]
        if need > 0:
            b.linear(x_var[weights > 0], weights[weights > 0], need, INT64_MAX)


def _add_backups(
    ctx: _Context,
    b: _Builder,
    state: _State,
    free_mask: np.ndarray,
    in_set: np.ndarray,
    options: np.ndarray,
    x_var: np.ndarray,
    coeff: np.ndarray,
    offset: int,
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, int]:
    """Backup Booleans for households whose unit is free or whose backup member is in the model."""
    problem, units = ctx.problem, ctx.units
    assert problem.household_backup is not None and problem.member_backup_capacity is not None
    penalty = int(problem.backup_penalty)
    backup_of = state.backup_of
    wants = problem.household_backup
    unit = units.household_unit
    unit_free = free_mask[unit]
    holder = np.where(backup_of >= 0, backup_of, 0)
    held = in_set[holder] if in_set.size else np.zeros(backup_of.shape[0], dtype=bool)  # no members
    households = np.flatnonzero(wants & (unit_free | ((backup_of >= 0) & held)))
    primary = np.full(problem.num_households, -1, dtype=np.int64)
    chosen = state.unit_option[unit]
    primary[chosen >= 0] = units.option_member[chosen[chosen >= 0]]
    coeff = coeff.copy()
    # A free unit pays the backup penalty per wanting household when covered.
    option_unit = units.option_unit[options]
    coeff += penalty * units.unit_wants_backup[option_unit]
    arc_lists: list[np.ndarray] = []
    owner: list[np.ndarray] = []
    for h in households.tolist():
        sl = problem.arcs_of(h)
        arcs = np.arange(sl.start, sl.stop, dtype=np.int64)
        members = problem.arc_member[sl].astype(np.int64)
        ok = in_set[members] | (members == backup_of[h])
        if not unit_free[h]:
            if primary[h] < 0:
                ok[:] = False
            ok &= members != primary[h]
        arc_lists.append(arcs[ok])
        owner.append(np.full(int(ok.sum()), h, dtype=np.int64))
    backup_arcs = np.concatenate(arc_lists) if arc_lists else np.zeros(0, dtype=np.int64)
    arc_owner = np.concatenate(owner) if owner else np.zeros(0, dtype=np.int64)
    B = backup_arcs.shape[0]
    hint = (backup_of[arc_owner] == problem.arc_member[backup_arcs]).astype(np.int64)
    b_first = b.new_vars(0, 1, B, hint)
    b_var = b_first + np.arange(B)
    # Unit x-variables by (unit, member) for the "not the primary" rule.
    x_key = {(int(u), int(m)): int(v) for u, m, v in zip(option_unit, units.option_member[options], x_var, strict=True)}
    pos = 0
    for i, h in enumerate(households.tolist()):
        n = arc_lists[i].shape[0]
        lits = b_var[pos : pos + n]
        members = problem.arc_member[arc_lists[i]]
        pos += n
        u = int(unit[h])
        if unit_free[h]:
            # Options are in unit order, so a unit's variables are one slice.
            lo, hi = np.searchsorted(option_unit, [u, u + 1])
            unit_x = x_var[lo:hi]
            if n:
                b.linear(np.r_[lits, unit_x], np.r_[np.ones(n), -np.ones(unit_x.size)], -INT64_MAX, 0)
                for lit, m in zip(lits.tolist(), members.tolist(), strict=True):
                    other = x_key.get((u, int(m)))
                    if other is not None:
                        b.at_most_one(np.array([lit, other]))
        else:
            if n > 1:
                b.at_most_one(lits)
            if primary[h] >= 0:
                offset += penalty
    cap = problem.member_backup_capacity.astype(np.int64)
    arc_member = problem.arc_member[backup_arcs].astype(np.int64)
    for m in np.unique(arc_member[in_set[arc_member]]).tolist():
        rows = np.flatnonzero(arc_member == m)
        if rows.size > cap[m]:
            b.linear(b_var[rows], np.ones(rows.size), -INT64_MAX, int(cap[m]))
    b.minimise(b_var, problem.arc_cost[backup_arcs].astype(np.int64) - penalty)
    return coeff, offset, households, backup_arcs, b_first
