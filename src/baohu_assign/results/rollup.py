"""Roll-ups of a plan over the place hierarchy: per building and per compound.

Each location of the level gets its households, their coverage per priority,
the members living under it and serving it, and how full those members are.
Households and members are counted at the location their ``location_id`` lies
under (a household at a unit counts for the unit's building and compound).
One more row, with a blank ``location_id``, gathers everyone who lies under no
location of the level (no ``location_id``, or one above that level), so every
column adds up to the plan's totals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..io.policy import PRIORITIES
from ..solving.result import SolveResult
from .report import HierarchyReport, LocationRollup, TierCounts

__all__ = ["ROLLUP_COLUMNS", "ROLLUP_LEVELS", "hierarchy_report", "location_rollup"]

ROLLUP_LEVELS: tuple[str, ...] = ("building", "compound")
"""Levels a plan can be rolled up to."""

ROLLUP_COLUMNS: tuple[str, ...] = (
    "location_id",
    "name",
    "parent_id",
    "households",
    "covered",
    "uncovered",
    "covered_critical",
    "covered_elevated",
    "covered_normal",
    "uncovered_critical",
    "uncovered_elevated",
    "uncovered_normal",
    "members_living",
    "members_serving",
    "capacity",
    "load",
    "utilisation",
)
"""Columns of :func:`location_rollup` and of ``rollup_buildings.csv`` / ``rollup_compounds.csv``."""


def location_rollup(result: SolveResult, level: str = "building") -> pd.DataFrame:
    """One row per building (or compound) of a plan's place hierarchy.

    Parameters
    ----------
    result
        What a solve found (a plan's :attr:`~baohu_assign.Plan.result`;
        :meth:`Plan.rollup <baohu_assign.Plan.rollup>` calls this), its
        scenario with ``locations``.
    level
        ``"building"`` or ``"compound"``.

    Returns
    -------
    pandas.DataFrame
        :data:`ROLLUP_COLUMNS`, rows in ``locations.csv`` order, then (only
        when someone lies under no location of the level) a row with a blank
        ``location_id``. ``households`` = ``covered`` + ``uncovered``, each
        split per priority; ``members_living``: members whose location lies
        under it; ``members_serving``: distinct members who are the primary
        contact of one of its households, wherever they live; ``capacity``:
        Σ capacity of the available members living under it; ``load``: Σ
        households those members look after, wherever; ``utilisation`` =
        load / capacity (NaN when capacity is 0).

    Raises
    ------
    ValueError
        When the scenario has no locations or ``level`` is not one of
        :data:`ROLLUP_LEVELS`.
    """
    scenario = result.scenario
    locations = scenario.locations
    if locations is None:
        raise ValueError("roll-ups need the place hierarchy: give locations.csv (Scenario.from_csv(..., locations=))")
    if level not in ROLLUP_LEVELS:
        raise ValueError(f"unknown roll-up level {level!r}; expected one of {', '.join(ROLLUP_LEVELS)}")
    places = locations.of_kind(level)
    k = len(places)
    index = {pid: i for i, pid in enumerate(places["location_id"].to_numpy(dtype=object))}

    def place_of(frame: pd.DataFrame) -> np.ndarray:
        """Row of the roll-up each record counts for; k (the last row) when none."""
        if "location_id" not in frame:
            return np.full(len(frame), k, dtype=np.int64)
        found = locations.ancestor(frame["location_id"].to_numpy(dtype=object), level)
        return np.array([index.get(p, k) if p is not None else k for p in found], dtype=np.int64)

    hh = scenario.households
    member_row = result.primary_member_rows()  # per household, in household order
    h_place = place_of(hh)
    tier = pd.Categorical(hh["priority"], categories=list(PRIORITIES)).codes.astype(np.int64)
    covered = member_row >= 0
    rows = k + 1
    per_tier = np.bincount(h_place * 3 + tier, minlength=rows * 3).reshape(rows, 3)
    covered_tier = np.bincount(h_place[covered] * 3 + tier[covered], minlength=rows * 3).reshape(rows, 3)
    uncovered_tier = per_tier - covered_tier

    pairs = pd.DataFrame({"place": h_place[covered], "member": member_row[covered]})
    serving = pairs.drop_duplicates()["place"].to_numpy(dtype=np.int64)
    members_serving = np.bincount(serving, minlength=rows)

    members = scenario.members  # one row per member, in member order
    m_place = place_of(members)
    members_living = np.bincount(m_place, minlength=rows)
    member_capacity = np.where(
        members["available"].to_numpy(dtype=bool), members["capacity"].to_numpy(dtype=np.int64), 0
    )
    member_load = np.bincount(member_row[covered], minlength=len(members))
    capacity = np.bincount(m_place, weights=member_capacity.astype(np.float64), minlength=rows)
    load = np.bincount(m_place, weights=member_load.astype(np.float64), minlength=rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(capacity > 0, np.round(load / np.maximum(capacity, 1), 4), np.nan)

    ids = [*places["location_id"].tolist(), None]
    names = [*places["name"].tolist(), None]
    parents = [*places["parent_id"].tolist(), None]
    frame = pd.DataFrame(
        {
            "location_id": pd.array(ids, dtype="string"),
            "name": pd.array(names, dtype="string"),
            "parent_id": pd.array(parents, dtype="string"),
            "households": per_tier.sum(axis=1),
            "covered": covered_tier.sum(axis=1),
            "uncovered": uncovered_tier.sum(axis=1),
            **{f"covered_{t}": covered_tier[:, PRIORITIES.index(t)] for t in reversed(PRIORITIES)},
            **{f"uncovered_{t}": uncovered_tier[:, PRIORITIES.index(t)] for t in reversed(PRIORITIES)},
            "members_living": members_living,
            "members_serving": members_serving,
            "capacity": capacity.astype(np.int64),
            "load": load.astype(np.int64),
            "utilisation": utilisation,
        }
    )
    if frame.iloc[k][["households", "members_living"]].sum() == 0:
        frame = frame.iloc[:k]
    return frame.reset_index(drop=True)


def hierarchy_report(result: SolveResult) -> HierarchyReport | None:
    """The ``hierarchy`` entry of ``report.json``: locations per kind and both roll-ups; ``None`` without locations."""
    locations = result.scenario.locations
    if locations is None:
        return None
    return HierarchyReport(
        locations=locations.counts(),
        compounds=_records(location_rollup(result, "compound")),
        buildings=_records(location_rollup(result, "building")),
    )


def _records(frame: pd.DataFrame) -> list[LocationRollup]:
    out = []
    for row in frame.itertuples(index=False):
        out.append(
            LocationRollup(
                location_id=_text(row.location_id),
                name=_text(row.name),
                parent_id=_text(row.parent_id),
                households=int(row.households),
                covered=TierCounts(
                    critical=int(row.covered_critical),
                    elevated=int(row.covered_elevated),
                    normal=int(row.covered_normal),
                ),
                uncovered=TierCounts(
                    critical=int(row.uncovered_critical),
                    elevated=int(row.uncovered_elevated),
                    normal=int(row.uncovered_normal),
                ),
                members_living=int(row.members_living),
                members_serving=int(row.members_serving),
                capacity=int(row.capacity),
                load=int(row.load),
                utilisation=None if np.isnan(row.utilisation) else float(row.utilisation),
            )
        )
    return out


def _text(value: object) -> str | None:
    return None if value is None or value is pd.NA else str(value)
