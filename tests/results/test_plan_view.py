"""A Plan is a view of a solve's result: its report built once, by solve(), and nothing to compute when shown."""

from __future__ import annotations

import importlib

import pytest

import baohu_assign as ba
from baohu_assign.results.diagnose import diagnose
from baohu_assign.results.rollup import hierarchy_report, location_rollup
from baohu_assign.solving.result import SolveResult

PLAN = importlib.import_module("baohu_assign.results.plan")
BUILD_REPORT = importlib.import_module("baohu_assign.results.build_report")


class Counted:
    """Counts the calls of a module's function."""

    def __init__(self, monkeypatch, module, name: str) -> None:
        self.count = 0
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)


@pytest.fixture(scope="module")
def short_scenario():
    """Too few members: households stay uncovered, so the report diagnoses the shortfall (flow what-ifs)."""
    town = ba.synth.make_town(3, households=400, branches=3, members_per_household=1 / 12, stairwells=False)
    return ba.Scenario.from_frames(town.members, town.households)


@pytest.mark.parametrize("limit", [None, 600.0])
def test_the_report_is_built_once_by_solve_and_showing_the_plan_builds_nothing(
    monkeypatch, tmp_path, short_scenario, limit
):
    reports = Counted(monkeypatch, PLAN, "build_report")
    diagnoses = Counted(monkeypatch, BUILD_REPORT, "diagnose")
    plan = ba.solve(short_scenario, objective="distance", time_limit=limit)
    assert (reports.count, diagnoses.count) == (1, 1)
    assert plan.report.shortfalls
    repr(plan)
    plan.summary()
    plan._repr_html_()
    plan.write(tmp_path / "plan")
    plan.uncovered()
    assert (reports.count, diagnoses.count) == (1, 1)
    rebalanced = ba.rebalance(short_scenario, current=plan, objective="min-churn")
    assert (reports.count, diagnoses.count) == (2, 2)
    assert rebalanced.report.shortfalls


def test_a_plan_is_immutable_and_shows_its_result(short_scenario):
    plan = ba.solve(short_scenario, objective="distance")
    assert isinstance(plan.result, SolveResult)
    assert plan.results is plan.result.results and plan.scenario is plan.result.scenario
    for name, value in (("seed", 3), ("report", None), ("results", ()), ("anything", 1)):
        with pytest.raises(AttributeError):
            setattr(plan, name, value)
    with pytest.raises(AttributeError):
        del plan.seed
    assert plan.seed == 0


def test_a_plan_built_from_the_fields_of_its_result_is_the_same_plan(short_scenario):
    plan = ba.solve(short_scenario, objective="distance", seed=4)
    result = plan.result
    again = ba.Plan(
        scenario=result.scenario,
        results=result.results,
        objective=result.objective,
        strategy=result.strategy,
        seed=result.seed,
        time_limit=result.time_limit,
        wall_s=result.wall_s,
        deadline=result.deadline,
    )
    assert again.report == plan.report
    assert again.plan_id == plan.plan_id
    assert again.summary() == plan.summary()


def test_diagnosis_takes_the_result(short_scenario):
    plan = ba.solve(short_scenario, objective="distance")
    assert diagnose(plan.result) == plan.report.shortfalls != []


def test_roll_ups_take_the_result():
    community = ba.synth.make_community_with_locations(1)
    members = community.members.iloc[: len(community.members) // 3]  # too few: some households uncovered
    scenario = ba.Scenario.from_frames(members, community.households, locations=community.locations)
    plan = ba.solve(scenario, objective="distance", strategy="greedy")
    assert plan.report.counts.uncovered > 0
    assert hierarchy_report(plan.result) == plan.report.hierarchy
    for level in ("building", "compound"):
        rollup = location_rollup(plan.result, level)
        assert rollup.equals(plan.rollup(level))
        # Against the plan's own tables: members serving and loads per location of the households' places.
        assert int(rollup["covered"].sum()) == int(plan.primary["member_id"].notna().sum())
        assert int(rollup["load"].sum()) == int(plan.members["households"].sum())
