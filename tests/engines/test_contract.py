"""The engine contract, for every engine: supports/solve, hard rules, starting plans, stops, seeds.

Each engine is reached through :func:`baohu_assign.engines.load` and called as
``solve(problem, settings, stop, *, seed, initial=None)``. Plans are checked
against the independent rule oracle (tests/oracles.py) on the scenario's own
tables, and against the library's rule checker for what the oracle leaves
out (hour budgets, backups).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign import engines
from baohu_assign.engines import cpsat, greedy
from baohu_assign.engines.contract import CpsatSettings, GreedySettings
from baohu_assign.engines.stop import Stop, now
from baohu_assign.model.compile import BranchProblem, compile_scenario, with_balance
from baohu_assign.model.solution import Solution, violations
from oracles import model_objective, rule_violations
from strategies import scenarios

pytest.importorskip("ortools")

ENGINES = engines.AUTO_ORDER
"""Every registered engine: a new one is held to this contract as soon as it is registered."""
SEARCH_ENGINES = ("greedy", "cpsat")
SETTINGS = {"flow": None, "greedy": GreedySettings(), "cpsat": CpsatSettings(workers=1, lns_rounds=2)}
"""Each engine's settings in these tests (CP-SAT work-limited, so its plan depends on nothing but the seed)."""

EXAMPLES = 15

PINNED = scenarios(
    max_members=5, max_households=9, max_branches=1, groups=True, pins=True, current=True, max_capacity=5
)
"""Stairwell units, pins and current members: every rule the oracle checks."""

BUDGETED = scenarios(max_members=5, max_households=9, max_branches=1, groups=True, hours=True, max_capacity=5)
"""Stairwell units and hour budgets (no pins: a pin may not fit a budget, which the oracle does not know)."""


@st.composite
def branches(draw) -> tuple[ba.Scenario, BranchProblem]:
    """A scenario of one branch and its compiled problem, under a drawn objective (backups sometimes)."""
    members, households = draw(st.one_of(PINNED, BUDGETED))
    policy = ba.Policy(backup_tiers=("critical",) if draw(st.booleans()) else ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scenario = ba.Scenario.from_frames(members, households, policy=policy)
    objective = draw(st.sampled_from(["distance", "balanced", "min-churn"]))
    compiled = compile_scenario(scenario.members, scenario.households, objective=objective, policy=scenario.policy)
    if not compiled:
        return scenario, draw(st.nothing())
    branch = compiled[0]
    if objective == "balanced":
        branch = with_balance(branch, draw(st.sampled_from([1.0, 300.0])))
    return scenario, branch


def run(name: str, branch: BranchProblem, stop: Stop | None = None, *, seed: int = 0, initial=None) -> Solution:
    return engines.load(name).solve(branch.problem, SETTINGS[name], stop or Stop(), seed=seed, initial=initial)


def assignments(scenario: ba.Scenario, branch: BranchProblem, member_of: np.ndarray) -> pd.DataFrame:
    """The plan as the oracle reads it: every household of the scenario and its member id (None: uncovered)."""
    member_ids = scenario.members["member_id"].to_numpy()[branch.member_rows]
    chosen: dict[str, object] = dict.fromkeys(scenario.households["household_id"])
    for h, row in enumerate(branch.household_rows.tolist()):
        if member_of[h] >= 0:
            chosen[scenario.households["household_id"].iloc[row]] = member_ids[member_of[h]]
    return pd.DataFrame({"household_id": list(chosen), "member_id": list(chosen.values())})


def assert_valid(scenario: ba.Scenario, branch: BranchProblem, solution: Solution, name: str) -> None:
    """No hard rule broken (oracle, then budgets and backups), the objective its own, the engine named."""
    plan = assignments(scenario, branch, solution.member_of)
    assert rule_violations(scenario.members, scenario.households, plan, scenario.policy.one_unit_over_capacity) == []
    assert violations(branch.problem, solution.member_of, solution.backup_of) == []
    assert solution.objective == model_objective(branch, solution.member_of, solution.backup_of)
    assert solution.engine == name


@pytest.mark.parametrize("name", ENGINES)
def test_load_gives_the_named_engine(name):
    engine = engines.load(name)
    assert engine.name == name
    assert callable(engine.supports) and callable(engine.solve)


@pytest.mark.parametrize("name", ENGINES)
@settings(max_examples=EXAMPLES)
@given(case=branches())
def test_a_supported_problem_gets_a_plan_that_keeps_every_rule(name, case):
    """supports() says whether solve() can express the problem; where it can, the plan keeps every rule."""
    scenario, branch = case
    engine = engines.load(name)
    if not engine.supports(branch.problem):
        assert name == "flow"
        with pytest.raises(ba.EngineError):
            run(name, branch)
        return
    solution = run(name, branch)
    assert_valid(scenario, branch, solution, name)
    assert not solution.stopped
    assert solution.bound is None or solution.bound <= solution.objective


@pytest.mark.parametrize("name", ENGINES)
@settings(max_examples=EXAMPLES)
@given(case=branches(), start=st.sampled_from(["construction", "optimum"]))
def test_a_starting_plan_is_never_worsened(name, case, start):
    """From greedy's bare construction, or from a proven optimum, the plan returned is no worse."""
    scenario, branch = case
    if not engines.load(name).supports(branch.problem):
        return
    if start == "construction":
        initial = greedy.ENGINE.solve(branch.problem, GreedySettings(max_moves=0), Stop(), seed=0)
    else:
        initial = cpsat.ENGINE.solve(branch.problem, CpsatSettings(lns_rounds=20), Stop(), seed=1)
    solution = run(name, branch, initial=initial)
    assert_valid(scenario, branch, solution, name)
    assert solution.objective <= initial.objective


@pytest.mark.parametrize("name", SEARCH_ENGINES)
def test_an_invalid_starting_plan_is_refused(name, town_branch):
    """A start that breaks a rule is the caller's mistake: ValueError, not a plan built on it."""
    problem = town_branch.problem
    broken = np.zeros(problem.num_households, dtype=np.int32)  # everybody to member 0: over capacity
    initial = Solution(broken, "feasible", 0, None, "test", 0.0)
    with pytest.raises(ValueError, match="initial"):
        engines.load(name).solve(problem, SETTINGS[name], Stop(), seed=0, initial=initial)


@pytest.fixture(scope="module")
def town_branch() -> BranchProblem:
    """A branch that needs search: stairwell units and hour budgets, room to improve on the construction."""
    town = ba.synth.with_hours(ba.synth.make_town(3, households=160, branches=1, members_per_household=1 / 8))
    scenario = ba.Scenario.from_frames(town.members, town.households)
    (branch,) = compile_scenario(scenario.members, scenario.households, objective="distance")
    assert branch.problem.has_groups and branch.problem.has_budgets
    return branch


def _stop(kind: str) -> Stop:
    if kind == "expired":
        return Stop(now() - 1.0)
    event = threading.Event()
    event.set()
    return Stop.on(event)


@pytest.mark.parametrize("kind", ["expired", "cancelled"])
@pytest.mark.parametrize("name", ENGINES)
def test_a_stop_already_reached_gives_a_valid_plan_without_search(monkeypatch, town_branch, name, kind):
    """No local-search move, no CP-SAT model: the start is returned, marked stopped. Flow is exact and
    fast: it still returns the optimum, not stopped."""
    problem = town_branch.problem
    if name == "flow":
        problem = replace(
            problem,
            household_group=np.full(problem.num_households, -1, dtype=np.int32),
            arc_weight=None,
            member_budget=None,
        )
        solution = engines.load(name).solve(problem, None, _stop(kind), seed=0)
        assert solution.status == "optimal" and not solution.stopped
        assert violations(problem, solution.member_of) == []
        return
    models: list[int] = []
    original = cpsat.solver._solve_model
    monkeypatch.setattr(cpsat.solver, "_solve_model", lambda *a, **k: models.append(1) or original(*a, **k))
    solution = engines.load(name).solve(problem, SETTINGS[name], _stop(kind), seed=0)
    assert violations(problem, solution.member_of, solution.backup_of) == []
    assert solution.engine == name
    assert solution.stopped
    assert solution.status == "feasible"
    assert solution.iterations == 0  # no improving move (greedy), no CP-SAT solve (cpsat)
    assert models == []
    unstopped = engines.load(name).solve(problem, SETTINGS[name], Stop(), seed=0)
    assert unstopped.objective < solution.objective  # there was work to cut


@pytest.fixture(scope="module")
def large_branch() -> BranchProblem:
    """A branch too large for CP-SAT to prove in one short solve (the whole model is beyond its small size)."""
    town = ba.synth.with_hours(ba.synth.make_town(4, households=700, branches=1, members_per_household=1 / 8))
    scenario = ba.Scenario.from_frames(town.members, town.households)
    (branch,) = compile_scenario(scenario.members, scenario.households, objective="distance")
    return branch


def test_cancelling_cpsat_mid_search_ends_it_at_once(monkeypatch, large_branch):
    """Cancel set from the first CP-SAT solve on: that solve is interrupted, no other starts, the plan is valid."""
    cancel = threading.Event()
    calls: list[int] = []
    original = cpsat.solver._solve_model

    def first_cancels(*args, **kwargs):
        calls.append(1)
        cancel.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(cpsat.solver, "_solve_model", first_cancels)
    # Wall-clock mode without a deadline: only the cancel flag can end it early.
    solution = cpsat.ENGINE.solve(large_branch.problem, CpsatSettings(), Stop.on(cancel), seed=0)
    assert violations(large_branch.problem, solution.member_of, solution.backup_of) == []
    assert len(calls) == 1
    assert solution.stopped and solution.status == "feasible"


def test_cancelling_greedy_mid_search_ends_its_local_search(monkeypatch, town_branch):
    """Cancel set during the first pass of the local search: no pass after it, the plan is valid."""
    cancel = threading.Event()
    passes: list[int] = []
    original = greedy._Engine._cancel_cycles

    def first_cancels(self):
        passes.append(1)
        cancel.set()
        return original(self)

    monkeypatch.setattr(greedy._Engine, "_cancel_cycles", first_cancels)
    solution = greedy.ENGINE.solve(town_branch.problem, GreedySettings(), Stop.on(cancel), seed=0)
    assert violations(town_branch.problem, solution.member_of) == []
    assert len(passes) == 1
    assert solution.stopped


@pytest.mark.parametrize("name", ENGINES)
@settings(max_examples=EXAMPLES)
@given(case=branches(), seed=st.integers(0, 2**31 - 1))
def test_same_seed_same_plan(name, case, seed):
    _, branch = case
    if not engines.load(name).supports(branch.problem):
        return
    first, second = run(name, branch, seed=seed), run(name, branch, seed=seed)
    assert np.array_equal(first.member_of, second.member_of)
    assert (first.backup_of is None) == (second.backup_of is None)
    if first.backup_of is not None:
        assert np.array_equal(first.backup_of, second.backup_of)
    assert (first.objective, first.status, first.bound) == (second.objective, second.status, second.bound)


def test_stops_compose():
    """``a | b`` stops at the earlier deadline or on any cancel flag; part/within keep the flags."""
    first, second = threading.Event(), threading.Event()
    late, early = Stop.after(100.0), Stop.after(10.0)
    both = late | early | Stop.on(first) | Stop.on(second)
    assert both.at == early.at
    assert Stop() | late == late and (Stop() | Stop()).at is None
    assert not both.expired() and 9.0 < both.remaining() <= 10.0
    assert Stop().remaining() is None and not Stop().expired()
    part = both.part(0.5)
    assert part.remaining() <= 5.0 + 1e-6 and part.events == both.events
    within = Stop.on(first).within(3.0)
    assert within.remaining() <= 3.0 and within.events == (first,)
    second.set()
    assert both.expired() and both.remaining() == 0.0 and part.expired()
    assert not within.expired()
    assert Stop(now() - 1.0).expired()
