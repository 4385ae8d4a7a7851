"""Building and compound leaders: exact against a brute-force oracle, the rules, the outputs."""

from __future__ import annotations

import itertools

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.cli import main
from baohu_assign.datasets.synth import make_community_with_locations
from baohu_assign.outputs.leaders import LEADER_COLUMNS, choose_leaders
from oracles import haversine_m

LAT0, LON0 = 34.72, 114.0
DEG = 1e-3  # about 111 m of latitude


def scenario_of(locations: list[tuple], members: list[dict], households: list[dict]) -> ba.Scenario:
    frame = pd.DataFrame(locations, columns=["location_id", "parent_id", "kind", "lat", "lon"])
    return ba.Scenario.from_frames(pd.DataFrame(members), pd.DataFrame(households), locations=frame)


# -- exactness against brute force ---------------------------------------------------------------


@st.composite
def tiny_estates(draw):
    """One compound of 1–4 buildings (each with a unit), 0–5 members of its branch and one of another."""
    buildings = draw(st.integers(1, 4))
    locations = [("Y", "", "compound", LAT0, LON0)]
    for b in range(buildings):
        locations.append(
            (f"B{b}", "Y", "building", LAT0 + draw(st.integers(0, 5)) * DEG, LON0 + draw(st.integers(0, 5)) * DEG)
        )
        locations.append((f"B{b}U", f"B{b}", "unit", None, None))
    households = [{"household_id": f"H{b}", "branch": "A", "location_id": f"B{b}U"} for b in range(buildings)]
    homes = [*(f"B{b}" for b in range(buildings)), *(f"B{b}U" for b in range(buildings)), None]
    members = []
    for m in range(draw(st.integers(0, 5))):
        home = draw(st.sampled_from(homes))
        members.append(
            {
                "member_id": f"M{m}",
                "branch": "A",
                "location_id": home,
                "lat": None if home else LAT0 + draw(st.integers(0, 6)) * DEG,
                "lon": None if home else LON0 + draw(st.integers(0, 6)) * DEG,
                "available": draw(st.booleans()),
                "role": draw(st.sampled_from(["", "cadre", "Cadre ", "干部", "member"])),
            }
        )
    # A member of another branch living in the first building: never a candidate.
    members.append(
        {
            "member_id": "Z",
            "branch": "other",
            "location_id": "B0U",
            "lat": None,
            "lon": None,
            "available": True,
            "role": "cadre",
        }
    )
    return locations, members, households


def oracle(scenario: ba.Scenario, level: str) -> tuple[int, int, float]:
    """Best (locations without leader, unavailable leaders, total distance) over every injective choice."""
    locations = scenario.locations.table
    places = locations[locations["kind"] == level].reset_index(drop=True)
    members = scenario.members
    if level == "compound":
        members = members[members["role"].fillna("").str.strip().str.lower().isin(["cadre", "干部"])]
    members = members[members["branch"] == "A"].reset_index(drop=True)
    home = scenario.locations.ancestor(members["location_id"].to_numpy(dtype=object), level)

    def cost(p: int, m: int) -> float:
        if home[m] == places.loc[p, "location_id"]:
            return 0.0
        return haversine_m(places.loc[p, "lat"], places.loc[p, "lon"], members.loc[m, "lat"], members.loc[m, "lon"])

    best = None
    choices = [None, *range(len(members))]
    for pick in itertools.product(choices, repeat=len(places)):
        chosen = [m for m in pick if m is not None]
        if len(chosen) != len(set(chosen)):
            continue
        value = (
            sum(m is None for m in pick),
            sum(not members.loc[m, "available"] for m in chosen),
            sum(cost(p, m) for p, m in enumerate(pick) if m is not None),
        )
        best = value if best is None or value < best else best
    return best


def achieved(scenario: ba.Scenario, leaders: pd.DataFrame, level: str) -> tuple[int, int, float]:
    rows = leaders[leaders["level"] == level]
    available = scenario.members.set_index("member_id")["available"]
    chosen = rows["leader_member_id"].dropna()
    return (
        int(rows["leader_member_id"].isna().sum()),
        int((~available[chosen.tolist()]).sum()),
        float(rows["distance_m"].fillna(0).sum()),
    )


@settings(max_examples=40)
@given(tiny_estates())
def test_leaders_are_an_exact_lexicographic_optimum(estate):
    scenario = scenario_of(*estate)
    leaders = choose_leaders(scenario)
    assert list(leaders.columns) == list(LEADER_COLUMNS)
    for level in ("building", "compound"):
        rows = leaders[leaders["level"] == level]
        chosen = rows["leader_member_id"].dropna()
        assert chosen.is_unique, "a member leads at most one location per level"
        assert "Z" not in set(chosen), "leaders come from the location's branch"
        got, best = achieved(scenario, leaders, level), oracle(scenario, level)
        assert got[:2] == best[:2]
        # Distances are weighed in decimetres: at most 5 cm of rounding per location.
        assert got[2] == pytest.approx(best[2], abs=0.05 * len(rows) + 0.2)
        # Reported distances are the real ones (0 for a leader living there).
        for record in rows.dropna(subset=["leader_member_id"]).to_dict("records"):
            member = scenario.members.set_index("member_id").loc[record["leader_member_id"]]
            place = scenario.locations.table.set_index("location_id").loc[record["location_id"]]
            lives = scenario.locations.ancestor([member["location_id"]], level)[0] == record["location_id"]
            expected = 0.0 if lives else haversine_m(place["lat"], place["lon"], member["lat"], member["lon"])
            assert record["distance_m"] == pytest.approx(expected, abs=0.06)


# -- the rules, case by case ---------------------------------------------------------------------------

TWO_BUILDINGS = [
    ("Y", "", "compound", LAT0, LON0),
    ("B1", "Y", "building", LAT0, LON0),
    ("B1U", "B1", "unit", None, None),
    ("B2", "Y", "building", LAT0 + 2 * DEG, LON0),
]


def member(member_id, home=None, lat=None, lon=None, **extra):
    return {"member_id": member_id, "branch": "A", "location_id": home, "lat": lat, "lon": lon, **extra}


HOUSEHOLDS = [
    {"household_id": "H1", "branch": "A", "location_id": "B1U"},
    {"household_id": "H2", "branch": "A", "location_id": "B2"},
]


def leader_of(leaders: pd.DataFrame, location_id: str) -> object:
    return leaders.set_index("location_id").loc[location_id, "leader_member_id"]


def test_a_member_living_in_the_building_leads_it_even_when_another_is_nearer_its_centre():
    # M2 stands on B1's coordinates but lives elsewhere; M1 lives in B1's unit.
    leaders = choose_leaders(
        scenario_of(TWO_BUILDINGS, [member("M1", "B1U"), member("M2", None, LAT0, LON0)], HOUSEHOLDS)
    )
    assert leader_of(leaders, "B1") == "M1"
    assert leaders.set_index("location_id").loc["B1", "distance_m"] == 0.0
    assert leader_of(leaders, "B2") == "M2"


def test_an_available_member_is_preferred_to_an_unavailable_resident():
    members = [member("M1", "B1U", available=False), member("M2", None, LAT0 + 3 * DEG, LON0)]
    leaders = choose_leaders(scenario_of(TWO_BUILDINGS[:3], members, HOUSEHOLDS[:1]))
    assert leader_of(leaders, "B1") == "M2"
    # When the unavailable member is the only one, they still lead rather than nobody.
    leaders = choose_leaders(scenario_of(TWO_BUILDINGS[:3], members[:1], HOUSEHOLDS[:1]))
    assert leader_of(leaders, "B1") == "M1"


def test_compound_leaders_are_cadres_only_and_may_also_lead_a_building():
    members = [member("M1", "B1U", role="Cadre"), member("M2", "B1U")]
    leaders = choose_leaders(scenario_of(TWO_BUILDINGS, members, HOUSEHOLDS))
    assert leader_of(leaders, "Y") == "M1"
    assert {leader_of(leaders, "B1"), leader_of(leaders, "B2")} == {"M1", "M2"}
    leaders = choose_leaders(scenario_of(TWO_BUILDINGS, [member("M2", "B1U", role="party member")], HOUSEHOLDS))
    row = leaders.set_index("location_id").loc["Y"]
    assert pd.isna(row["leader_member_id"]) and row["reason"] == "no_cadre_in_branch"


def test_blank_leaders_say_why():
    locations = [*TWO_BUILDINGS, ("B3", "Y", "building", LAT0, LON0 + DEG), ("B4", "Y", "building", None, None)]
    households = [
        *HOUSEHOLDS,
        {"household_id": "H3", "branch": "A", "location_id": "B3"},
        {"household_id": "H4", "branch": "B", "location_id": "B4", "lat": LAT0, "lon": LON0},
    ]
    leaders = choose_leaders(scenario_of(locations, [member("M1", "B1U")], households)).set_index("location_id")
    assert leaders.loc["B1", "leader_member_id"] == "M1"
    assert leaders.loc[["B2", "B3"], "reason"].tolist() == ["candidates_lead_elsewhere"] * 2
    assert leaders.loc["B4", "reason"] == "no_member_in_branch" and leaders.loc["B4", "branch"] == "B"
    empty = [*TWO_BUILDINGS, ("B9", "Y", "building", LAT0, LON0)]
    leaders = choose_leaders(scenario_of(empty, [member("M1", "B1U")], HOUSEHOLDS)).set_index("location_id")
    assert leaders.loc["B9", "reason"] == "no_branch" and pd.isna(leaders.loc["B9", "branch"])
    buildings = leaders[leaders["level"] == "building"]
    assert (buildings["reason"].fillna("") != "").sum() == 2  # B9, and B2 (M1 leads B1)


def test_no_coordinates_and_no_resident_is_said():
    locations = [("Y", "", "compound", None, None), ("B1", "Y", "building", None, None)]
    households = [{"household_id": "H1", "branch": "A", "location_id": "B1", "lat": LAT0, "lon": LON0}]
    leaders = choose_leaders(scenario_of(locations, [member("M1", None, LAT0, LON0)], households))
    assert leaders.set_index("location_id").loc["B1", "reason"] == "no_coordinates"


def test_counts_under_each_location_and_row_order():
    members = [member("M1", "B1U"), member("M2", "B1"), member("M3", None, LAT0, LON0)]
    leaders = choose_leaders(scenario_of(TWO_BUILDINGS, members, HOUSEHOLDS))
    assert leaders["level"].tolist() == ["compound", "building", "building"]
    assert leaders["location_id"].tolist() == ["Y", "B1", "B2"]
    assert leaders["members_under"].tolist() == [2, 2, 0]
    assert leaders["households_under"].tolist() == [2, 1, 1]


def test_leaders_do_not_depend_on_row_order():
    community = make_community_with_locations(1)
    scenario = ba.Scenario.from_frames(community.members, community.households, locations=community.locations)
    shuffled = ba.Scenario.from_frames(
        community.members.sample(frac=1.0, random_state=3),
        community.households.sample(frac=1.0, random_state=4),
        locations=community.locations,
    )
    pd.testing.assert_frame_equal(choose_leaders(scenario), choose_leaders(shuffled))


def test_leaders_need_locations():
    town = ba.synth.make_town(0, households=60, branches=2)
    with pytest.raises(ValueError, match="place hierarchy"):
        choose_leaders(ba.Scenario.from_frames(town.members, town.households))


# -- command line and roster ------------------------------------------------------------------------------


def test_cli_leaders_without_locations_exits_2(tmp_path, capsys):
    files = ba.synth.make_town(0, households=60, branches=2).write_csv(tmp_path)
    code = main(["solve", *map(str, files), "--out", str(tmp_path / "out"), "--leaders"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--leaders" in err and "--locations" in err
    assert not (tmp_path / "out").exists()


def test_cli_writes_leaders_csv_and_the_roster_sheet(tmp_path):
    community = make_community_with_locations(0)
    locations, members, households = community.write_csv(tmp_path / "in")
    out = tmp_path / "out"
    code = main(
        [
            "rebalance",
            str(members),
            str(households),
            "--locations",
            str(locations),
            "--leaders",
            "--xlsx",
            "--out",
            str(out),
            "--quiet",
            "--objective",
            "distance",
        ]
    )
    assert code == 0
    written = pd.read_csv(out / "leaders.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(written.columns) == list(LEADER_COLUMNS)
    kinds = community.locations["kind"]
    assert (written["level"] == "building").sum() == (kinds == "building").sum()
    assert (written["level"] == "compound").sum() == (kinds == "compound").sum()
    assert ((written["leader_member_id"] == "") == (written["reason"] != "")).all()
    book = openpyxl.load_workbook(out / "roster.xlsx", read_only=True)
    assert book.sheetnames[:2] == ["汇总", "楼院楼栋长"]
    cells = [c for row in book["楼院楼栋长"].iter_rows(values_only=True) for c in row if c is not None]
    assert set(written.loc[written["leader_member_id"] != "", "leader_member_id"]) <= set(cells)
