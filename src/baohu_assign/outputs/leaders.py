"""Building leaders (楼栋长) and compound leaders (楼院长), chosen as an exact assignment.

Every building gets a leader from the members of its branch, every compound
one from the branch's cadres (``role`` = ``cadre`` or ``干部``). A member
leads at most one building and at most one compound; the two levels are
chosen independently, so a compound leader may also lead a building (in
practice they often lead their own).

Per branch and level the choice is a rectangular assignment problem solved
exactly by :func:`scipy.optimize.linear_sum_assignment`, minimising in this
order (lexicographically, through weights no lower level can outweigh):

1. locations left without a leader;
2. unavailable leaders (``available`` false: chosen only where no available
   candidate remains);
3. total distance: 0 for a member living in the location (its
   ``location_id`` is the location or lies under it), otherwise the distance
   from the location to the member's home (great-circle, or along the
   walking network when the scenario has one; :func:`leader_distances`).

Locations and candidates enter the solver sorted by id, so the result never
depends on the order of rows in the files.

A location's branch is the branch most of its households belong to (ties: the
first name in sort order); without households, the branch most of the members
living there belong to.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..io.atomic import atomic_write_text
from ..io.tables import csv_text, missing_mask
from ..model.costs import TRAVEL_UNIT_M, travel_cost
from ..model.geo import great_circle_m

if TYPE_CHECKING:
    from ..model.scenario import Scenario

logger = logging.getLogger(__name__)

__all__ = [
    "CADRE_ROLES",
    "LEADER_COLUMNS",
    "LEADER_LEVELS",
    "LEADER_REASONS",
    "choose_leaders",
    "leader_distances",
    "write_leaders",
]

LEADER_COLUMNS: tuple[str, ...] = (
    "level",
    "location_id",
    "location_name",
    "branch",
    "leader_member_id",
    "leader_name",
    "distance_m",
    "members_under",
    "households_under",
    "reason",
)
"""Columns of :func:`choose_leaders` and ``leaders.csv``."""

LEADER_LEVELS: tuple[str, ...] = ("compound", "building")
"""Levels that get a leader, in the order of the rows of ``leaders.csv``."""

CADRE_ROLES: tuple[str, ...] = ("cadre", "干部")  # a tuple, not a set: its printed form stays the same
"""``role`` values (compared stripped, case-insensitively) that make a member a compound-leader candidate."""

LEADER_REASONS: dict[str, str] = {
    "no_branch": "no household and no member lies under it, so its branch is unknown",
    "no_member_in_branch": "its branch has no member",
    "no_cadre_in_branch": "its branch has no member with role cadre",
    "no_coordinates": "it has no coordinates (nor any location above it) and no candidate lives in it",
    "unreachable_on_network": "no candidate has a path to it on the walking network",
    "candidates_lead_elsewhere": "every candidate of its branch already leads another location of this level",
}
"""Why a location has no leader: code → explanation (the ``reason`` column)."""

_SAFE_INTEGER = 2**53  # float64 holds every integer below this exactly


def choose_leaders(scenario: Scenario) -> pd.DataFrame:
    """Choose a leader for every compound and building of the scenario's place hierarchy.

    Parameters
    ----------
    scenario
        A scenario built with ``locations``. Compound leaders need the
        optional members column ``role``.

    Returns
    -------
    pandas.DataFrame
        :data:`LEADER_COLUMNS`; compounds first, then buildings, each in
        ``locations.csv`` order. ``leader_member_id``, ``leader_name`` and
        ``distance_m`` are blank where no leader could be chosen, and
        ``reason`` then holds a code of :data:`LEADER_REASONS` (blank
        otherwise). ``distance_m`` is 0 for a leader living there.
        ``members_under`` and ``households_under`` count the members and
        households whose location lies under the location.

    Raises
    ------
    ValueError
        When the scenario has no locations.
    """
    locations = scenario.locations
    if locations is None:
        raise ValueError("leaders need the place hierarchy: give locations.csv (Scenario.from_csv(..., locations=))")
    parts = [_choose_level(scenario, level) for level in LEADER_LEVELS]
    frame = pd.concat(parts, ignore_index=True)
    led = frame["leader_member_id"].notna()
    logger.info("leaders: %d of %d locations led", int(led.sum()), len(frame))
    return frame


def leader_distances(scenario: Scenario, lat: float, lon: float, member_rows: np.ndarray) -> np.ndarray:
    """Metres from a location to the homes of some members: the one distance leaders are chosen by.

    Parameters
    ----------
    scenario
        Source of the members' coordinates and of the walking network, if any.
    lat, lon
        The location, WGS84 degrees.
    member_rows
        Positions in ``scenario.members``.

    Returns
    -------
    numpy.ndarray
        float64: great-circle metres, or network metres (snap + path + snap,
        from the location) when the scenario has a walking network; ``inf``
        where the network has no path.
    """
    rows = np.asarray(member_rows, dtype=np.int64)
    m_lat = scenario.members["lat"].to_numpy(dtype=np.float64)[rows]
    m_lon = scenario.members["lon"].to_numpy(dtype=np.float64)[rows]
    if rows.size == 0:
        return np.zeros(0, dtype=np.float64)
    if scenario.network is not None:
        return np.asarray(scenario.network.distances_from(lat, lon, m_lat, m_lon), dtype=np.float64)
    return great_circle_m(np.full(rows.size, lat), np.full(rows.size, lon), m_lat, m_lon)


def write_leaders(leaders: pd.DataFrame, path: str | Path) -> Path:
    """Write ``leaders.csv`` atomically (UTF-8 with a byte-order mark, as the other outputs).

    Parameters
    ----------
    leaders
        The frame of :func:`choose_leaders`.
    path
        The file, or an existing folder (``leaders.csv`` is written into it).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    target = Path(path)
    if target.is_dir():
        target = target / "leaders.csv"
    atomic_write_text(target, leaders_csv(leaders))
    return target


def leaders_csv(leaders: pd.DataFrame) -> str:
    """``leaders.csv`` as text (with the byte-order mark).

    E.g. for :meth:`~baohu_assign.plan.Plan.write`'s ``extra``.
    """
    return csv_text(leaders)


# -- one level ---------------------------------------------------------------------------------


def _choose_level(scenario: Scenario, level: str) -> pd.DataFrame:
    locations = scenario.locations
    assert locations is not None
    places = locations.of_kind(level)
    place_ids = places["location_id"].to_numpy(dtype=object)
    members, households = scenario.members, scenario.households
    m_place = _under(scenario, members, level)
    h_place = _under(scenario, households, level)
    branch = _branches(
        place_ids,
        h_place,
        households["branch"].to_numpy(dtype=object),
        m_place,
        members["branch"].to_numpy(dtype=object),
    )
    member_branch = members["branch"].to_numpy(dtype=object)
    candidate = np.ones(len(members), dtype=bool)
    if level == "compound":
        role = members["role"] if "role" in members else pd.Series(pd.NA, index=members.index, dtype="string")
        candidate = role.fillna("").astype(str).str.strip().str.lower().isin(list(CADRE_ROLES)).to_numpy()
    member_ids = members["member_id"].to_numpy(dtype=object).astype(str)

    leader = np.full(len(places), -1, dtype=np.int64)
    distance = np.full(len(places), np.nan)
    reason = np.full(len(places), "", dtype=object)
    for name in sorted({b for b in branch if b is not None}):
        rows = np.flatnonzero(branch == name)
        rows = rows[np.argsort(place_ids[rows].astype(str), kind="stable")]
        pool = np.flatnonzero(candidate & (member_branch == name))
        pool = pool[np.argsort(member_ids[pool], kind="stable")]
        if pool.size == 0:
            reason[rows] = "no_cadre_in_branch" if level == "compound" else "no_member_in_branch"
            continue
        _lead_branch(scenario, places, rows, pool, m_place, leader, distance, reason)
    reason[np.array([b is None for b in branch], dtype=bool)] = "no_branch"

    names: np.ndarray = members["name"].to_numpy(dtype=object) if "name" in members else member_ids.astype(object)
    has = leader >= 0
    leader_id = np.where(has, member_ids[np.maximum(leader, 0)].astype(object), None)
    # numpy's stubs reject None as a branch of np.where, which takes it as an object.
    leader_name = np.where(has, names[np.maximum(leader, 0)], None)  # type: ignore[call-overload]
    leader_name = np.where(has & missing_mask(leader_name), leader_id, leader_name)  # a blank name shows the id
    return pd.DataFrame(
        {
            "level": pd.array([level] * len(places), dtype="string"),
            "location_id": pd.array(place_ids, dtype="string"),
            "location_name": pd.array(places["name"].to_numpy(dtype=object), dtype="string"),
            "branch": pd.array(branch, dtype="string"),
            "leader_member_id": pd.array(leader_id, dtype="string"),
            "leader_name": pd.array(leader_name, dtype="string"),
            "distance_m": distance,
            "members_under": _count_under(place_ids, m_place),
            "households_under": _count_under(place_ids, h_place),
            "reason": pd.array(reason, dtype="string"),
        }
    )


def _lead_branch(
    scenario: Scenario,
    places: pd.DataFrame,
    rows: np.ndarray,
    pool: np.ndarray,
    m_place: np.ndarray,
    leader: np.ndarray,
    distance: np.ndarray,
    reason: np.ndarray,
) -> None:
    """Match one branch's places (``rows`` of ``places``) with its candidate members (``pool``), in place.

    A member living at the place costs 0, others their distance to it.
    Fills ``leader`` (member row) and ``distance`` of the places that get
    one, ``reason`` of those that do not.
    """
    place_ids = places["location_id"].to_numpy(dtype=object)
    lat = places["lat"].to_numpy(dtype=np.float64)
    lon = places["lon"].to_numpy(dtype=np.float64)
    available = scenario.members["available"].to_numpy(dtype=bool)
    cost = np.full((rows.size, pool.size), np.inf)
    for i, r in enumerate(rows):
        lives = m_place[pool] == place_ids[r]
        if np.isfinite(lat[r]):
            cost[i] = leader_distances(scenario, float(lat[r]), float(lon[r]), pool)
        cost[i, lives] = 0.0
    chosen = _assignment(cost, ~available[pool])
    for i, r in enumerate(rows):
        if chosen[i] >= 0:
            leader[r] = pool[chosen[i]]
            distance[r] = round(float(cost[i, chosen[i]]), 1)
        elif np.isfinite(cost[i]).any():
            reason[r] = "candidates_lead_elsewhere"
        elif not np.isfinite(lat[r]):
            reason[r] = "no_coordinates"
        else:
            reason[r] = "unreachable_on_network"


def _count_under(place_ids: np.ndarray, under: np.ndarray) -> np.ndarray:
    """int[k]: how many records lie under each place (``under`` as from :func:`_under`)."""
    index = {pid: i for i, pid in enumerate(place_ids)}
    codes = np.array([index.get(p, len(place_ids)) if p is not None else len(place_ids) for p in under], dtype=np.int64)
    return np.bincount(codes, minlength=len(place_ids) + 1)[: len(place_ids)]


def _under(scenario: Scenario, frame: pd.DataFrame, level: str) -> np.ndarray:
    """object[n]: the location of ``level`` each record lies under, or None."""
    assert scenario.locations is not None
    if "location_id" not in frame:
        return np.full(len(frame), None, dtype=object)
    return scenario.locations.ancestor(frame["location_id"].to_numpy(dtype=object), level)


def _branches(
    place_ids: np.ndarray,
    h_place: np.ndarray,
    h_branch: np.ndarray,
    m_place: np.ndarray,
    m_branch: np.ndarray,
) -> np.ndarray:
    """object[k]: each location's branch — most of its households', else most of its members'; None when empty."""
    out = np.full(len(place_ids), None, dtype=object)
    for places, branches in ((m_place, m_branch), (h_place, h_branch)):  # households last: they win
        pairs = pd.DataFrame({"place": places, "branch": branches}).dropna()
        if pairs.empty:
            continue
        counts = pairs.value_counts().reset_index(name="n")
        counts = counts.sort_values(["place", "n", "branch"], ascending=[True, False, True], kind="stable")
        top = dict(
            zip(counts.drop_duplicates("place")["place"], counts.drop_duplicates("place")["branch"], strict=True)
        )
        for i, pid in enumerate(place_ids):
            if pid in top:
                out[i] = str(top[pid])
    return out


def _assignment(cost: np.ndarray, unavailable: np.ndarray) -> np.ndarray:
    """Exact lexicographic assignment: most rows led, then fewest unavailable leaders, then least distance.

    ``cost[i, j]`` is the distance of candidate ``j`` for row ``i`` (``inf``:
    not a candidate). Returns, per row, the chosen column or -1.
    """
    rows, cols = cost.shape
    finite = np.isfinite(cost)
    if not finite.any():
        return np.full(rows, -1, dtype=np.int64)
    unit = TRAVEL_UNIT_M  # coarser only if the weights would leave float64's exact integers
    while True:
        scaled = np.where(finite, travel_cost(1.0, np.where(finite, cost, 0.0), unit), 0).astype(np.float64)
        worst = float(scaled.max())
        unavailable_weight = rows * worst + 1  # above any total distance
        unled_weight = rows * (unavailable_weight + worst) + 1  # above any total of the two lower levels
        if (rows + 1) * unled_weight < _SAFE_INTEGER:
            break
        unit *= 10.0
    matrix = np.full((rows, cols + rows), np.inf)
    matrix[:, :cols] = np.where(finite, scaled + unavailable_weight * unavailable[None, :], np.inf)
    # One "no leader" column per row, usable only by that row: the problem is always feasible.
    matrix[np.arange(rows), cols + np.arange(rows)] = unled_weight
    row_index, col_index = linear_sum_assignment(matrix)
    chosen = np.full(rows, -1, dtype=np.int64)
    real = col_index < cols
    chosen[row_index[real]] = col_index[real]
    return chosen
