"""Scenario: validated member and household tables plus the policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .load import normalise_header, read_table
from .policy import Policy
from .validate import InputWarning, cross_check, validate_households, validate_members


def _as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed user frames → the all-text form the validator reads (blank for missing)."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        text = series.map(_cell_text)
        out[normalise_header(column)] = text.astype(object)
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    result.attrs["original_columns"] = {normalise_header(c): str(c) for c in frame.columns}
    return result


def _cell_text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, eq=False)
class Scenario:
    """Members, households and policy, validated and ready to solve.

    Build it with :meth:`from_csv` or :meth:`from_frames`; both raise
    :class:`~baohu_assign.errors.InputError` listing every problem found.

    Attributes
    ----------
    members, households
        Normalised frames (see docs/data-contract.md): typed known columns,
        defaults from the policy resolved, unknown columns kept as text.
    policy
        The policy the defaults came from.
    warnings
        Referential oddities that are normal in practice (unknown current
        members, broken pins, empty branches), reported, not fatal.
    """

    members: pd.DataFrame
    households: pd.DataFrame
    policy: Policy = field(default_factory=Policy)
    warnings: tuple[InputWarning, ...] = ()
    member_columns: dict[str, str] = field(default_factory=dict)
    household_columns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_csv(
        cls,
        members: str | Path,
        households: str | Path,
        *,
        policy: Policy | None = None,
    ) -> Scenario:
        """Read and validate ``members.csv`` and ``households.csv`` (UTF-8, BOM or GBK)."""
        raw_members = read_table(members)
        raw_households = read_table(households)
        return cls._build(raw_members, raw_households, policy, Path(members).name, Path(households).name)

    @classmethod
    def from_frames(
        cls,
        members: pd.DataFrame,
        households: pd.DataFrame,
        *,
        policy: Policy | None = None,
    ) -> Scenario:
        """Validate in-memory tables with the contract's columns (typed or text)."""
        return cls._build(_as_text_frame(members), _as_text_frame(households), policy, "members", "households")

    @classmethod
    def _build(
        cls,
        raw_members: pd.DataFrame,
        raw_households: pd.DataFrame,
        policy: Policy | None,
        members_file: str,
        households_file: str,
    ) -> Scenario:
        from .errors import InputError

        policy = policy or Policy()
        issues = []
        frames = []
        for raw, validator, name in (
            (raw_members, validate_members, members_file),
            (raw_households, validate_households, households_file),
        ):
            try:
                frames.append(validator(raw, policy, file=name))
            except InputError as exc:
                issues.extend(exc.issues)
        if issues:
            raise InputError(issues)
        members_frame, households_frame = frames
        return cls(
            members=members_frame,
            households=households_frame,
            policy=policy,
            warnings=tuple(cross_check(members_frame, households_frame)),
            member_columns=dict(raw_members.attrs.get("original_columns", {})),
            household_columns=dict(raw_households.attrs.get("original_columns", {})),
        )

    def replace(
        self,
        *,
        members: pd.DataFrame | None = None,
        households: pd.DataFrame | None = None,
        policy: Policy | None = None,
    ) -> Scenario:
        """A new, re-validated Scenario with some tables or the policy replaced."""
        chosen_members = self.members if members is None else members
        chosen_households = self.households if households is None else households
        return Scenario.from_frames(
            chosen_members.drop(columns=["row"], errors="ignore"),
            chosen_households.drop(columns=["row"], errors="ignore"),
            policy=policy or self.policy,
        )

    def check(self) -> pd.DataFrame:
        """Per branch, before solving: households per tier, members, capacity, the shortfall no plan avoids.

        See :func:`baohu_assign.diagnose.scenario_check` for the columns.
        """
        from .diagnose import scenario_check  # diagnose imports the compiler; keep Scenario light

        return scenario_check(self)

    @property
    def branches(self) -> list[str]:
        """Branch names of the households, sorted."""
        return sorted(self.households["branch"].unique().tolist())

    def __repr__(self) -> str:
        return (
            f"<Scenario {len(self.members):,} members, {len(self.households):,} households, "
            f"{self.households['branch'].nunique():,} branches>"
        )
