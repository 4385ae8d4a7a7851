"""One conversion of typed frames to the text a file would hold, for every validator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.io.locations import Locations
from baohu_assign.io.policy import Policy
from baohu_assign.io.tables import text_column, text_frame
from baohu_assign.io.validate import validate_members


def test_text_column_writes_cells_as_a_csv_holds_them():
    column = pd.Series([7.0, 7.5, np.nan, None, True, "007", " "], dtype=object)
    assert text_column(column).tolist() == ["7", "7.5", "", "", "true", "007", " "]


def test_typed_ids_read_the_same_through_every_door():
    members = pd.DataFrame({"member_id": [7.0, 8.0], "branch": ["A", "A"], "lat": [34.7, 34.7], "lon": [114.0, 114.0]})
    households = pd.DataFrame({"household_id": [1.0], "branch": ["A"], "lat": [34.7], "lon": [114.0]})
    direct = validate_members(members, Policy())
    scenario = ba.Scenario.from_frames(members, households)
    assert direct["member_id"].tolist() == scenario.members["member_id"].tolist() == ["7", "8"]


def test_headers_that_normalise_alike_are_reported_not_merged():
    members = pd.DataFrame([["M1", "M2", "A", 34.7, 114.0]], columns=["member_id", "Member ID", "branch", "lat", "lon"])
    households = pd.DataFrame({"household_id": ["H1"], "branch": ["A"], "lat": [34.7], "lon": [114.0]})
    with pytest.raises(ba.InputError, match="duplicate column name 'member_id'"):
        ba.Scenario.from_frames(members, households)
    locations = pd.DataFrame([["P1", "P2", "town"]], columns=["location_id", "Location ID", "kind"])
    with pytest.raises(ba.InputError, match="duplicate column name 'location_id'"):
        Locations.from_frame(locations)


def test_text_frame_keeps_the_headers_as_given():
    frame = text_frame(pd.DataFrame({" Member ID ": [1], "Phone": ["x"]}))
    assert list(frame.columns) == ["member_id", "phone"]
    assert frame.attrs["original_columns"] == {"member_id": " Member ID ", "phone": "Phone"}
