"""Candidate arcs: the grid of a small branch and the KD-trees of a large one give the same arcs, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baohu_assign.model import geo


def _oracle(member_xyz, reach, mobile, household_xyz):
    """Every pair measured one at a time with arc_distance_m, kept when mobile or within reach; by household, member."""
    rows = []
    for h in range(household_xyz.shape[0]):
        for m in range(member_xyz.shape[0]):
            d = float(geo.arc_distance_m(household_xyz[h : h + 1], member_xyz[m : m + 1])[0])
            if mobile[m] or (reach[m] > 0 and d <= reach[m]):
                rows.append((h, m, d))
    h, m, d = zip(*rows, strict=True) if rows else ((), (), ())
    return np.array(h, dtype=np.int32), np.array(m, dtype=np.int32), np.array(d, dtype=np.float64)


@st.composite
def _branch(draw):
    num_h = draw(st.integers(0, 40))
    num_m = draw(st.integers(0, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # About 2 km across, so reaches of 0-1.5 km keep some pairs and drop others.
    h_lat, h_lon = 34.7 + rng.random(num_h) * 0.02, 113.9 + rng.random(num_h) * 0.02
    m_lat, m_lon = 34.7 + rng.random(num_m) * 0.02, 113.9 + rng.random(num_m) * 0.02
    reach = rng.choice([0.0, -1.0, np.nan, 300.0, 800.0, 1500.0], size=num_m)
    mobile = rng.random(num_m) < 0.15
    if num_h and num_m and draw(st.booleans()):
        # A household exactly on a member: distance 0.
        h_lat[0], h_lon[0] = m_lat[0], m_lon[0]
    return geo.unit_vectors(m_lat, m_lon), reach, mobile, geo.unit_vectors(h_lat, h_lon)


@pytest.mark.parametrize("dense_pairs", [0, 10**9], ids=["kd-trees", "grid"])
@settings(max_examples=60, deadline=None)
@given(branch=_branch())
def test_candidate_arcs_match_pairs_measured_one_by_one(dense_pairs, branch):
    member_xyz, reach, mobile, household_xyz = branch
    expected = _oracle(member_xyz, reach, mobile, household_xyz)
    original = geo.DENSE_PAIRS
    geo.DENSE_PAIRS = dense_pairs
    try:
        got = geo.candidate_arcs(member_xyz, reach, mobile, household_xyz)
    finally:
        geo.DENSE_PAIRS = original
    for want, have in zip(expected, got, strict=True):
        assert have.dtype == want.dtype
        np.testing.assert_array_equal(have, want)


def test_kd_trees_query_members_in_chunks(monkeypatch):
    """More members than one query takes, with different reaches: still every pair within reach."""
    rng = np.random.default_rng(3)
    num_h, num_m = 300, 50
    household_xyz = geo.unit_vectors(34.7 + rng.random(num_h) * 0.02, 113.9 + rng.random(num_h) * 0.02)
    member_xyz = geo.unit_vectors(34.7 + rng.random(num_m) * 0.02, 113.9 + rng.random(num_m) * 0.02)
    reach = rng.uniform(100.0, 2500.0, size=num_m)
    mobile = np.zeros(num_m, dtype=bool)
    monkeypatch.setattr(geo, "DENSE_PAIRS", 0)
    monkeypatch.setattr(geo, "MEMBERS_PER_QUERY", 7)
    got = geo.candidate_arcs(member_xyz, reach, mobile, household_xyz)
    for want, have in zip(_oracle(member_xyz, reach, mobile, household_xyz), got, strict=True):
        np.testing.assert_array_equal(have, want)
