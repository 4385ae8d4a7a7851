"""The greedy engine against independent oracles on Problems built directly with numpy.

Oracles: networkx max-flow for the lexicographic coverage per tier,
scipy's linear_sum_assignment on households × member slots for the exact
optimum without groups, and enumeration for tiny problems (groups included).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baohu_assign.engines import greedy
from baohu_assign.engines.contract import GreedySettings
from baohu_assign.engines.stop import Stop, now
from baohu_assign.model.objective import evaluate, member_loads
from baohu_assign.model.problem import Problem, csr_pointer
from baohu_assign.model.solution import violations
from oracles import assignment_optimum, coverage_oracle, covered_per_tier, problem_brute_force
from strategies import geometric_problem


def solve_greedy(problem: Problem, settings: GreedySettings | None = None, stop: Stop | None = None, seed: int = 0):
    return greedy.ENGINE.solve(problem, settings or GreedySettings(), stop or Stop(), seed=seed)


# ----------------------------------------------------------------- oracles


def brute_force(problem: Problem) -> tuple[int, tuple[int, int, int], int]:
    """The smallest objective, the lexicographically best coverage (most critical first, then
    elevated, then normal; given per tier as :func:`covered_per_tier` does) and the smallest
    objective with that coverage, by enumeration (tiny problems only)."""
    best = problem_brute_force(problem)
    most = problem_brute_force(
        problem, lambda member_of, total: ([-n for n in covered_per_tier(problem, member_of)][::-1], total)
    )
    return best, tuple(-n for n in most[0][::-1]), most[1]


def check_valid(problem: Problem, solution) -> None:
    assert violations(problem, solution.member_of) == []
    assert solution.member_of.dtype == np.int32
    assert solution.member_of.shape == (problem.num_households,)
    assert solution.engine == "greedy" and solution.status == "feasible" and solution.bound is None
    assert solution.objective == evaluate(problem, solution.member_of).total


def penalty_of(problem: Problem, member_of: np.ndarray) -> int:
    """Cost of the households ``member_of`` leaves uncovered."""
    return int(problem.uncovered_cost()[np.asarray(member_of) < 0].sum())


def _problem_with(base: Problem, **changes) -> Problem:
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(changes)
    return Problem(**fields)


# ------------------------------------------------------------------- tests

sizes = st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 40), st.integers(0, 12))


@settings(max_examples=60, deadline=None)
@given(sizes, st.booleans(), st.booleans(), st.sampled_from([0.0, 0.0, 500.0]))
def test_rules_hold_on_random_problems(case, groups, pins, balance):
    """Eligibility, capacity, whole groups and pins hold whatever the problem."""
    seed, H, M = case
    problem = geometric_problem(seed, H, M, groups=groups, pins=pins, balance=balance)
    solution = solve_greedy(problem, seed=seed % 7)
    check_valid(problem, solution)
    assert (member_loads(problem, solution.member_of) <= problem.member_capacity).all()


@settings(max_examples=60, deadline=None)
@given(sizes, st.booleans(), st.sampled_from([0.0, 400.0]), st.sampled_from([(0, 2), (0, 4), (1, 6)]), st.booleans())
def test_coverage_is_lexicographically_maximal_without_groups(case, pins, balance, capacity, current):
    """Critical first, then elevated, then normal: each count equals the max-flow oracle."""
    seed, H, M = case
    problem = geometric_problem(
        seed, H, M, pins=pins, balance=balance, capacity=capacity, tier_p=(0.5, 0.3, 0.2), current=current
    )
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert covered_per_tier(problem, solution.member_of) == coverage_oracle(problem)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 7), st.integers(0, 3), st.booleans(), st.sampled_from([0.0, 300.0]))
def test_tiny_problems_reach_the_brute_force_optimum(seed, H, M, pins, balance):
    """Without groups the local search stops only at the optimum: equal to enumeration."""
    problem = geometric_problem(seed, H, M, pins=pins, balance=balance, side_m=800.0, radius_m=700.0, capacity=(0, 3))
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    best, coverage, best_at_coverage = brute_force(problem)
    assert solution.objective == best
    assert covered_per_tier(problem, solution.member_of) == coverage and best == best_at_coverage


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 7), st.integers(1, 3), st.booleans(), st.sampled_from([0.0, 300.0]))
def test_tiny_problems_with_groups_near_the_brute_force_optimum(seed, H, M, pins, balance):
    """With groups the engine is a heuristic: valid, and on these tiny problems it covers as
    many households per tier (critical first) as enumeration finds, at a cost close to the
    cheapest with that coverage."""
    problem = geometric_problem(
        seed, H, M, groups=True, pins=pins, balance=balance, side_m=800.0, radius_m=700.0, capacity=(1, 5)
    )
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    _, coverage, best = brute_force(problem)
    assert covered_per_tier(problem, solution.member_of) == coverage
    penalty = penalty_of(problem, solution.member_of)
    assert solution.objective >= best
    assert solution.objective - penalty <= 1.5 * (best - penalty)


@settings(max_examples=60, deadline=None)
@given(sizes, st.booleans(), st.sampled_from([0.0, 500.0]), st.booleans())
def test_small_problems_match_the_assignment_optimum(case, pins, balance, current):
    """Objective equal to the linear-assignment optimum (coverage and cost) without groups,
    with churn costs (min-churn) or without."""
    seed, H, M = case
    problem = geometric_problem(seed, H, M, pins=pins, balance=balance, capacity=(0, 5), current=current)
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert solution.objective == assignment_optimum(problem)


def realistic_branch(seed: int, households: int = 300, members: int = 50, **kwargs) -> Problem:
    """A village: households over 2.5 km, every member within 2 km eligible, capacities 4–10."""
    kwargs.setdefault("side_m", 2500.0)
    kwargs.setdefault("radius_m", 2000.0)
    kwargs.setdefault("capacity", (4, 10))
    return geometric_problem(seed, households, members, **kwargs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_medium_distance_within_three_percent_of_optimum(seed):
    """≈300 households, 50 members, distance objective: travel ≤ 1.03 × the assignment optimum."""
    problem = realistic_branch(seed)
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    optimum = assignment_optimum(problem)
    penalty = penalty_of(problem, solution.member_of)
    assert solution.objective >= optimum
    assert solution.objective - penalty <= 1.03 * (optimum - penalty)
    assert solution.objective == optimum  # negative-cycle cancelling is exact without groups


def test_medium_short_of_capacity_keeps_the_critical_covered():
    """Capacity well short of households: coverage per tier equals the oracle, cost the optimum."""
    problem = realistic_branch(4, households=300, members=30, capacity=(3, 7), tier_p=(0.6, 0.25, 0.15))
    assert problem.member_capacity.sum() < problem.num_households
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert covered_per_tier(problem, solution.member_of) == coverage_oracle(problem)
    assert solution.objective == assignment_optimum(problem)


def test_medium_balanced_equals_optimum():
    problem = realistic_branch(5, balance=2000.0)
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert solution.objective == assignment_optimum(problem)


def test_units_of_equal_size_are_placed_well():
    """Stairwell-like units of 12 on members of capacity 12 (or less): full coverage of what fits."""
    rng = np.random.default_rng(7)
    H, M = 12 * 20, 24
    base = geometric_problem(7, H, M, side_m=1200.0, radius_m=2000.0, capacity=(12, 12))
    group = np.repeat(np.arange(20), 12).astype(np.int32)
    cap = np.where(rng.random(M) < 0.2, 4, 12).astype(np.int32)
    problem = _problem_with(base, household_group=group, member_capacity=cap)
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    fits = int(min((cap >= 12).sum(), 20))
    assert int((solution.member_of >= 0).sum()) == 12 * fits


def test_same_seed_same_answer():
    problem = realistic_branch(11, households=200, members=35, groups=True, pins=True, balance=300.0)
    first = solve_greedy(problem, seed=3)
    second = solve_greedy(problem, seed=3)
    assert np.array_equal(first.member_of, second.member_of)
    assert first.objective == second.objective and first.iterations == second.iterations


def test_iteration_budget_and_deadline_keep_rules_and_coverage():
    """No local search at all (budget 0, or an expired deadline): still valid and maximal coverage."""
    problem = realistic_branch(12, households=250, members=30, capacity=(3, 8))
    full = solve_greedy(problem)
    for limit, stop in ((GreedySettings(max_moves=0), Stop()), (GreedySettings(), Stop(now() - 1.0))):
        solution = solve_greedy(problem, limit, stop)
        check_valid(problem, solution)
        assert solution.iterations == 0
        assert covered_per_tier(problem, solution.member_of) == covered_per_tier(problem, full.member_of)
        assert solution.objective >= full.objective
    limited = solve_greedy(problem, GreedySettings(max_moves=3))
    check_valid(problem, limited)
    assert limited.iterations <= 3


@pytest.mark.parametrize(
    "H, M, capacity, radius",
    [(0, 0, (0, 3), 600.0), (0, 5, (0, 3), 600.0), (6, 0, (0, 3), 600.0), (6, 4, (0, 3), 1.0), (8, 4, (0, 0), 600.0)],
    ids=["empty", "no-households", "no-members", "no-arcs", "zero-capacity"],
)
def test_edge_cases(H, M, capacity, radius):
    problem = geometric_problem(3, H, M, capacity=capacity, radius_m=radius)
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    if M == 0 or problem.num_arcs == 0 or capacity[1] == 0:
        assert (solution.member_of == -1).all()
        assert solution.iterations == 0


def test_group_larger_than_every_capacity_stays_uncovered():
    base = geometric_problem(5, 9, 3, side_m=100.0, radius_m=1000.0, capacity=(4, 4))
    group = np.array([0, 0, 0, 0, 0, -1, -1, -1, -1], dtype=np.int32)
    problem = _problem_with(base, household_group=group)
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert (solution.member_of[:5] == -1).all()
    assert (solution.member_of[5:] >= 0).all()


def test_household_without_arcs_stays_uncovered():
    base = geometric_problem(6, 5, 2, side_m=100.0, radius_m=1000.0, capacity=(5, 5))
    keep = base.arc_household != 2
    problem = _problem_with(
        base,
        arc_household=base.arc_household[keep],
        arc_member=base.arc_member[keep],
        arc_distance_m=base.arc_distance_m[keep],
        arc_cost=base.arc_cost[keep],
        household_arc_ptr=csr_pointer(base.arc_household[keep], 5),
    )
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert solution.member_of[2] == -1 and (np.delete(solution.member_of, 2) >= 0).all()


def test_critical_single_keeps_its_place_against_a_normal_group():
    """A critical household competing with a normal group for the last places keeps its place."""
    base = geometric_problem(8, 4, 1, side_m=10.0, radius_m=100.0, capacity=(3, 3))
    problem = _problem_with(
        base,
        household_tier=np.array([2, 0, 0, 0], dtype=np.int8),
        household_group=np.array([-1, 0, 0, 0], dtype=np.int32),
    )
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert solution.member_of[0] == 0


def test_pins_are_kept():
    problem = realistic_branch(13, households=120, members=20, capacity=(2, 6), pins=True, groups=True)
    assert (problem.household_pin >= 0).any()
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    pinned = problem.household_pin >= 0
    assert np.array_equal(solution.member_of[pinned], problem.household_pin[pinned])


def test_local_search_stops_at_the_optimum_on_a_realistic_branch():
    """400 households, 70 members, arcs within 2 km: the search ends by itself (no improving
    move left, not a budget) at the exact optimum. How fast it gets there is benchmarked."""
    problem = realistic_branch(21, households=400, members=70)
    solution = solve_greedy(problem)
    check_valid(problem, solution)
    assert solution.objective == assignment_optimum(problem)
    more = solve_greedy(problem, GreedySettings(max_moves=solution.iterations + 10))
    assert more.iterations == solution.iterations


def test_does_not_import_ortools():
    """The fallback engine works when OR-Tools cannot be imported at all."""
    code = (
        "import sys; sys.modules['ortools'] = None\n"
        "import numpy as np\n"
        "from baohu_assign.engines import greedy\n"
        "from baohu_assign.model.problem import Problem, csr_pointer\n"
        "from baohu_assign.model.objective import tier_penalties\n"
        "h = np.array([0, 1], np.int32); m = np.array([0, 0], np.int32)\n"
        "p = Problem('distance', np.zeros(2, np.int8), np.ones(2), np.full(2, -1, np.int32), np.full(2, -1, np.int32),"
        " np.full(2, -1, np.int32), np.array([1], np.int32), h, m, np.ones(2), np.array([5, 7], np.int64),"
        " csr_pointer(h, 2), 0.0, tier_penalties(1, 7, 0), 0)\n"
        "from baohu_assign.engines.contract import GreedySettings\n"
        "from baohu_assign.engines.stop import Stop\n"
        "s = greedy.ENGINE.solve(p, GreedySettings(), Stop(), seed=0)\n"
        "assert (s.member_of >= 0).sum() == 1 and s.member_of[0] == 0, s.member_of\n"
        "assert not any(k.startswith('ortools') and sys.modules[k] is not None for k in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _with_budgets(base: Problem, seed: int, backups: bool) -> Problem:
    """``base`` with random arc weights and member budgets, and optionally backups."""
    rng = np.random.default_rng(seed)
    M, H = base.num_members, base.num_households
    changes = {
        "arc_weight": rng.integers(1, 10, base.num_arcs).astype(np.int64),
        "member_budget": rng.integers(0, 40, M).astype(np.int64),
    }
    if backups:
        changes.update(
            household_backup=rng.random(H) < 0.4,
            member_backup_capacity=rng.integers(0, 4, M).astype(np.int32),
            backup_penalty=int(base.tier_penalty[0] // 2),
        )
    return _problem_with(base, **changes)


@settings(max_examples=40, deadline=None)
@given(sizes, st.booleans(), st.booleans(), st.sampled_from([0.0, 300.0]))
def test_budgets_and_backups_hold(case, groups, backups, balance):
    """Member budgets (a second resource) are never exceeded; backups follow their rules."""
    seed, H, M = case
    problem = _with_budgets(
        geometric_problem(seed, H, M, groups=groups, balance=balance, capacity=(0, 8)), seed, backups
    )
    solution = solve_greedy(problem)
    assert violations(problem, solution.member_of, solution.backup_of) == []
    assert solution.objective == evaluate(problem, solution.member_of, solution.backup_of).total
    assert (solution.backup_of is not None) == backups


def test_backups_given_where_possible():
    """Ample backup capacity: every covered household that asks for a backup gets one."""
    base = realistic_branch(14, households=60, members=12)
    wants = np.arange(60) % 3 == 0
    problem = _problem_with(
        base, household_backup=wants, member_backup_capacity=np.full(12, 60, np.int32), backup_penalty=1000
    )
    solution = solve_greedy(problem)
    assert violations(problem, solution.member_of, solution.backup_of) == []
    assert solution.backup_of is not None
    covered = solution.member_of >= 0
    assert (solution.backup_of[wants & covered] >= 0).all()
    assert (solution.backup_of[~wants] == -1).all()


@pytest.mark.parametrize("seed", range(4))
def test_budgeted_assignment_complete_and_near_optimum(seed):
    """Member budgets at 80 % of the average weight (a generalized assignment read by
    gap.to_problem): every household placed, within 20 % of the MILP optimum."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    from baohu_assign.datasets.gap import GapInstance, to_problem

    rng = np.random.default_rng(seed)
    m, n = 5, 40
    cost = rng.integers(10, 50, (m, n))
    weight = rng.integers(5, 25, (m, n))
    budget = (weight.sum(axis=1) / m * 0.8).astype(np.int64)
    problem = to_problem(GapInstance("random", m, n, cost, weight, budget))
    solution = solve_greedy(problem)
    assert violations(problem, solution.member_of) == []
    assert (solution.member_of >= 0).all()
    cols = np.arange(m * n)
    one_member = LinearConstraint(csr_matrix((np.ones(m * n), (cols % n, cols)), shape=(n, m * n)), 1, 1)
    within = LinearConstraint(csr_matrix((weight.reshape(-1), (cols // n, cols)), shape=(m, m * n)), 0, budget)
    result = milp(cost.reshape(-1), constraints=[one_member, within], integrality=np.ones(m * n), bounds=Bounds(0, 1))
    assert result.status == 0
    assert cost[solution.member_of, np.arange(n)].sum() <= 1.20 * result.fun
