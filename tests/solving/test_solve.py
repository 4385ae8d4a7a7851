"""solve(): engine choice, fallback, determinism, argument checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import baohu_assign as ba


def test_auto_uses_flow_without_groups_and_cpsat_with_groups(town):
    """auto: flow for plain branches, CP-SAT for branches with stairwell units."""
    plan = ba.solve(town, objective="distance")
    for branch in plan.report.branches:
        result = next(r for r in plan.results if r.branch.branch == branch.branch)
        expected = "cpsat" if result.branch.problem.has_groups else "flow"
        assert branch.engine == expected
    assert plan.report.status in (ba.Status.OPTIMAL, ba.Status.FEASIBLE)


def test_without_ortools_auto_falls_back(monkeypatch, town, tmp_path):
    """OR-Tools not importable: auto still writes a valid plan, status fallback, reason in warnings."""
    for name in (
        "ortools",
        "ortools.graph",
        "ortools.graph.python",
        "ortools.graph.python.min_cost_flow",
        "ortools.sat",
        "ortools.sat.python",
        "ortools.sat.python.cp_model",
    ):
        monkeypatch.setitem(sys.modules, name, None)
    plan = ba.solve(town, objective="balanced")
    assert plan.report.status == ba.Status.FALLBACK
    assert any(w.code == "engine_fallback" and "OR-Tools" in w.message for w in plan.report.warnings)
    for result in plan.results:
        assert result.solution.engine == "greedy"
    plan.write(tmp_path)
    assert (tmp_path / "assignments.csv").exists()


def test_greedy_never_imports_ortools():
    """The fallback engine must work on a machine without OR-Tools at all."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "ortools" or name.startswith("ortools."):
                    raise ImportError("blocked")
        sys.meta_path.insert(0, Block())
        import baohu_assign as ba
        t = ba.synth.make_town(1, households=300, branches=3)
        plan = ba.solve(ba.Scenario.from_frames(t.members, t.households))
        print(plan.report.status.value, sorted(plan.report.engines))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "fallback"
    assert "ortools" not in out.stdout


@pytest.mark.parametrize("strategy", ["auto", "greedy"])
def test_same_seed_same_plan(town, strategy, tmp_path):
    """Two identical runs write byte-identical assignments.csv and members.csv."""
    first = ba.solve(town, strategy=strategy, seed=3)
    second = ba.solve(town, strategy=strategy, seed=3)
    a, b = tmp_path / "a", tmp_path / "b"
    first.write(a)
    second.write(b)
    for name in ("assignments.csv", "members.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_bad_arguments_name_the_allowed_values(town):
    with pytest.raises(ValueError, match="distance"):
        ba.solve(town, objective="fastest")
    with pytest.raises(ValueError, match="greedy"):
        ba.solve(town, strategy="magic")
    with pytest.raises(ValueError, match="time_limit"):
        ba.solve(town, time_limit=-1)


def test_explicit_flow_on_groups_falls_back_with_warning(town):
    """strategy='flow' on a branch with stairwell units: greedy keeps units whole, status fallback, warned."""
    plan = ba.solve(town, strategy="flow", objective="distance")
    grouped = [r for r in plan.results if r.branch.problem.has_groups]
    assert grouped
    assert all(r.solution.engine == "greedy" for r in grouped)
    assert plan.report.status == ba.Status.FALLBACK
    assert any("stairwell" in w.message for w in plan.report.warnings)


def test_report_counts_and_summary(town):
    plan = ba.solve(town)
    r = plan.report
    assert r.counts.households == len(town.households)
    assert r.counts.covered + r.counts.uncovered == r.counts.households
    assert sum(b.households for b in r.branches) == r.counts.households
    text = plan.summary()
    assert "critical" in text and "weekly travel" in text
    assert repr(plan).startswith("<Plan ")


def _crash(problem, settings, stop, *, seed, initial=None):
    raise RuntimeError("cpsat crashed on purpose")


def test_a_fault_inside_an_engine_raises_engine_error_naming_it(monkeypatch, town):
    """A crash inside CP-SAT is never hidden behind greedy: EngineError naming the engine and the branch."""
    from baohu_assign.engines import cpsat

    monkeypatch.setattr(cpsat.ENGINE, "solve", _crash)
    with pytest.raises(
        ba.EngineError, match=r"branch '.*': engine 'cpsat' failed: RuntimeError: cpsat crashed"
    ) as info:
        ba.solve(town, objective="distance", strategy="cpsat")
    assert isinstance(info.value.__cause__, ba.EngineError)
    assert isinstance(info.value.__cause__.__cause__, RuntimeError)


def test_an_unavailable_engine_falls_back_quietly(monkeypatch, town):
    """A missing engine is no fault: greedy takes over with engine_fallback."""
    from baohu_assign.engines import cpsat

    def unavailable(problem, settings, stop, *, seed, initial=None):
        raise ba.EngineUnavailable("OR-Tools is not importable: blocked")

    monkeypatch.setattr(cpsat.ENGINE, "solve", unavailable)
    plan = ba.solve(town, objective="distance", strategy="cpsat")
    assert plan.report.status == ba.Status.FALLBACK
    assert {w.code for w in plan.report.warnings} >= {"engine_fallback"}
    assert not any(w.code == "engine_error" for w in plan.report.warnings)


@pytest.mark.parametrize("objective", ["distance", "balanced"])
def test_cpsat_starts_from_greedys_plan(monkeypatch, objective):
    """Where CP-SAT searches a branch, its starting plan is greedy's plan of that branch (the tuned one under
    the balanced objective), and the branch is CP-SAT's, no worse than that start."""
    from baohu_assign.engines import cpsat, greedy

    town = ba.synth.make_town(1, households=300, branches=3)
    greedy_plans: list = []
    starts: list = []
    searched: list = []
    greedy_solve, cpsat_solve = greedy.ENGINE.solve, cpsat.ENGINE.solve

    def spy_greedy(problem, settings, stop, *, seed, initial=None):
        greedy_plans.append(greedy_solve(problem, settings, stop, seed=seed, initial=initial))
        return greedy_plans[-1]

    def spy_cpsat(problem, settings, stop, *, seed, initial=None):
        starts.append(initial)
        searched.append(cpsat_solve(problem, settings, stop, seed=seed, initial=initial))
        return searched[-1]

    monkeypatch.setattr(greedy.ENGINE, "solve", spy_greedy)
    monkeypatch.setattr(cpsat.ENGINE, "solve", spy_cpsat)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households), objective=objective)
    assert starts, "some branch needs search"
    for start, result in zip(starts, searched, strict=True):
        assert start is not None and start.engine == "greedy"
        assert any(start is g for g in greedy_plans)
        assert result.objective <= start.objective
    cpsat_branches = [r for r in plan.results if r.solution.engine == "cpsat"]
    assert [r.solution for r in cpsat_branches] == searched
