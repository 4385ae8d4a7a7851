"""Synthetic towns: deterministic, shaped like 大孟镇, and valid input for the solver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baohu_assign import synth
from baohu_assign.io.policy import Policy

MEMBER_COLUMNS = [
    "member_id",
    "name",
    "branch",
    "lat",
    "lon",
    "age",
    "capacity",
    "max_distance_m",
    "mobile",
    "available",
]
HOUSEHOLD_COLUMNS = [
    "household_id",
    "head_name",
    "branch",
    "lat",
    "lon",
    "size",
    "priority",
    "visits_per_week",
    "group_id",
    "current_member_id",
    "pinned",
]


def distance_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Haversine on the mean sphere, written out here so the test does not trust the module under test."""
    lat1, lon1, lat2, lon2 = (np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2))
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlam = np.radians(lon2 - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def resolved_capacity(members: pd.DataFrame) -> np.ndarray:
    policy = Policy()
    default = members["age"].map(policy.capacity_for_age).to_numpy(dtype=float)
    given = members["capacity"].to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(given), default, given)


@pytest.fixture(scope="module")
def served() -> synth.Town:
    return synth.make_town(0, current=True)


def test_same_seed_same_frames_and_files(tmp_path):
    """Same seed: equal frames and byte-identical files; another seed: a different town."""
    a = synth.make_town(3, households=1500, branches=8, current=True)
    b = synth.make_town(3, households=1500, branches=8, current=True)
    pd.testing.assert_frame_equal(a.members, b.members)
    pd.testing.assert_frame_equal(a.households, b.households)
    paths_a, paths_b = a.write_csv(tmp_path / "a"), b.write_csv(tmp_path / "b")
    for pa, pb in zip(paths_a, paths_b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    other = synth.make_town(4, households=1500, branches=8, current=True)
    assert not a.households[["lat", "lon"]].equals(other.households[["lat", "lon"]])


def test_columns_in_contract_order(demo_town):
    """Members and households carry the contract's columns in its order, then address."""
    assert list(demo_town.members.columns) == MEMBER_COLUMNS
    assert list(demo_town.households.columns) == [*HOUSEHOLD_COLUMNS, "address"]
    assert demo_town.members["mobile"].dtype == bool and demo_town.households["pinned"].dtype == bool


def test_files_spell_booleans_and_blanks(tmp_path):
    """Booleans are written true/false; absent capacities and contacts are blank cells."""
    members_csv, households_csv = synth.make_town(1, households=400, branches=3).write_csv(tmp_path)
    members = pd.read_csv(members_csv, dtype=str, keep_default_na=False)
    households = pd.read_csv(households_csv, dtype=str, keep_default_na=False)
    assert set(members["available"]) <= {"true", "false"} and set(households["pinned"]) == {"false"}
    assert (members["capacity"] == "").mean() > 0.5
    assert (households["current_member_id"] == "").all()
    assert households["household_id"].str.fullmatch(r"H\d{6}").all()
    assert members["member_id"].str.fullmatch(r"M\d{5}").all()


def test_sizes_ids_and_shares(demo_town):
    """Requested households exactly, about one member per six households, unique ids, plausible shares."""
    members, households = demo_town.members, demo_town.households
    assert len(households) == 12_000
    assert 1_800 <= len(members) <= 2_200
    assert households["branch"].nunique() == 32
    assert members["member_id"].is_unique and households["household_id"].is_unique
    shares = households["priority"].value_counts(normalize=True)
    assert 0.02 <= shares["critical"] <= 0.045 and 0.09 <= shares["elevated"] <= 0.15
    assert (households.loc[households["priority"] == "critical", "size"] == 1).mean() > 0.5
    assert members["age"].between(22, 85).all() and (members["age"] >= 60).mean() > 0.3
    assert 0.05 <= members["capacity"].notna().mean() <= 0.15
    assert 0.005 <= (~members["available"]).mean() <= 0.04
    for name in ("万胜村", "土寨村", "李小安村", "朱大汉社区", "镇区社区", "绿博二号社区", "绿博三号社区"):
        assert name in set(households["branch"])


def test_every_household_branch_has_members(demo_town):
    """No branch of households is without members."""
    assert set(demo_town.households["branch"]) <= set(demo_town.members["branch"])


def test_capacity_slack_town_wide_and_some_branch_short(demo_town):
    """Capacity (policy defaults resolved) is 1.1–1.6× the households; at least one branch is short."""
    capacity = resolved_capacity(demo_town.members)
    assert 1.1 <= capacity.sum() / len(demo_town.households) <= 1.6
    per_branch = pd.Series(capacity).groupby(demo_town.members["branch"].to_numpy()).sum()
    load = demo_town.households.groupby("branch").size()
    assert (per_branch.reindex(load.index) < load).any()


def test_stairwell_units_are_whole_and_colocated(demo_town):
    """朱大汉社区: 96 units of 12 households in one branch, each at one building entrance (< 10 m)."""
    grouped = demo_town.households.dropna(subset=["group_id"])
    units = grouped.groupby("group_id")
    assert units.size().eq(12).all()
    assert units["branch"].nunique().eq(1).all() and set(grouped["branch"]) == {"朱大汉社区"}
    assert len(units) == 96 and grouped["group_id"].str.fullmatch(r"ZDH-B\d{2}-U\d").all()
    spread = units.agg(lat=("lat", "min"), lon=("lon", "min"), lat2=("lat", "max"), lon2=("lon", "max"))
    assert (distance_m(spread["lat"], spread["lon"], spread["lat2"], spread["lon2"]) < 10).all()
    assert synth.make_town(2, households=600, branches=3, stairwells=False).households["group_id"].isna().all()


def test_demolished_village_lives_far_and_members_follow(demo_town):
    """李小安村: households 2–5 km from the old site, all its members mobile, nobody else mobile."""
    lat, lon = demo_town.centres["李小安村"]
    moved = demo_town.households[demo_town.households["branch"] == "李小安村"]
    far = distance_m(moved["lat"], moved["lon"], lat, lon)
    assert far.min() >= 2_000 and far.max() <= 5_000
    mobile = demo_town.members.groupby("branch")["mobile"].all()
    assert mobile["李小安村"] and mobile.sum() == 1


def test_current_contacts_obey_the_rules(served):
    """current=True: same branch, available, within reach, capacity respected, a unit to one member."""
    members, households = served.members, served.households
    assert not households["pinned"].any()
    assert households["current_member_id"].notna().mean() > 0.95
    has = households.dropna(subset=["current_member_id"])
    m = members.set_index("member_id").loc[has["current_member_id"]]
    assert (m["branch"].to_numpy() == has["branch"].to_numpy()).all()
    assert m["available"].all()
    reach = np.where(m["mobile"], np.inf, m["max_distance_m"].fillna(Policy().max_distance_m))
    assert (distance_m(has["lat"], has["lon"], m["lat"], m["lon"]) <= reach).all()
    load = has["current_member_id"].value_counts()
    capacity = pd.Series(resolved_capacity(members), index=members["member_id"].to_numpy())
    assert (load <= capacity[load.index]).all()
    assert has.groupby("group_id")["current_member_id"].nunique().eq(1).all()


def test_relocate_keeps_ids_and_marks_the_event(served):
    """relocate(): old rows kept in order, a village moved 2–5 km, ill members, arrivals, valid pins."""
    before_members = served.members.copy()
    after = synth.relocate(served, 1, ill_fraction=0.05, new_households=20)
    pd.testing.assert_frame_equal(served.members, before_members)  # the input is left alone
    old, new = served.households, after.households
    assert new["household_id"].iloc[: len(old)].tolist() == old["household_id"].tolist()
    assert new["current_member_id"].iloc[: len(old)].equals(old["current_member_id"])
    arrivals = new.iloc[len(old) :]
    assert len(arrivals) == 20 and arrivals["current_member_id"].isna().all() and new["household_id"].is_unique
    assert after.members["member_id"].tolist() == served.members["member_id"].tolist()
    newly_ill = served.members["available"] & ~after.members["available"]
    assert newly_ill.sum() == round(0.05 * len(served.members))

    moved = after.members.groupby("branch")["mobile"].all()
    branch = next(b for b in moved[moved].index if b != "李小安村")
    lat, lon = served.centres[branch]
    homes = new[new["branch"] == branch]
    assert (distance_m(homes["lat"], homes["lon"], lat, lon) >= 2_000).all()

    pinned = new[new["pinned"]]
    assert 0.01 * len(new) <= len(pinned) <= 0.03 * len(new)
    contact = after.members.set_index("member_id").loc[pinned["current_member_id"]]
    assert contact["available"].all() and (contact["branch"].to_numpy() == pinned["branch"].to_numpy()).all()


def test_relocate_named_branch_and_bad_arguments(served):
    """A named village is the one moved; unknown branches and odd fractions are refused."""
    after = synth.relocate(served, 0, branch="万胜村", new_households=0)
    assert after.members.loc[after.members["branch"] == "万胜村", "mobile"].all()
    assert len(after.households) == len(served.households)
    with pytest.raises(ValueError, match="no households"):
        synth.relocate(served, branch="没有村")
    with pytest.raises(ValueError, match="ill_fraction"):
        synth.relocate(served, ill_fraction=1.5)


def test_county_prefixes_keep_ids_and_branches_unique():
    """make_county: towns side by side, ids and branch names prefixed per town, all unique."""
    county = synth.make_county(0, towns=3, households=3_000, branches=8)
    members, households = county.members, county.households
    assert len(households) == 3_000
    assert members["member_id"].is_unique and households["household_id"].is_unique
    assert households["household_id"].str.match(r"T[123]-H\d{6}$").all()
    assert households["branch"].str.startswith(("大孟镇", "官渡镇", "狼城岗镇")).all()
    assert "大孟镇朱大汉社区" in set(households["branch"])
    assert set(households["branch"]) <= set(members["branch"])
    grouped = households.dropna(subset=["group_id"])
    assert grouped.groupby("group_id")["branch"].nunique().eq(1).all()


def test_small_towns_and_refusals():
    """Tiny towns still have every structure they can fit; impossible sizes are refused."""
    tiny = synth.make_town(0, households=50, branches=1)
    assert len(tiny.households) == 50 and len(tiny.members) >= 2
    with pytest.raises(ValueError):
        synth.make_town(0, households=3, branches=5)
    with pytest.raises(ValueError):
        synth.make_town(0, members_per_household=0)
