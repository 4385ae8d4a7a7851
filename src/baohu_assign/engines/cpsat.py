"""CP-SAT engine: stairwell units, hour budgets and backups, exactly or by LNS.

Model
-----
Households of one stairwell unit (``household_group``) share one member, so
the model works on *units* (a group, or a household on its own). A unit's
*options* are the members eligible for every household of the unit; an
option costs the sum of its arcs' ``arc_cost`` and weighs the sum of their
``arc_weight``. One Boolean ``x[o]`` per option (never dense)::

    Σ_{o of u} x[o] ≤ 1             (= 1 for pinned units)    per unit u
    Σ_{o at m} charge(o) x[o] ≤ c(m)                         per member m
    Σ_{o at m} weight(o) x[o] ≤ budget(m)                    per member m (budgets)
    bal(m) ≥ F(k) + s(k+1)·(load(m) − k),  k = 0..c(m)−1      per member m (balanced)

    minimise Σ (cost(o) − penalty(u)) x[o] + Σ_u penalty(u) + Σ_m bal(m)  [+ backups]

``charge(o)`` is the unit's size; with ``one_unit_over_capacity`` an option
whose unit is larger than ``c(m)`` (an *over* option) is kept and charges
``c(m)``: it fills the member alone, and two such options, or one and
anything else, exceed ``c(m)``. ``load(m)`` sums the sizes of the other
options; an over option carries its member's whole balance term,
``F(size)`` (the same formula past the capacity), in its cost, which keeps
the LP relaxation tight.
``penalty(u)`` is what leaving the unit's households uncovered costs
(:meth:`~baohu_assign.problem.Problem.uncovered_cost`: tier penalty, plus
churn for a household with a current member), so the model pays it exactly
when the unit stays uncovered (a unit that must be covered
gets ``= 1`` and plain costs instead: small coefficients solve faster). ``F`` is the cumulative sum
of :meth:`~baohu_assign.problem.Problem.balance_step_costs` (convex, so
the tangent lines meet exactly at integer loads and the LP relaxation is
the convex hull). Backups get a second Boolean ``b[a]`` per arc of a
household that wants one: ``Σ b ≤ covered``, ``b[a] + x[primary option at the
same member] ≤ 1``, ``Σ b ≤ member_backup_capacity`` per member, cost
``arc_cost`` and ``backup_penalty`` for a covered household without one.
If the tier penalties are not large enough to dominate every backup term
(see :func:`_backups_are_safe`), the engine first solves without backups and
then keeps each tier's coverage as a floor (lexicographic).

Size
----
1. Bounds: the min-cost-flow optimum without groups, budgets and backups is
   a relaxation (those only restrict or add non-negative costs); when its
   plan happens to satisfy them and there are no backups, it is optimal and
   returned at once. The LP relaxation of the unit model (HiGHS, up to
   ``LP_MAX_OPTIONS`` options) gives a better bound and, through its duals,
   reduced costs ``rc``. Its Lagrangian bound ``L = y·b + Σ min(rc, 0)`` holds
   for any duals of the right sign, so solver tolerances cannot break it. An
   option with ``rc > incumbent − 1 − L`` cannot be in a better plan and is
   dropped; a unit whose "uncovered" variable has such a reduced cost must be
   covered (reduced-cost fixing). The incumbent always stays in the model, so
   "optimal" on the pruned model is optimal for the full problem and its
   bound is a bound for every plan.
2. Start: the better of ``initial`` (in :func:`baohu_assign.solve`,
   greedy's plan) and the relaxation's plan when that keeps every rule;
   without ``initial``, the greedy engine's plan within the stop.
3. Models of at most ``SMALL_MODEL_OPTIONS`` options (after fixing) are
   solved whole with the start as hint, which usually proves optimality.
   Larger ones first solve a heuristic *core* (each unit's ``CORE_RANK`` best
   options by reduced cost), then run large neighbourhood search: a seed
   member (chosen by its reduced cost plus the LP price of its unused
   capacity and budget, or next to an uncovered unit) and related members
   (sharing good options) give up their units, which a small CP-SAT model
   re-assigns among them (each unit keeps its ``LNS_LOCAL_RANK`` best options
   there) while everything else stays fixed; half the neighbourhoods span
   twice the members but free only their most mobile units. A plan no worse
   is kept. Two threads solve disjoint neighbourhoods (without backups), and
   the size adapts to how often sub-models are proven optimal.
4. With time left, the whole pruned model is solved with the best plan as
   hint, which improves the bound and may prove optimality. Models beyond
   ``FULL_MODEL_OPTIONS`` options are never built whole: only the LNS runs.

Determinism
-----------
Every random choice comes from ``numpy.random.default_rng(seed)``,
CP-SAT gets ``random_seed`` from ``seed``, and every neighbourhood solve
is single-threaded with a deterministic time limit.

- ``CpsatSettings(lns_rounds=N)``: work-limited mode (what
  :func:`baohu_assign.solve` uses when the caller gives no time limit). The
  LNS runs up to ``N`` rounds; each round picks up to ``LNS_THREADS``
  neighbourhoods, solves them on up to ``workers`` threads and merges
  them in a fixed order. Every whole-model solve runs on one CP-SAT worker
  with ``N × LNS_DETERMINISTIC_TIME`` deterministic seconds (CP-SAT's
  deterministic multi-worker mode, ``interleave_search``, would tie the plan
  to ``workers`` and measured two to three times slower than one worker
  on two cores). So the same problem, start and seed give the identical plan whatever
  ``workers`` and however loaded the machine, with the same versions of
  this package, OR-Tools, SciPy and NumPy (tested on one platform; across
  platforms expected, not tested) — provided the stop, kept only as a
  safety net, does not bind. Every phase may use all the time left
  before it (none is cut to a share), so when the clock stops anything the
  deadline has passed by the time this engine returns;
  :func:`baohu_assign.solve` checks that to report the branch as not
  reproducible.
- Otherwise (wall-clock mode) whole-model solves run CP-SAT's parallel
  portfolio on ``workers`` threads and the LNS threads run independently
  until the stop (or ``STALL_ROUNDS`` neighbourhoods without
  improvement), so the plan can depend on machine speed, load and thread
  timing; of several tied optima any may come back. It is always valid, the
  bound always holds, and "optimal" is always proven. Without a deadline
  every whole-model solve stops after ``UNLIMITED_DETERMINISTIC_TIME``.

A cancel flag of the stop ends the phase running (a CP-SAT solve is
interrupted) and every later one, as a passed deadline does.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

import numpy as np

from ..errors import EngineError, EngineUnavailable
from ..model import costs
from ..model.objective import evaluate
from ..model.problem import NUM_TIERS, Problem
from ..model.solution import Solution
from .contract import CpsatSettings, GreedySettings, initial_objective
from .stop import Stop, now

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

logger = logging.getLogger(__name__)
search_logger = logging.getLogger(__name__ + ".search")
"""CP-SAT's own search log (DEBUG); a child, so it can be silenced apart from the phase lines."""

NAME: Final = "cpsat"

SMALL_MODEL_OPTIONS = 1_500
"""Up to this many options the whole model is solved first (it often proves optimality)."""
CORE_SHARE = 0.15
"""Share of the time for the first solve of a larger model (its core when the LP is known)."""
FINAL_SHARE = 0.25
"""Share of the time left after the LNS for the whole pruned model (improvement and proof)."""
FULL_MODEL_OPTIONS = 150_000
"""Beyond this many options the whole model is never built (building and presolve take seconds)."""
LP_MAX_OPTIONS = 400_000
"""Largest model whose LP relaxation is solved for bounds and reduced costs."""
CORE_RANK = 3
"""Options per unit kept in the heuristic core (best by reduced cost)."""
AFFINITY_RANK = 4
"""Best options per unit whose members count as related to each other."""
LNS_DETERMINISTIC_TIME = 0.1
"""Deterministic time limit of one neighbourhood solve."""
LNS_THREADS = 2
"""Disjoint neighbourhoods solved side by side (at most ``workers`` threads); also the
neighbourhoods per round in work-limited mode, whatever ``workers``, so the plan does not depend on it."""
LNS_INITIAL_TARGET = 30
"""Free units of the first neighbourhoods; then it adapts to how often sub-models are proven optimal."""
LNS_MIN_TARGET = 6
"""Smallest neighbourhood (free units)."""
PARTIAL_SHARE = 0.5
"""Share of neighbourhoods that free only the most mobile units of more members."""
PARTIAL_SPREAD = 2
"""A partial neighbourhood spans this many times the members of a full one."""
LNS_LOCAL_RANK = 3
"""Options per free unit among the neighbourhood's members that a sub-model keeps (best by reduced cost)."""
WHOLE_MODEL_SECONDS_PER_OPTION = 3e-5
"""Rough load time of a whole model per option (presolve, LP), to skip hopeless whole-model solves."""
LP_SECONDS_PER_OPTION = 2e-6
"""Rough time of the LP relaxation per option (HiGHS does not stop at its limit before its first
iterations); under a time limit the LP is left out when its share of the time is shorter."""
UNLIMITED_DETERMINISTIC_TIME = 20.0
"""Deterministic time limit of one whole-model solve when there is neither a time limit nor an iteration budget."""
WHOLE_SHARE_OF_UNITS = 0.5
"""The LNS hands over to the whole model once neighbourhoods would free this share of all units."""
STALL_ROUNDS = 300
"""The LNS stops after this many neighbourhoods in a row without improvement (not in work-limited mode)."""

INT64_MAX = 2**63 - 1


# --------------------------------------------------------------------------- units


@dataclass(frozen=True, slots=True, eq=False)
class _Units:
    """Households folded into units (stairwell groups) and the options of each unit."""

    household_unit: np.ndarray  # int64[H]
    unit_ptr: np.ndarray  # int64[U+1] into unit_households
    unit_households: np.ndarray  # int64[H], households ordered by unit
    unit_size: np.ndarray  # int64[U]
    unit_tiers: np.ndarray  # int64[U, NUM_TIERS]: households of each tier
    unit_penalty: np.ndarray  # int64[U]: cost of leaving the unit uncovered (tier penalties and churn)
    unit_pinned: np.ndarray  # bool[U]
    unit_wants_backup: np.ndarray  # int64[U]: households of the unit that want a backup
    option_ptr: np.ndarray  # int64[U+1]
    option_unit: np.ndarray  # int64[O]
    option_member: np.ndarray  # int64[O]
    option_cost: np.ndarray  # int64[O]
    option_weight: np.ndarray | None  # int64[O]
    option_charge: np.ndarray  # int64[O]: capacity it uses (its size, or the capacity for a unit over it)
    option_over: np.ndarray  # bool[O]: a unit larger than the member's capacity (then all the member carries)
    option_over_balance: np.ndarray  # int64[O]: balance term of an over option's member (0 for the others)
    member_ptr: np.ndarray  # int64[M+1] into member_options
    member_options: np.ndarray  # int64[O], options ordered by member

    @property
    def num_units(self) -> int:
        return int(self.unit_size.shape[0])

    @property
    def num_options(self) -> int:
        return int(self.option_unit.shape[0])


def _build_units(problem: Problem) -> _Units:
    """Fold groups into units and aggregate their arcs into options (vectorised)."""
    H, M = problem.num_households, problem.num_members
    group = problem.household_group.astype(np.int64)
    representative = np.arange(H, dtype=np.int64)
    grouped = np.flatnonzero(group >= 0)
    if grouped.size:
        # A unit is named by its first household, so units follow household order.
        first = np.full(int(group.max()) + 1, H, dtype=np.int64)
        np.minimum.at(first, group[grouped], grouped)
        representative[grouped] = first[group[grouped]]
    _, household_unit = np.unique(representative, return_inverse=True)
    household_unit = household_unit.astype(np.int64)
    U = int(household_unit.max()) + 1 if H else 0
    unit_households = np.argsort(household_unit, kind="stable").astype(np.int64)
    unit_ptr = np.searchsorted(household_unit[unit_households], np.arange(U + 1)).astype(np.int64)
    unit_size = np.bincount(household_unit, minlength=U).astype(np.int64)
    unit_tiers = np.zeros((U, NUM_TIERS), dtype=np.int64)
    np.add.at(unit_tiers, (household_unit, problem.household_tier.astype(np.int64)), 1)
    # Leaving a unit uncovered costs what evaluate() charges its households: tier penalty and churn.
    unit_penalty = costs.group_uncovered_cost(problem.uncovered_cost(), household_unit, U)
    backup = problem.household_backup
    wants = backup if backup is not None and problem.has_backups else np.zeros(H, dtype=bool)
    unit_wants_backup = np.bincount(household_unit, weights=wants.astype(np.int64), minlength=U).astype(np.int64)

    # Pins: a unit with a pinned household may only go to that member.
    unit_pin = np.full(U, -1, dtype=np.int64)
    pinned = np.flatnonzero(problem.household_pin >= 0)
    if pinned.size:
        pins = problem.household_pin[pinned].astype(np.int64)
        units_of_pins = household_unit[pinned]
        unit_pin[units_of_pins] = pins
        if (unit_pin[units_of_pins] != pins).any():
            raise EngineError("a stairwell unit has households pinned to different members")

    # Options: (unit, member) pairs that every household of the unit reaches.
    arc_unit = household_unit[problem.arc_household]
    key = arc_unit * M + problem.arc_member.astype(np.int64)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]]) if key.size else np.zeros(0, np.int64)
    counts = np.diff(np.r_[starts, key.size])
    option_key = sorted_key[starts]
    option_unit = option_key // M if M else option_key
    option_member = option_key % M if M else option_key
    option_cost = np.add.reduceat(problem.arc_cost[order], starts) if key.size else np.zeros(0, np.int64)
    option_weight = None
    if problem.has_budgets:
        assert problem.arc_weight is not None
        option_weight = (
            np.add.reduceat(problem.arc_weight.astype(np.int64)[order], starts) if key.size else np.zeros(0, np.int64)
        )
    keep = counts == unit_size[option_unit]
    keep &= (unit_pin[option_unit] < 0) | (unit_pin[option_unit] == option_member)
    # An option larger than its member's capacity (unless one unit over it is allowed) or budget can never be used.
    keep &= problem.unit_fits(option_member, unit_size[option_unit])
    if option_weight is not None:
        assert problem.member_budget is not None
        keep &= option_weight <= problem.member_budget.astype(np.int64)[option_member]
    option_unit, option_member = option_unit[keep].astype(np.int64), option_member[keep].astype(np.int64)
    option_cost = option_cost[keep].astype(np.int64)
    if option_weight is not None:
        option_weight = option_weight[keep].astype(np.int64)
    option_charge = np.minimum(unit_size[option_unit], problem.member_capacity.astype(np.int64)[option_member])
    option_ptr = np.searchsorted(option_unit, np.arange(U + 1)).astype(np.int64)
    unit_pinned = unit_pin >= 0
    stranded = unit_pinned & (np.diff(option_ptr) == 0)
    if stranded.any():
        u = int(np.flatnonzero(stranded)[0])
        raise EngineError(
            f"household {int(unit_households[unit_ptr[u]])} is pinned to a member that cannot take its unit"
        )
    member_options = np.argsort(option_member, kind="stable").astype(np.int64)
    member_ptr = np.searchsorted(option_member[member_options], np.arange(M + 1)).astype(np.int64)
    return _Units(
        household_unit=household_unit,
        unit_ptr=unit_ptr,
        unit_households=unit_households,
        unit_size=unit_size,
        unit_tiers=unit_tiers,
        unit_penalty=unit_penalty.astype(np.int64),
        unit_pinned=unit_pinned,
        unit_wants_backup=unit_wants_backup,
        option_ptr=option_ptr,
        option_unit=option_unit,
        option_member=option_member,
        option_cost=option_cost,
        option_weight=option_weight,
        option_charge=option_charge.astype(np.int64),
        option_over=option_charge < unit_size[option_unit],
        option_over_balance=_balance_alone(problem, option_member, unit_size[option_unit], option_charge),
        member_ptr=member_ptr,
        member_options=member_options,
    )


def _balance_alone(problem: Problem, members: np.ndarray, sizes: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """int64[O]: Σ of the balance steps 1..size of each over option's member (0 where charge = size)."""
    value = np.zeros(members.shape[0], dtype=np.int64)
    over = np.flatnonzero(charge < sizes)
    if problem.balance_scale <= 0 or over.size == 0:
        return value
    for o in over.tolist():
        value[o] = int(problem.balance_step_costs(int(members[o]), int(sizes[o])).sum())
    return value


def _balance_tables(problem: Problem) -> list[np.ndarray]:
    """Per member: int64[c+1], the balance cost F(k) of carrying k households."""
    return [np.r_[0, np.cumsum(problem.balance_step_costs(m))].astype(np.int64) for m in range(problem.num_members)]


def _backups_are_safe(problem: Problem) -> bool:
    """Whether the tier penalties dominate every backup term, so one model is lexicographic.

    Coverage improves only through exchanges whose primary cost changes by at
    most ``B = 2·M·max arc cost + 2·max balance step`` (docs/model.md); backups
    change the objective by at most ``K = (households wanting one) ·
    max(backup_penalty, max arc cost)``. If every penalty step exceeds
    ``B + K``, trading coverage for backups never pays.
    """
    if not problem.has_backups:
        return True
    assert problem.household_backup is not None
    max_cost = int(problem.arc_cost.max()) if problem.num_arcs else 0
    limit = problem.member_load_limit()
    max_step = max(
        (int(problem.balance_step_costs(m, int(limit[m])).max(initial=0)) for m in range(problem.num_members)),
        default=0,
    )
    primary = 2 * max(problem.num_members, 1) * max_cost + 2 * max_step
    backups = int(problem.household_backup.sum()) * max(int(problem.backup_penalty), max_cost)
    penalties = [int(p) for p in problem.tier_penalty]
    step = min(penalties[0], *(b - a for a, b in itertools.pairwise(penalties)))
    return step > primary + backups


# --------------------------------------------------------------------------- state


@dataclass(slots=True)
class _State:
    """A plan in unit form: the chosen option of each unit and the backup of each household."""

    unit_option: np.ndarray  # int64[U], -1 uncovered
    backup_of: np.ndarray  # int64[H], -1 none

    def copy(self) -> _State:
        return _State(self.unit_option.copy(), self.backup_of.copy())


def _member_of(problem: Problem, units: _Units, state: _State) -> np.ndarray:
    member_of = np.full(problem.num_households, -1, dtype=np.int32)
    chosen = state.unit_option[units.household_unit]
    covered = chosen >= 0
    member_of[covered] = units.option_member[chosen[covered]]
    return member_of


def _loads(problem: Problem, units: _Units, state: _State) -> tuple[np.ndarray, np.ndarray]:
    """int64[M] households and int64[M] weight carried by each member."""
    M = problem.num_members
    used = state.unit_option[state.unit_option >= 0]
    members = units.option_member[used]
    load = np.bincount(members, weights=units.unit_size[units.option_unit[used]], minlength=M).astype(np.int64)
    weight = np.zeros(M, dtype=np.int64)
    if units.option_weight is not None:
        np.add.at(weight, members, units.option_weight[used])
    return load, weight


def _budgets(problem: Problem, units: _Units) -> np.ndarray | None:
    """int64[M]: the members' hour budgets (a copy), or None when the units carry no weights."""
    if units.option_weight is None or problem.member_budget is None:
        return None
    return problem.member_budget.astype(np.int64)


def _normal_load(problem: Problem, units: _Units, state: _State) -> np.ndarray:
    """int64[M]: households carried through options other than over options (the load of the tangent lines)."""
    used = state.unit_option[state.unit_option >= 0]
    used = used[~units.option_over[used]]
    return np.bincount(
        units.option_member[used], weights=units.unit_size[units.option_unit[used]], minlength=problem.num_members
    ).astype(np.int64)


def _charged(problem: Problem, units: _Units, state: _State) -> np.ndarray:
    """int64[M]: capacity used by each member (a unit over capacity uses all of it)."""
    used = state.unit_option[state.unit_option >= 0]
    return np.bincount(
        units.option_member[used], weights=units.option_charge[used], minlength=problem.num_members
    ).astype(np.int64)


# --------------------------------------------------------------------------- relaxations


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
        from . import flow
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


def _lp_relaxation(problem: Problem, units: _Units, time_limit: float | None) -> _Relaxation | None:
    """LP relaxation of the unit model (without backups) solved by HiGHS.

    Returns the Lagrangian bound ``y·b + Σ min(rc, 0)`` computed from the
    duals ``y`` (valid for any duals of the right sign, so HiGHS tolerances
    cannot make it wrong) and the reduced costs of options and of leaving a
    unit uncovered. ``None`` when scipy is missing or HiGHS does not finish.
    """
    try:
        import scipy.sparse as sp
        from scipy.optimize import linprog
    except ImportError:  # pragma: no cover - scipy is a dependency
        return None
    O, U, M = units.num_options, units.num_units, problem.num_members  # noqa: E741 - the sizes of the LP, named as in its matrix
    if O == 0 or U == 0:
        return None
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
    b_ub = np.concatenate(rhs)
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


# --------------------------------------------------------------------------- start


def _greedy_backups(problem: Problem, units: _Units, state: _State) -> _State:
    """Give covered households that want a backup the cheapest member with backup room (critical first).

    Only where the arc costs less than the missing-backup penalty it saves.
    """
    if not problem.has_backups:
        return state
    assert problem.household_backup is not None and problem.member_backup_capacity is not None
    member_of = _member_of(problem, units, state)
    backup_of = state.backup_of.copy()
    held = backup_of[backup_of >= 0]
    room = problem.member_backup_capacity.astype(np.int64) - np.bincount(held, minlength=problem.num_members)
    open_ = np.flatnonzero(problem.household_backup & (member_of >= 0) & (backup_of < 0))
    penalty = int(problem.backup_penalty)
    for h in open_[np.lexsort((open_, -problem.household_tier[open_].astype(np.int64)))].tolist():
        sl = problem.arcs_of(h)
        members = problem.arc_member[sl].astype(np.int64)
        cost = problem.arc_cost[sl]
        ok = (members != member_of[h]) & (room[members] > 0) & (cost < penalty)
        if ok.any():
            pick = int(np.flatnonzero(ok)[np.argmin(cost[ok])])
            backup_of[h] = members[pick]
            room[members[pick]] -= 1
    return _State(state.unit_option, backup_of)


def _state_from_members(problem: Problem, units: _Units, member_of: np.ndarray) -> _State | None:
    """Unit form of a household plan, or ``None`` when it splits a unit or uses a missing option."""
    U = units.num_units
    first = member_of[units.unit_households[units.unit_ptr[:-1]]] if U else np.zeros(0, np.int64)
    if (member_of != first[units.household_unit]).any():
        return None
    unit_option = np.full(U, -1, dtype=np.int64)
    covered = np.flatnonzero(first >= 0)
    if covered.size:
        key = units.option_unit * max(problem.num_members, 1) + units.option_member
        query = covered * max(problem.num_members, 1) + first[covered]
        pos = np.searchsorted(key, query)
        pos = np.minimum(pos, max(key.shape[0] - 1, 0))
        if key.shape[0] == 0 or (key[pos] != query).any():
            return None
        unit_option[covered] = pos
    return _State(unit_option, np.full(problem.num_households, -1, dtype=np.int64))


# --------------------------------------------------------------------------- model building


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

    # Options of free units, in unit order.
    starts, ends = units.option_ptr[free_units], units.option_ptr[free_units + 1]
    lengths = ends - starts
    options = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(int(lengths.sum()))
    options = options.astype(np.int64)
    current = state.unit_option
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
    keep |= current[units.option_unit[options]] == options
    options = options[keep]
    X = options.shape[0]
    option_unit = units.option_unit[options]
    x_hint = (current[option_unit] == options).astype(np.int64)
    x_first = b.new_vars(0, 1, X, x_hint)
    x_var = x_first + np.arange(X)

    # One member per unit; pinned and provably covered units must be served.
    forced = units.unit_pinned if ctx.forced is None else ctx.forced
    bounds = np.searchsorted(option_unit, free_units)
    bounds = np.r_[bounds, X]
    for i, u in enumerate(free_units.tolist()):
        lits = x_var[bounds[i] : bounds[i + 1]]
        if forced[u]:
            b.exactly_one(lits)
        elif lits.size > 1:
            b.at_most_one(lits)
    # A unit the model must cover never pays its penalty; leaving it out of the
    # coefficients keeps them small, which CP-SAT solves markedly faster.
    open_unit = ~forced[option_unit]
    coeff = units.option_cost[options] - np.where(open_unit, units.unit_penalty[option_unit], 0)
    offset = int(units.unit_penalty[free_units][~forced[free_units]].sum())

    # Members: capacity, budget and balance with the load of fixed units added.
    fixed = current.copy()
    fixed[free_units] = -1
    fixed_state = _State(fixed, state.backup_of)
    _, fixed_weight = _loads(problem, units, fixed_state)
    fixed_load = _normal_load(problem, units, fixed_state)
    fixed_charged = _charged(problem, units, fixed_state)
    option_member = units.option_member[options]
    # Over options carry their balance in their cost, so they add no load to the tangent lines.
    size = np.where(units.option_over[options], 0, units.unit_size[option_unit])
    charge = units.option_charge[options]
    if ctx.tables is not None:
        coeff = coeff + units.option_over_balance[options]
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
    # Balance of members outside the model stays as it is (constant, not needed).

    backup_households = np.zeros(0, dtype=np.int64)
    backup_arcs = np.zeros(0, dtype=np.int64)
    b_first = b.num_vars
    if ctx.backups:
        coeff, offset, backup_households, backup_arcs, b_first = _add_backups(
            ctx, b, state, free_mask, in_set, options, x_var, coeff, offset
        )

    if ctx.keep_coverage:
        # Lexicographic mode: coverage of each tier within the free units may not drop.
        covered_now = current[free_units] >= 0
        for t in range(NUM_TIERS):
            need = int(units.unit_tiers[free_units[covered_now], t].sum())
            weights = units.unit_tiers[option_unit, t]
            if need > 0:
                b.linear(x_var[weights > 0], weights[weights > 0], need, INT64_MAX)

    b.minimise(x_var, coeff)
    hint_objective = b.finish() + offset
    return _Sub(
        b, free_units, options, x_first, backup_households, backup_arcs, b_first, offset, hint_objective, balance_terms
    )


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


# --------------------------------------------------------------------------- solving


@dataclass(slots=True)
class _Result:
    status: str  # "optimal", "feasible", "infeasible", "unknown"
    objective: int | None  # model objective including offset
    bound: float | None
    values: np.ndarray | None
    wall_s: float


def _solve_model(
    ctx: _Context,
    sub: _Sub,
    *,
    wall: float | None,
    deterministic: float | None,
    workers: int,
    seed: int,
) -> _Result:
    """Run CP-SAT on a built model with a wall-clock and/or deterministic limit."""
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    p = solver.parameters
    p.random_seed = int(seed) % (2**31)
    # Work-limited mode: one worker, the only way CP-SAT's result depends on nothing but the model,
    # the seed and the deterministic limit (see the module docstring).
    p.num_workers = 1 if ctx.work_mode else max(1, int(workers))
    if wall is not None:
        p.max_time_in_seconds = max(float(wall), 0.01)
    if deterministic is not None:
        p.max_deterministic_time = max(float(deterministic), 0.001)
    p.log_to_stdout = False
    if ctx.log:
        p.log_search_progress = True
        solver.log_callback = search_logger.debug
    start = time.perf_counter()
    if ctx.stop.events:
        status = _solve_cancellable(solver, sub.builder.model, ctx.stop)
    else:
        status = solver.solve(sub.builder.model)
    wall_s = time.perf_counter() - start
    ctx.solves += 1
    name = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "feasible",
        cp_model.INFEASIBLE: "infeasible",
    }.get(status, "unknown")
    if status == cp_model.MODEL_INVALID:
        raise EngineError(f"CP-SAT rejected the model: {sub.builder.model.validate()}")
    if name in ("optimal", "feasible"):
        values = _tightened(sub, np.array(solver.response_proto.solution, dtype=np.int64))
        objective = int((sub.builder.objective_coeffs * values[sub.builder.objective_vars]).sum()) + sub.offset
        bound = float(solver.best_objective_bound) + sub.offset
        return _Result(name, objective, bound, values, wall_s)
    return _Result(name, None, None, None, wall_s)


CANCEL_POLL_SECONDS = 0.02
"""How often a running CP-SAT solve checks the stop's cancel flags."""


def _solve_cancellable(solver: cp_model.CpSolver, model: cp_model.CpModel, stop: Stop) -> cp_model.CpSolverStatus:
    """``solver.solve(model)``, interrupted as soon as one of ``stop``'s cancel flags is set."""
    finished = threading.Event()

    def watch() -> None:
        # Until the solve returns: a stop_search() sent before the search starts would be lost.
        while not finished.wait(CANCEL_POLL_SECONDS):
            if stop.cancelled():
                solver.stop_search()

    watcher = threading.Thread(target=watch, name="cpsat-cancel", daemon=True)
    watcher.start()
    try:
        return solver.solve(model)
    finally:
        finished.set()
        watcher.join()


def _tightened(sub: _Sub, values: np.ndarray) -> np.ndarray:
    """``values`` with every balance variable at its least value, the balance cost of its member's load.

    The tangent constraints only bound a balance variable from below; a
    feasible solution CP-SAT has not proven optimal may leave it above, and
    then its objective is more than the plan costs.
    """
    if not sub.balance_terms:
        return values
    values = values.copy()
    for term in sub.balance_terms:
        load = term.fixed_load + int((term.sizes * values[term.literals]).sum())
        values[term.var] = int(term.table[load])
    return values


def _apply(ctx: _Context, state: _State, sub: _Sub, values: np.ndarray) -> _State:
    """The state with the model's solution written over its free units and backups."""
    units = ctx.units
    new = state.copy()
    x = values[sub.x_first : sub.x_first + sub.options.shape[0]]
    new.unit_option[sub.units] = -1
    chosen = sub.options[x > 0]
    new.unit_option[units.option_unit[chosen]] = chosen
    if sub.backup_households.size:
        new.backup_of[sub.backup_households] = -1
        bvals = values[sub.b_first : sub.b_first + sub.backup_arcs.shape[0]]
        arcs = sub.backup_arcs[bvals > 0]
        new.backup_of[ctx.problem.arc_household[arcs]] = ctx.problem.arc_member[arcs]
    return new


def _total(ctx: _Context, state: _State) -> int:
    """Objective the context optimises: evaluate(), without backup terms while they are off."""
    member_of = _member_of(ctx.problem, ctx.units, state)
    if ctx.backups:
        return int(evaluate(ctx.problem, member_of, state.backup_of).total)
    plain = replace(ctx.problem, household_backup=None, member_backup_capacity=None, backup_penalty=0)
    return int(evaluate(plain, member_of).total)


# --------------------------------------------------------------------------- LNS


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
        import threading

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
        return _solve_model(
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


# --------------------------------------------------------------------------- driver


class CpsatEngine:
    """The :class:`~baohu_assign.engines.contract.Engine` of CP-SAT (whole model when small, LNS when large)."""

    name: Final = NAME

    def supports(self, problem: Problem) -> bool:
        """CP-SAT expresses every rule: groups, pins, budgets, balance and backups."""
        return True

    def solve(
        self,
        problem: Problem,
        settings: CpsatSettings,
        stop: Stop,
        *,
        seed: int,
        initial: Solution | None = None,
    ) -> Solution:
        """Solve ``problem`` with CP-SAT.

        Parameters
        ----------
        problem
            The compiled problem; every feature is supported.
        settings
            Threads; ``lns_rounds`` switches to the reproducible work-limited
            mode (see the module docstring).
        stop
            Deadline and cancel flags; in work-limited mode only a safety net.
        seed
            Seed of every random choice.
        initial
            A valid plan to start from (its plan is the hint); the result is never worse.
            ``None``: the greedy engine's plan.

        Returns
        -------
        Solution
            ``status`` is ``"optimal"`` only when proven for the full problem;
            ``bound`` is a proven lower bound on the objective of every valid plan;
            ``stopped`` when ``stop`` ended the search before a proof.

        Raises
        ------
        EngineUnavailable
            OR-Tools is missing.
        EngineError
            Pins cannot all hold, or CP-SAT rejects the model.
        """
        try:
            from ortools.sat.python import cp_model  # noqa: F401
        except ImportError as exc:  # pragma: no cover - exercised by patching the import
            raise EngineUnavailable(f"OR-Tools is not importable: {exc}") from exc
        start = time.perf_counter()
        if problem.num_households == 0:
            empty = np.zeros(0, dtype=np.int32)
            backup = empty.copy() if problem.household_backup is not None else None
            return Solution(empty, "optimal", 0, 0.0, NAME, 0.0, backup_of=backup)
        start_objective = None if initial is None else initial_objective(problem, initial)
        units = _build_units(problem)
        tables = _balance_tables(problem) if problem.balance_scale > 0 else None
        ctx = _Context(problem, units, tables, settings, seed, stop, work_mode=settings.work_limited)
        found = _search(ctx, initial, start)
        if isinstance(found, Solution):
            return found
        state, objective, bound = found
        member_of = _member_of(problem, units, state)
        backup_of = state.backup_of.astype(np.int32) if problem.household_backup is not None else None
        total = int(evaluate(problem, member_of, backup_of).total)
        if total != objective:
            raise EngineError(f"CP-SAT plan costs {total}, the model said {objective}")
        if initial is not None and start_objective is not None and start_objective < total:
            # Only the lexicographic backup phases can end above their start: the start stays.
            member_of, backup_of, total = initial.member_of, initial.backup_of, start_objective
        final_bound = None if not math.isfinite(bound) else float(min(math.ceil(bound - 1e-9), total))
        status = "optimal" if final_bound is not None and final_bound >= total else "feasible"
        logger.info(
            "cpsat: %s objective %d bound %s (%d CP-SAT solves, %.2f s)",
            status,
            total,
            final_bound,
            ctx.solves,
            time.perf_counter() - start,
        )
        return Solution(
            member_of=member_of,
            status=status,
            objective=total,
            bound=final_bound,
            engine=NAME,
            wall_s=time.perf_counter() - start,
            iterations=ctx.solves,
            backup_of=backup_of,
            stopped=status != "optimal" and stop.expired(),
        )


ENGINE = CpsatEngine()


def _search(ctx: _Context, initial: Solution | None, start: float) -> Solution | tuple[_State, int, float]:
    """Bounds, start, then the phases of :func:`_optimise`: (state, objective, bound), or the
    relaxation's plan as a :class:`Solution` when it is valid and optimal."""
    problem, units, settings = ctx.problem, ctx.units, ctx.settings
    end = ctx.stop.at
    rng = np.random.default_rng(ctx.seed)

    # Relaxation bound; when its plan is valid and nothing else is asked, it is optimal.
    bound: float = -math.inf
    flow_relaxed = _flow_relaxation(problem)
    start_state: _State | None = None
    if flow_relaxed is not None:
        flow_bound, flow_plan = flow_relaxed
        bound = float(flow_bound)
        start_state = _state_from_members(problem, units, flow_plan)
        if start_state is not None and not problem.load_allowed(flow_plan).all():
            start_state = None  # relaxed capacities (units over capacity allowed) let it break the rule
        if start_state is not None and _fits_budgets(problem, units, start_state) and not problem.has_backups:
            member_of = _member_of(problem, units, start_state)
            total = int(evaluate(problem, member_of).total)
            if total == flow_bound:
                return Solution(member_of, "optimal", total, float(total), NAME, time.perf_counter() - start, 1)
        if start_state is not None and not _fits_budgets(problem, units, start_state):
            start_state = None
    start_state = _start(ctx, start_state, initial)

    relaxation = None
    lp_limit = _phase_seconds(ctx, end, 0.2)
    if units.num_options <= LP_MAX_OPTIONS and _fits(ctx, lp_limit, units.num_options * LP_SECONDS_PER_OPTION):
        relaxation = _lp_relaxation(problem, units, None if lp_limit is None else max(lp_limit, 0.05))
        if relaxation is not None:
            bound = max(bound, float(relaxation.bound))
    score = (
        relaxation.option_rc.copy()
        if relaxation is not None and relaxation.option_rc is not None
        else units.option_cost.astype(np.float64)
    )

    safe = _backups_are_safe(problem)
    if problem.has_backups and not safe:
        # Lexicographic: coverage without backups first, then backups under coverage floors.
        state, objective, bound_primary, _ = _optimise(
            replace(ctx, backups=False),
            start_state,
            score,
            relaxation,
            rng,
            _split(ctx, end, 0.5),
            pool_workers=settings.workers,
            known_bound=bound,
        )
        ctx.keep_coverage = True
        ctx.backups = True
        objective = _total(ctx, state)
        state, objective, bound_full, _proven = _optimise(
            ctx, state, score, relaxation, rng, end, pool_workers=settings.workers
        )
        # Floors restrict the plans, so only the bound without backups holds for all of them.
        bound = max(bound, min(bound_primary, bound_full))
    else:
        ctx.backups = problem.has_backups
        state, objective, bound_model, _proven = _optimise(
            ctx, start_state, score, relaxation, rng, end, pool_workers=settings.workers, known_bound=bound
        )
        bound = max(bound, bound_model)
    return state, objective, bound


def _start(ctx: _Context, relaxed: _State | None, initial: Solution | None) -> _State:
    """The plan the search starts from: the better of ``initial`` and the relaxation's plan
    (the relaxation's on a tie), or without ``initial`` the greedy engine's plan within the stop."""
    problem, units = ctx.problem, ctx.units
    if initial is None:
        if relaxed is not None:
            return relaxed
        from .greedy import ENGINE as greedy

        initial = greedy.solve(problem, GreedySettings(), ctx.stop, seed=ctx.seed)
    given = _state_from_members(problem, units, np.asarray(initial.member_of, dtype=np.int64))
    if given is None:
        raise ValueError("initial splits a stairwell unit or uses a pair the problem does not allow")
    if initial.backup_of is not None:
        given.backup_of[:] = initial.backup_of
    if relaxed is None:
        return given
    relaxed_total = int(evaluate(problem, _member_of(problem, units, relaxed)).total)
    given_total = int(evaluate(problem, _member_of(problem, units, given)).total)
    return relaxed if relaxed_total <= given_total else given


def _solve_whole(problem: Problem, settings: CpsatSettings, stop: Stop, *, seed: int) -> Solution:
    """The whole model in one CP-SAT call, greedy's plan as hint: no shortcut, no LNS (a reference for tests)."""
    start = time.perf_counter()
    units = _build_units(problem)
    tables = _balance_tables(problem) if problem.balance_scale > 0 else None
    ctx = _Context(
        problem, units, tables, settings, seed, stop, backups=problem.has_backups, work_mode=settings.work_limited
    )
    state = _start(ctx, None, None)
    sub = _build(ctx, state, np.arange(units.num_units), None, None)
    result = _solve_model(
        ctx,
        sub,
        wall=stop.remaining(),
        deterministic=_whole_model_work(ctx, stop.at),
        workers=settings.workers,
        seed=seed,
    )
    if result.values is None or result.objective is None or result.bound is None:
        if result.status == "unknown":
            raise EngineUnavailable("CP-SAT found no plan in the time given")
        raise EngineError(f"CP-SAT found no plan ({result.status})")
    state = _apply(ctx, state, sub, result.values)
    member_of = _member_of(problem, units, state)
    backup_of = state.backup_of.astype(np.int32) if problem.household_backup is not None else None
    total = int(evaluate(problem, member_of, backup_of).total)
    if total != result.objective:
        raise EngineError(f"CP-SAT plan costs {total}, the model said {result.objective}")
    bound = float(min(math.ceil(result.bound - 1e-9), total))
    status = "optimal" if result.status == "optimal" else "feasible"
    return Solution(member_of, status, total, bound, NAME, time.perf_counter() - start, 1, backup_of)


def _whole_model_work(ctx: _Context, end: float | None) -> float | None:
    """Deterministic time limit of a whole-model solve: the LNS's work in work-limited mode."""
    if ctx.settings.deterministic_time is not None:
        return ctx.settings.deterministic_time
    if ctx.settings.lns_rounds is not None:
        return max(ctx.settings.lns_rounds, 1) * LNS_DETERMINISTIC_TIME
    return UNLIMITED_DETERMINISTIC_TIME if end is None else None


def _fits_budgets(problem: Problem, units: _Units, state: _State) -> bool:
    if units.option_weight is None or problem.member_budget is None:
        return True
    _, weight = _loads(problem, units, state)
    return bool((weight <= problem.member_budget).all())


def _split(ctx: _Context, end: float | None, share: float) -> float | None:
    """A deadline ``share`` of the way from now to ``end`` (``end`` itself in work-limited mode)."""
    seconds = _phase_seconds(ctx, end, share)
    return None if seconds is None else now() + seconds


def _phase_seconds(ctx: _Context, end: float | None, share: float) -> float | None:
    """Wall-clock seconds a phase may take: ``share`` of the time left before ``end``.

    In work-limited mode the deadline is only a safety net: every phase may
    use all the time left, so the work budget, not the clock, ends it, and a
    phase the clock does stop has run up to the deadline (which ``solve()``
    can then see has passed).
    """
    if ctx.stop.cancelled():
        return 0.0
    if end is None:
        return None
    left = max(end - now(), 0.0)
    return left if ctx.work_mode else share * left


def _fits(ctx: _Context, seconds: float | None, needed: float) -> bool:
    """Whether a phase needing about ``needed`` seconds may start with ``seconds`` for it.

    In work-limited mode the work budget ends a phase and the clock is only a
    safety net: the phase runs unless the deadline has already passed.
    """
    if seconds is None:
        return True
    return seconds > 0.0 if ctx.work_mode else seconds >= needed


def _whole_model_seconds(options: int) -> float:
    """About how long CP-SAT needs to load a whole model of ``options`` options."""
    return max(0.05, options * WHOLE_MODEL_SECONDS_PER_OPTION)


def _optimise(
    ctx: _Context,
    start_state: _State,
    score: np.ndarray,
    relaxation: _Relaxation | None,
    rng: np.random.Generator,
    end: float | None,
    *,
    pool_workers: int,
    known_bound: float = -math.inf,
) -> tuple[_State, int, float, bool]:
    """From the start, whole-model or core solve, LNS, final whole-model solve.

    Returns (state, objective, bound, proven) where ``bound`` is valid for
    every plan the context allows (floors included).
    """
    problem, units, settings = ctx.problem, ctx.units, ctx.settings
    state = start_state
    if ctx.backups:
        state = _greedy_backups(problem, units, state)
    objective = _total(ctx, state)
    logger.debug("start: objective %d", objective)
    bound = -math.inf
    proven = False

    hood: _Neighbourhoods | None = None

    def refix() -> None:
        if relaxation is not None:
            ctx.allowed, ctx.forced = relaxation.fixing(units, objective, state)
        else:
            ctx.allowed, ctx.forced = None, units.unit_pinned.copy()
        if hood is not None:
            hood.restrict(ctx.allowed)

    def remaining() -> float | None:
        if ctx.stop.cancelled():
            return 0.0
        return None if end is None else max(end - now(), 0.0)

    def full_solve(limit: float | None, core: np.ndarray | None) -> None:
        nonlocal state, objective, bound, proven
        allowed = ctx.allowed
        if core is not None:
            allowed = core if allowed is None else (core & allowed)
        sub = _build(ctx, state, np.arange(units.num_units), None, allowed)
        if core is not None and relaxation is not None and relaxation.uncovered_rc is not None:
            missing = (state.unit_option < 0) & (relaxation.uncovered_rc > 0) & (np.diff(units.option_ptr) > 0)
            if missing.any():
                # A start that leaves out units the LP covers misleads the search more than it helps.
                sub.builder.proto.clear_solution_hint()
        deterministic = _whole_model_work(ctx, end)
        result = _solve_model(
            ctx, sub, wall=limit, deterministic=deterministic, workers=settings.workers, seed=ctx.seed
        )
        logger.debug(
            "%s model: %d options, %s, objective %s (incumbent %d), bound %s, %.2f s",
            "core" if core is not None else "whole",
            sub.options.shape[0],
            result.status,
            result.objective,
            objective,
            result.bound,
            result.wall_s,
        )
        if result.status == "infeasible" and core is None:
            raise EngineError("no plan satisfies the pins and capacities")
        if result.values is not None and result.objective is not None and result.objective <= objective:
            state = _apply(ctx, state, sub, result.values)
            objective = result.objective
        if core is None and result.bound is not None:
            # The pruned model contains the incumbent, so its bound holds for every plan.
            bound = max(bound, min(result.bound, objective))
            proven = proven or result.status == "optimal"

    def safe_count() -> int:
        return units.num_options if ctx.allowed is None else int(ctx.allowed.sum())

    def settled() -> bool:
        return proven or objective <= known_bound

    refix()
    if safe_count() > SMALL_MODEL_OPTIONS and safe_count() <= FULL_MODEL_OPTIONS:
        core = None
        if relaxation is not None and relaxation.option_rc is not None:
            # A core of each unit's best options gives a strong start quickly.
            core = (_option_rank(units, score) < CORE_RANK) | (score <= 0)
        limit = _phase_seconds(ctx, end, CORE_SHARE)
        if _fits(ctx, limit, _whole_model_seconds(safe_count() if core is None else int(core.sum()))):
            full_solve(limit, core)
            refix()
    if settled():
        return state, objective, bound, True
    if safe_count() <= SMALL_MODEL_OPTIONS:
        # Small (possibly after reduced-cost fixing): the whole model often proves optimality outright.
        limit = _phase_seconds(ctx, end, 0.5)
        if _fits(ctx, limit, _whole_model_seconds(safe_count())):
            full_solve(limit, None)
            refix()
            if settled():
                return state, objective, bound, True
    allowed_count = safe_count()

    hood = _Neighbourhoods(ctx, score, relaxation, rng)
    final_share = FINAL_SHARE if allowed_count <= FULL_MODEL_OPTIONS else 0.0
    lns_end = _split(ctx, end, 1.0 - final_share)
    before = objective
    state, objective, done = _lns(
        ctx,
        state,
        objective,
        hood,
        end=lns_end,
        rounds=settings.lns_rounds,
        threads=min(LNS_THREADS, pool_workers),
        seed=ctx.seed,
        known_bound=max(known_bound, bound),
    )
    logger.debug("LNS: %d neighbourhoods, objective %d -> %d, target %.0f units", done, before, objective, hood.target)
    refix()
    if settled():
        return state, objective, bound, True
    # Without a wall-clock limit only small models are solved whole (large ones might never end).
    final_size = SMALL_MODEL_OPTIONS if end is None and not ctx.work_mode else FULL_MODEL_OPTIONS
    final_count = safe_count()
    rem = remaining()
    # CP-SAT needs about this long to even load a model of this size; below it the solve is wasted.
    # Work-limited mode never lets the clock make that choice: the solve runs and the deadline stops it.
    enough = _whole_model_seconds(final_count) if not ctx.work_mode else 0.0
    if final_count <= final_size and (rem is None or rem > enough):
        full_solve(rem, None)
    return state, objective, bound, proven
