"""Shared fixtures and hypothesis profiles (HYPOTHESIS_PROFILE=dev|ci|thorough).

``ci`` (what ``make test`` runs) replays the same 50 examples per property
on every run; ``thorough`` draws 500 fresh ones, for a longer hunt.

The towns are inputs built once per session and shared: a test never
changes their frames (it derives new ones with ``assign``/``drop``/``copy``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

import baohu_assign as ba

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def demo_town() -> ba.synth.Town:
    """The demo town (``make_town(0)``: 12,000 households, 32 branches, stairwell units)."""
    return ba.synth.make_town(0)


@pytest.fixture(scope="session")
def town() -> ba.Scenario:
    """900 households in five branches: plain ones (min-cost flow) and one with stairwell units (CP-SAT)."""
    synthetic = ba.synth.make_town(5, households=900, branches=5)
    return ba.Scenario.from_frames(synthetic.members, synthetic.households)


@pytest.fixture(scope="session")
def plain_town() -> ba.Scenario:
    """1,500 households in six branches without stairwell units: every branch a min-cost flow."""
    synthetic = ba.synth.make_town(1, households=1500, branches=6, stairwells=False)
    return ba.Scenario.from_frames(synthetic.members, synthetic.households)


@pytest.fixture(scope="session")
def short_plan() -> ba.Plan:
    """600 households in four branches, the last left with two available members (households
    uncovered), backups for critical households; solved once."""
    town = ba.synth.make_town(1, households=600, branches=4)
    members = town.members.copy()
    short = members["branch"].iloc[-1]
    members.loc[members.index[members["branch"] == short][:-2], "available"] = False
    scenario = ba.Scenario.from_frames(members, town.households, policy=ba.Policy(backup_tiers=("critical",)))
    plan = ba.solve(scenario, seed=0)
    assert len(plan.uncovered()) > 0, "the short branch must leave households uncovered"
    return plan


@pytest.fixture(scope="session")
def relocation_plans() -> tuple[ba.Plan, ba.Plan]:
    """(before, after): the plan in force on a town with current contacts (1,500 households,
    six branches), and its rebalance after ``synth.relocate`` moved a village and added 12 households."""
    town = ba.synth.make_town(3, households=1500, branches=6, current=True)
    before = ba.rebalance(ba.Scenario.from_frames(town.members, town.households))
    moved = ba.synth.relocate(town, seed=0, new_households=12)
    after = ba.rebalance(ba.Scenario.from_frames(moved.members, moved.households), current=before)
    return before, after


@pytest.fixture(scope="session")
def first_plan(tmp_path_factory):
    """(town, plan, folder): a town of two villages and a community, tight on capacity, solved once and written.

    The starting point of the rebalance tests: its plan is "the last plan" (its folder is only read).
    """
    town = ba.synth.make_town(
        5, households=150, branches=3, stairwells=False, relocation=False, members_per_household=1 / 8
    )
    scenario = ba.Scenario.from_frames(
        town.members, town.households.drop(columns=["current_member_id"], errors="ignore")
    )
    plan = ba.solve(scenario, objective="distance")
    folder = tmp_path_factory.mktemp("first")
    plan.write(folder)
    return town, plan, folder
