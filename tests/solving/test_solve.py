"""solve(): engine choice, fallback, determinism, argument checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import baohu_assign as ba
from baohu_assign.solving.solve import STRICT_ENGINES_ENV, strict_engines


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


def _crash(problem, params=None):
    raise RuntimeError("cpsat crashed on purpose")


def test_a_fault_inside_an_engine_raises_in_strict_mode(monkeypatch, town):
    """With strict engines (set for the whole suite) a crash inside CP-SAT is never hidden behind greedy."""
    from baohu_assign.engines import cpsat

    assert strict_engines()
    monkeypatch.setattr(cpsat, "solve", _crash)
    with pytest.raises(RuntimeError, match="on purpose"):
        ba.solve(town, objective="distance", strategy="cpsat")


def test_a_fault_inside_an_engine_keeps_a_plan_and_reports_engine_error(monkeypatch, town, caplog):
    """Not strict (production): greedy keeps the plan, the report says engine_error, logged at ERROR."""
    from baohu_assign.engines import cpsat

    monkeypatch.delenv(STRICT_ENGINES_ENV)
    monkeypatch.setattr(cpsat, "solve", _crash)
    with caplog.at_level("ERROR", logger="baohu_assign.solving.solve"):
        plan = ba.solve(town, objective="distance", strategy="cpsat")
    assert plan.report.status == ba.Status.FALLBACK
    errors = [w for w in plan.report.warnings if w.code == "engine_error"]
    assert len(errors) == len(plan.results)
    assert all("'cpsat'" in w.message and "RuntimeError: cpsat crashed on purpose" in w.message for w in errors)
    assert not any(w.code == "engine_fallback" for w in plan.report.warnings)
    assert {b.engine for b in plan.report.branches} == {"greedy"}
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(logged) == len(plan.results) and all("cpsat crashed on purpose" in r.getMessage() for r in logged)
    names = set(town.members.get("name", [])) | set(town.households.get("head_name", []))
    assert not any(str(n) in r.getMessage() for r in logged for n in names if isinstance(n, str) and n)


def test_an_unavailable_engine_falls_back_quietly_even_when_strict(monkeypatch, town):
    """A missing engine is no fault: greedy takes over with engine_fallback, strict or not."""
    from baohu_assign.engines import cpsat

    def unavailable(problem, params=None):
        raise ba.EngineUnavailable("OR-Tools is not importable: blocked")

    monkeypatch.setattr(cpsat, "solve", unavailable)
    plan = ba.solve(town, objective="distance", strategy="cpsat")
    assert plan.report.status == ba.Status.FALLBACK
    assert {w.code for w in plan.report.warnings} >= {"engine_fallback"}
    assert not any(w.code == "engine_error" for w in plan.report.warnings)
