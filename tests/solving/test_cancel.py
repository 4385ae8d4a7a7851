"""Cancelling a running solve from another thread, and solving one Scenario from several threads at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import baohu_assign as ba
from baohu_assign.model.solution import violations

pytest.importorskip("ortools")


def _assert_whole_and_valid(plan: ba.Plan, scenario: ba.Scenario) -> None:
    assert sorted(plan.assignments["household_id"].unique()) == sorted(scenario.households["household_id"])
    for result in plan.results:
        solution = result.solution
        assert violations(result.branch.problem, solution.member_of, solution.backup_of) == []


def _cancelled(plan: ba.Plan) -> list[ba.results.report.ReportWarning]:
    return [w for w in plan.report.warnings if w.code == "cancelled"]


def test_cancelled_before_the_call_every_branch_gets_a_valid_plan_without_search(town):
    cancel = threading.Event()
    cancel.set()
    plan = ba.solve(town, objective="distance", params=ba.SolveParams(cancel=cancel))
    _assert_whole_and_valid(plan, town)
    [warning] = _cancelled(plan)
    assert warning.count == len(plan.results)
    assert all(r.cancelled for r in plan.results)
    searched = [r for r in plan.results if r.solution.engine == "cpsat"]
    assert all(r.solution.stopped for r in searched), "no CP-SAT search may run once cancelled"
    assert plan.report.reproducible is False
    assert plan.report.status != ba.Status.OPTIMAL or all(r.solution.engine == "flow" for r in plan.results)


def test_cancelled_while_solving_keeps_the_branches_done_and_stops_the_rest(town):
    """The flag is set from the progress callback as branch 3 starts: branches 1 and 2 are as without it."""
    cancel = threading.Event()

    def progress(stage: str, k: int, n: int) -> None:
        if stage == "solving" and k == 3:
            cancel.set()

    plan = ba.solve(town, objective="distance", params=ba.SolveParams(cancel=cancel), progress=progress)
    reference = ba.solve(town, objective="distance")
    _assert_whole_and_valid(plan, town)
    flags = [r.cancelled for r in plan.results]
    assert flags == [False, False] + [True] * (len(flags) - 2)
    for done, expected in zip(plan.results[:2], reference.results[:2], strict=True):
        assert np.array_equal(done.solution.member_of, expected.solution.member_of)
    [warning] = _cancelled(plan)
    assert warning.count == len(flags) - 2
    assert warning.examples == [r.branch.branch for r in plan.results[2:]][:5]
    assert not _cancelled(reference) and reference.results[0].cancelled is False


def test_cancel_must_be_an_event():
    with pytest.raises(TypeError, match=r"SolveParams\.cancel"):
        ba.SolveParams(cancel=True)  # type: ignore[arg-type]


def test_solves_of_one_shared_scenario_in_several_threads_equal_the_same_solves_one_by_one(town):
    jobs = [("distance", 0), ("balanced", 0), ("min-churn", 1), ("distance", 2)]
    alone = [ba.solve(town, objective=objective, seed=seed).assignments for objective, seed in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        together = list(pool.map(lambda job: ba.solve(town, objective=job[0], seed=job[1]).assignments, jobs))
    for one, other in zip(alone, together, strict=True):
        assert one.equals(other)
