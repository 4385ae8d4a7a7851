"""Independent oracles: they share no code with the library's engines.

Eligibility is recomputed from the frames with a scalar haversine,
coverage by networkx max-flow (of frames, or of a Problem), optima by
brute-force enumeration (:func:`cheapest`, for frames and for Problems)
or, on larger Problems without groups, by linear assignment over member
slots or HiGHS through scipy (:func:`assignment_optimum`, :func:`milp_optimum`).
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import csr_matrix

from baohu_assign.model.compile import CURRENT_NONE
from baohu_assign.model.problem import NUM_TIERS, Problem

RADIUS_M = 6_371_008.8
TIERS = ("critical", "elevated", "normal")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def eligible_pairs(members: pd.DataFrame, households: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(household_id, member_id) → distance for every pair the hard rules allow."""
    pairs = {}
    for _, h in households.iterrows():
        for _, m in members.iterrows():
            if m["branch"] != h["branch"] or not m["available"] or m["capacity"] <= 0:
                continue
            d = haversine_m(m["lat"], m["lon"], h["lat"], h["lon"])
            if m["mobile"] or d <= m["max_distance_m"]:
                pairs[(h["household_id"], m["member_id"])] = d
    return pairs


def unit_of_households(households: pd.DataFrame) -> dict[str, str]:
    """household_id → its stairwell unit ("branch/group_id"), or "" when it has none."""
    units = {}
    for _, h in households.iterrows():
        group = _text(h.get("group_id")) if "group_id" in households else ""
        units[h["household_id"]] = f"{h['branch']}/{group}" if group else ""
    return units


def load_within_rule(served: list[str], capacity: int, unit_of: dict[str, str], one_unit_over_capacity: bool) -> bool:
    """The capacity rule for one member serving ``served``: at most ``capacity`` households,
    or (when allowed) exactly one whole stairwell unit larger than that and nothing else."""
    if len(served) <= capacity:
        return True
    if not one_unit_over_capacity or capacity <= 0:
        return False
    units = {unit_of[h] for h in served}
    if len(units) != 1 or "" in units:
        return False
    unit = units.pop()
    return sorted(served) == sorted(h for h, u in unit_of.items() if u == unit)


def rule_violations(
    members: pd.DataFrame,
    households: pd.DataFrame,
    assignments: pd.DataFrame,
    one_unit_over_capacity: bool = True,
) -> list[str]:
    """Every hard rule an assignments table breaks (group and pin rules included).

    ``one_unit_over_capacity``: the policy key of that name (default true).
    """
    problems = []
    pairs = eligible_pairs(members, households)
    assigned = dict(zip(assignments["household_id"], assignments["member_id"], strict=True))
    if sorted(assigned) != sorted(households["household_id"]):
        problems.append("households missing or added in the output")
    served: dict[str, list[str]] = {}
    for h, m in assigned.items():
        if m is None or m is pd.NA or (isinstance(m, float) and math.isnan(m)):
            continue
        if (h, m) not in pairs:
            problems.append(f"{h} -> {m} not eligible")
        served.setdefault(m, []).append(h)
    caps = dict(zip(members["member_id"], members["capacity"], strict=True))
    unit_of = unit_of_households(households)
    for m, hs in served.items():
        if not load_within_rule(hs, int(caps[m]), unit_of, one_unit_over_capacity):
            problems.append(f"{m} over capacity {len(hs)}>{caps[m]}")
    if "group_id" in households:
        for g, part in households.dropna(subset=["group_id"]).groupby(["branch", "group_id"]):
            served = {str(assigned[h]) for h in part["household_id"]}
            if len(served) > 1:
                problems.append(f"group {g} split: {served}")
    if "pinned" in households:
        problems += _pin_violations(households, pairs, caps, assigned, one_unit_over_capacity)
    return problems


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _pin_violations(households, pairs, caps, assigned, one_unit_over_capacity) -> list[str]:
    """A pin must hold when its member is eligible and the member's pinned units fit its capacity
    (or, when allowed, are one stairwell unit larger than it)."""
    problems = []
    pinned = households[households["pinned"].astype(bool)]
    unit_of = {}
    unit_size: dict[str, int] = {}
    for _, h in households.iterrows():
        group = _text(h.get("group_id"))
        unit = f"{h['branch']}/{group}" if group else f"single/{h['household_id']}"
        unit_of[h["household_id"]] = unit
        unit_size[unit] = unit_size.get(unit, 0) + 1
    wanted: dict[str, set[str]] = {}
    for _, h in pinned.iterrows():
        wanted.setdefault(unit_of[h["household_id"]], set()).add(_text(h.get("current_member_id")))
    for _, h in pinned.iterrows():
        cur = _text(h.get("current_member_id"))
        unit = unit_of[h["household_id"]]
        if not cur or (h["household_id"], cur) not in pairs or len(wanted[unit]) > 1:
            continue
        members_of_unit = [x for x, u in unit_of.items() if u == unit]
        if any((x, cur) not in pairs for x in members_of_unit):
            continue
        mine = [u for u, who in wanted.items() if who == {cur}]
        load = sum(unit_size[u] for u in mine)
        alone = one_unit_over_capacity and len(mine) == 1 and not mine[0].startswith("single/") and caps[cur] > 0
        if (load <= caps[cur] or alone) and _text(assigned[h["household_id"]]) != cur:
            problems.append(f"pin of {h['household_id']} to {cur} broken")
    return problems


def max_coverage(members: pd.DataFrame, households: pd.DataFrame) -> dict[str, int]:
    """Lexicographically maximal coverage per tier, by max-flow (no groups, no pins).

    Coverable sets form a transversal matroid, so the lexicographic optimum
    covers rank(critical), rank(critical ∪ elevated) - rank(critical), …
    """
    pairs = eligible_pairs(members, households)
    caps = dict(zip(members["member_id"], members["capacity"], strict=True))
    result = {}
    previous = 0
    chosen: list[str] = []
    for tier in TIERS:
        chosen += households.loc[households["priority"] == tier, "household_id"].tolist()
        graph = nx.DiGraph()
        for h in chosen:
            graph.add_edge("s", ("h", h), capacity=1)
        for h, m in pairs:
            if h in chosen:
                graph.add_edge(("h", h), ("m", m), capacity=1)
                graph.add_edge(("m", m), "t", capacity=int(caps[m]))
        rank = nx.maximum_flow_value(graph, "s", "t") if graph.has_node("s") and graph.has_node("t") else 0
        result[tier] = int(rank) - previous
        previous = int(rank)
    return result


def cheapest(options, value):
    """Smallest ``value(combination)`` over every combination of one option per item.

    The suite's one brute-force enumeration (tiny cases only): ``value``
    returns ``None`` for a combination the rules forbid; ``None`` comes back
    when every combination is forbidden.
    """
    best = None
    for combination in itertools.product(*options):
        found = value(combination)
        if found is not None and (best is None or found < best):
            best = found
    return best


def brute_force(
    members: pd.DataFrame,
    households: pd.DataFrame,
    key,
    one_unit_over_capacity: bool = True,
) -> tuple:
    """Smallest ``key(assignment, pairs)`` over every valid assignment of tiny frames.

    ``assignment`` maps household_id → member_id or None; validity is checked
    with the oracle's own eligibility, capacity (``one_unit_over_capacity``:
    the policy key) and group rules.
    """
    pairs = eligible_pairs(members, households)
    ids = households["household_id"].tolist()
    options = [[None] + [m for (hh, m) in pairs if hh == h] for h in ids]
    caps = dict(zip(members["member_id"], members["capacity"], strict=True))
    groups: dict[str, list[str]] = {}
    if "group_id" in households:
        for h, branch, group in zip(ids, households["branch"], households["group_id"], strict=True):
            if isinstance(group, str):
                groups.setdefault(f"{branch}/{group}", []).append(h)
    unit_of = unit_of_households(households)

    def value(combination):
        assignment = dict(zip(ids, combination, strict=True))
        served: dict[str, list[str]] = {}
        for h, m in assignment.items():
            if m is not None:
                served.setdefault(m, []).append(h)
        if not all(load_within_rule(hs, int(caps[m]), unit_of, one_unit_over_capacity) for m, hs in served.items()):
            return None
        if any(len({assignment[h] for h in unit}) > 1 for unit in groups.values()):
            return None
        return key(assignment, pairs)

    return cheapest(options, value)


def problem_brute_force(problem, key=None):
    """Smallest ``key(member_of, total)`` (default: the total) over every valid plan of a tiny Problem.

    Rules and total are rewritten here from the Problem's arrays, as
    docs/model.md states them: a member only over an arc; at most its
    capacity (or, when the Problem allows it, one whole unit larger and
    nothing else); within its budget; groups whole; pins kept; backups
    (enumerated for the households that ask and are covered) another member
    with an arc, within backup capacity. The total: arc costs, uncovered
    costs, balance steps, backup arc costs and the backup penalty for each
    backup missing.
    """
    H, M = problem.num_households, problem.num_members
    arc = {(int(problem.arc_household[a]), int(problem.arc_member[a])): a for a in range(problem.num_arcs)}
    options = [[-1, *(m for (hh, m) in arc if hh == h)] for h in range(H)]
    for h in range(H):
        if problem.household_pin[h] >= 0:
            options[h] = [int(problem.household_pin[h])]
    uncovered = [int(c) for c in problem.uncovered_cost()]
    capacity = [int(c) for c in problem.member_capacity]
    balance = [
        [0, *itertools.accumulate(int(s) for s in problem.balance_step_costs(m, H))] if capacity[m] > 0 else [0]
        for m in range(M)
    ]
    group = [int(g) for g in problem.household_group]
    units = {g: [h for h in range(H) if group[h] == g] for g in set(group) if g >= 0}
    weight, budget = problem.arc_weight, problem.member_budget
    wants = problem.household_backup
    backup_capacity = problem.member_backup_capacity

    def within_capacity(m: int, served: list[int]) -> bool:
        if len(served) <= capacity[m]:
            return True
        unit = {group[h] for h in served}
        return (
            problem.one_unit_over_capacity
            and capacity[m] > 0
            and len(unit) == 1
            and -1 not in unit
            and sorted(served) == units[unit.pop()]
        )

    def backups_value(member_of):
        asking = [h for h in range(H) if wants[h] and member_of[h] >= 0]
        choices = [[-1, *(m for m in options_of(h) if m != member_of[h])] for h in asking]

        def value(backups):
            load = [0] * M
            total = 0
            for m in backups:
                if m < 0:
                    total += int(problem.backup_penalty)
                    continue
                load[m] += 1
            if backup_capacity is not None and any(load[m] > backup_capacity[m] for m in range(M)):
                return None
            return total + sum(
                int(problem.arc_cost[arc[(h, m)]]) for h, m in zip(asking, backups, strict=True) if m >= 0
            )

        return cheapest(choices, value)

    def options_of(h: int) -> list[int]:
        return [m for (hh, m) in arc if hh == h]

    def value(member_of):
        served: dict[int, list[int]] = {}
        total = 0
        for h, m in enumerate(member_of):
            if m < 0:
                total += uncovered[h]
            else:
                served.setdefault(m, []).append(h)
                total += int(problem.arc_cost[arc[(h, m)]])
        for m, hs in served.items():
            if not within_capacity(m, hs):
                return None
            if budget is not None and sum(int(weight[arc[(h, m)]]) for h in hs) > int(budget[m]):
                return None
            total += balance[m][len(hs)] if problem.balance_scale > 0 else 0
        if any(len({member_of[h] for h in unit}) > 1 for unit in units.values()):
            return None
        if wants is not None:
            total += backups_value(member_of)
        return total if key is None else key(np.array(member_of, dtype=np.int64), total)

    return cheapest(options, value)


def coverage_oracle(problem: Problem) -> tuple[int, int, int]:
    """Most households coverable per tier, lexicographically (critical first), by max-flow.

    Pinned households are placed first, as every engine must; coverable sets
    of the rest form a transversal matroid, so the lexicographic optimum
    covers rank(critical), rank(critical ∪ elevated) − rank(critical), …
    """
    pinned = problem.household_pin >= 0
    cap = problem.member_capacity.astype(np.int64).copy()
    np.subtract.at(cap, problem.household_pin[pinned], 1)
    covered = [int((pinned & (problem.household_tier == t)).sum()) for t in range(NUM_TIERS)]
    ranks = []
    for top in range(NUM_TIERS - 1, -1, -1):
        chosen = (~pinned) & (problem.household_tier >= top)
        graph = nx.DiGraph()
        graph.add_node("s")
        graph.add_node("t")
        for a in range(problem.num_arcs):
            h, m = int(problem.arc_household[a]), int(problem.arc_member[a])
            if chosen[h] and cap[m] > 0:
                graph.add_edge("s", ("h", h), capacity=1)
                graph.add_edge(("h", h), ("m", m), capacity=1)
                graph.add_edge(("m", m), "t", capacity=int(cap[m]))
        ranks.append(int(nx.maximum_flow_value(graph, "s", "t")))
    per_tier = {2: ranks[0], 1: ranks[1] - ranks[0], 0: ranks[2] - ranks[1]}
    return tuple(covered[t] + per_tier[t] for t in range(NUM_TIERS))  # type: ignore[return-value]


def covered_per_tier(problem: Problem, member_of: np.ndarray) -> tuple[int, ...]:
    return tuple(int(((member_of >= 0) & (problem.household_tier == t)).sum()) for t in range(NUM_TIERS))


def assignment_optimum(problem: Problem) -> int:
    """Exact optimum without groups: households × (member slots + own "uncovered" column).

    Slot ``k`` of a member costs its ``k``-th balance step; the steps grow
    with ``k``, so an optimal assignment fills the cheap slots first and the
    sum is the convex balance term exactly. A pinned household has no
    "uncovered" column.
    """
    assert not problem.has_groups
    H = problem.num_households
    if H == 0:
        return 0
    slot_member = np.repeat(np.arange(problem.num_members), problem.member_capacity)
    steps = [problem.balance_step_costs(m) for m in range(problem.num_members)]
    slot_cost = np.concatenate([*steps, np.zeros(0, np.int64)])
    slots_of = [np.flatnonzero(slot_member == m) for m in range(problem.num_members)]
    big = float(problem.uncovered_cost().max()) * (H + 1) * 4
    matrix = np.full((H, slot_member.size + H), big)
    for a in range(problem.num_arcs):
        h, m = int(problem.arc_household[a]), int(problem.arc_member[a])
        cols = slots_of[m]
        matrix[h, cols] = problem.arc_cost[a] + slot_cost[cols]
    free = np.flatnonzero(problem.household_pin < 0)
    matrix[free, slot_member.size + free] = problem.uncovered_cost()[free]
    rows, cols = linear_sum_assignment(matrix)
    total = matrix[rows, cols].sum()
    assert total < big
    return round(total)


def milp_optimum(problem) -> tuple[np.ndarray, float]:
    """(member_of, objective) of a Problem without groups, budgets or backups, by HiGHS (scipy's milp).

    One binary per arc, one "uncovered" per household (fixed at 0 when
    pinned: a pinned household keeps its single arc), and, with a balance
    term, one binary per member slot ``k`` costing the ``k``-th balance step:
    the steps grow with ``k``, so the cheapest slots fill first and their sum
    is the convex balance cost. Without it, loads are capped by capacity.
    """
    assert not problem.has_groups and not problem.has_budgets and not problem.has_backups
    H, M, A = problem.num_households, problem.num_members, problem.num_arcs
    if H == 0:
        return np.zeros(0, np.int64), 0.0
    capacity = np.maximum(problem.member_capacity.astype(np.int64), 0)
    balanced = problem.balance_scale > 0
    slot_member = np.repeat(np.arange(M), capacity) if balanced else np.zeros(0, np.int64)
    slot_cost = np.concatenate([problem.balance_step_costs(m) for m in range(M)]) if balanced and M else np.zeros(0)
    S = slot_member.size
    cost = np.concatenate([problem.arc_cost, problem.uncovered_cost(), slot_cost]).astype(np.float64)
    arcs, households, slots = np.arange(A), A + np.arange(H), A + H + np.arange(S)
    once = LinearConstraint(
        csr_matrix(
            (np.ones(A + H), (np.r_[problem.arc_household, np.arange(H)], np.r_[arcs, households])), (H, A + H + S)
        ),
        1,
        1,
    )
    if balanced:
        load = csr_matrix(
            (np.r_[np.ones(A), -np.ones(S)], (np.r_[problem.arc_member, slot_member], np.r_[arcs, slots])),
            (M, A + H + S),
        )
        within = LinearConstraint(load, 0, 0)
    else:
        within = LinearConstraint(csr_matrix((np.ones(A), (problem.arc_member, arcs)), (M, A + H)), 0, capacity)
    upper = np.r_[np.ones(A), np.where(problem.household_pin < 0, 1.0, 0.0), np.ones(S)]
    result = milp(cost, constraints=[once, within], integrality=np.ones_like(cost), bounds=Bounds(0, upper))
    assert result.status == 0, result.message
    member_of = np.full(H, -1, dtype=np.int64)
    chosen = np.flatnonzero(result.x[:A] > 0.5)
    member_of[problem.arc_household[chosen]] = problem.arc_member[chosen]
    return member_of, float(result.fun)


def model_objective(branch, member_of, backup_of=None) -> int:
    """The integer objective of a plan, from docs/model.md, one household and one member at a time.

    Reads only the compiled branch's raw data (visits, distances, tiers,
    current members, capacities, the travel unit, the balance weight and the
    penalties) and none of its precomputed costs: travel ``round(v·d/unit)``,
    churn ``K = 2·M·max travel + 1`` under min-churn on every arc that is not
    the household's current member and on the "uncovered" of a household that
    has one, and, in a rebalance (some household of the branch names a current
    member), on every arc of a household that names none, tier penalties,
    balance steps ``round(λ(2k−1)/c)``, and backups
    (the backup arc's cost, or the backup penalty when one is wanted and missing).
    """
    p = branch.problem
    unit = branch.travel_unit
    arcs = {}
    for a in range(p.num_arcs):
        arcs[(int(p.arc_household[a]), int(p.arc_member[a]))] = float(p.arc_distance_m[a])

    def travel(h: int, m: int) -> int:
        return round(float(p.household_visits[h]) * arcs[(h, m)] / unit)

    max_travel = max((travel(h, m) for (h, m) in arcs), default=0)
    churn = 2 * max(p.num_members, 1) * max_travel + 1 if p.objective == "min-churn" else 0
    named = [int(state) != CURRENT_NONE for state in branch.current_state]
    rebalancing = any(named)

    def changes(h: int, m: int) -> bool:
        current = int(p.household_current[h])
        if m < 0:
            return current >= 0
        return (current >= 0 and m != current) or (rebalancing and not named[h])

    total = 0
    load = [0] * p.num_members
    for h in range(p.num_households):
        m = int(member_of[h])
        if m < 0:
            total += int(p.tier_penalty[int(p.household_tier[h])]) + (churn if changes(h, m) else 0)
            continue
        total += travel(h, m) + (churn if changes(h, m) else 0)
        load[m] += 1
        if p.household_backup is not None and bool(p.household_backup[h]):
            b = -1 if backup_of is None else int(backup_of[h])
            if b < 0:
                total += int(p.backup_penalty)
            else:
                total += travel(h, b) + (churn if changes(h, b) else 0)
    for m, n in enumerate(load):
        capacity = int(p.member_capacity[m])
        if p.balance_scale > 0 and capacity > 0:
            total += sum(round(p.balance_scale * (2 * k - 1) / capacity) for k in range(1, n + 1))
    return total


def primary_contacts(assignments_csv: Path) -> dict[str, str]:
    """household_id -> member_id ("" when uncovered) of an assignments.csv, read with the csv module only."""
    with open(assignments_csv, encoding="utf-8-sig", newline="") as handle:
        return {row["household_id"]: row["member_id"] for row in csv.DictReader(handle) if row["role"] != "backup"}


def solved_by(plan, engine: str) -> bool:
    """Whether ``engine`` itself solved every branch of ``plan``, with no fallback to greedy.

    Under CP-SAT, greedy's plan is kept where it is strictly better than
    CP-SAT's; that branch still counts, as it carries CP-SAT's bound (greedy
    gives none). A test of one engine asserts this next to its result, so that
    it cannot pass on greedy's plan while the engine under test fails.
    """
    for branch in plan.report.branches:
        if branch.status == "fallback":
            return False
        kept_greedy = engine == "cpsat" and branch.engine == "greedy" and branch.bound is not None
        if branch.engine != engine and not kept_greedy:
            return False
    return True
