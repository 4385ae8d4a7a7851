"""Geometry: great-circle distances and the sparse candidate arcs of a branch.

Distances are great-circle on the WGS84 mean sphere (radius 6,371,008.8 m),
vectorised in numpy. Candidate arcs come from a KD-tree over unit-sphere
coordinates, so no member × household matrix is ever formed except for
mobile members, who reach every household of their branch by definition.
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
    parts_h: list[np.ndarray] = []
    parts_m: list[np.ndarray] = []

    fixed = np.flatnonzero(~mobile & (reach > 0))
    if fixed.size:
        tree = cKDTree(household_xyz)
        # A hair wider than the reach: the exact distance filter below decides.
        radius = metres_to_chord(reach[fixed] * (1.0 + 1e-9) + 1e-3)
        hits = tree.query_ball_point(member_xyz[fixed], r=radius, return_sorted=False)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        if counts.sum():
            parts_h.append(np.concatenate([np.asarray(h, dtype=np.int64) for h in hits if h]))
            parts_m.append(np.repeat(fixed, counts))
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
