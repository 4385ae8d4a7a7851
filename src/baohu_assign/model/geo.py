"""Geometry: great-circle distances and the sparse candidate arcs of a branch.

Distances are great-circle on the WGS84 mean sphere (radius 6,371,008.8 m),
vectorised in numpy. Candidate arcs of a small branch come from measuring
every pair (at most :data:`DENSE_PAIRS`); of a larger one, from KD-trees
over unit-sphere coordinates, so no large member × household matrix is
formed except for mobile members, who reach every household of their
branch by definition.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

EARTH_RADIUS_M = 6_371_008.8
"""Mean radius of the WGS84 ellipsoid (IUGG), in metres."""


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """float64[n, 3]: points on the unit sphere for WGS84 degrees."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def chord_to_metres(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres for a chord length on the unit sphere."""
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def metres_to_chord(metres: np.ndarray | float) -> np.ndarray:
    """Chord length on the unit sphere for a great-circle distance in metres."""
    angle = np.minimum(np.asarray(metres, dtype=np.float64) / EARTH_RADIUS_M, np.pi)
    return 2.0 * np.sin(angle / 2.0)


def arc_distance_m(xyz: np.ndarray, other_xyz: np.ndarray) -> np.ndarray:
    """float64[n]: great-circle metres between unit-sphere points, row by row.

    The distance of every arc the compiler builds without a walking network
    (:func:`candidate_arcs`); anything that prices an arc as the compiler
    would measures it with this (or :func:`distances_from_m`).
    """
    return chord_to_metres(np.linalg.norm(np.asarray(xyz) - np.asarray(other_xyz), axis=1))


def distances_from_m(lat: float, lon: float, to_lat: np.ndarray, to_lon: np.ndarray) -> np.ndarray:
    """float64[n]: great-circle metres from one point to many, exactly as :func:`candidate_arcs` measures arcs."""
    return arc_distance_m(unit_vectors(to_lat, to_lon), unit_vectors(np.array([lat]), np.array([lon])))


def great_circle_m(
    lat1: np.ndarray | float, lon1: np.ndarray | float, lat2: np.ndarray | float, lon2: np.ndarray | float
) -> np.ndarray:
    """Vectorised great-circle (haversine) distance in metres between pairs of points."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def candidate_arcs(
    member_xyz: np.ndarray,
    member_reach_m: np.ndarray,
    member_mobile: np.ndarray,
    household_xyz: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (household, member) pair a member can reach, sorted by household then member.

    Parameters
    ----------
    member_xyz, household_xyz
        Unit-sphere coordinates from :func:`unit_vectors`.
    member_reach_m
        float64[M]: reach of each non-mobile member; reach ≤ 0 gives no arcs.
        The caller passes only members who may serve (available, capacity > 0).
    member_mobile
        bool[M]: mobile members reach every household.

    Returns
    -------
    arc_household, arc_member : int32[A]
    distance_m : float64[A]
    """
    num_members = member_xyz.shape[0]
    num_households = household_xyz.shape[0]
    empty = (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float64))
    if num_members == 0 or num_households == 0:
        return empty
    mobile = np.asarray(member_mobile, dtype=bool)
    reach = np.asarray(member_reach_m, dtype=np.float64)
    if num_households * num_members <= DENSE_PAIRS:
        # Every pair at once: the grid is small, and row-major order is already by household, then member.
        grid = _distance_grid(household_xyz, member_xyz)
        arc_h, arc_m = np.nonzero(mobile | ((reach > 0) & (grid <= reach)))
        return arc_h.astype(np.int32), arc_m.astype(np.int32), grid[arc_h, arc_m]
    parts_h: list[np.ndarray] = []
    parts_m: list[np.ndarray] = []

    fixed = np.flatnonzero(~mobile & (reach > 0))
    if fixed.size:
        # A hair wider than the reach: the exact distance filter below decides.
        radius = metres_to_chord(reach[fixed] * (1.0 + 1e-9) + 1e-3)
        pair_h, pair_m = _pairs_within(household_xyz, member_xyz[fixed], radius)
        parts_h.append(pair_h)
        parts_m.append(fixed[pair_m])
    movers = np.flatnonzero(mobile)
    if movers.size:
        parts_h.append(np.tile(np.arange(num_households, dtype=np.int64), movers.size))
        parts_m.append(np.repeat(movers, num_households))
    if not parts_h:
        return empty
    arc_h = np.concatenate(parts_h)
    arc_m = np.concatenate(parts_m)
    distance = arc_distance_m(household_xyz[arc_h], member_xyz[arc_m])
    keep = mobile[arc_m] | (distance <= reach[arc_m])
    arc_h, arc_m, distance = arc_h[keep], arc_m[keep], distance[keep]
    order = np.lexsort((arc_m, arc_h))
    return arc_h[order].astype(np.int32), arc_m[order].astype(np.int32), distance[order]


def _distance_grid(household_xyz: np.ndarray, member_xyz: np.ndarray) -> np.ndarray:
    """float64[H, M]: great-circle metres of every pair, bit for bit as :func:`arc_distance_m` measures each."""
    squared = np.zeros((household_xyz.shape[0], member_xyz.shape[0]))
    for axis in range(3):  # the order in which numpy's norm sums the squares
        delta = household_xyz[:, axis, None] - member_xyz[None, :, axis]
        squared += delta * delta
    return chord_to_metres(np.sqrt(squared))


DENSE_PAIRS = 1 << 20
"""Branches with at most this many (household, member) pairs measure every pair (cheaper than a tree)."""

MEMBERS_PER_QUERY = 512
"""Members per KD-tree query: bounds the candidate pairs held at once."""


def _pairs_within(
    household_xyz: np.ndarray, member_xyz: np.ndarray, radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """int64 (household, member) candidates: every pair within the member's chord ``radius``, and maybe more.

    A KD-tree of the households is queried by a KD-tree of members, in
    chunks of similar radius (each chunk at its largest radius), so no
    Python loop runs over members or households.
    """
    num_m = member_xyz.shape[0]
    households = cKDTree(household_xyz)
    by_radius = np.argsort(radius, kind="stable")
    parts_h: list[np.ndarray] = []
    parts_m: list[np.ndarray] = []
    for start in range(0, num_m, MEMBERS_PER_QUERY):
        chunk = by_radius[start : start + MEMBERS_PER_QUERY]
        pairs = cKDTree(member_xyz[chunk]).sparse_distance_matrix(
            households, float(radius[chunk].max()), output_type="ndarray"
        )
        parts_m.append(chunk[pairs["i"]])
        parts_h.append(pairs["j"].astype(np.int64))
    return np.concatenate(parts_h), np.concatenate(parts_m)
