"""GAP instances: the reader, the Problem it makes, and solving a small one to its known optimum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from baohu_assign.datasets.gap import GapInstance, read_instance, solve_file, to_problem, unassigned_penalty
from baohu_assign.model.objective import evaluate
from baohu_assign.model.solution import violations

GAP1_0 = """ 5 15
 17 21 22 18 24 15 20 18 19 18 16 22 24 24 16
 23 16 21 16 17 16 19 25 18 21 17 15 25 17 24
 16 20 16 25 24 16 17 19 19 18 20 16 17 21 24
 19 19 22 22 20 16 19 17 21 19 25 23 25 25 25
 18 19 15 15 21 25 16 16 23 15 22 17 19 22 24
 8 15 14 23 8 16 8 25 9 17 25 15 10 8 24
 15 7 23 22 11 11 12 10 17 16 7 16 10 18 22
 21 20 6 22 24 10 24 9 21 14 11 14 11 19 16
 20 11 8 14 9 5 6 19 19 7 6 6 13 9 18
 8 13 13 13 10 20 25 16 16 17 10 10 5 12 23
 36 34 38 27 33
"""
"""OR-Library gap1 problem 1 (c515-1): minimum cost 261 (maximum 336)."""


@pytest.fixture
def gap1_0(tmp_path: Path) -> Path:
    path = tmp_path / "gap1-0"
    path.write_text(GAP1_0)
    return path


def test_reader_reads_row_major_matrices(gap1_0):
    """m, n, then m cost rows, m weight rows and m capacities."""
    instance = read_instance(gap1_0)
    assert (instance.name, instance.m, instance.n) == ("gap1-0", 5, 15)
    assert instance.cost[0, :3].tolist() == [17, 21, 22]
    assert instance.cost[4, -1] == 24
    assert instance.weight[0, :3].tolist() == [8, 15, 14]
    assert instance.weight[4, -1] == 23
    assert instance.capacity.tolist() == [36, 34, 38, 27, 33]


def test_problem_has_every_pair_as_an_arc(gap1_0):
    """Columns become households (tier normal), rows members with a budget and unlimited count."""
    instance = read_instance(gap1_0)
    problem = to_problem(instance)
    assert (problem.num_households, problem.num_members, problem.num_arcs) == (15, 5, 75)
    assert problem.member_capacity.tolist() == [15] * 5
    assert problem.member_budget.tolist() == [36, 34, 38, 27, 33]
    # Arc (household 2, member 1) carries c[1][2] and w[1][2].
    a = problem.arc_index(2, 1)
    assert problem.arc_cost[a] == instance.cost[1, 2] and problem.arc_weight[a] == instance.weight[1, 2]
    assert (problem.household_tier == 0).all()
    # Leaving a job out costs more than any complete assignment.
    assert unassigned_penalty(instance) > instance.cost.max(axis=0).sum()
    member_of = instance.cost.argmin(axis=0)
    assert evaluate(problem, member_of).total == instance.cost.min(axis=0).sum()


def test_solves_gap1_0_to_its_optimum(gap1_0):
    """The CP-SAT engine finds and proves the minimum 261 within a few seconds."""
    result = solve_file(gap1_0, time_limit=10.0, seed=0)
    assert result["objective"] == 261
    assert result["status"] == "optimal"
    assert result["bound"] == 261
    assert (result["agents"], result["jobs"], result["instance"]) == (5, 15, "gap1-0")


def test_solution_respects_capacities(gap1_0):
    """The plan behind the objective covers every household within every budget."""
    from baohu_assign.engines import cpsat
    from baohu_assign.engines.contract import CpsatSettings
    from baohu_assign.engines.stop import Stop

    problem = to_problem(read_instance(gap1_0))
    solution = cpsat.ENGINE.solve(problem, CpsatSettings(workers=1, lns_rounds=5), Stop(), seed=0)
    assert violations(problem, solution.member_of) == []
    assert (solution.member_of >= 0).all()


@pytest.mark.parametrize(
    "text, fragment",
    [
        (" 5 15\n 1 2 3\n", "found 5 tokens"),
        (GAP1_0 + " 7\n", "found 158 tokens"),
        (" 2 2\n 1 2 3 4 5 6 7 8\n", "found 10 tokens"),
        ("", "found 0 tokens"),
    ],
)
def test_wrong_token_count_names_the_file(tmp_path: Path, text: str, fragment: str):
    """A token count other than 2 + 2mn + m is a ValueError that names the file."""
    path = tmp_path / "broken.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"broken\.txt") as error:
        read_instance(path)
    assert fragment in str(error.value)


def test_non_integer_token_names_the_file(tmp_path: Path):
    path = tmp_path / "letters.txt"
    path.write_text(" 1 1\n 5\n x\n 9\n")
    with pytest.raises(ValueError, match=r"letters\.txt"):
        read_instance(path)


def test_infeasible_instance_reports_no_objective(tmp_path: Path):
    """Every weight above every capacity: no objective, proven infeasible."""
    path = tmp_path / "heavy"
    path.write_text(" 2 2\n 1 1\n 1 1\n 9 9\n 9 9\n 3 3\n")
    result = solve_file(path, time_limit=5.0)
    assert result["objective"] is None
    assert result["status"] == "infeasible"
    assert result["bound"] is None


def test_shipped_instance_matches_embedded_copy(gap1_0):
    """The embedded text is the benchmark's own copy of gap1-0."""
    shipped = Path(__file__).parents[2] / "benchmarks" / "data" / "gap" / "instances" / "cattrysse1994" / "gap1-0"
    a, b = read_instance(shipped), read_instance(gap1_0)
    assert np.array_equal(a.cost, b.cost) and np.array_equal(a.weight, b.weight)


def _type_e(seed: int, m: int, n: int) -> GapInstance:
    """A random instance of Yagiura's type E: costs fall as weights rise, capacities 80 % of the mean need."""
    rng = np.random.default_rng(seed)
    weight = np.floor(1 - 10 * np.log(1 - rng.random((m, n)))).astype(np.int64)
    cost = np.floor(1000 / weight - 10 * rng.random((m, n))).astype(np.int64)
    capacity = np.maximum(np.floor(0.8 * weight.sum(axis=1) / m), weight.max(axis=1)).astype(np.int64)
    return GapInstance(f"e-{seed}", m, n, cost, weight, capacity)


@pytest.mark.parametrize("seed", range(4))
def test_cpsat_starts_no_worse_than_its_regret_start_on_tight_budgets(seed):
    """With almost no search the plan is the start: no worse than the regret start by reduced cost nor greedy's.

    On tight budgets (type E) the greedy engine's plan alone is far worse than
    the regret start, so a start taken only from greedy fails this.
    """
    from baohu_assign.engines import cpsat, greedy
    from baohu_assign.engines.contract import CpsatSettings, GreedySettings
    from baohu_assign.engines.cpsat.relaxations import _lp_relaxation
    from baohu_assign.engines.cpsat.start import _regret_start
    from baohu_assign.engines.cpsat.state import _member_of
    from baohu_assign.engines.cpsat.units import _build_units
    from baohu_assign.engines.stop import Stop

    problem = to_problem(_type_e(seed, 8, 80))
    units = _build_units(problem)
    relaxation = _lp_relaxation(problem, units, None)
    assert relaxation is not None and relaxation.option_rc is not None
    regret = _member_of(problem, units, _regret_start(problem, units, relaxation.option_rc.copy(), None))
    almost_no_search = CpsatSettings(workers=1, lns_rounds=0, deterministic_time=0.001)
    solution = cpsat.ENGINE.solve(problem, almost_no_search, Stop(), seed=0)
    assert violations(problem, solution.member_of) == []
    assert solution.objective <= evaluate(problem, regret).total
    assert solution.objective <= greedy.ENGINE.solve(problem, GreedySettings(), Stop(), seed=0).objective


def test_cpsat_without_a_start_skips_greedy_when_its_own_start_covers_every_job(monkeypatch):
    """The greedy engine (seconds on large tight instances) runs only when no other start covers every job."""
    from baohu_assign.engines import cpsat, greedy
    from baohu_assign.engines.contract import CpsatSettings
    from baohu_assign.engines.stop import Stop

    def refuse(*args, **kwargs):
        raise AssertionError("greedy ran although the regret start covers every job")

    monkeypatch.setattr(greedy.ENGINE, "solve", refuse)
    problem = to_problem(_type_e(0, 8, 80))
    solution = cpsat.ENGINE.solve(problem, CpsatSettings(workers=1, lns_rounds=1), Stop(), seed=0)
    assert (solution.member_of >= 0).all()
    assert violations(problem, solution.member_of) == []
