"""Shared fixtures and hypothesis profiles (HYPOTHESIS_PROFILE=dev|ci)."""

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
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="module")
def first_plan(tmp_path_factory):
    """(town, plan, folder): a town of two villages and a community, tight on capacity, solved once and written.

    The starting point of the rebalance tests: its plan is "the last plan".
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
