"""Each cost formula once: what the compiler builds is what model.costs and model.geo compute."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.model import costs
from baohu_assign.model.compile import compile_scenario
from baohu_assign.model.geo import candidate_arcs, distances_from_m, great_circle_m, unit_vectors

coordinates = st.tuples(st.floats(34.0, 35.0), st.floats(113.5, 114.5))


@settings(max_examples=40, deadline=None)
@given(st.lists(coordinates, min_size=1, max_size=6), st.lists(coordinates, min_size=1, max_size=30), st.data())
def test_one_to_many_distances_are_the_arc_distances_bit_for_bit(members, households, data):
    m_lat, m_lon = (np.array(v, dtype=np.float64) for v in zip(*members, strict=True))
    h_lat, h_lon = (np.array(v, dtype=np.float64) for v in zip(*households, strict=True))
    m = data.draw(st.integers(0, len(members) - 1))
    mobile = np.arange(len(members)) == m  # a mobile member has an arc to every household
    arc_h, arc_m, distance = candidate_arcs(
        unit_vectors(m_lat, m_lon), np.zeros(len(members)), mobile, unit_vectors(h_lat, h_lon)
    )
    assert arc_h[arc_m == m].tolist() == list(range(len(households)))
    assert np.array_equal(distances_from_m(m_lat[m], m_lon[m], h_lat, h_lon), distance[arc_m == m])
    # Same quantity as the pairwise haversine, to well below a millimetre.
    np.testing.assert_allclose(
        distance[arc_m == m], great_circle_m(np.full(len(households), m_lat[m]), m_lon[m], h_lat, h_lon), atol=1e-6
    )


def test_compiled_costs_and_hour_weights_are_the_formulas_of_costs():
    town = ba.synth.with_hours(ba.synth.make_town(5, households=300, branches=3, current=True), 5)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    policy = scenario.policy
    compiled = compile_scenario(scenario.members, scenario.households, objective="min-churn", policy=policy)
    weighted = 0
    for branch in compiled:
        problem = branch.problem
        hh = scenario.households.iloc[branch.household_rows]
        arc_h = problem.arc_household
        visits = hh["visits_per_week"].to_numpy(dtype=np.float64)[arc_h]
        travel = costs.travel_cost(visits, problem.arc_distance_m, branch.travel_unit)
        changes = costs.churned(problem.household_current[arc_h], problem.arc_member)
        # Arc cost = travel, plus the churn penalty where the arc changes a contact (first contacts included).
        extra = problem.arc_cost - travel
        assert set(np.unique(extra).tolist()) <= {0, problem.churn_penalty}
        assert (extra[changes] == problem.churn_penalty).all()
        if problem.arc_weight is not None:
            minutes = hh["minutes_per_visit"].to_numpy(dtype=np.float64)[arc_h]
            expected = costs.arc_weight(visits, minutes, problem.arc_distance_m, policy.walking_speed_m_per_min)
            assert np.array_equal(problem.arc_weight, expected)
            weighted += 1
    assert weighted  # the town gives hours, so budgets were compiled


def test_arc_weight_is_weekly_minutes_rounded_up():
    visits = np.array([1.0, 3.0, 14.0])
    minutes = np.array([15.0, 20.0, 10.0])
    distance = np.array([0.0, 350.0, 1234.5])
    per_week = visits * (minutes + 2 * distance / 70.0)
    weight = costs.arc_weight(visits, minutes, distance, 70.0)
    assert weight.dtype == np.int64
    assert (weight * costs.WEIGHT_UNIT_MIN >= per_week - 1e-9).all()
    assert (weight * costs.WEIGHT_UNIT_MIN < per_week + costs.WEIGHT_UNIT_MIN).all()


def test_frames_without_the_optional_columns_compile_with_the_defaults():
    members = pd.DataFrame(
        {"member_id": ["M1"], "branch": ["A"], "lat": [34.7], "lon": [114.0], "capacity": [3], "available": [True]}
    )
    members = members.assign(max_distance_m=2000.0, mobile=False)
    households = pd.DataFrame(
        {"household_id": ["H1"], "branch": ["A"], "lat": [34.701], "lon": [114.0], "priority": ["normal"]}
    )
    households = households.assign(visits_per_week=1.0)
    (branch,) = compile_scenario(members, households, objective="distance", policy=ba.Policy())
    assert branch.problem.arc_weight is None and branch.problem.num_arcs == 1
    with_hours = members.assign(hours_per_week=1.0)
    (branch,) = compile_scenario(with_hours, households, objective="distance", policy=ba.Policy())
    distance = branch.problem.arc_distance_m
    expected = costs.arc_weight(np.ones(1), np.full(1, ba.Policy().minutes_per_visit), distance, 70.0)
    assert np.array_equal(branch.problem.arc_weight, expected)
