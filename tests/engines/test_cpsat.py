"""The CP-SAT engine on small random Problems: rules, optimality, bounds, determinism."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from baohu_assign.engines import cpsat, flow
from baohu_assign.engines.contract import CpsatSettings
from baohu_assign.engines.stop import Stop
from baohu_assign.model.objective import evaluate, tier_penalties
from baohu_assign.model.problem import Problem, csr_pointer
from baohu_assign.model.solution import violations

pytest.importorskip("ortools")

WORK = CpsatSettings(lns_rounds=5)
"""Work-limited settings: reproducible and quick on the small cases."""


def run(problem: Problem, settings: CpsatSettings = WORK, *, seed: int = 0, stop: Stop | None = None):
    return cpsat.ENGINE.solve(problem, settings, stop or Stop(), seed=seed)


def random_problem(
    seed: int,
    *,
    households: int,
    members: int,
    density: float = 0.7,
    groups: bool = False,
    budgets: bool = False,
    pins: bool = False,
    backups: bool = False,
    balance: float = 0.0,
    safe_backups: bool = True,
    max_capacity: int = 3,
) -> Problem:
    """A random Problem built straight from numpy, honouring what the compiler guarantees.

    Pins get a single arc to a member with room; with ``safe_backups`` the
    tier penalties also dominate every backup term.
    """
    rng = np.random.default_rng(seed)
    H, M = households, members
    eligible = rng.random((H, M)) < density
    capacity = rng.integers(0, max_capacity + 1, M).astype(np.int32)
    pin = np.full(H, -1, dtype=np.int32)
    if pins:
        room = capacity.astype(np.int64).copy()
        for h in rng.permutation(H)[: max(1, H // 3)]:
            choices = np.flatnonzero(eligible[h] & (room > 0))
            if choices.size:
                m = int(rng.choice(choices))
                pin[h] = m
                room[m] -= 1
                eligible[h] = False
                eligible[h, m] = True
    group = np.full(H, -1, dtype=np.int32)
    if groups:
        free = np.flatnonzero(pin < 0)
        count = 0
        for _g, chunk in enumerate(np.array_split(rng.permutation(free), max(1, free.size // 2))):
            if chunk.size >= 2 and rng.random() < 0.7:
                group[chunk] = count
                count += 1
    hh, mm = np.nonzero(eligible)
    arc_household, arc_member = hh.astype(np.int32), mm.astype(np.int32)
    A = arc_household.shape[0]
    visits = rng.choice([1.0, 3.0, 14.0], H)
    distance = rng.integers(50, 900, A).astype(np.float64)
    cost = np.rint(visits[arc_household] * distance).astype(np.int64)
    tier = rng.integers(0, 3, H).astype(np.int8)
    step = Problem.balance_step_costs
    problem = Problem(
        objective="balanced" if balance > 0 else "distance",
        household_tier=tier,
        household_visits=visits,
        household_group=group,
        household_pin=pin,
        household_current=np.full(H, -1, dtype=np.int32),
        member_capacity=capacity,
        arc_household=arc_household,
        arc_member=arc_member,
        arc_distance_m=distance,
        arc_cost=cost,
        household_arc_ptr=csr_pointer(arc_household, H),
        balance_scale=float(balance),
        tier_penalty=np.zeros(3, dtype=np.int64),
        churn_penalty=0,
    )
    max_step = max((int(step(problem, m).max(initial=0)) for m in range(M)), default=0)
    penalty = tier_penalties(M, int(cost.max(initial=0)), max_step)
    extra: dict[str, object] = {}
    if budgets:
        extra["arc_weight"] = rng.integers(1, 6, A).astype(np.int64)
        extra["member_budget"] = rng.integers(0, 4 * max_capacity, M).astype(np.int64)
        if pins:
            # The compiler keeps pins feasible; give pinned arcs a weight that fits.
            for h in np.flatnonzero(pin >= 0):
                a = problem.arc_index(int(h), int(pin[h]))
                extra["arc_weight"][a] = 0  # type: ignore[index]
    if backups:
        wants = rng.random(H) < 0.6
        wants[: min(2, H)] = True
        extra["household_backup"] = wants
        extra["member_backup_capacity"] = rng.integers(0, 3, M).astype(np.int32)
        extra["backup_penalty"] = int(cost.max(initial=0)) * 3 + 1
        if safe_backups:
            room = int(np.asarray(extra["household_backup"]).sum()) * max(
                int(extra["backup_penalty"]), int(cost.max(initial=0))
            )
            penalty = penalty + room * np.array([1, 2, 3], dtype=np.int64)
    problem = replace(problem, tier_penalty=penalty, **extra)
    problem.validate()
    return problem


def brute_force(problem: Problem) -> int:
    """Smallest evaluate() total over every valid plan (primary and backups)."""
    H = problem.num_households
    choices = [[-1, *problem.arc_member[problem.arcs_of(h)].tolist()] for h in range(H)]
    best = None
    wants = np.flatnonzero(problem.household_backup) if problem.household_backup is not None else np.zeros(0, np.int64)
    for plan in itertools.product(*choices):
        member_of = np.array(plan, dtype=np.int64)
        if violations(problem, member_of):
            continue
        if problem.household_backup is None:
            total = evaluate(problem, member_of).total
        else:
            total = None
            backup_choices = [
                [-1, *[m for m in problem.arc_member[problem.arcs_of(h)].tolist() if m != member_of[h]]]
                if member_of[h] >= 0
                else [-1]
                for h in wants
            ]
            for backups in itertools.product(*backup_choices):
                backup_of = np.full(H, -1, dtype=np.int64)
                backup_of[wants] = backups
                if violations(problem, member_of, backup_of):
                    continue
                value = evaluate(problem, member_of, backup_of).total
                total = value if total is None else min(total, value)
            assert total is not None
        best = total if best is None else min(best, total)
    assert best is not None, "a plan with nobody covered is always valid"
    return int(best)


def check(problem: Problem, settings: CpsatSettings = WORK, *, seed: int = 0, stop: Stop | None = None):
    solution = run(problem, settings, seed=seed, stop=stop)
    assert violations(problem, solution.member_of, solution.backup_of) == []
    assert solution.objective == evaluate(problem, solution.member_of, solution.backup_of).total
    assert solution.bound is None or solution.bound <= solution.objective
    assert solution.engine == "cpsat"
    if problem.has_backups:
        assert solution.backup_of is not None
    return solution


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force_with_groups_budgets_pins(seed):
    """Tiny cases (≤ 6 households, ≤ 3 members): CP-SAT proves the brute-force optimum."""
    problem = random_problem(
        seed,
        households=6,
        members=3,
        groups=seed % 2 == 0,
        budgets=seed % 3 != 0,
        pins=seed % 4 < 2,
        balance=40.0 if seed % 5 == 0 else 0.0,
    )
    solution = check(problem)
    assert solution.status == "optimal"
    assert solution.objective == brute_force(problem)
    assert solution.bound == solution.objective


@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force_with_backups(seed):
    """Backups (penalties dominating them): optimal, never the primary, within backup capacity."""
    problem = random_problem(seed, households=4, members=3, backups=True, groups=seed % 2 == 1, budgets=seed % 3 == 0)
    assert cpsat.units._backups_are_safe(problem)
    solution = check(problem)
    assert solution.status == "optimal"
    assert solution.objective == brute_force(problem)


@pytest.mark.parametrize("seed", range(4))
def test_backups_never_displace_coverage(seed):
    """With penalties too small to dominate backups, coverage per tier still matches the plan without backups."""
    problem = random_problem(seed, households=5, members=3, backups=True, safe_backups=False)
    problem = replace(problem, backup_penalty=int(problem.tier_penalty[2]) * 10)
    assert not cpsat.units._backups_are_safe(problem)
    solution = check(problem)
    plain = replace(problem, household_backup=None, member_backup_capacity=None, backup_penalty=0)
    best_primary = brute_force(plain)
    got = evaluate(plain, solution.member_of)
    reference = run(plain)
    assert reference.objective == best_primary
    assert got.uncovered == evaluate(plain, reference.member_of).uncovered


@pytest.mark.parametrize("seed", range(6))
def test_equals_flow_without_groups_and_budgets(seed):
    """Group-free, budget-free: the same optimum as min-cost flow, also from the CP-SAT model itself."""
    problem = random_problem(seed, households=30, members=6, density=0.5, pins=True, balance=60.0 * (seed % 2))
    expected = flow.ENGINE.solve(problem, None, Stop(), seed=0).objective
    assert check(problem).objective == expected
    whole = cpsat.phases._solve_whole(problem, WORK, Stop(), seed=0)
    assert violations(problem, whole.member_of) == []
    assert whole.status == "optimal" and whole.objective == expected


def test_larger_problem_runs_lns_and_stays_valid():
    """A problem beyond the whole-model size goes through the core solve and LNS; the plan stays valid."""
    problem = random_problem(
        3, households=400, members=40, density=0.25, groups=True, budgets=True, pins=True, max_capacity=15
    )
    solution = check(problem, CpsatSettings(workers=1, lns_rounds=8), seed=1)
    assert solution.iterations > 2


def test_backups_in_lns_stay_valid():
    """Backups through the neighbourhood models (one at a time) stay valid."""
    problem = random_problem(5, households=300, members=30, density=0.2, backups=True, groups=True, max_capacity=15)
    check(problem, CpsatSettings(lns_rounds=6), seed=2)


@pytest.mark.parametrize("backups", [False, True], ids=["budgets", "backups"])
def test_same_seed_same_plan_whatever_num_workers(backups):
    """Work-limited mode: the same seed gives the identical plan and bound on one, two or three threads."""
    problem = random_problem(
        7, households=400, members=40, density=0.25, groups=True, budgets=not backups, backups=backups, max_capacity=15
    )
    first = run(problem, CpsatSettings(workers=2, lns_rounds=3), seed=11)
    assert first.iterations > 2  # the LNS ran, so its rounds had to be merged in a fixed order
    for workers in (1, 3):
        again = run(problem, CpsatSettings(workers=workers, lns_rounds=3), seed=11)
        assert np.array_equal(again.member_of, first.member_of)
        if backups:
            assert np.array_equal(again.backup_of, first.backup_of)
        assert again.objective == first.objective and again.bound == first.bound


def test_wall_clock_mode_stays_valid():
    """Under a wall-clock limit (two LNS threads) the plan is valid and the bound holds."""
    problem = random_problem(9, households=500, members=50, density=0.3, groups=True, budgets=True, max_capacity=15)
    solution = check(problem, CpsatSettings(), stop=Stop.after(1.0))
    assert solution.status in ("optimal", "feasible")


def test_empty_and_unservable():
    """No households; nobody with capacity; a group larger than every capacity: valid and optimal."""
    empty = random_problem(0, households=1, members=1)
    empty = replace(
        empty,
        household_tier=empty.household_tier[:0],
        household_visits=empty.household_visits[:0],
        household_group=empty.household_group[:0],
        household_pin=empty.household_pin[:0],
        household_current=empty.household_current[:0],
        arc_household=empty.arc_household[:0],
        arc_member=empty.arc_member[:0],
        arc_distance_m=empty.arc_distance_m[:0],
        arc_cost=empty.arc_cost[:0],
        household_arc_ptr=np.zeros(1, dtype=np.int64),
    )
    assert run(empty).status == "optimal"
    nobody = random_problem(1, households=5, members=2)
    nobody = replace(nobody, member_capacity=np.zeros(2, dtype=np.int32), household_pin=np.full(5, -1, np.int32))
    solution = check(nobody)
    assert (solution.member_of == -1).all() and solution.status == "optimal"
    big_group = random_problem(2, households=5, members=2, density=1.0)
    big_group = replace(
        big_group,
        household_group=np.zeros(5, dtype=np.int32),
        household_pin=np.full(5, -1, np.int32),
        member_capacity=np.array([4, 3], dtype=np.int32),
    )
    solution = check(big_group)
    assert (solution.member_of == -1).all() and solution.status == "optimal"
