"""Recommend a member for one new household, and explain a household's alternatives.

For services that take one household at a time (a hotline, a grid system):
:func:`recommend` ranks the members a new household could get by the change
of the plan's objective with every other household left where it is, and
:func:`explain_household` prices moving an assigned household to each other
eligible member. Eligibility, costs and room follow the compiled problem of
the plan (:mod:`baohu_assign.model.compile`, :mod:`baohu_assign.model.costs`),
so a recommendation costs exactly what :func:`~baohu_assign.model.objective.evaluate`
would count on the plan with the household added.

Everything that does not depend on the household (member coordinates,
loads, capacities, budgets) is prepared once per plan and cached; the
members in reach come from the compiler's own arc rule
(:func:`~baohu_assign.model.geo.candidate_arcs`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..io.records import records_frame
from ..io.validate import validate_households
from ..model import costs
from ..model.compile import CROSS_BRANCH_KEY, CURRENT_NONE, BranchProblem, member_hours
from ..model.geo import candidate_arcs, unit_vectors
from .plan import Plan

COLUMNS = (
    "rank",
    "member_id",
    "name",
    "distance_m",
    "load_after",
    "capacity",
    "cost_delta",
    "move_household_id",
    "move_to_member_id",
    "why",
)
"""Columns of :func:`recommend` and :func:`explain_household`."""

CHAIN_CANDIDATES = 5
"""Full members (cheapest first) for which a one-household chain is looked for."""


@dataclass(frozen=True, slots=True, eq=False)
class _Branch:
    """One branch of a plan, prepared for many single-household queries."""

    branch: BranchProblem
    member_of: np.ndarray
    loads: np.ndarray
    weight_used: np.ndarray | None
    budget: np.ndarray | None  # hour budget per member, +inf where no hours are given
    lat: np.ndarray
    lon: np.ndarray
    xyz: np.ndarray
    active: np.ndarray  # branch member indices with capacity and a reach, not mobile
    mobile: np.ndarray  # branch member indices of mobile members with capacity
    reach_m: np.ndarray
    member_ids: np.ndarray
    names: np.ndarray | None
    household_ids: np.ndarray
    unit_households: dict[str, np.ndarray]  # group_id → the branch households of that stairwell unit
    first_contact: bool


@dataclass(frozen=True, slots=True, eq=False)
class _Prepared:
    plan: Plan
    branches: dict[str, _Branch]


@functools.lru_cache(maxsize=4)
def _prepare(plan: Plan) -> _Prepared:
    """The per-plan preparation, built once (plans are immutable)."""
    scenario = plan.scenario
    members, households = scenario.members, scenario.households
    branches = {}
    for result in plan.results:
        bp = result.branch
        problem = bp.problem
        member_of = np.asarray(result.solution.member_of, dtype=np.int64)
        mem = members.iloc[bp.member_rows]
        loads = np.bincount(member_of[member_of >= 0], minlength=problem.num_members).astype(np.int64)
        weight_used = None
        if problem.has_budgets:
            assert problem.arc_weight is not None
            covered = np.flatnonzero(member_of >= 0)
            arcs = problem.arc_indices(covered, member_of[covered])
            weight_used = np.bincount(
                member_of[covered], weights=problem.arc_weight[arcs], minlength=problem.num_members
            ).astype(np.int64)
        budget = None
        if problem.has_budgets:
            assert problem.member_budget is not None
            # The compiled "unlimited" budget is a bound for the compiled households only: keep it unlimited.
            budget = np.where(np.isfinite(member_hours(mem)), problem.member_budget, np.inf)
        capacity = problem.member_capacity
        mobile_flag = mem["mobile"].to_numpy(dtype=bool)
        reach = mem["max_distance_m"].to_numpy(dtype=np.float64)
        lat, lon = mem["lat"].to_numpy(dtype=np.float64), mem["lon"].to_numpy(dtype=np.float64)
        xyz = unit_vectors(lat, lon)
        active = np.flatnonzero((capacity > 0) & ~mobile_flag & (reach > 0))
        branches[bp.branch] = _Branch(
            branch=bp,
            member_of=member_of,
            loads=loads,
            weight_used=weight_used,
            budget=budget,
            lat=lat,
            lon=lon,
            xyz=xyz,
            active=active,
            mobile=np.flatnonzero((capacity > 0) & mobile_flag),
            reach_m=reach,
            member_ids=mem["member_id"].to_numpy(dtype=object),
            names=mem["name"].to_numpy(dtype=object) if "name" in mem else None,
            household_ids=households["household_id"].to_numpy(dtype=object)[bp.household_rows],
            unit_households=_units(households.iloc[bp.household_rows]),
            first_contact=bool((bp.current_state != CURRENT_NONE).any()),
        )
    return _Prepared(plan, branches)


def _units(households: pd.DataFrame) -> dict[str, np.ndarray]:
    if "group_id" not in households:
        return {}
    groups = households["group_id"].astype("string").to_numpy(dtype=object)
    named = np.flatnonzero(pd.notna(groups))
    found: dict[str, list[int]] = {}
    for h in named.tolist():
        found.setdefault(str(groups[h]), []).append(h)
    return {key: np.asarray(rows, dtype=np.int64) for key, rows in found.items()}


def _validated_household(plan: Plan, household: Mapping[str, Any]) -> pd.Series:
    """The household validated as a one-row ``households`` table, with the CSV path's rules and messages."""
    frame = records_frame([dict(household)], "households")
    return validate_households(frame, plan.scenario.policy, file="households").iloc[0]


def _label(prep: _Branch, m: int) -> str:
    if prep.names is not None and isinstance(prep.names[m], str) and prep.names[m]:
        return str(prep.names[m])
    return str(prep.member_ids[m])


def _eligible(prep: _Branch, lat: float, lon: float, network: Any) -> tuple[np.ndarray, np.ndarray]:
    """Branch member indices that may serve a household at (lat, lon), and their distances, as compile decides."""
    if network is not None:
        # Along the walking network, as the compiler measures (slower: one shortest-path search per query).
        members = np.sort(np.concatenate([prep.active, prep.mobile]))
        _, found, distance = network.candidate_arcs(
            prep.lat[members],
            prep.lon[members],
            prep.reach_m[members],
            np.isin(members, prep.mobile),
            np.array([lat]),
            np.array([lon]),
        )
        return members[found], np.asarray(distance, dtype=np.float64)
    # The compiler's own arc rule, for one household: the same reach, mobility and distances.
    members = np.sort(np.concatenate([prep.active, prep.mobile]))
    _, found, distance = candidate_arcs(
        prep.xyz[members],
        prep.reach_m[members],
        np.isin(members, prep.mobile),
        unit_vectors(np.array([lat]), np.array([lon])),
    )
    return members[found], np.asarray(distance, dtype=np.float64)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("rank", "load_after", "capacity", "cost_delta"):
        frame[column] = frame[column].astype("Int64")
    for column in ("member_id", "name", "move_household_id", "move_to_member_id", "why"):
        frame[column] = frame[column].astype("string")
    frame["distance_m"] = pd.to_numeric(frame["distance_m"], errors="coerce").astype("float64").round(1)
    return frame


def recommend(plan: Plan, household: Mapping[str, Any], k: int = 5) -> pd.DataFrame:
    """Rank the members a new household could get, by the change of the plan's objective.

    Every other household stays with its member. Only members the plan's
    rules allow are offered: the household's branch (any branch when the
    policy lets members cross), within ``max_distance_m`` unless mobile,
    available, capacity > 0, within the hour budget when members give one.
    When no eligible member has room, the cheapest ways to make room are
    offered instead: a full member takes the household and passes one of
    its own households to another eligible member with room.

    Parameters
    ----------
    plan
        A solved plan; its per-plan preparation (member coordinates, loads) is
        built on the first call and cached.
    household
        One household record with the columns of ``households.csv`` (values
        as a form sends them); checked by the same rules and messages as the
        CSV path. ``current_member_id`` and ``pinned`` are not used; a
        ``group_id`` naming a stairwell unit of the plan limits the household
        to that unit's member.
    k
        Most rows returned.

    Returns
    -------
    pandas.DataFrame
        One row per option, best first: ``rank``, ``member_id``, ``name``,
        ``distance_m`` (household to member), ``load_after`` (the member's
        households with this one), ``capacity``, ``cost_delta`` (change of
        the plan's integer objective, as :func:`~baohu_assign.model.objective.evaluate`
        counts it: travel cost plus the balance step, plus the chain's move),
        ``move_household_id`` and ``move_to_member_id`` (the household passed
        on to make room, else empty) and ``why`` (a sentence in Chinese).
        When nobody can take the household: one row without a member whose
        ``why`` says why.

    Raises
    ------
    InputError
        When the household record breaks the data contract.
    """
    row = _validated_household(plan, household)
    scenario = plan.scenario
    key = CROSS_BRANCH_KEY if scenario.policy.allow_cross_branch else str(row["branch"])
    prep = _prepare(plan).branches.get(key)
    if prep is None:
        return _frame([_nobody(f"本方案没有支部 {row['branch']} 的住户，无从推荐（请重新求解）")])
    members, distance = _eligible(prep, float(row["lat"]), float(row["lon"]), scenario.network)
    if members.size == 0:
        return _frame([_nobody("服务半径内没有可用的党员")])
    bp, problem = prep.branch, prep.branch.problem
    unit = _unit_of(prep, row)
    if unit is not None:
        # A stairwell unit goes whole to one member: the new household can only join the unit's member.
        unit_member = int(prep.member_of[unit[0]])
        keep = members == unit_member
        if unit_member < 0 or not keep.any():
            whose = (
                "尚无包户党员" if unit_member < 0 else f"由 {_label(prep, unit_member)} 包户，但其服务半径够不到这户"
            )
            return _frame([_nobody(f"同一单元 {row['group_id']} 须由同一党员包户，该单元{whose}")])
        members, distance = members[keep], distance[keep]
    visits = float(row["visits_per_week"])
    travel = costs.travel_cost(visits, distance, bp.travel_unit)
    delta = costs.arc_cost(
        travel, np.full(members.size, -1), members, problem.churn_penalty, np.full(members.size, prep.first_contact)
    )
    capacity = problem.member_capacity[members].astype(np.int64)
    load = prep.loads[members]
    delta = delta + costs.balance_steps(problem.balance_scale, capacity, load + 1)
    room = load + 1 <= capacity
    if unit is not None and problem.one_unit_over_capacity:
        # A member whose one unit is all it carries may take that unit beyond its capacity.
        room |= (capacity > 0) & (load == unit.size)
    if prep.weight_used is not None:
        assert prep.budget is not None
        weight = costs.arc_weight(
            np.full(members.size, visits),
            np.full(members.size, float(row["minutes_per_visit"])),
            distance,
            scenario.policy.walking_speed_m_per_min,
        )
        room &= prep.weight_used[members] + weight <= prep.budget[members]
    nearest = int(np.lexsort((members, distance))[0])
    with_room = np.flatnonzero(room)
    if with_room.size:
        order = with_room[np.lexsort((members[with_room], delta[with_room]))][:k]
        rows = []
        for rank, i in enumerate(order, start=1):
            why = _why_direct(prep, members, distance, delta, load, capacity, room, int(i), nearest, rank)
            rows.append(_row(prep, rank, int(members[i]), distance[i], load[i] + 1, capacity[i], delta[i], why))
        return _frame(rows)
    return _frame(
        _chains(prep, members, distance, delta, load, capacity, k, weight if prep.weight_used is not None else None)
    )


def _unit_of(prep: _Branch, row: pd.Series) -> np.ndarray | None:
    """The branch households of the stairwell unit the new household joins, or ``None``."""
    group = row.get("group_id")
    if group is None or pd.isna(group):
        return None
    return prep.unit_households.get(str(group))


def _row(
    prep: _Branch,
    rank: int | None,
    m: int,
    distance: float,
    load_after: int,
    capacity: int,
    delta: int,
    why: str,
    move: tuple[int, int] | None = None,
) -> dict[str, Any]:
    return {
        "rank": rank,
        "member_id": prep.member_ids[m],
        "name": prep.names[m] if prep.names is not None else pd.NA,
        "distance_m": float(distance),
        "load_after": int(load_after),
        "capacity": int(capacity),
        "cost_delta": int(delta),
        "move_household_id": prep.household_ids[move[0]] if move else pd.NA,
        "move_to_member_id": prep.member_ids[move[1]] if move else pd.NA,
        "why": why,
    }


def _no_room(load: int, capacity: int) -> str:
    """Why a member cannot take one more household: its capacity, else its weekly hours."""
    if load + 1 > capacity:
        return f"已满（{load}/{capacity}）"
    return f"每周时间不够再包一户（{load}/{capacity}）"


def _nobody(why: str) -> dict[str, Any]:
    return dict.fromkeys(COLUMNS, pd.NA) | {"why": why}


def _why_direct(
    prep: _Branch,
    members: np.ndarray,
    distance: np.ndarray,
    delta: np.ndarray,
    load: np.ndarray,
    capacity: np.ndarray,
    room: np.ndarray,
    i: int,
    nearest: int,
    rank: int,
) -> str:
    spare = f"尚有余量（接收后 {load[i] + 1}/{capacity[i]}）"
    if i == nearest:
        return f"距离最近（{distance[i]:.0f} 米）且{spare}"
    if rank > 1:
        return f"相距 {distance[i]:.0f} 米，{spare}，目标增加 {delta[i]}"
    name = _label(prep, int(members[nearest]))
    if not room[nearest]:
        reason = f"最近的党员 {name} {_no_room(int(load[nearest]), int(capacity[nearest]))}"
    else:
        reason = f"最近的党员 {name} 加一户的均衡代价更高（已包 {load[nearest]}/{capacity[nearest]} 户）"
    return f"{reason}；此人相距 {distance[i]:.0f} 米，{spare}，代价最小"


def _chains(
    prep: _Branch,
    members: np.ndarray,
    distance: np.ndarray,
    delta: np.ndarray,
    load: np.ndarray,
    capacity: np.ndarray,
    k: int,
    weight: np.ndarray | None,
) -> list[dict[str, Any]]:
    """For the cheapest full members: take the household and pass one of theirs on to a member with room."""
    problem = prep.branch.problem
    options: list[tuple[int, int, int, int]] = []  # (cost, member position, moved household, to member)
    full = np.flatnonzero(capacity > 0)
    for i in full[np.lexsort((members[full], delta[full]))][:CHAIN_CANDIDATES]:
        a = int(members[i])
        best = _cheapest_move(prep, a, None if weight is None else int(weight[i]))
        if best is not None:
            extra, h, b = best
            # A keeps its load (one out, one in), so its balance step is not paid again.
            taken = int(delta[i]) - int(costs.balance_steps(problem.balance_scale, capacity[i], load[i] + 1))
            options.append((taken + extra, int(i), h, b))
    if not options:
        return [_nobody("服务半径内的党员都已满，且无法通过转出一户腾出名额")]
    options.sort(key=lambda o: (o[0], int(members[o[1]])))
    rows = []
    for rank, (total, i, h, b) in enumerate(options[:k], start=1):
        arc_a, arc_b = problem.arc_index(h, int(members[i])), problem.arc_index(h, b)
        more_m = float(problem.arc_distance_m[arc_b] - problem.arc_distance_m[arc_a])
        walk = f"多走 {more_m:.0f} 米" if more_m >= 0 else f"少走 {-more_m:.0f} 米"
        why = (
            f"{_label(prep, int(members[i]))} {_no_room(int(load[i]), int(capacity[i]))}，"
            f"需把 {prep.household_ids[h]} 转给 {_label(prep, b)}（{walk}）"
        )
        rows.append(_row(prep, rank, int(members[i]), distance[i], load[i], capacity[i], total, why, (h, b)))
    return rows


def _cheapest_move(prep: _Branch, a: int, new_weight: int | None) -> tuple[int, int, int] | None:
    """(cost change, household, new member) of the cheapest move of one of ``a``'s households to a member with room.

    ``new_weight``: the hour-budget weight of the new household at ``a``,
    which must fit in ``a``'s budget once the moved household is gone.
    """
    problem = prep.branch.problem
    households = np.flatnonzero(prep.member_of == a)
    alone = prep.branch.group_size[households] == 1  # a unit of several households moves only whole
    households = households[(problem.household_pin[households] < 0) & alone]
    best: tuple[int, int, int] | None = None
    for h in households.tolist():
        arcs = problem.arcs_of(h)
        to = problem.arc_member[arcs].astype(np.int64)
        cost = problem.arc_cost[arcs]
        own_arc = int(np.flatnonzero(to == a)[0])
        own = int(cost[own_arc])
        if new_weight is not None:
            assert problem.arc_weight is not None and prep.budget is not None and prep.weight_used is not None
            if prep.weight_used[a] - problem.arc_weight[arcs][own_arc] + new_weight > prep.budget[a]:
                continue
        cap = problem.member_capacity[to].astype(np.int64)
        ok = (to != a) & (prep.loads[to] + 1 <= cap)
        if prep.weight_used is not None:
            assert problem.arc_weight is not None and prep.budget is not None
            ok &= prep.weight_used[to] + problem.arc_weight[arcs] <= prep.budget[to]
        if not ok.any():
            continue
        change = cost - own + costs.balance_steps(problem.balance_scale, cap, prep.loads[to] + 1)
        j = np.flatnonzero(ok)[np.lexsort((to[ok], change[ok]))[0]]
        if best is None or int(change[j]) < best[0]:
            best = (int(change[j]), h, int(to[j]))
    return best


def explain_household(plan: Plan, household_id: str) -> pd.DataFrame:
    """The members a planned household could have instead, and what each would cost.

    The household's own member comes first (``cost_delta`` 0), then every
    other eligible member with room for it, cheapest first; ``cost_delta``
    is the change of the plan's objective if the household alone moved
    there (travel, balance steps of both members, churn under min-churn).
    Members without room are listed last with ``cost_delta`` empty.
    :meth:`Plan.explain` gives the household's own record instead.

    Parameters
    ----------
    plan
        A solved plan.
    household_id
        A household of the plan.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`recommend` (``move_*`` empty).

    Raises
    ------
    KeyError
        When the plan has no such household.
    """
    for prep in _prepare(plan).branches.values():
        found = np.flatnonzero(prep.household_ids == str(household_id))
        if found.size:
            return _explain(prep, int(found[0]))
    raise KeyError(f"no household {household_id!r} in this plan")


def _explain(prep: _Branch, h: int) -> pd.DataFrame:
    problem = prep.branch.problem
    arcs = problem.arcs_of(h)
    to = problem.arc_member[arcs].astype(np.int64)
    cost = problem.arc_cost[arcs].astype(np.int64)
    distance = problem.arc_distance_m[arcs]
    cap = problem.member_capacity[to].astype(np.int64)
    current = int(prep.member_of[h])
    loads = prep.loads[to]
    room = (to != current) & (loads + 1 <= cap)
    if prep.weight_used is not None:
        assert problem.arc_weight is not None and prep.budget is not None
        room &= prep.weight_used[to] + problem.arc_weight[arcs] <= prep.budget[to]
    delta = cost + costs.balance_steps(problem.balance_scale, cap, loads + 1)
    if current >= 0:
        own = int(np.flatnonzero(to == current)[0])
        cur_cap = np.asarray([problem.member_capacity[current]])
        release = int(costs.balance_steps(problem.balance_scale, cur_cap, np.asarray([prep.loads[current]]))[0])
        delta = delta - int(cost[own]) - release
    else:
        delta = delta - int(problem.uncovered_cost()[h])
    rows = []
    if current >= 0:
        why = "当前包户党员"
        if problem.household_pin[h] >= 0:
            why += "（已固定）"
        rows.append(_row(prep, 1, current, distance[own], prep.loads[current], cap[own], 0, why))
    others = np.flatnonzero(to != current)
    others = others[np.lexsort((to[others], delta[others], ~room[others]))]
    whole_unit = int(prep.branch.group_size[h]) > 1
    for i in others:
        if whole_unit:
            row = _row(
                prep,
                len(rows) + 1,
                int(to[i]),
                distance[i],
                loads[i],
                cap[i],
                0,
                "同一单元须整体改派，不能单独调整这户",
            )
            row["cost_delta"] = pd.NA
            rows.append(row)
        elif room[i]:
            sign = "增加" if delta[i] >= 0 else "减少"
            after = f"{loads[i] + 1}/{cap[i]}"
            why = f"相距 {distance[i]:.0f} 米，尚有余量（接收后 {after}），目标{sign} {abs(int(delta[i]))}"
            rows.append(_row(prep, len(rows) + 1, int(to[i]), distance[i], loads[i] + 1, cap[i], int(delta[i]), why))
        else:
            row = _row(
                prep, len(rows) + 1, int(to[i]), distance[i], loads[i], cap[i], 0, f"已满（{loads[i]}/{cap[i]}）"
            )
            row["cost_delta"] = pd.NA
            rows.append(row)
    return _frame(rows)
