"""The place hierarchy (``locations.csv``): read and validate it, resolve references to it.

Apartment communities are run as a tree of places — community → compound
(楼院) → building (楼栋) → stairwell unit (单元) — and villages and towns sit
above them. ``locations.csv`` describes that tree once; members and households
may then name their ``location_id`` instead of repeating coordinates and
stairwell groups.

Rules (see docs/data-contract.md, "Place hierarchy"):

- ``kind`` is one of :data:`LOCATION_KINDS` (or a Chinese word of
  :data:`KIND_ALIASES`). A location's parent must be of a kind listed in
  :data:`ALLOWED_PARENTS`: always a higher level, and a unit's parent is a
  building. A blank ``parent_id`` makes a root, allowed for every kind but
  ``unit``. Unknown parents, cycles and duplicate ids are errors.
- ``lat``/``lon`` are optional, both or neither. A location without them takes
  its nearest ancestor's (a unit normally takes its building's).
- In members and households, a row whose ``lat`` and ``lon`` are both blank
  takes its location's coordinates; coordinates given in the row win. A
  household at a ``unit`` location gets ``group_id`` = the unit's id unless
  the row gives a ``group_id`` (the row wins; a different one is a warning).
  ``branch`` is never taken from the hierarchy: after a relocation a household
  still belongs to its old village's branch, not to where it lives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import networkx as nx
import numpy as np
import pandas as pd

from .tables import IssueCollector, is_missing, missing_mask, read_table, row_numbers, text_column, text_frame
from .validate import InputWarning, _string, _Table

logger = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_PARENTS",
    "KIND_ALIASES",
    "LOCATION_COLUMNS",
    "LOCATION_KINDS",
    "Locations",
    "as_locations",
    "resolve_references",
]

LOCATION_KINDS: tuple[str, ...] = ("town", "village", "community", "compound", "building", "unit")
"""Kinds of place, from the top of the tree down."""

ALLOWED_PARENTS: Mapping[str, tuple[str, ...]] = {
    "town": (),
    "village": ("town",),
    "community": ("town",),
    "compound": ("town", "village", "community"),
    "building": ("town", "village", "community", "compound"),
    "unit": ("building",),
}
"""Kinds a location of each kind may have as parent. Levels may be skipped (a
building straight under a village), never reversed; a unit's parent is a building."""

KIND_ALIASES: Mapping[str, str] = {
    "镇": "town",
    "乡": "town",
    "乡镇": "town",
    "村": "village",
    "行政村": "village",
    "社区": "community",
    "楼院": "compound",
    "小区": "compound",
    "院": "compound",
    "楼栋": "building",
    "楼": "building",
    "单元": "unit",
}
"""Chinese words accepted in ``kind`` besides the English names."""

LOCATION_COLUMNS: tuple[str, ...] = ("location_id", "parent_id", "kind", "name", "lat", "lon")
"""Known columns of ``locations.csv``; others are kept as text."""

_REQUIRED = ("location_id", "kind")
_NEEDS_PARENT = frozenset({"unit"})


@dataclass(frozen=True, eq=False)
class Locations:
    """A validated place hierarchy.

    Build it with :meth:`from_csv` or :meth:`from_frame`; both raise
    :class:`~baohu_assign.errors.InputError` naming file, row, column and value.

    Attributes
    ----------
    table
        One row per location, in file order: ``location_id``, ``parent_id``
        (string, <NA> for a root), ``kind`` (one of :data:`LOCATION_KINDS`),
        ``name`` (string, <NA> when blank), ``lat``, ``lon`` (float64: its
        own coordinates or, when blank, its nearest ancestor's; NaN when no
        ancestor has any), ``own_coordinates`` (bool), unknown columns as
        text, ``row`` (spreadsheet row).
    file
        The file name used in messages.
    """

    table: pd.DataFrame
    file: str = "locations.csv"

    @classmethod
    def from_csv(cls, path: str | Path) -> Locations:
        """Read and validate ``locations.csv`` (CSV in UTF-8, BOM or GBK, or ``.xlsx``)."""
        return cls.from_frame(read_table(path), file=Path(path).name)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, file: str = "locations") -> Locations:
        """Validate an in-memory locations table (text or typed columns).

        Parameters
        ----------
        frame
            Columns of :data:`LOCATION_COLUMNS` (``location_id`` and ``kind``
            required), headers matched case-insensitively.
        file
            Name used in the issues.

        Returns
        -------
        Locations

        Raises
        ------
        InputError
            Missing or duplicate ``location_id``, unknown ``kind``, a
            ``parent_id`` that is not a location, a cycle of parents, a parent
            of a kind not allowed (:data:`ALLOWED_PARENTS`), a unit without a
            parent, ``lat`` without ``lon`` or the reverse, coordinates out of
            range.
        """
        return cls(_validate(frame, file), file)

    # -- lookups ---------------------------------------------------------------------

    @cached_property
    def _position(self) -> dict[str, int]:
        return {str(v): i for i, v in enumerate(self.table["location_id"].to_numpy(dtype=object))}

    @cached_property
    def _ancestors(self) -> dict[str, np.ndarray]:
        """Per kind, int64[n]: each location's nearest ancestor of that kind (itself included), -1 if none."""
        parent = self._parent_positions
        kinds = self.table["kind"].to_numpy(dtype=object)
        out = {kind: np.full(len(kinds), -1, dtype=np.int64) for kind in LOCATION_KINDS}
        for i in self._top_down:
            for kind in LOCATION_KINDS:
                out[kind][i] = i if kinds[i] == kind else (out[kind][parent[i]] if parent[i] >= 0 else -1)
        return out

    @cached_property
    def _parent_positions(self) -> np.ndarray:
        parent = self.table["parent_id"].to_numpy(dtype=object)
        return np.array([-1 if is_missing(p) else self._position.get(str(p), -1) for p in parent], dtype=np.int64)

    @cached_property
    def _top_down(self) -> np.ndarray:
        """Positions ordered so that every parent comes before its children."""
        level = self.table["kind"].map({k: i for i, k in enumerate(LOCATION_KINDS)}).to_numpy(dtype=np.int64)
        # Every allowed parent kind comes earlier in LOCATION_KINDS than its child's kind.
        return np.argsort(level, kind="stable")

    def positions(self, location_ids: pd.Series | np.ndarray) -> np.ndarray:
        """int64: the row of each location id in :attr:`table`; -1 for blank or unknown ids."""
        values = pd.Series(np.asarray(location_ids, dtype=object))
        return values.map(lambda v: -1 if is_missing(v) else self._position.get(str(v).strip(), -1)).to_numpy(np.int64)

    def ancestor(self, location_ids: pd.Series | np.ndarray, kind: str) -> np.ndarray:
        """The location of ``kind`` each id lies in: itself when of that kind, else its nearest such ancestor.

        Parameters
        ----------
        location_ids
            Location ids (blank and unknown ids allowed).
        kind
            One of :data:`LOCATION_KINDS`.

        Returns
        -------
        numpy.ndarray
            object[n]: a location id, or ``None`` where the id is blank,
            unknown, or has no location of ``kind`` above it.
        """
        if kind not in LOCATION_KINDS:
            raise ValueError(f"unknown location kind {kind!r}; expected one of {', '.join(LOCATION_KINDS)}")
        pos = self.positions(location_ids)
        ids = np.append(self.table["location_id"].to_numpy(dtype=object), [None])
        found = np.where(pos >= 0, self._ancestors[kind][np.maximum(pos, 0)], -1)
        return ids[found]  # -1 picks the trailing None

    def of_kind(self, kind: str) -> pd.DataFrame:
        """The locations of one kind, in file order (index = position in :attr:`table`)."""
        return self.table[self.table["kind"] == kind]

    def counts(self) -> dict[str, int]:
        """Locations per kind, every kind of :data:`LOCATION_KINDS` listed (0 when absent)."""
        present = self.table["kind"].value_counts()
        return {kind: int(present.get(kind, 0)) for kind in LOCATION_KINDS}

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in self.counts().items() if n)
        return f"<Locations {len(self):,}: {parts or 'empty'}>"


def as_locations(locations: Locations | pd.DataFrame | str | Path | None) -> Locations | None:
    """A :class:`Locations` from a file path, a frame, or itself; ``None`` stays ``None``."""
    if locations is None or isinstance(locations, Locations):
        return locations
    if isinstance(locations, pd.DataFrame):
        return Locations.from_frame(locations)
    return Locations.from_csv(locations)


# -- validation ---------------------------------------------------------------------------


def _validate(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    table = _Table(text_frame(raw), file, _REQUIRED, LOCATION_COLUMNS)
    location_id = table.unique_ids("location_id")
    kind_words = table.words("kind")
    kind = kind_words.map({k: k for k in LOCATION_KINDS} | dict(KIND_ALIASES))
    if table.has("kind"):
        allowed = ", ".join([*LOCATION_KINDS, *KIND_ALIASES])
        table.checks.where(
            kind.isna() & ~table.blank("kind"), "kind", f"unknown kind; allowed: {allowed}", table.raw("kind")
        )
        table.checks.where(table.blank("kind"), "kind", "required value is blank")
    parent_id = table.get("parent_id")
    name = table.optional_text("name")

    lat, lon = table.number("lat"), table.number("lon")
    lat_given, lon_given = np.isfinite(lat), np.isfinite(lon)
    lat_blank, lon_blank = table.blank("lat"), table.blank("lon")
    table.checks.where(lat_given & lon_blank, "lon", "lon is blank but lat is given; give both or neither")
    table.checks.where(lon_given & lat_blank, "lat", "lat is blank but lon is given; give both or neither")
    with np.errstate(invalid="ignore"):
        table.checks.where(
            np.abs(lat) > 90, "lat", "latitude must be between -90 and 90 (WGS84 degrees)", table.raw("lat")
        )
        table.checks.where(
            np.abs(lon) > 180, "lon", "longitude must be between -180 and 180 (WGS84 degrees)", table.raw("lon")
        )

    _check_tree(table, location_id, parent_id, kind)
    frame = table.finish(
        {
            "location_id": _string(location_id),
            "parent_id": pd.Series(_string(parent_id)).mask(table.blank("parent_id")).array,
            "kind": _string(kind.fillna("")),
            "name": name.array,
            "lat": lat,
            "lon": lon,
            "own_coordinates": lat_given & lon_given,
        }
    )
    _inherit_coordinates(frame)
    logger.debug("%s: %d locations valid", file, len(frame))
    return frame


def _check_tree(table: _Table, location_id: pd.Series, parent_id: pd.Series, kind: pd.Series) -> None:
    """Unknown parents, cycles (networkx) and parents of a kind not allowed."""
    ids = location_id.to_numpy(dtype=object)
    parents = parent_id.to_numpy(dtype=object)
    kinds = kind.to_numpy(dtype=object)
    position: dict[object, int] = {}
    for row, v in enumerate(ids):
        if not is_missing(v):
            position.setdefault(v, row)
    has_parent = ~missing_mask(parent_id)
    known_parent = np.array([p in position for p in parents], dtype=bool)
    table.checks.where(
        has_parent & ~known_parent, "parent_id", "unknown parent_id: no location has this id", table.raw("parent_id")
    )

    graph = nx.DiGraph()
    for i in np.flatnonzero(has_parent & known_parent):
        graph.add_edge(position[parents[i]], int(i))  # parent → child
    in_cycle = np.zeros(len(ids), dtype=bool)
    cycle_text = np.full(len(ids), "", dtype=object)
    for component in nx.strongly_connected_components(graph):
        first = min(component)
        if len(component) == 1 and not graph.has_edge(first, first):
            continue
        in_cycle[list(component)] = True
        chain, node = [str(ids[first])], position[parents[first]]
        while node != first:
            chain.append(str(ids[node]))
            node = position[parents[node]]
        cycle_text[first] = " → ".join([*chain, str(ids[first])])
    table.checks.where(cycle_text != "", "parent_id", "parents form a cycle: {}", table.raw("parent_id"), cycle_text)

    parent_kind = np.array([kinds[position[p]] if p in position else None for p in parents], dtype=object)
    wrong = np.zeros(len(ids), dtype=bool)
    allowed_text = np.full(len(ids), "", dtype=object)
    for i in np.flatnonzero(has_parent & known_parent & ~in_cycle):
        both_known = not is_missing(kinds[i]) and not is_missing(parent_kind[i])
        if both_known and parent_kind[i] not in ALLOWED_PARENTS[kinds[i]]:
            wrong[i] = True
            allowed = " or ".join(ALLOWED_PARENTS[kinds[i]]) or "nothing (it must be a root: blank parent_id)"
            allowed_text[i] = f"a {kinds[i]}'s parent must be {allowed}, not a {parent_kind[i]}"
    table.checks.where(wrong, "parent_id", "{}", table.raw("parent_id"), allowed_text)
    orphan = ~has_parent & np.isin(kinds, list(_NEEDS_PARENT))
    table.checks.where(orphan, "parent_id", "a unit needs a parent building (parent_id is blank)")


def _inherit_coordinates(frame: pd.DataFrame) -> None:
    """Fill blank lat/lon from the nearest ancestor that has them (parents are valid and acyclic here)."""
    if frame["own_coordinates"].all():
        return
    locations = Locations(frame)
    parent = locations._parent_positions
    lat = frame["lat"].to_numpy(dtype=np.float64, copy=True)
    lon = frame["lon"].to_numpy(dtype=np.float64, copy=True)
    own = frame["own_coordinates"].to_numpy(dtype=bool)
    for i in locations._top_down:
        if not own[i]:
            p = parent[i]
            lat[i], lon[i] = (lat[p], lon[p]) if p >= 0 else (np.nan, np.nan)
    frame["lat"] = lat
    frame["lon"] = lon


# -- references from members and households -------------------------------------------------


def resolve_references(
    raw: pd.DataFrame,
    locations: Locations,
    *,
    file: str,
    table: Literal["members", "households"],
) -> tuple[pd.DataFrame, list[InputWarning]]:
    """Fill coordinates (and a household's stairwell group) from each row's ``location_id``.

    Runs on the all-text frame, before :mod:`baohu_assign.validate`, so a
    file without ``lat``/``lon`` validates when every row names a location.

    Parameters
    ----------
    raw
        Text frame of members or households (normalised headers).
    locations
        The validated hierarchy.
    file
        Name used in the issues.
    table
        ``"households"`` also fills ``group_id`` from unit locations.

    Returns
    -------
    frame : pandas.DataFrame
        ``raw`` with blank ``lat``/``lon`` pairs filled from the location
        (own or inherited coordinates) and, for households at a unit with a
        blank ``group_id``, ``group_id`` = the unit's id. Unchanged when it
        has no ``location_id`` column.
    warnings : list of InputWarning
        ``group_differs_from_unit``: households at a unit whose given
        ``group_id`` differs from the unit's id (the given one is kept).

    Raises
    ------
    InputError
        A ``location_id`` that is not in the hierarchy; a row with blank
        coordinates whose location has none (nor any ancestor).
    """
    names = list(raw.columns)
    if names.count("location_id") != 1 or any(names.count(c) > 1 for c in ("lat", "lon", "group_id")):
        return raw, []  # absent, or duplicated columns the validator reports
    checks = IssueCollector(file, *row_numbers(raw))
    raw_ids = text_column(raw["location_id"])
    ids = raw_ids.str.strip()
    pos = locations.positions(ids.to_numpy(dtype=object))
    given = ~missing_mask(ids)
    known = pos >= 0
    checks.where(given & ~known, "location_id", f"unknown location_id: not in {locations.file}", raw_ids)

    lat_text = text_column(raw["lat"]) if "lat" in raw else pd.Series([""] * len(raw), dtype="str")
    lon_text = text_column(raw["lon"]) if "lon" in raw else pd.Series([""] * len(raw), dtype="str")
    blank = missing_mask(lat_text) & missing_mask(lon_text)
    loc_lat = locations.table["lat"].to_numpy(dtype=np.float64)
    loc_lon = locations.table["lon"].to_numpy(dtype=np.float64)
    safe = np.maximum(pos, 0)
    fill = known & blank
    no_coordinates = fill & ~np.isfinite(loc_lat[safe])
    checks.where(
        no_coordinates,
        "location_id",
        f"blank lat/lon, and this location has no coordinates in {locations.file} (nor has any location "
        "above it); give lat and lon in this row or in the locations file",
        raw_ids,
    )
    checks.raise_if_any()

    out = raw.copy()
    fill_rows = np.flatnonzero(fill)
    if fill_rows.size:
        lat_values = lat_text.to_numpy(dtype=object).copy()
        lon_values = lon_text.to_numpy(dtype=object).copy()
        lat_values[fill_rows] = [repr(float(v)) for v in loc_lat[safe[fill_rows]]]
        lon_values[fill_rows] = [repr(float(v)) for v in loc_lon[safe[fill_rows]]]
        out["lat"] = lat_values
        out["lon"] = lon_values
    warnings: list[InputWarning] = []
    if table == "households":
        at_unit = known & (locations.table["kind"].to_numpy(dtype=object)[safe] == "unit")
        group_text = text_column(raw["group_id"]) if "group_id" in raw else pd.Series([""] * len(raw), dtype="str")
        group = group_text.str.strip().to_numpy(dtype=object)
        unit_id = ids.to_numpy(dtype=object)
        no_group = missing_mask(group)
        differs = at_unit & ~no_group & (group != unit_id)
        if differs.any():
            examples = (
                text_column(raw["household_id"]).str.strip().to_numpy(dtype=object)[differs][:5]
                if "household_id" in raw
                else []
            )
            warnings.append(
                InputWarning(
                    "group_differs_from_unit",
                    f"{int(differs.sum())} household(s) at a unit location give a different group_id; "
                    "the group_id given is used",
                    int(differs.sum()),
                    [str(e) for e in examples],
                )
            )
        take_unit = at_unit & no_group
        if take_unit.any():
            values = group_text.to_numpy(dtype=object).copy()
            values[take_unit] = unit_id[take_unit]
            out["group_id"] = values
    logger.debug("%s: %d of %d rows placed by location_id", file, int(known.sum()), len(raw))
    return out, warnings
