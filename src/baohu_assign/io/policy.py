"""Policy: the tunable rules of a town office, with documented defaults."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InputError, Issue

PRIORITIES: tuple[str, ...] = ("normal", "elevated", "critical")
"""Priority tiers, lowest first; the index is the tier number used internally."""


class AgeBand(BaseModel):
    """Members whose age is at least ``min_age`` take ``capacity`` households."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    min_age: int = Field(ge=0)
    capacity: int = Field(ge=0)


class Policy(BaseModel):
    """Defaults and weights applied when the input leaves a value open.

    Every field has a default taken from practice (see docs/model.md); a
    ``policy.toml`` file with the same keys overrides them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    capacity_by_age: tuple[AgeBand, ...] = (
        AgeBand(min_age=0, capacity=10),
        AgeBand(min_age=60, capacity=7),
        AgeBand(min_age=70, capacity=4),
    )
    """Capacity when a member gives an age but no capacity (highest matching band wins)."""
    capacity_unknown_age: int = Field(default=7, ge=0)
    """Capacity when a member gives neither capacity nor age."""
    visits_per_week: dict[str, float] = Field(
        default_factory=lambda: {"normal": 1.0, "elevated": 3.0, "critical": 14.0}
    )
    """Visits per week by priority, when a household does not give its own."""
    max_distance_m: float = Field(default=2000.0, gt=0)
    """Reach of a non-mobile member that gives no max_distance_m."""
    allow_cross_branch: bool = False
    """Allow members to serve households of other branches (off in practice)."""
    balance_weight: float | None = Field(default=None, ge=0)
    """Weight of the load-balance term (metre-visits per unit of Σ load²/capacity).
    ``None``: calibrated per branch to the most balanced plan whose weekly
    travel stays within ``balance_travel_budget`` of the distance optimum."""
    balance_travel_budget: float = Field(default=0.05, ge=0)
    """Largest relative increase of weekly travel the balanced objective accepts."""

    minutes_per_visit: float = Field(default=15.0, gt=0)
    """Minutes a visit takes at the door, when a household does not say."""
    walking_speed_m_per_min: float = Field(default=70.0, gt=0)
    """Walking speed used to turn distance into time for hour budgets."""
    backup_tiers: tuple[str, ...] = ()
    """Priorities whose covered households also get a backup member (e.g. ``("critical",)``)."""
    backup_capacity: int = Field(default=3, ge=0)
    """Most households one member backs up."""
    one_unit_over_capacity: bool = True
    """A member may take one whole stairwell unit larger than their capacity, and then
    nothing else (朱大汉社区: every member takes one unit of 12 households, whatever
    their age). ``False``: a unit larger than a member's capacity never goes to them."""

    @field_validator("backup_tiers")
    @classmethod
    def _known_tiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [p for p in value if p not in PRIORITIES]
        if unknown:
            raise ValueError(f"unknown priorities {unknown}; allowed {list(PRIORITIES)}")
        return tuple(p for p in PRIORITIES if p in value)

    @field_validator("visits_per_week")
    @classmethod
    def _all_tiers(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [p for p in PRIORITIES if p not in value]
        if missing:
            raise ValueError(f"visits_per_week needs every priority, missing {missing}")
        unknown = [p for p in value if p not in PRIORITIES]
        if unknown:
            raise ValueError(f"unknown priorities {unknown}; allowed {list(PRIORITIES)}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("visits_per_week must be > 0")
        return value

    @field_validator("capacity_by_age")
    @classmethod
    def _sorted_bands(cls, value: tuple[AgeBand, ...]) -> tuple[AgeBand, ...]:
        return tuple(sorted(value, key=lambda band: band.min_age))

    def capacity_for_age(self, age: float | None) -> int:
        """Default capacity for a member of this age (``None``: unknown age)."""
        if age is None or age != age:  # NaN
            return self.capacity_unknown_age
        capacity = self.capacity_unknown_age
        for band in self.capacity_by_age:
            if age >= band.min_age:
                capacity = band.capacity
        return capacity

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        """Read a policy file; keys as the fields of this class."""
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        return cls.model_validate(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, file: str = "policy") -> Policy:
        """A policy from a mapping (a JSON object) with the keys of ``policy.toml``.

        Raises
        ------
        InputError
            Every key or value not accepted, the key's path as the column.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InputError(policy_issues(exc, file)) from None


def policy_issues(error: ValidationError, file: str) -> list[Issue]:
    """The errors of a policy's validation as input issues, each key's path (``a.b``) as the column."""
    return [Issue(file, None, ".".join(str(p) for p in err["loc"]) or None, err["msg"]) for err in error.errors()]
