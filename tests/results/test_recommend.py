"""ba.recommend and ba.explain_household against a brute-force oracle on small towns.

The oracle recompiles the scenario with the new household added and prices
every option with ``evaluate`` on that problem: independent of the
incremental formulas of results/recommend.py.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.model.compile import compile_scenario, with_balance
from baohu_assign.model.objective import evaluate
from baohu_assign.model.solution import violations
from oracles import haversine_m
from strategies import scenarios

# --------------------------------------------------------------------------- oracle


def _with_household(scenario, plan, record, objective):
    """(problem with the household added, plan's assignment on it, index of the new household, member ids)."""
    added = pd.concat([scenario.households.drop(columns=["row"]), pd.DataFrame([record])], ignore_index=True)
    sub = ba.Scenario.from_frames(
        scenario.members.drop(columns=["row"]), added, policy=scenario.policy, network=scenario.network
    )
    branch = record["branch"]
    result = next(r for r in plan.results if r.branch.branch == branch)
    compiled = compile_scenario(sub.members, sub.households, objective=objective, network=sub.network)
    bp = next(b for b in compiled if b.branch == branch)
    bp = with_balance(bp, result.branch.problem.balance_scale * result.branch.travel_unit)
    member_ids = sub.members["member_id"].to_numpy(dtype=object)[bp.member_rows].tolist()
    ids = sub.households["household_id"].to_numpy(dtype=object)[bp.household_rows].tolist()
    assigned = dict(zip(plan.assignments["household_id"], plan.assignments["member_id"], strict=True))
    base = np.array(
        [member_ids.index(assigned[i]) if isinstance(assigned.get(i), str) else -1 for i in ids], dtype=np.int64
    )
    return bp.problem, base, ids.index(record["household_id"]), member_ids


def _oracle_options(problem, base, new):
    """{member index: objective change} of giving the new household each eligible member, others fixed.

    Empty when the plan itself no longer fits with the household added: it joined a stairwell unit whose
    member cannot reach it, so only moving the whole unit would do.
    """
    covered = np.flatnonzero(base >= 0)
    if (problem.arc_indices(covered, base[covered]) < 0).any():
        return {}, {}
    without = evaluate(problem, base).total - int(problem.uncovered_cost()[new])
    direct, chains = {}, {}
    # Room is whatever the package's rule check accepts (capacity, hour budgets).
    for m in problem.arc_member[problem.arcs_of(new)].tolist():
        trial = base.copy()
        trial[new] = m
        if not violations(problem, trial):
            direct[m] = evaluate(problem, trial).total - without
            continue
        for x in np.flatnonzero(base == m).tolist():
            for b in problem.arc_member[problem.arcs_of(x)].tolist():
                moved = trial.copy()
                moved[x] = b
                if b != m and not violations(problem, moved):
                    cost = evaluate(problem, moved).total - without
                    chains[m] = min(chains.get(m, cost), cost)
    return direct, chains


def _new_record(draw_point, branch):
    y, x = draw_point
    return {
        "household_id": "NEW",
        "branch": branch,
        "lat": f"{34.70 + y * 0.001:.6f}",
        "lon": f"{114.00 + x * 0.001:.6f}",
        "priority": "elevated",
    }


# --------------------------------------------------------------------------- properties


@st.composite
def line_towns(draw):
    """Members and households on a street (about 91 m a step), short reaches, small capacities: chains are common."""
    spot = st.integers(0, 10)
    members = pd.DataFrame(
        [
            {"member_id": f"M{i}", "branch": "甲村", "lat": 34.70, "lon": 114.00 + 0.001 * draw(spot)}
            | {"capacity": draw(st.integers(1, 2)), "max_distance_m": draw(st.sampled_from([100.5, 200.5, 300.5]))}
            for i in range(draw(st.integers(2, 4)))
        ]
    )
    households = pd.DataFrame(
        [
            {"household_id": f"H{i}", "branch": "甲村", "lat": 34.70, "lon": 114.00 + 0.001 * draw(spot)}
            | {"priority": "normal"}
            for i in range(draw(st.integers(2, 7)))
        ]
    )
    return members, households


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.one_of(
        line_towns(),
        scenarios(max_members=4, max_households=7, min_households=1, max_branches=1, grid=5),
        scenarios(max_members=4, max_households=7, min_households=1, max_branches=1, grid=3, hours=True),
        scenarios(max_members=4, max_households=7, min_households=1, max_branches=1, grid=3, groups=True),
        # Crowded: members mostly full, so the chains are exercised too.
        scenarios(min_members=3, max_members=5, min_households=4, max_households=7, max_branches=1, grid=3),
    ),
    point=st.tuples(st.just(0), st.integers(0, 10)),
    objective=st.sampled_from(["balanced", "distance"]),
    group=st.sampled_from([None, "G1"]),
)
def test_recommendations_match_brute_force(frames, point, objective, group):
    members, households = frames
    scenario = ba.Scenario.from_frames(members, households)
    plan = ba.solve(scenario, objective=objective, seed=0)
    record = _new_record(point, str(households["branch"].iloc[0])) | {"group_id": group}
    problem, base, new, member_ids = _with_household(scenario, plan, record, objective)
    direct, chains = _oracle_options(problem, base, new)

    frame = ba.recommend(plan, record, k=10)
    event("room" if direct else "chain" if chains else f"nobody: {frame['why'].iloc[0]}")
    assert list(frame["rank"].dropna()) == list(range(1, frame["rank"].notna().sum() + 1))
    if direct:
        assert frame["move_household_id"].isna().all()
        got = {member_ids.index(m): int(c) for m, c in zip(frame["member_id"], frame["cost_delta"], strict=True)}
        assert got == direct
        assert list(frame["cost_delta"]) == sorted(frame["cost_delta"])
    elif chains:
        assert int(frame["cost_delta"].iloc[0]) == min(chains.values())
        for _, row in frame.iterrows():
            assert int(row["cost_delta"]) == chains[member_ids.index(row["member_id"])]
            assert row["move_household_id"] in set(plan.assignments["household_id"])
            assert f"需把 {row['move_household_id']} 转给" in row["why"]
    else:
        assert len(frame) == 1 and pd.isna(frame["member_id"].iloc[0])
        assert frame["why"].iloc[0]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.one_of(
        scenarios(max_members=4, max_households=7, min_households=1, max_branches=1, grid=5),
        scenarios(max_members=4, max_households=7, min_households=1, max_branches=1, grid=3, hours=True),
    )
)
def test_explain_household_prices_each_move_as_evaluate(frames):
    members, households = frames
    scenario = ba.Scenario.from_frames(members, households)
    plan = ba.solve(scenario, objective="balanced", seed=0)
    covered = plan.assignments.dropna(subset=["member_id"])
    assume(len(covered))
    household_id = covered["household_id"].iloc[0]
    result = plan.results[0]
    problem, base = result.branch.problem, np.asarray(result.solution.member_of, dtype=np.int64)
    ids = scenario.households["household_id"].to_numpy(dtype=object)[result.branch.household_rows].tolist()
    member_ids = scenario.members["member_id"].to_numpy(dtype=object)[result.branch.member_rows].tolist()
    h = ids.index(household_id)
    frame = ba.explain_household(plan, household_id)
    assert frame["member_id"].iloc[0] == member_ids[base[h]] and frame["cost_delta"].iloc[0] == 0
    before = evaluate(problem, base).total
    for _, row in frame.iloc[1:].iterrows():
        moved = base.copy()
        moved[h] = member_ids.index(row["member_id"])
        if violations(problem, moved):
            assert pd.isna(row["cost_delta"]) and ("已满" in row["why"] or "每周时间不够" in row["why"])
        else:
            assert int(row["cost_delta"]) == evaluate(problem, moved).total - before
    assert set(frame["member_id"]) == {member_ids[m] for m in problem.arc_member[problem.arcs_of(h)].tolist()}


# --------------------------------------------------------------------------- cases


def _town(capacities, households_at, members_at=None):
    members_at = members_at or list(range(len(capacities)))
    members = pd.DataFrame(
        [
            {"member_id": f"M{i}", "name": name, "branch": "甲村", "lat": 34.70, "lon": 114.00 + 0.001 * x}
            | {"capacity": cap, "max_distance_m": 500.5, "mobile": False, "available": True}
            for i, ((name, cap), x) in enumerate(zip(capacities, members_at, strict=True))
        ]
    )
    households = pd.DataFrame(
        [
            {"household_id": f"H{i}", "branch": "甲村", "lat": 34.70, "lon": 114.00 + 0.001 * x, "priority": "normal"}
            for i, x in enumerate(households_at)
        ]
    )
    return ba.Scenario.from_frames(members, households)


NEW = {"household_id": "NEW", "branch": "甲村", "lat": "34.70", "lon": "114.0000", "priority": "normal"}


def test_nearest_full_member_is_named_in_why():
    scenario = _town([("王五", 1), ("李四", 2)], [0])
    plan = ba.solve(scenario, objective="distance", seed=0)
    frame = ba.recommend(plan, NEW)
    assert frame["member_id"].iloc[0] == "M1"
    assert "最近的党员 王五 已满（1/1）" in frame["why"].iloc[0]
    assert frame["load_after"].iloc[0] == 1 and frame["capacity"].iloc[0] == 2


def test_nearest_with_room_says_so():
    scenario = _town([("王五", 2), ("李四", 2)], [0])
    plan = ba.solve(scenario, objective="distance", seed=0)
    frame = ba.recommend(plan, NEW)
    assert frame["member_id"].iloc[0] == "M0" and frame["why"].iloc[0].startswith("距离最近")
    assert frame["cost_delta"].iloc[0] == 0 and frame["name"].iloc[0] == "王五"


def test_full_branch_offers_a_chain():
    # 王五 (at the new household's door) is full with H0; 李四 has room but is out of the new household's reach.
    scenario = _town([("王五", 1), ("李四", 1)], [3], members_at=[0, 8])
    plan = ba.solve(scenario, objective="distance", seed=0)
    assert plan.assignments.set_index("household_id").loc["H0", "member_id"] == "M0"
    frame = ba.recommend(plan, NEW)
    top = frame.iloc[0]
    assert (top["member_id"], top["move_household_id"], top["move_to_member_id"]) == ("M0", "H0", "M1")
    assert "需把 H0 转给 李四（多走" in top["why"]
    # Once a week each: the new household at 0 m, H0 now from 李四 instead of 王五, in decimetres.
    at = {x: haversine_m(34.70, 114.00 + 0.001 * 3, 34.70, 114.00 + 0.001 * x) for x in (0, 8)}
    assert top["cost_delta"] == round(10 * at[8]) - round(10 * at[0])
    assert f"多走 {at[8] - at[0]:.0f} 米" in top["why"]


def test_member_without_hours_stays_unlimited():
    # 王五 gives no hours; 李四 does, so the plan has hour budgets. A critical household weighs far more
    # than all households of the plan together, and 王五 may still take it.
    scenario = _town([("王五", 2), ("李四", 2)], [0])
    members = scenario.members.drop(columns=["row"]).assign(hours_per_week=[None, 1.0])
    scenario = ba.Scenario.from_frames(members, scenario.households.drop(columns=["row"]))
    plan = ba.solve(scenario, objective="distance", seed=0)
    assert plan.results[0].branch.problem.has_budgets
    frame = ba.recommend(plan, NEW | {"priority": "critical"})
    assert list(frame["member_id"]) == ["M0"] and frame["load_after"].iloc[0] == 2


def test_walking_network_distances_decide_reach_and_cost():
    # A street with a river: the only bridge is at the east end, so 王五 across the river walks round.
    graph = nx.Graph()
    for c in range(6):
        for r in range(2):
            graph.add_node((r, c), x=114.00 + 0.001 * c, y=34.70 + 0.001 * r)
    for c in range(5):
        for r in range(2):
            graph.add_edge((r, c), (r, c + 1), length=91.0)
    graph.add_edge((0, 5), (1, 5), length=111.0)
    members = pd.DataFrame(
        [
            {"member_id": "M0", "name": "王五", "branch": "甲村", "lat": 34.701, "lon": 114.000, "capacity": 2},
            {"member_id": "M1", "name": "李四", "branch": "甲村", "lat": 34.700, "lon": 114.004, "capacity": 2},
        ]
    ).assign(max_distance_m=2000.0)
    households = pd.DataFrame([{"household_id": "H0", "branch": "甲村", "lat": 34.700, "lon": 114.001}])
    scenario = ba.Scenario.from_frames(members, households, network=ba.WalkingNetwork.from_graph(graph))
    plan = ba.solve(scenario, objective="distance", seed=0)
    record = NEW | {"lon": "114.0000"}
    problem, base, new, member_ids = _with_household(scenario, plan, record, "distance")
    direct, _ = _oracle_options(problem, base, new)
    frame = ba.recommend(plan, record)
    assert {member_ids.index(m): int(c) for m, c in zip(frame["member_id"], frame["cost_delta"], strict=True)} == direct
    assert frame["member_id"].iloc[0] == "M1"  # 王五 is 111 m away as the crow flies, but not on foot


def test_new_household_of_a_unit_joins_the_units_member():
    scenario = _town([("王五", 3), ("李四", 3)], [0, 0], members_at=[0, 3])
    households = scenario.households.drop(columns=["row"]).assign(group_id="U1")
    scenario = ba.Scenario.from_frames(scenario.members.drop(columns=["row"]), households)
    plan = ba.solve(scenario, objective="distance", seed=0)
    frame = ba.recommend(plan, NEW | {"lon": "114.003", "group_id": "U1"})
    assert list(frame["member_id"]) == ["M0"] and frame["load_after"].iloc[0] == 3
    frame = ba.recommend(plan, NEW | {"lon": "114.006", "group_id": "U1"})
    assert "同一单元 U1 须由同一党员包户" in frame["why"].iloc[0] and pd.isna(frame["member_id"].iloc[0])
    assert ba.recommend(plan, NEW | {"lon": "114.003"})["member_id"].iloc[0] == "M1"


def test_nobody_in_reach():
    scenario = _town([("王五", 1)], [0])
    plan = ba.solve(scenario, objective="distance", seed=0)
    frame = ba.recommend(plan, NEW | {"lon": "114.05"})
    assert len(frame) == 1 and pd.isna(frame["member_id"].iloc[0])
    assert frame["why"].iloc[0] == "服务半径内没有可用的党员"


def test_all_full_and_no_chain():
    scenario = _town([("王五", 1)], [0])
    plan = ba.solve(scenario, objective="distance", seed=0)
    frame = ba.recommend(plan, NEW)
    assert pd.isna(frame["member_id"].iloc[0]) and "都已满" in frame["why"].iloc[0]


@pytest.mark.parametrize(("column", "value"), [("lat", "北纬"), ("priority", "urgent"), ("household_id", "")])
def test_validation_errors_name_the_column(column, value):
    plan = ba.solve(_town([("王五", 1)], [0]), objective="distance", seed=0)
    with pytest.raises(ba.InputError) as caught:
        ba.recommend(plan, NEW | {column: value})
    assert any(issue.column == column for issue in caught.value.issues)


def test_explain_household_unknown_id():
    plan = ba.solve(_town([("王五", 1)], [0]), objective="distance", seed=0)
    with pytest.raises(KeyError):
        ba.explain_household(plan, "NOPE")
    assert plan.explain("H0")["member_id"] == "M0"
