"""What a Plan hands out cannot change it; solve() checks its arguments and honours params."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.solving.params import SolveParams


@pytest.fixture(scope="module")
def scenario():
    town = ba.synth.make_town(4, households=300, branches=3)
    return ba.Scenario.from_frames(town.members, town.households)


@pytest.fixture(scope="module")
def plan(scenario):
    return ba.solve(scenario, objective="distance")


def test_changing_the_tables_handed_out_never_reaches_the_plan_or_its_files(plan, tmp_path):
    plan.write(tmp_path / "before")
    before = plan.assignments.copy(deep=True), plan.members.copy(deep=True)

    handed = plan.assignments
    handed.loc[0, "member_id"] = "HACK"
    handed["reason"] = "edited"
    members = plan.members
    members.loc[0, "households"] = 999
    distances = plan.assignments["distance_m"].to_numpy()
    with contextlib.suppress(ValueError):  # a read-only view is as good as a copy
        distances[0] = -1.0
    primary = plan.primary
    primary.loc[0, "member_id"] = "HACK"
    report = plan.report
    report.warnings.append(ba.results.report.ReportWarning(code="x", message="edited"))
    report.branches.clear()

    pd.testing.assert_frame_equal(plan.assignments, before[0])
    pd.testing.assert_frame_equal(plan.members, before[1])
    assert plan.report.branches and not any(w.code == "x" for w in plan.report.warnings)
    plan.write(tmp_path / "after")
    for name in ("assignments.csv", "members.csv"):
        assert (tmp_path / "after" / name).read_bytes() == (tmp_path / "before" / name).read_bytes()
    assert "HACK" not in (tmp_path / "after" / "assignments.csv").read_text(encoding="utf-8-sig")
    written = json.loads((tmp_path / "after" / "report.json").read_text(encoding="utf-8"))
    assert written["branches"] and all(w["code"] != "x" for w in written["warnings"])


def test_the_solutions_behind_the_tables_are_read_only(scenario):
    fresh = ba.solve(scenario, objective="distance")  # tables not computed yet
    with pytest.raises(ValueError, match="read-only"):
        fresh.results[0].solution.member_of[0] = -1


def test_seed_and_time_limit_come_from_params_unless_given(scenario):
    from_params = ba.solve(scenario, strategy="greedy", params=SolveParams(seed=7))
    assert from_params.report.seed == 7
    direct = ba.solve(scenario, strategy="greedy", seed=7)
    pd.testing.assert_frame_equal(from_params.assignments, direct.assignments)
    assert ba.solve(scenario, strategy="greedy", seed=3, params=SolveParams(seed=7)).report.seed == 3
    assert ba.solve(scenario, strategy="greedy").report.seed == 0
    limited = ba.solve(scenario, strategy="greedy", params=SolveParams(time_limit=30.0))
    assert limited.report.time_limit == 30.0
    assert ba.rebalance(scenario, strategy="greedy", params=SolveParams(seed=5)).report.seed == 5


@pytest.mark.parametrize(
    ("arguments", "error", "name"),
    [
        ({"time_limit": "30"}, TypeError, "time_limit"),
        ({"time_limit": float("nan")}, ValueError, "time_limit"),
        ({"time_limit": -1}, ValueError, "time_limit"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"seed": "7"}, TypeError, "seed"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": True}, TypeError, "seed"),
        ({"params": {"seed": 7}}, TypeError, "params"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"objective": None}, ValueError, "objective"),
        ({"strategy": 3}, ValueError, "strategy"),
    ],
)
def test_bad_arguments_raise_type_or_value_errors_naming_them(scenario, arguments, error, name):
    for run in (ba.solve, ba.rebalance):
        with pytest.raises(error, match=name):
            run(scenario, **arguments)


@pytest.mark.parametrize("run", [ba.solve, ba.rebalance])
def test_a_dataframe_instead_of_a_scenario_is_a_type_error_naming_scenario(scenario, run):
    with pytest.raises(TypeError, match=r"scenario must be a baohu_assign\.Scenario"):
        run(scenario.households)
    with pytest.raises(TypeError, match="scenario"):
        run(None)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"seed": 1.5}, TypeError),
        ({"seed": -2}, ValueError),
        ({"time_limit": "5"}, TypeError),
        ({"num_workers": 0}, ValueError),
        ({"num_workers": "2"}, TypeError),
        ({"max_iterations": 2.5}, TypeError),
    ],
)
def test_solve_params_check_their_fields(arguments, error):
    name = next(iter(arguments))
    with pytest.raises(error, match=f"SolveParams.{name}"):
        SolveParams(**arguments)


def test_numpy_integers_are_seeds(scenario):
    assert ba.solve(scenario, strategy="greedy", seed=np.int64(2)).report.seed == 2
