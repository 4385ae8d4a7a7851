"""The place hierarchy: validating locations.csv, resolving location_id, roll-ups per building and compound."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.cli import main
from baohu_assign.datasets.synth import make_community_with_locations
from baohu_assign.io.locations import Locations
from baohu_assign.model.compile import compile_scenario

LAT0, LON0 = 34.72, 114.0

TREE = """location_id,parent_id,kind,name,lat,lon
T,,town,大孟镇,34.70,114.00
C,T,community,朱大汉社区,34.72,114.00
Y1,C,compound,一号院,34.7205,114.0005
B1,Y1,building,1号楼,34.7206,114.0006
U1,B1,unit,1单元,,
U2,B1,unit,2单元,,
B2,Y1,building,2号楼,,
U3,B2,unit,1单元,,
"""


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def community():
    # Without a time limit every seed gives the same plan run after run (see test_determinism.py); with
    # seed 0 the branch with stairwell units is also proven optimal at once, which keeps these tests fast.
    return make_community_with_locations(0)


# -- validation of locations.csv, through the command line -------------------------------------

GOOD_PEOPLE_MEMBERS = "member_id,branch,location_id\nM1,C,U1\n"
GOOD_PEOPLE_HOUSEHOLDS = "household_id,branch,location_id\nH1,C,U1\nH2,C,U3\n"


@pytest.mark.parametrize(
    ("rows", "row", "column", "words"),
    [
        ("A,,village,a,,\nA,,village,b,,\n", 3, "location_id", "duplicate location_id"),
        ("A,,hamlet,a,,\n", 2, "kind", "unknown kind"),
        ("A,Z,building,a,,\n", 2, "parent_id", "unknown parent_id"),
        ("A,B,compound,a,,\nB,A,building,b,,\n", 2, "parent_id", "cycle: A → B → A"),
        ("A,A,building,a,,\n", 2, "parent_id", "cycle: A → A"),
        ("V,,village,v,,\nA,V,unit,a,,\n", 3, "parent_id", "a unit's parent must be building, not a village"),
        ("B,,building,b,,\nY,B,compound,y,,\n", 3, "parent_id", "compound's parent must be"),
        ("A,,unit,a,,\n", 2, "parent_id", "a unit needs a parent building"),
        ("A,,village,a,34.7,\n", 2, "lon", "give both or neither"),
        ("A,,village,a,134.7,114\n", 2, "lat", "latitude must be between -90 and 90"),
        ("A,,village,a,abc,114\n", 2, "lat", "expected a number"),
    ],
)
def test_bad_locations_exit_2_naming_file_row_and_column(tmp_path, capsys, rows, row, column, words):
    locations = write(tmp_path / "locations.csv", "location_id,parent_id,kind,name,lat,lon\n" + rows)
    members = write(tmp_path / "members.csv", "member_id,branch,lat,lon\nM1,C,34.72,114\n")
    households = write(tmp_path / "households.csv", "household_id,branch,lat,lon\nH1,C,34.72,114\n")
    code = main(["solve", str(members), str(households), "--locations", str(locations), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"locations.csv, row {row}, column '{column}'" in err
    assert words in err
    assert "Traceback" not in err


def test_every_problem_of_locations_is_listed_at_once(tmp_path):
    text = "location_id,kind,parent_id\nA,hamlet,\nB,building,Z\nB,building,\n"
    with pytest.raises(ba.InputError) as caught:
        Locations.from_csv(write(tmp_path / "locations.csv", text))
    assert [(i.row, i.column) for i in caught.value.issues] == [(2, "kind"), (3, "parent_id"), (4, "location_id")]


def test_missing_required_column_is_named(tmp_path):
    with pytest.raises(ba.InputError, match="required column 'kind' is missing"):
        Locations.from_csv(write(tmp_path / "locations.csv", "location_id,parent_id\nA,\n"))


def test_unknown_location_id_in_households_exits_2(tmp_path, capsys):
    locations = write(tmp_path / "locations.csv", TREE)
    members = write(tmp_path / "members.csv", GOOD_PEOPLE_MEMBERS)
    households = write(tmp_path / "households.csv", "household_id,branch,location_id\nH1,C,U1\nH2,C,U9\n")
    code = main(["solve", str(members), str(households), "--locations", str(locations), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "households.csv, row 3, column 'location_id'" in err and "'U9'" in err


def test_location_without_any_coordinates_is_an_error_only_where_needed(tmp_path):
    tree = "location_id,parent_id,kind\nV,,village\nB,V,building\n"
    locations = Locations.from_frame(pd.read_csv(pd.io.common.StringIO(tree), dtype=str, keep_default_na=False))
    members = pd.DataFrame({"member_id": ["M1"], "branch": ["V"], "lat": [LAT0], "lon": [LON0], "location_id": ["B"]})
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2"],
            "branch": ["V", "V"],
            "lat": [LAT0, None],
            "lon": [LON0, None],
            "location_id": ["B", "B"],
        }
    )
    with pytest.raises(ba.InputError) as caught:
        ba.Scenario.from_frames(members, households, locations=locations)
    issues = caught.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [("households", 3, "location_id")]
    assert "no coordinates" in issues[0].message
    # With coordinates in the row, the same location is fine.
    households.loc[1, ["lat", "lon"]] = [LAT0, LON0]
    assert len(ba.Scenario.from_frames(members, households, locations=locations).households) == 2


# -- resolving location_id ------------------------------------------------------------------------


def tree_locations() -> Locations:
    return Locations.from_frame(pd.read_csv(pd.io.common.StringIO(TREE), dtype=str, keep_default_na=False))


def test_locations_inherit_the_nearest_ancestors_coordinates():
    table = tree_locations().table.set_index("location_id")
    assert table.loc["U1", ["lat", "lon"]].tolist() == [34.7206, 114.0006]  # its building's
    assert table.loc["B2", ["lat", "lon"]].tolist() == [34.7205, 114.0005]  # its compound's
    assert table.loc["U3", ["lat", "lon"]].tolist() == [34.7205, 114.0005]  # two levels up
    assert not table.loc["U1", "own_coordinates"] and table.loc["B1", "own_coordinates"]


def test_ancestor_and_counts():
    locations = tree_locations()
    ids = np.array(["U1", "U3", "B1", "Y1", "C", None, "nope"], dtype=object)
    assert locations.ancestor(ids, "building").tolist() == ["B1", "B2", "B1", None, None, None, None]
    assert locations.ancestor(ids, "compound").tolist() == ["Y1", "Y1", "Y1", "Y1", None, None, None]
    assert locations.counts() == {"town": 1, "village": 0, "community": 1, "compound": 1, "building": 2, "unit": 3}
    with pytest.raises(ValueError, match="unknown location kind"):
        locations.ancestor(ids, "street")


def test_chinese_kind_words_are_accepted():
    frame = pd.DataFrame(
        {
            "location_id": ["C", "Y", "B", "U"],
            "parent_id": ["", "C", "Y", "B"],
            "kind": ["社区", "楼院", "楼栋", "单元"],
        }
    )
    assert Locations.from_frame(frame).table["kind"].tolist() == ["community", "compound", "building", "unit"]


def test_rows_take_location_coordinates_and_explicit_ones_win():
    members = pd.DataFrame(
        {
            "member_id": ["M1", "M2"],
            "branch": ["C", "C"],
            "location_id": ["U1", "B2"],
            "lat": [None, 34.73],
            "lon": [None, 114.01],
        }
    )
    households = pd.DataFrame({"household_id": ["H1"], "branch": ["C"], "location_id": ["U3"]})
    scenario = ba.Scenario.from_frames(members, households, locations=tree_locations())
    assert scenario.members[["lat", "lon"]].to_numpy().tolist() == [[34.7206, 114.0006], [34.73, 114.01]]
    assert scenario.households[["lat", "lon"]].to_numpy().tolist() == [[34.7205, 114.0005]]
    assert scenario.members["location_id"].tolist() == ["U1", "B2"]


def test_a_unit_implies_the_group_and_an_explicit_group_wins_with_a_warning():
    members = pd.DataFrame({"member_id": ["M1"], "branch": ["C"], "location_id": ["U1"]})
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4"],
            "branch": ["C"] * 4,
            "location_id": ["U1", "U1", "B1", "U2"],
            "group_id": [None, None, None, "G7"],
        }
    )
    scenario = ba.Scenario.from_frames(members, households, locations=tree_locations())
    assert scenario.households["group_id"].tolist() == ["U1", "U1", pd.NA, "G7"]
    warning = next(w for w in scenario.warnings if w.code == "group_differs_from_unit")
    assert warning.count == 1 and warning.examples == ["H4"]


def test_without_locations_location_id_is_a_plain_column(tmp_path):
    members = pd.DataFrame({"member_id": ["M1"], "branch": ["C"], "lat": [LAT0], "lon": [LON0], "location_id": ["X"]})
    households = pd.DataFrame({"household_id": ["H1"], "branch": ["C"], "lat": [LAT0], "lon": [LON0]})
    scenario = ba.Scenario.from_frames(members, households)
    assert scenario.locations is None and scenario.members["location_id"].tolist() == ["X"]
    plan = ba.solve(scenario)
    paths = plan.write(tmp_path)
    assert "rollup_buildings" not in paths and not (tmp_path / "rollup_buildings.csv").exists()
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["hierarchy"] is None
    with pytest.raises(ValueError, match="place hierarchy"):
        plan.rollup("building")


def test_replace_keeps_the_locations(community):
    scenario = ba.Scenario.from_frames(community.members, community.households, locations=community.locations)
    again = scenario.replace(policy=ba.Policy(max_distance_m=1500.0))
    assert again.locations is scenario.locations
    pd.testing.assert_frame_equal(again.households.drop(columns="row"), scenario.households.drop(columns="row"))


# -- a community described only by its places solves as the explicit one ---------------------------


def test_locations_solve_the_same_as_explicit_coordinates_and_groups(community):
    located = ba.Scenario.from_frames(community.members, community.households, locations=community.locations)
    explicit = ba.Scenario.from_frames(community.explicit_members, community.explicit_households)
    assert "lat" not in community.households and "group_id" not in community.households
    assert located.households["group_id"].notna().sum() > 0
    for column in ("lat", "lon", "group_id"):
        pd.testing.assert_series_equal(located.households[column], explicit.households[column])
    for column in ("lat", "lon"):
        pd.testing.assert_series_equal(located.members[column], explicit.members[column])
    # The same numeric problem, array for array...
    compiled = [
        compile_scenario(s.members, s.households, objective="distance", policy=s.policy) for s in (located, explicit)
    ]
    assert [b.branch for b in compiled[0]] == [b.branch for b in compiled[1]]
    for one, other in zip(*compiled, strict=True):
        for name in one.problem.__dataclass_fields__:
            x, y = getattr(one.problem, name), getattr(other.problem, name)
            assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, name
    # ... and the same plan.
    a = ba.solve(located, objective="distance", seed=0)
    b = ba.solve(explicit, objective="distance", seed=0)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    pd.testing.assert_frame_equal(a.members, b.members)
    assert a.report.components == b.report.components


def test_cli_with_locations_writes_the_same_plan_as_explicit_files(community, tmp_path):
    located = community.write_csv(tmp_path / "located")
    explicit = community.write_csv(tmp_path / "explicit", explicit=True)
    assert b"group_id" not in located[2].read_bytes()
    common = ["--objective", "distance", "--quiet"]
    assert (
        main(
            [
                "solve",
                str(located[1]),
                str(located[2]),
                "--locations",
                str(located[0]),
                "--out",
                str(tmp_path / "a"),
                *common,
            ]
        )
        == 0
    )
    assert main(["solve", str(explicit[1]), str(explicit[2]), "--out", str(tmp_path / "b"), *common]) == 0
    for name in ("assignments.csv", "members.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    counts = report["hierarchy"]["locations"]
    assert counts == {kind: int((community.locations["kind"] == kind).sum()) for kind in counts}
    assert len(report["hierarchy"]["buildings"]) >= counts["building"]
    rollup = pd.read_csv(tmp_path / "a" / "rollup_buildings.csv", encoding="utf-8-sig")
    assert rollup["households"].sum() == len(community.households)
    assert (tmp_path / "a" / "rollup_compounds.csv").exists()
    assert not (tmp_path / "b" / "rollup_buildings.csv").exists()


# -- roll-ups add up to the plan ----------------------------------------------------------------------


@st.composite
def placed_towns(draw):
    """A random little tree, households and members placed in it (or given coordinates), some at no location."""
    compounds = draw(st.integers(1, 3))
    rows = [("C", "", "community", "0", "0")]
    kinds_by_id = {}
    for c in range(compounds):
        rows.append((f"Y{c}", "C", "compound", "", ""))
        for b in range(draw(st.integers(0, 3))):
            building = f"Y{c}B{b}"
            rows.append((building, f"Y{c}", "building", str(c * 0.001), str(b * 0.001)))
            for u in range(draw(st.integers(0, 2))):
                rows.append((f"{building}U{u}", building, "unit", "", ""))
    # A building straight under the community, outside every compound.
    rows.append(("LONE", "C", "building", "0.002", "0.002"))
    for r in rows:
        kinds_by_id[r[0]] = r[2]
    locations = pd.DataFrame(rows, columns=["location_id", "parent_id", "kind", "lat", "lon"])
    locations["lat"] = [str(LAT0 + float(v)) if v else "" for v in locations["lat"]]
    locations["lon"] = [str(LON0 + float(v)) if v else "" for v in locations["lon"]]
    places = [r[0] for r in rows]
    spot = st.sampled_from([*places, ""])
    n_h = draw(st.integers(1, 25))
    n_m = draw(st.integers(0, 8))
    h_loc = draw(st.lists(spot, min_size=n_h, max_size=n_h))
    m_loc = draw(st.lists(spot, min_size=n_m, max_size=n_m))
    households = pd.DataFrame(
        {
            "household_id": [f"H{i:02d}" for i in range(n_h)],
            "branch": draw(st.lists(st.sampled_from(["A", "B"]), min_size=n_h, max_size=n_h)),
            "priority": draw(st.lists(st.sampled_from(["normal", "elevated", "critical"]), min_size=n_h, max_size=n_h)),
            "location_id": h_loc,
            "lat": ["" if loc else str(LAT0 + 0.0005) for loc in h_loc],
            "lon": ["" if loc else str(LON0) for loc in h_loc],
        }
    )
    members = pd.DataFrame(
        {
            "member_id": [f"M{i}" for i in range(n_m)],
            "branch": draw(st.lists(st.sampled_from(["A", "B"]), min_size=n_m, max_size=n_m)),
            "capacity": draw(st.lists(st.integers(0, 12), min_size=n_m, max_size=n_m)),
            "available": draw(st.lists(st.booleans(), min_size=n_m, max_size=n_m)),
            "location_id": m_loc,
            "lat": ["" if loc else str(LAT0) for loc in m_loc],
            "lon": ["" if loc else str(LON0) for loc in m_loc],
        }
    )
    return locations, members, households


def under(locations: pd.DataFrame, location: str, kind: str) -> str | None:
    """Oracle: walk the parent links up from ``location`` until a location of ``kind``."""
    parent = dict(zip(locations["location_id"], locations["parent_id"], strict=True))
    kinds = dict(zip(locations["location_id"], locations["kind"], strict=True))
    while location:
        if kinds[location] == kind:
            return location
        location = parent[location]
    return None


@settings(max_examples=25)
@given(placed_towns())
def test_rollups_add_up_to_the_plan(town):
    locations, members, households = town
    scenario = ba.Scenario.from_frames(members, households, locations=locations)
    plan = ba.solve(scenario, strategy="greedy", seed=0)
    report = plan.report
    for level in ("building", "compound"):
        rollup = plan.rollup(level)
        assert rollup["households"].sum() == len(households)
        assert rollup["covered"].sum() == report.counts.covered
        for tier in ("critical", "elevated", "normal"):
            total = int((households["priority"] == tier).sum())
            missing = getattr(report.components.uncovered, tier)
            assert rollup[f"covered_{tier}"].sum() == total - missing
            assert rollup[f"uncovered_{tier}"].sum() == missing
        assert rollup["members_living"].sum() == len(members)
        assert rollup["capacity"].sum() == plan.members["capacity"].sum()
        assert rollup["load"].sum() == report.counts.covered
        assert (rollup["households"] == rollup["covered"] + rollup["uncovered"]).all()
        # Each location's households, counted by walking the tree independently.
        expected = pd.Series([under(locations, loc, level) for loc in households["location_id"]]).value_counts()
        got = rollup.dropna(subset=["location_id"]).set_index("location_id")["households"]
        for location_id, count in got.items():
            assert count == expected.get(location_id, 0), (level, location_id)
        assert list(got.index) == locations.loc[locations["kind"] == level, "location_id"].tolist()


def test_allowed_parents_always_point_up_the_tree():
    from baohu_assign.io.locations import ALLOWED_PARENTS, LOCATION_KINDS

    assert set(ALLOWED_PARENTS) == set(LOCATION_KINDS)
    for kind, parents in ALLOWED_PARENTS.items():
        assert all(LOCATION_KINDS.index(p) < LOCATION_KINDS.index(kind) for p in parents), kind
