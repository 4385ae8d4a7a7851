"""Independent oracles: they share no code with the library's engines.

Eligibility is recomputed from the frames with a scalar haversine,
coverage by networkx max-flow, optima by brute-force enumeration.
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import networkx as nx
import pandas as pd

from baohu_assign.model.compile import CURRENT_NONE

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


def brute_force(
    members: pd.DataFrame,
    households: pd.DataFrame,
    key,
    one_unit_over_capacity: bool = True,
) -> tuple:
    """Smallest ``key(assignment)`` over every valid assignment (tiny cases only).

    ``assignment`` maps household_id → member_id or None; validity is checked
    with the oracle's own eligibility, capacity (``one_unit_over_capacity``:
    the policy key), group and pin rules.
    """
    pairs = eligible_pairs(members, households)
    ids = households["household_id"].tolist()
    options = [[None] + [m for (hh, m) in pairs if hh == h] for h in ids]
    caps = dict(zip(members["member_id"], members["capacity"], strict=True))
    groups = None
    if "group_id" in households:
        keyed = households.set_index("household_id")
        groups = (keyed["branch"] + "/" + keyed["group_id"]).where(keyed["group_id"].notna())
    unit_of = unit_of_households(households)
    best = None
    for combo in itertools.product(*options):
        served: dict[str, list[str]] = {}
        for h, m in zip(ids, combo, strict=True):
            if m is not None:
                served.setdefault(m, []).append(h)
        if not all(load_within_rule(hs, int(caps[m]), unit_of, one_unit_over_capacity) for m, hs in served.items()):
            continue
        assignment = dict(zip(ids, combo, strict=True))
        if groups is not None:
            split = False
            for g in set(groups.dropna()):
                served = {assignment[h] for h in groups.index[groups == g]}
                if len(served) > 1:
                    split = True
                    break
            if split:
                continue
        value = key(assignment, pairs)
        if best is None or value < best:
            best = value
    return best


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
