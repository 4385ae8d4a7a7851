"""Report: the JSON summary of a plan (``report.json``), every data model of it in one place."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..model.network import NetworkSummary
from ..solving.result import Status


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TierCounts(_Model):
    """Households per priority."""

    critical: int = 0
    elevated: int = 0
    normal: int = 0

    @property
    def total(self) -> int:
        return self.critical + self.elevated + self.normal

    @classmethod
    def from_tiers(cls, counts: np.ndarray | list[int] | tuple[int, ...]) -> TierCounts:
        """From counts indexed by tier number (0 normal, 1 elevated, 2 critical)."""
        normal, elevated, critical = (int(c) for c in counts)
        return cls(critical=critical, elevated=elevated, normal=normal)

    def better(self) -> bool:
        """Whether these changes in coverage improve it: critical first, then elevated, then normal."""
        for n in (self.critical, self.elevated, self.normal):
            if n:
                return n > 0
        return False

    def describe(self) -> str:
        """``"2 more (1 critical)"``-style text for a change in coverage."""
        tiers = (("critical", self.critical), ("elevated", self.elevated), ("normal", self.normal))
        if min(n for _, n in tiers) < 0:
            # Rare trade of a lower tier for a higher one: show every tier with its sign.
            return ", ".join(f"{n:+d} {name}" for name, n in tiers if n)
        parts = [f"{n} {name}" for name, n in tiers[:2] if n]
        return f"{self.total} more" + (f" ({', '.join(parts)})" if parts else "")


class Suggestion(_Model):
    """One change that would cover more households, with its computed effect."""

    member_id: str
    change: Literal["capacity", "mobile"] = Field(
        description="capacity: the member takes extra_capacity more households; mobile: no distance limit"
    )
    extra_capacity: int = Field(default=0, description="households added to capacity (change = capacity)")
    covers: TierCounts = Field(description="households covered in addition, per priority")
    text: str


class BranchShortfall(_Model):
    """Why a branch leaves households uncovered and what would help, computed."""

    branch: str
    households: int
    uncovered: TierCounts
    reasons: dict[str, int] = Field(description="uncovered households per reason code")
    available_members: int = Field(description="members with capacity > 0")
    capacity: int = Field(description="total capacity of the available members")
    spare_capacity: int = Field(description="Σ (capacity − load) over members with room")
    spare_members: int = Field(description="members with room")
    spare_capacity_in_reach: int = Field(
        description="the part of spare_capacity held by members who reach an uncovered household "
        "(non-zero only when stairwell units or hour budgets stop them)"
    )
    engine: str = Field(description="engine that solved the what-ifs (flow, or greedy for units or hour budgets)")
    candidates: int = Field(description="members whose what-ifs were solved")
    complete: bool = Field(description="false when the work or time limit stopped before every candidate")
    suggestions: list[Suggestion] = Field(description="best changes, most critical households covered first")


Uncovered = TierCounts
"""Households left without a contact, per priority (the same shape as any tier count)."""


class Components(_Model):
    """The objective broken down into its parts."""

    travel_m_per_week: float = Field(description="Σ visits_per_week × distance_m over covered households")
    imbalance: float = Field(description="Σ load²/capacity above perfectly proportional loads, per branch, summed")
    changed: int = Field(
        description=(
            "households whose member differs from their current member, an empty member included: new "
            "contacts, other members, and households that lost their contact (explain.changed_mask; the "
            "`changed` flags of assignments.csv); 0 when no household has a current member"
        )
    )
    new_households: int = Field(description="covered households that had no current member (counted in changed)")
    uncovered: Uncovered
    backups: int = Field(default=0, description="backup contacts placed")
    backups_missing: int = Field(default=0, description="covered households that want a backup and have none")


class ReportWarning(_Model):
    """A domain warning: something that did not stop the plan but needs attention."""

    code: str
    message: str
    household_id: str | None = None
    member_id: str | None = None
    count: int = 1
    examples: list[str] = Field(default_factory=list)


class BranchReport(_Model):
    """What happened in one branch."""

    branch: str
    engine: str
    status: Status
    households: int
    members: int
    available_members: int
    capacity: int
    members_over_capacity_unit: int = Field(
        default=0, description="members carrying one whole stairwell unit larger than their capacity"
    )
    arcs: int
    covered: int
    uncovered: Uncovered
    travel_m_per_week: float
    imbalance: float
    changed: int = Field(description="the branch's households counted in components.changed")
    balance_weight: float | None = None
    objective_value: int
    bound: float | None
    gap: float | None
    wall_s: float
    reproducible: bool = Field(
        description=(
            "no wall-clock limit can have shaped this branch's plan: the same input, seed and versions give it again"
        )
    )


class Counts(_Model):
    members: int
    available_members: int
    households: int
    covered: int
    uncovered: int
    branches: int
    arcs: int
    members_over_capacity_unit: int = Field(
        default=0, description="members carrying one whole stairwell unit larger than their capacity"
    )


class LocationRollup(_Model):
    """Coverage and members of one building or compound (a row of ``rollup_*.csv``).

    ``location_id`` is null on the row that gathers households and members
    outside every location of that level, so the rows add up to the plan.
    """

    location_id: str | None
    name: str | None
    parent_id: str | None
    households: int
    covered: TierCounts = Field(description="households with a contact, per priority")
    uncovered: TierCounts = Field(description="households without a contact, per priority")
    members_living: int = Field(description="members whose location lies under it")
    members_serving: int = Field(description="distinct members who are the contact of one of its households")
    capacity: int = Field(description="Σ capacity of the available members living under it")
    load: int = Field(description="Σ households those members look after, wherever they live")
    utilisation: float | None = Field(description="load / capacity; null when capacity is 0")


class HierarchyReport(_Model):
    """The place hierarchy in ``report.json``: locations per kind and the roll-ups."""

    locations: dict[str, int] = Field(description="locations per kind")
    compounds: list[LocationRollup]
    buildings: list[LocationRollup]


class Report(_Model):
    """Everything ``report.json`` holds.

    When ``reproducible`` is true, the ``wall_s`` fields (top level and per
    branch) are the only ones that change between runs.
    """

    version: str
    status: Status
    strategy: str
    objective: str
    engines: dict[str, int] = Field(description="branches solved by each engine")
    components: Components
    objective_value: int = Field(description="integer objective minimised (sum over branches)")
    bound: float | None = Field(description="proven lower bound on objective_value, when every branch has one")
    gap: float | None = Field(description="(objective_value - bound) / objective_value")
    seed: int
    time_limit: float | None
    reproducible: bool = Field(
        description=(
            "every branch is reproducible: the same input, seed and versions give this plan again "
            "(false under a time limit when a branch needed search, or when the safety time limit stopped one)"
        )
    )
    wall_s: float
    counts: Counts
    warnings: list[ReportWarning]
    branches: list[BranchReport]
    shortfalls: list[BranchShortfall] = Field(
        default_factory=list,
        description="per branch with uncovered households: why, and the computed effect of the best fixes",
    )
    network: NetworkSummary | None = Field(
        default=None,
        description="the walking network distances were measured along; null: great-circle distances",
    )
    hierarchy: HierarchyReport | None = Field(
        default=None,
        description="locations per kind and roll-ups per compound and building; null without locations.csv",
    )
