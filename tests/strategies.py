"""Hypothesis strategies: small random scenarios as typed frames."""

from __future__ import annotations

import pandas as pd
from hypothesis import strategies as st

BRANCHES = ("甲村", "乙社区", "丙村")
PRIORITIES = ("normal", "elevated", "critical")
VISITS = {"normal": 1.0, "elevated": 3.0, "critical": 14.0}


@st.composite
def scenarios(
    draw,
    *,
    max_members: int = 4,
    max_households: int = 8,
    max_branches: int = 2,
    groups: bool = False,
    pins: bool = False,
    current: bool = False,
    min_members: int = 0,
    min_households: int = 0,
    hours: bool = False,
    max_capacity: int = 3,
    grid: int = 8,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(members, households) with integer-grid coordinates about 100 m apart.

    Reaches end in .5 m so no pair lies exactly on a reach boundary. With
    ``hours``, members give ``hours_per_week`` (blank, or small enough to bind).
    ``grid``: largest grid coordinate (smaller: more pairs within reach).
    """
    num_branches = draw(st.integers(1, max_branches))
    branches = BRANCHES[:num_branches]
    num_m = draw(st.integers(min_members, max_members))
    num_h = draw(st.integers(min_households, max_households))
    grid = st.tuples(st.integers(0, grid), st.integers(0, grid))
    members = []
    for i in range(num_m):
        y, x = draw(grid)
        members.append(
            {
                "member_id": f"M{i:02d}",
                "branch": draw(st.sampled_from(branches)),
                "lat": 34.70 + y * 0.001,
                "lon": 114.00 + x * 0.001,
                "capacity": draw(st.integers(0, max_capacity)),
                "max_distance_m": draw(st.sampled_from([150.5, 300.5, 600.5])),
                "mobile": draw(st.booleans().map(lambda b: b and draw(st.integers(0, 4)) == 0)),
                "available": draw(st.integers(0, 7)) > 0,
            }
        )
        if hours:
            members[-1]["hours_per_week"] = draw(st.sampled_from([None, 0.5, 1.0, 4.0]))
    households = []
    member_ids = [m["member_id"] for m in members]
    for i in range(num_h):
        y, x = draw(grid)
        priority = draw(st.sampled_from(PRIORITIES))
        row = {
            "household_id": f"H{i:02d}",
            "branch": draw(st.sampled_from(branches)),
            "lat": 34.70 + y * 0.001,
            "lon": 114.00 + x * 0.001,
            "priority": priority,
            "visits_per_week": VISITS[priority],
        }
        if groups:
            row["group_id"] = draw(st.sampled_from([None, None, "G1", "G2"]))
        if current or pins:
            row["current_member_id"] = draw(st.sampled_from([None, *member_ids])) if member_ids else None
        if pins:
            row["pinned"] = bool(row["current_member_id"]) and draw(st.integers(0, 3)) == 0
        households.append(row)
    m_cols = ["member_id", "branch", "lat", "lon", "capacity", "max_distance_m", "mobile", "available"]
    if hours:
        m_cols.append("hours_per_week")
    h_cols = ["household_id", "branch", "lat", "lon", "priority", "visits_per_week"]
    if groups:
        h_cols.append("group_id")
    if current or pins:
        h_cols.append("current_member_id")
    if pins:
        h_cols.append("pinned")
    return pd.DataFrame(members, columns=m_cols), pd.DataFrame(households, columns=h_cols)
