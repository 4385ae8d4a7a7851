"""The weekly visit plan: counts, days, rounds, walks and minutes against independent oracles."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.visits.routing import exact_order, nearest_neighbour_two_opt, round_order, routed_order
from baohu_assign.visits.schedule import level_days
from oracles import haversine_m
from strategies import scenarios

# visits_per_week as the data give it: the article's rhythms and odd values.
VISIT_VALUES = (1.0, 2.0, 3.0, 7.0, 14.0, 0.5, 2.5, 5.0, 10.0, 21.0)
WINDOWS = ("", "am", "pm", "上午", "下午")


def expected_visits(visits_per_week: float) -> int:
    """Oracle: visits a household must get in a week (rounded up, 1 … 14)."""
    return min(14, max(1, math.ceil(visits_per_week - 1e-9)))


def oracle_window(text: str) -> str:
    return {"上午": "am", "下午": "pm"}.get(text, text)


@st.composite
def visit_towns(draw):
    members, households = draw(scenarios(max_members=4, max_households=12, min_members=1, min_households=1))
    households = households.copy()
    households["visits_per_week"] = [draw(st.sampled_from(VISIT_VALUES)) for _ in range(len(households))]
    households["visit_window"] = [draw(st.sampled_from(WINDOWS)) for _ in range(len(households))]
    members = members.copy()
    members["capacity"] = members["capacity"].clip(lower=1) * 3
    return members, households


def _plan(members: pd.DataFrame, households: pd.DataFrame) -> ba.Plan:
    scenario = ba.Scenario.from_frames(members, households)
    return ba.solve(scenario, objective="distance", strategy="greedy", seed=0)


@given(visit_towns())
def test_every_household_gets_its_visits_and_every_round_its_walk_and_minutes(town):
    # One solve per example for both properties: the suite's time goes to examples, not solves.
    plan = _plan(*town)
    week = ba.plan_visits(plan)
    check_visits_on_spread_days_and_rounds(plan, week)
    check_walks_and_minutes(plan, week)


def check_visits_on_spread_days_and_rounds(plan: ba.Plan, week: ba.VisitPlan) -> None:
    """Each household: visited by its primary member as often as visits_per_week asks, on spread days."""
    visits = week.visits
    primary = plan.primary
    for record in primary.to_dict("records"):
        mine = visits[visits["household_id"] == record["household_id"]]
        if pd.isna(record["member_id"]):
            assert mine.empty, "an uncovered household is visited by nobody"
            continue
        assert set(mine["member_id"]) == {record["member_id"]}, "visited by its own primary member"
        n = expected_visits(float(record["visits_per_week"]))
        assert len(mine) == n
        slots = list(zip(mine["day"], mine["round"], strict=True))
        assert len(set(slots)) == n, "never twice in one round"
        assert set(mine["day"]) <= set(range(1, 8)) and set(mine["round"]) <= {1, 2}
        window = oracle_window(str(record["visit_window"]))
        main_round = 2 if window == "pm" else 1
        per_day = mine.groupby("day").size()
        if n <= 7:
            assert per_day.max() == 1, "at most one visit a day"
            assert set(mine["round"]) == {main_round}, "the window's round"
            days = sorted(mine["day"])
            gaps = [b - a for a, b in itertools.pairwise(days)] + [days[0] + 7 - days[-1]]
            assert set(gaps) <= {7 // n, -(-7 // n)}, f"days {days} not spread evenly"
        else:
            assert len(per_day) == 7, "every day"
            twice = sorted(per_day[per_day == 2].index)
            assert len(twice) == n - 7
            once = mine[mine["day"].map(per_day) == 1]
            assert set(once["round"]) <= {main_round}
            if 0 < len(twice) < 7:
                gaps = [b - a for a, b in itertools.pairwise(twice)] + [twice[0] + 7 - twice[-1]]
                assert set(gaps) <= {7 // (n - 7), -(-7 // (n - 7))}


def check_walks_and_minutes(plan: ba.Plan, week: ba.VisitPlan) -> None:
    """Each leg is the great-circle distance; each day's walk and minutes add up by the policy."""
    speed = plan.scenario.policy.walking_speed_m_per_min
    members = plan.scenario.members.set_index("member_id")
    households = plan.primary.set_index("household_id")
    days = week.member_days.set_index(["member_id", "day"])
    totals: dict[tuple[str, int], list[float]] = {}
    for (member, day, _round), stops in week.visits.groupby(["member_id", "day", "round"]):
        assert stops["stop"].tolist() == list(range(1, len(stops) + 1))
        here = (members.at[member, "lat"], members.at[member, "lon"])
        walked, doors, clock = 0.0, 0.0, 0.0
        for record in stops.to_dict("records"):
            there = (households.at[record["household_id"], "lat"], households.at[record["household_id"], "lon"])
            leg = haversine_m(*here, *there)
            assert record["walk_m"] == pytest.approx(leg, abs=0.06)
            clock += leg / speed
            assert record["arrive_min"] == pytest.approx(clock, abs=0.06)
            door = float(households.at[record["household_id"], "minutes_per_visit"])
            clock += door
            walked += leg
            doors += door
            here = there
        walked += haversine_m(*here, members.at[member, "lat"], members.at[member, "lon"])
        total = totals.setdefault((member, day), [0.0, 0.0, 0.0])
        total[0] += walked
        total[1] += walked / speed + doors
        total[2] += 1
    for (member, day), (walked, minutes, rounds) in totals.items():
        assert days.at[(member, day), "walk_m"] == pytest.approx(walked, abs=0.06)
        assert days.at[(member, day), "minutes"] == pytest.approx(minutes, abs=0.06)
        assert days.at[(member, day), "rounds"] == rounds
    assert int(week.member_days["visits"].sum()) == len(week.visits)
    weeks = week.member_weeks.set_index("member_id")
    for member, group in week.member_days.groupby("member_id"):
        assert weeks.at[member, "minutes"] == pytest.approx(group["minutes"].sum(), abs=0.1 * len(group))


def brute_force_length(distance: np.ndarray) -> float:
    """Oracle: the shortest home → stops → home walk over every order."""
    k = distance.shape[0] - 1
    best = math.inf
    for order in itertools.permutations(range(1, k + 1)):
        path = (0, *order, 0)
        best = min(best, sum(distance[a][b] for a, b in itertools.pairwise(path)))
    return best


def _length(distance: np.ndarray, order: list[int]) -> float:
    path = (0, *order, 0)
    return sum(distance[a][b] for a, b in itertools.pairwise(path))


matrices = st.integers(1, 6).flatmap(
    lambda k: st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=k + 1, max_size=k + 1).map(
        lambda points: np.array([[math.dist(p, q) * 10 for q in points] for p in points])
    )
)


@given(matrices)
def test_short_rounds_are_ordered_exactly(distance):
    order = exact_order(distance)
    assert sorted(order) == list(range(1, distance.shape[0]))
    assert _length(distance, order) == pytest.approx(brute_force_length(distance), abs=1e-6)


@given(
    st.integers(8, 14).flatmap(
        lambda k: st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=k + 1, max_size=k + 1)
    ),
    st.booleans(),
)
def test_long_rounds_never_walk_more_than_nearest_neighbour_and_2opt(points, one_way_detour):
    distance = np.array([[math.dist(p, q) * 10 for q in points] for p in points])
    if one_way_detour:  # asymmetric: some legs longer one way
        distance = distance + np.triu(distance) * 0.3
    order = round_order(distance)
    assert sorted(order) == list(range(1, len(points)))
    assert _length(distance, order) <= _length(distance, nearest_neighbour_two_opt(distance)) + 1e-9
    assert order == routed_order(distance), "deterministic"


def test_days_are_level_when_households_are_alike():
    # 14 weekly households and 7 three-a-week ones, all alike: 2 + 3 visits every day.
    count = np.array([1] * 14 + [3] * 7)
    slots = level_days(count, np.array([""] * 21, dtype=object), np.full(21, 20.0), 7)
    per_day = np.bincount([day for option in slots for day, _ in option], minlength=7)
    assert per_day.tolist() == [5] * 7


def test_a_members_busiest_and_quietest_day_differ_by_at_most_one_visit_on_a_town():
    town = ba.synth.make_town(3, households=400, branches=4)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households), seed=0)
    days = ba.plan_visits(plan).member_days
    # Twice-a-day and daily households fill every day alike; the rest spread over the week.
    spread = days.groupby("member_id")["visits"].agg(lambda v: v.max() - v.min())
    assert spread.max() <= 1


def test_same_plan_gives_the_same_week_byte_for_byte():
    town = ba.synth.make_town(4, households=300, branches=3)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    first = ba.plan_visits(ba.solve(scenario, seed=1)).files()
    second = ba.plan_visits(ba.solve(scenario, seed=1)).files()
    assert first == second
    assert first["visits.csv"].startswith("\ufeffmember_id,day,round,stop,household_id,walk_m,arrive_min\n".encode())


def test_visit_plan_is_immutable_and_writes_its_files(tmp_path):
    town = ba.synth.make_town(4, households=120, branches=2)
    week = ba.plan_visits(ba.solve(ba.Scenario.from_frames(town.members, town.households)))
    handed_out = week.visits
    handed_out["walk_m"] = -1.0
    assert (week.visits["walk_m"] >= 0).all()
    paths = week.write(tmp_path / "week")
    assert sorted(paths) == ["member_days", "visits"]
    assert paths["visits"].read_bytes() == week.files()["visits.csv"]
    with pytest.raises(ValueError, match="days"):
        ba.plan_visits(ba.solve(ba.Scenario.from_frames(town.members, town.households)), days=0)


def test_walks_follow_the_walking_network():
    nx = pytest.importorskip("networkx")
    lat0, lon0, deg = 34.70, 114.0, 0.001
    graph = nx.Graph()
    for i in range(4):
        for j in range(4):
            graph.add_node((i, j), x=lon0 + j * deg, y=lat0 + i * deg)
    for i, j in itertools.product(range(4), range(4)):
        if j < 3:
            graph.add_edge((i, j), (i, j + 1), length=250.0)  # streets longer than the crow flies
        if i < 3:
            graph.add_edge((i, j), (i + 1, j), length=250.0)
    network = ba.WalkingNetwork.from_graph(graph)
    members = pd.DataFrame([{"member_id": "M1", "branch": "甲村", "lat": lat0, "lon": lon0, "capacity": 5}])
    households = pd.DataFrame(
        [
            {"household_id": f"H{k}", "branch": "甲村", "lat": lat0 + i * deg, "lon": lon0 + j * deg}
            for k, (i, j) in enumerate([(0, 1), (1, 1), (2, 3), (3, 0)])
        ]
    )
    plan = ba.solve(ba.Scenario.from_frames(members, households, network=network))
    week = ba.plan_visits(plan)
    assert len(week.visits) == 4
    for record in week.visits.to_dict("records"):
        assert record["walk_m"] % 250.0 == pytest.approx(0.0, abs=0.1), "legs run along the streets"
    # Each weekly household on a day of its own: there and back along the grid, 1 + 2 + 5 + 3 blocks.
    assert week.member_days["walk_m"].sum() == pytest.approx(2 * 250.0 * (1 + 2 + 5 + 3), abs=0.5)


def test_quarantined_households_get_the_four_ones_checklist_on_the_printed_week():
    openpyxl = pytest.importorskip("openpyxl")
    import io

    from baohu_assign.outputs.roster import roster_bytes

    members = pd.DataFrame([{"member_id": "M1", "name": "张三", "branch": "甲村", "lat": 34.7, "lon": 114.0}])
    households = pd.DataFrame(
        [
            {
                "household_id": "H1",
                "branch": "甲村",
                "lat": 34.701,
                "lon": 114.0,
                "priority": "critical",
                "visits_per_week": 7,
            },
            {"household_id": "H2", "branch": "甲村", "lat": 34.702, "lon": 114.0, "priority": "normal"},
        ]
    )
    plan = ba.solve(ba.Scenario.from_frames(members, households))
    week = ba.plan_visits(plan)
    book = openpyxl.load_workbook(io.BytesIO(roster_bytes(plan, visits=week)))
    assert "甲村走访安排" in book.sheetnames
    rows = list(book["甲村走访安排"].iter_rows(min_row=5, values_only=True))
    checks = {row[3]: row[9] for row in rows}
    assert "□测体温" in checks["H1"] and checks["H2"] is None
    assert sum(1 for row in rows if row[3] == "H1") == 7


def test_a_fortnight_doubles_the_visits_and_names_days_by_number():
    members = pd.DataFrame([{"member_id": "M1", "branch": "甲村", "lat": 34.7, "lon": 114.0}])
    households = pd.DataFrame(
        [
            {"household_id": f"H{i}", "branch": "甲村", "lat": 34.701 + i * 1e-4, "lon": 114.0, "visits_per_week": v}
            for i, v in enumerate([1.0, 3.0, 0.5, 14.0])
        ]
    )
    week = ba.plan_visits(ba.solve(ba.Scenario.from_frames(members, households)), days=14)
    counts = week.visits.groupby("household_id").size().to_dict()
    assert counts == {"H0": 2, "H1": 6, "H2": 1, "H3": 28}
    assert week.member_days["day"].tolist() == list(range(1, 15))
    from baohu_assign.visits.week import day_name_zh

    assert (day_name_zh(1, 7), day_name_zh(9, 14)) == ("周一", "第9天")


def test_the_visit_plan_imports_no_later_stage():
    import ast
    from pathlib import Path

    package = Path(ba.__file__).parent
    allowed = {"errors", "_version", "io", "model", "results", "visits"}
    for path in (package / "visits").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
                assert node.module.split(".")[0] in allowed, f"{path.name} imports {node.module}"


def test_a_leg_against_a_one_way_street_is_walked_in_a_straight_line():
    nx = pytest.importorskip("networkx")
    lat0, lon0, deg = 34.70, 114.0, 0.001
    graph = nx.DiGraph()
    for name, j in {"A": 0, "B": 1, "C": 2}.items():
        graph.add_node(name, x=lon0 + j * deg, y=lat0)
    graph.add_edge("A", "B", length=100.0)
    graph.add_edge("B", "C", length=100.0)
    network = ba.WalkingNetwork.from_graph(graph)
    lat, lon = np.full(3, lat0), lon0 + np.arange(3) * deg
    matrix = network.distance_matrix(lat, lon)
    assert matrix[0, 2] == pytest.approx(200.0) and np.isinf(matrix[1, 0])
    members = pd.DataFrame([{"member_id": "M1", "branch": "甲村", "lat": lat0, "lon": lon0, "mobile": True}])
    households = pd.DataFrame(
        [{"household_id": f"H{j}", "branch": "甲村", "lat": lat0, "lon": lon0 + j * deg} for j in (1, 2)]
    )
    week = ba.plan_visits(ba.solve(ba.Scenario.from_frames(members, households, network=network)))
    walked = week.member_days.set_index("day")["walk_m"]
    back = {1: haversine_m(lat0, lon0 + deg, lat0, lon0), 2: haversine_m(lat0, lon0 + 2 * deg, lat0, lon0)}
    days = week.visits.set_index("household_id")["day"]
    assert walked[days["H1"]] == pytest.approx(100.0 + back[1], abs=0.1)
    assert walked[days["H2"]] == pytest.approx(200.0 + back[2], abs=0.1)


def test_the_quarantined_column_decides_the_checklist_instead_of_the_daily_critical_rule():
    """Marked 是: the checklist, whatever the visits; a twice-a-day elderly household marked 否: none."""
    from baohu_assign.visits.week import needs_four_ones

    members = pd.DataFrame([{"member_id": "M1", "branch": "甲村", "lat": 34.7, "lon": 114.0, "capacity": 5}])
    rows = [
        ("H1", "critical", 14, "否"),
        ("H2", "critical", 7, "是"),
        ("H3", "normal", 1, "是"),
        ("H4", "critical", 7, ""),
    ]
    households = pd.DataFrame(
        [
            {
                "household_id": hid,
                "branch": "甲村",
                "lat": 34.701 + k * 1e-4,
                "lon": 114.0,
                "priority": priority,
                "visits_per_week": visits,
                "quarantined": flag,
            }
            for k, (hid, priority, visits, flag) in enumerate(rows)
        ]
    )
    primary = ba.solve(ba.Scenario.from_frames(members, households)).primary
    marked = dict(zip(primary["household_id"], needs_four_ones(primary), strict=True))
    assert marked == {"H1": False, "H2": True, "H3": True, "H4": False}
    # Without the column the daily critical households get it, the twice-a-day one included.
    inferred = dict(zip(primary["household_id"], needs_four_ones(primary.drop(columns="quarantined")), strict=True))
    assert inferred == {"H1": True, "H2": True, "H3": False, "H4": True}


def test_the_summary_counts_what_the_tables_hold():
    town = ba.synth.make_town(3, households=400, branches=2)
    week = ba.plan_visits(ba.solve(ba.Scenario.from_frames(town.members, town.households)))
    days = week.member_days
    spread = int(days.groupby("member_id")["visits"].agg(lambda v: v.max() - v.min()).max())
    first, second = week.summary().splitlines()
    assert f"{len(week.visits):,} in {int(days['rounds'].sum()):,} rounds" in first
    assert f"by {days['member_id'].nunique():,} members" in first
    assert f"{days['walk_m'].sum() / 1000:,.1f} km" in first
    assert f"at most {spread} visit(s)" in second
