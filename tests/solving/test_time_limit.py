"""solve(time_limit=T): the limit covers the whole call, and what it cuts is reported.

No wall clock is measured here (that belongs to benchmarks/time_limits.py).
A fake clock, the one every deadline reads (``baohu_assign.engines.stop.clock``),
jumps past the deadline at one stage of the call; every later stage must
then do no more work than the cheapest valid plan needs, the plan must
still keep every hard rule, and the report must say what was cut.
"""

from __future__ import annotations

import importlib
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.engines import cpsat, greedy
from baohu_assign.engines import stop as stop_module
from baohu_assign.model.solution import violations
from baohu_assign.results.diagnose import DIAGNOSIS_CUT
from baohu_assign.solving.params import Deadline, SolveParams

pytest.importorskip("ortools")

SOLVE = importlib.import_module("baohu_assign.solving.solve")
BUILD_REPORT = importlib.import_module("baohu_assign.results.build_report")
DIAGNOSE = importlib.import_module("baohu_assign.results.diagnose")

LIMIT = 600.0
"""A limit the real clock never reaches in these tests: only the fake jump expires it."""


class FakeClock:
    """The monotonic clock, moved forward by a day on :meth:`jump`."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def jump(self) -> None:
        self.offset += 86_400.0


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(stop_module, "clock", fake)
    return fake


@pytest.fixture(scope="module")
def short_town():
    """Hour budgets (every branch needs search) and too few members (shortfalls to diagnose)."""
    town = ba.synth.with_hours(ba.synth.make_town(1, households=300, branches=3, members_per_household=1 / 10))
    return ba.Scenario.from_frames(town.members, town.households)


class Calls:
    """Counts the calls of a function and keeps what it returned."""

    def __init__(self, monkeypatch, owner, name: str, *, before=None, after=None) -> None:
        self.count = 0
        self.results: list = []
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            self.count += 1
            if before is not None:
                before(self.count)
            result = original(*args, **kwargs)
            self.results.append(result)
            if after is not None:
                after(self.count)
            return result

        monkeypatch.setattr(owner, name, wrapper)


def _assert_valid(plan: ba.Plan) -> None:
    """Every household in the output once, and no hard rule broken (hour budgets included)."""
    scenario = plan.scenario
    primary = plan.primary
    assert sorted(primary["household_id"]) == sorted(scenario.households["household_id"].astype(str))
    for result in plan.results:
        assert violations(result.branch.problem, result.solution.member_of, result.solution.backup_of) == []
    # Hour budgets, recomputed from the output tables: visits × (minutes + walk there and back).
    speed = scenario.policy.walking_speed_m_per_min
    frame = primary.dropna(subset=["member_id"])
    minutes = frame["visits_per_week"] * (frame["minutes_per_visit"] + 2.0 * frame["distance_m"] / speed)
    used = minutes.groupby(frame["member_id"]).sum() / 60.0
    hours = scenario.members.set_index("member_id")["hours_per_week"]
    for member, value in used.items():
        budget = hours.get(member)
        if budget is not None and not (isinstance(budget, float) and math.isnan(budget)):
            assert value <= budget + 0.01, (member, value, budget)
    load = frame.groupby("member_id").size()
    capacity = scenario.members.set_index("member_id")["capacity"]
    assert all(load[m] <= capacity[m] for m in load.index)


def _cuts(plan: ba.Plan) -> dict[str, int]:
    return {w.message: w.count for w in plan.report.warnings if w.code == "time_limit_reached"}


def _branch_cut(cuts: dict[str, int], text: str) -> int:
    return sum(count for message, count in cuts.items() if message.startswith(text))


@pytest.mark.parametrize("objective", ["distance", "balanced"])
def test_limit_passed_while_compiling_gives_greedy_constructions_and_says_so(monkeypatch, clock, short_town, objective):
    """Compiling finishes, then each branch gets only greedy's construction: no local search, no
    balance calibration, no CP-SAT, no what-if of the diagnosis."""
    Calls(monkeypatch, SOLVE, "compile_scenario", after=lambda n: clock.jump())
    greedy_calls = Calls(monkeypatch, greedy.ENGINE, "solve")
    cpsat_calls = Calls(monkeypatch, cpsat.ENGINE, "solve")
    what_ifs = Calls(monkeypatch, DIAGNOSE, "_covered_per_tier")
    plan = ba.solve(short_town, objective=objective, time_limit=LIMIT)
    report = plan.report
    _assert_valid(plan)
    branches = len(plan.results)
    assert cpsat_calls.count == 0
    assert greedy_calls.count == branches  # one construction each: calibration stopped too
    assert all(solution.iterations == 0 for solution in greedy_calls.results)
    assert what_ifs.count == 0
    assert report.status == ba.Status.FEASIBLE
    assert report.reproducible is False
    cuts = _cuts(plan)
    assert any(message.startswith("compiling took longer") for message in cuts)
    assert _branch_cut(cuts, SOLVE.CUT_CONSTRUCTION_ONLY) == branches
    assert report.shortfalls and all(not s.complete for s in report.shortfalls)
    assert cuts[DIAGNOSIS_CUT] == len(report.shortfalls)
    assert "time limit reached" in plan.summary()


def test_limit_passed_after_greedy_leaves_cpsat_out(monkeypatch, clock, short_town):
    """Greedy's plan of the first branch is the floor; CP-SAT never starts, later branches get constructions."""
    Calls(monkeypatch, greedy.ENGINE, "solve", after=lambda n: clock.jump() if n == 1 else None)
    cpsat_calls = Calls(monkeypatch, cpsat.ENGINE, "solve")
    plan = ba.solve(short_town, objective="distance", time_limit=LIMIT)
    _assert_valid(plan)
    assert cpsat_calls.count == 0
    assert plan.report.status == ba.Status.FEASIBLE
    cuts = _cuts(plan)
    assert _branch_cut(cuts, SOLVE.CUT_SEARCH_LEFT_OUT) == 1
    assert _branch_cut(cuts, SOLVE.CUT_CONSTRUCTION_ONLY) == len(plan.results) - 1
    assert plan.results[0].time_cuts == (SOLVE.CUT_SEARCH_LEFT_OUT, SOLVE.CUT_SEARCH_STOPPED)


def test_limit_passed_as_cpsat_starts_returns_its_start_without_solving(monkeypatch, clock, short_town):
    """CP-SAT called after the deadline builds and solves no model (no LP either) and returns a valid plan."""
    models = Calls(monkeypatch, cpsat.solver, "_solve_model")
    lps = Calls(monkeypatch, cpsat.relaxations, "_lp_relaxation")
    jumped_at: list[int] = []

    def jump(n: int) -> None:
        if n == 1:
            clock.jump()
            jumped_at.extend([models.count, lps.count])

    cpsat_calls = Calls(monkeypatch, cpsat.ENGINE, "solve", before=jump)
    plan = ba.solve(short_town, objective="distance", time_limit=LIMIT)
    _assert_valid(plan)
    assert cpsat_calls.count == 1
    assert (models.count, lps.count) == tuple(jumped_at)
    assert plan.report.status == ba.Status.FEASIBLE
    assert plan.results[0].time_cuts == (SOLVE.CUT_SEARCH_STOPPED,)
    assert all(r.time_cuts == (SOLVE.CUT_CONSTRUCTION_ONLY,) for r in plan.results[1:])


def test_limit_passed_before_the_report_skips_the_what_ifs(monkeypatch, clock, short_town):
    """The diagnosis re-solves nothing after the deadline; its counts are still there, marked incomplete."""
    Calls(monkeypatch, BUILD_REPORT, "diagnose", before=lambda n: clock.jump())
    what_ifs = Calls(monkeypatch, DIAGNOSE, "_covered_per_tier")
    plan = ba.solve(short_town, objective="distance", time_limit=LIMIT)
    report = plan.report
    assert what_ifs.count == 0
    assert report.shortfalls and all(not s.complete and not s.suggestions for s in report.shortfalls)
    assert sum(s.uncovered.total for s in report.shortfalls) == report.counts.uncovered
    assert _cuts(plan)[DIAGNOSIS_CUT] == len(report.shortfalls)
    # The search itself was not cut.
    assert all(result.time_cuts == () for result in plan.results)


def test_the_report_is_built_within_the_call(monkeypatch, clock, short_town):
    """Under a time limit solve() returns with the report built: reading it later costs no solve."""
    plan = ba.solve(short_town, objective="distance", time_limit=LIMIT)
    what_ifs = Calls(monkeypatch, DIAGNOSE, "_covered_per_tier")
    clock.jump()
    report = plan.report
    assert what_ifs.count == 0
    assert any(s.suggestions for s in report.shortfalls)  # diagnosed within the limit, not cut
    assert DIAGNOSIS_CUT not in _cuts(plan)


def test_time_limit_zero_gives_a_valid_plan_and_says_what_was_cut(monkeypatch, short_town):
    """Below what compiling needs: compiling finishes, greedy constructs, the report says so."""
    cpsat_calls = Calls(monkeypatch, cpsat.ENGINE, "solve")
    plan = ba.solve(short_town, objective="balanced", time_limit=0)
    _assert_valid(plan)
    assert plan.report.status == ba.Status.FEASIBLE
    assert cpsat_calls.count == 0
    cuts = _cuts(plan)
    assert any(message.startswith("compiling took longer") for message in cuts)
    assert _branch_cut(cuts, SOLVE.CUT_CONSTRUCTION_ONLY) == len(plan.results)


def test_exact_branches_stay_optimal_when_time_is_up():
    """Flow is exact and fast: a branch it solves is not cut, even at time_limit=0."""
    town = ba.synth.make_town(2, households=300, branches=3, stairwells=False)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households), objective="distance", time_limit=0)
    assert set(plan.report.engines) == {"flow"}
    assert plan.report.status == ba.Status.OPTIMAL
    assert all(result.time_cuts == () for result in plan.results)


def test_branch_time_covers_every_later_floor(clock):
    """Each branch gets its floor plus its share of the rest; when the floors do not fit, a part by floor."""
    deadline = Deadline(stop_module.now() + 10.0)
    base = SolveParams(time_limit=10.0)
    branch, starved = SOLVE._timed_branch_run(base, 1, deadline, [1, 3], [1.0, 2.0], 1.0)
    assert not starved
    assert branch.deadline.remaining() == pytest.approx(1.0 + 6.0 * 1 / 4, abs=0.05)
    flow_branch, _ = SOLVE._timed_branch_run(base, 1, deadline, [0, 3], [1.0, 2.0], 1.0)
    assert flow_branch.deadline.remaining() == pytest.approx(1.0 + 6.0, abs=0.05)
    short, starved = SOLVE._timed_branch_run(base, 1, deadline, [1, 3], [6.0, 12.0], 1.0)
    assert starved
    assert short.deadline.remaining() == pytest.approx(9.0 * 6 / 18, abs=0.05)
    assert np.isclose(deadline.remaining(), 10.0, atol=0.05)  # the call's deadline is not moved


def test_a_small_search_branch_gets_a_least_time_not_only_its_share_by_arcs(clock):
    """A branch of 1 arc in 1,000 gets MIN_SEARCH_SECONDS, not a thousandth; never more than an equal split."""
    deadline = Deadline(stop_module.now() + 10.0)
    base = SolveParams(time_limit=10.0)
    small, starved = SOLVE._timed_branch_run(base, 1, deadline, [1, 999], [0.0, 0.0], 1.0)
    assert not starved
    assert small.deadline.remaining() == pytest.approx(SOLVE.MIN_SEARCH_SECONDS, abs=0.05)
    # Twenty search branches in 0.9 s beyond their floors: an equal split (0.045 s) is the least.
    crowded, _ = SOLVE._timed_branch_run(base, 1, deadline, [1] + [999] * 19, [0.0] * 20, 9.1)
    assert crowded.deadline.remaining() == pytest.approx(0.9 / 20, abs=0.01)
    # The large branch after it keeps its share by arcs.
    large, _ = SOLVE._timed_branch_run(base, 1, deadline, [999, 1], [0.0, 0.0], 1.0)
    assert large.deadline.remaining() == pytest.approx(9.0 * 999 / 1000, abs=0.05)


@settings(max_examples=6)
@given(jump_after=st.integers(min_value=0, max_value=8), objective=st.sampled_from(["distance", "balanced"]))
def test_whatever_engine_call_the_limit_passes_after_the_plan_is_valid_and_the_cut_reported(
    short_town, jump_after, objective
):
    """The deadline passes after the n-th engine call (0: before any): valid plan; every branch not
    proven optimal that ran after the deadline says what it lost, and none is optimal by accident."""
    fake = FakeClock()
    calls = [0]

    def count(n: int) -> None:
        calls[0] += 1
        if calls[0] == jump_after:
            fake.jump()

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(stop_module, "clock", fake)
        if jump_after == 0:
            Calls(monkeypatch, SOLVE, "compile_scenario", after=lambda n: fake.jump())
        Calls(monkeypatch, greedy.ENGINE, "solve", after=count)
        Calls(monkeypatch, cpsat.ENGINE, "solve", after=count)
        plan = ba.solve(short_town, objective=objective, time_limit=LIMIT)
        report = plan.report
    _assert_valid(plan)
    cut_branches = [r for r in plan.results if r.time_cuts]
    assert all(r.status != ba.Status.OPTIMAL for r in cut_branches)
    if fake.offset:
        # Some branch met the passed deadline (the last one at least) unless it was proven optimal.
        assert cut_branches or all(r.status == ba.Status.OPTIMAL for r in plan.results)
        assert report.status != ba.Status.OPTIMAL or not cut_branches
        reported = sum(_branch_cut(_cuts(plan), cut) for cut in {c for r in cut_branches for c in r.time_cuts})
        assert reported == sum(len(r.time_cuts) for r in cut_branches)
    else:
        assert not cut_branches and not _cuts(plan)
