"""The CP-SAT engine on small random Problems: rules, optimality, bounds, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from baohu_assign.engines import cpsat, flow
from baohu_assign.engines.contract import CpsatSettings
from baohu_assign.engines.stop import Stop
from baohu_assign.model.objective import evaluate
from baohu_assign.model.problem import Problem
from baohu_assign.model.solution import violations
from oracles import problem_brute_force as brute_force
from strategies import random_problem

pytest.importorskip("ortools")

WORK = CpsatSettings(lns_rounds=5)
"""Work-limited settings: reproducible and quick on the small cases."""


def run(problem: Problem, settings: CpsatSettings = WORK, *, seed: int = 0, stop: Stop | None = None):
    return cpsat.ENGINE.solve(problem, settings, stop or Stop(), seed=seed)


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
def test_equals_flow_without_groups_and_budgets(seed, monkeypatch):
    """Group-free, budget-free: the same optimum as min-cost flow, also from the CP-SAT model itself."""
    problem = random_problem(seed, households=30, members=6, density=0.5, pins=True, balance=60.0 * (seed % 2))
    expected = flow.ENGINE.solve(problem, None, Stop(), seed=0).objective
    assert check(problem).objective == expected
    # Without the flow and LP relaxations nothing proves the greedy start optimal: the CP-SAT model must.
    monkeypatch.setattr(flow, "fits_cost_range", lambda _problem: False)
    monkeypatch.setattr(cpsat.phases, "LP_MAX_OPTIONS", -1)
    whole = check(problem)
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


@pytest.mark.parametrize("seed", range(10))
def test_branch_and_cut_phase_finds_the_brute_force_optimum(seed):
    """HiGHS on the unpruned unit model (groups, pins, budgets): a valid plan of the brute-force optimum, and a
    bound no higher than it."""
    from baohu_assign.engines.cpsat.mip import _mip_improve
    from baohu_assign.engines.cpsat.model import _Context
    from baohu_assign.engines.cpsat.state import _member_of, _State
    from baohu_assign.engines.cpsat.units import _build_units

    problem = random_problem(
        seed, households=6, members=3, groups=seed % 2 == 0, budgets=seed % 3 != 0, pins=seed % 4 < 2
    )
    units = _build_units(problem)
    ctx = _Context(problem, units, None, WORK, seed, Stop())
    optimum = brute_force(problem)
    pinned_only = np.where(units.unit_pinned, units.option_ptr[:-1], -1)  # a valid start: pins only
    start = _State(pinned_only, np.full(problem.num_households, -1, dtype=np.int64))
    found = _mip_improve(ctx, start, int(evaluate(problem, _member_of(problem, units, start)).total), 10.0)
    assert found.state is not None and found.proven
    member_of = _member_of(problem, units, found.state)
    assert violations(problem, member_of) == []
    assert evaluate(problem, member_of).total == optimum
    assert found.bound is not None and found.bound <= optimum


@pytest.mark.parametrize("max_gap", [-1.0, float("inf")], ids=["never", "always"])
def test_branch_and_cut_runs_only_within_its_gap(max_gap, monkeypatch):
    """Under a wall-clock limit HiGHS's phase runs exactly when the plan after the first solve is within
    ``MIP_MAX_GAP`` of the bound (d05100 gets there, 0.2 % from it); either way the plan is valid."""
    from pathlib import Path

    from baohu_assign.datasets.gap import read_instance, to_problem
    from baohu_assign.engines.cpsat import mip, phases

    calls = []
    real = mip._mip_improve

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(phases, "MIP_MAX_GAP", max_gap)
    monkeypatch.setattr(mip, "_mip_improve", spy)
    path = Path(__file__).parents[2] / "benchmarks" / "data" / "gap" / "instances" / "chu1997" / "d05100"
    problem = to_problem(read_instance(path))
    solution = check(problem, CpsatSettings(), stop=Stop.after(3.0))
    assert solution.status == "feasible"  # not proven in 3 s, so the search reached its last phase
    assert bool(calls) == (max_gap > 0)


def test_relative_gap():
    from baohu_assign.engines.cpsat.phases import _gap

    assert _gap(1010, 1000.0) == pytest.approx(0.01)
    assert _gap(5, 0.0) == 5.0  # a zero bound: the gap in cost units
    assert _gap(7, float("-inf")) == float("inf")
