"""Scenario: validated member and household tables plus the policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..io.locations import Locations, as_locations, resolve_references
from ..io.policy import Policy
from ..io.records import records_frame
from ..io.tables import read_table, release_arrow_memory, text_frame
from ..io.validate import InputWarning, cross_check, validate_households, validate_members
from .network import WalkingNetwork, as_network


@dataclass(frozen=True, eq=False)
class Scenario:
    """Members, households and policy, validated and ready to solve.

    Build it with :meth:`from_csv`, :meth:`from_frames` or
    :meth:`from_records`; each raises :class:`~baohu_assign.errors.InputError`
    listing every problem found.

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
    network
        Walking network along which distances are measured; ``None``:
        great-circle distances (see :mod:`baohu_assign.network`).
    locations
        The place hierarchy (``locations.csv``) members and households were
        placed in through ``location_id``; ``None`` without one (see
        :mod:`baohu_assign.locations`).
    """

    members: pd.DataFrame
    households: pd.DataFrame
    policy: Policy = field(default_factory=Policy)
    warnings: tuple[InputWarning, ...] = ()
    member_columns: dict[str, str] = field(default_factory=dict)
    household_columns: dict[str, str] = field(default_factory=dict)
    network: WalkingNetwork | None = None
    locations: Locations | None = None

    @classmethod
    def from_csv(
        cls,
        members: str | Path,
        households: str | Path,
        *,
        policy: Policy | None = None,
        network: WalkingNetwork | str | Path | None = None,
        locations: Locations | pd.DataFrame | str | Path | None = None,
    ) -> Scenario:
        """Read and validate ``members.csv`` and ``households.csv`` (UTF-8, BOM or GBK).

        ``network``: a :class:`~baohu_assign.network.WalkingNetwork` or a
        network file (``.graphml`` from OSMnx, or an edge-list ``.csv``) to
        measure distances along; ``None``: great-circle distances.

        ``locations``: the place hierarchy (``locations.csv``, a frame, or a
        :class:`~baohu_assign.locations.Locations`); rows naming a
        ``location_id`` take coordinates, and households at a unit their
        stairwell group, from it (see :mod:`baohu_assign.locations`).
        """
        walking = as_network(network)
        places = as_locations(locations)
        raw_members = read_table(members)
        raw_households = read_table(households)
        scenario = cls._build(raw_members, raw_households, policy, Path(members).name, Path(households).name, places)
        del raw_members, raw_households
        release_arrow_memory()  # the raw tables' and the checks' scratch, before the arcs are built
        return scenario if walking is None else dataclasses.replace(scenario, network=walking)

    @classmethod
    def from_frames(
        cls,
        members: pd.DataFrame,
        households: pd.DataFrame,
        *,
        policy: Policy | None = None,
        network: WalkingNetwork | str | Path | None = None,
        locations: Locations | pd.DataFrame | str | Path | None = None,
    ) -> Scenario:
        """Validate in-memory tables with the contract's columns (typed or text).

        ``network`` and ``locations`` as in :meth:`from_csv`.
        """
        walking = as_network(network)
        places = as_locations(locations)
        scenario = cls._build(text_frame(members), text_frame(households), policy, "members", "households", places)
        return scenario if walking is None else dataclasses.replace(scenario, network=walking)

    @classmethod
    def from_records(
        cls,
        members: Sequence[Mapping[str, Any]],
        households: Sequence[Mapping[str, Any]],
        policy: Policy | Mapping[str, Any] | None = None,
        *,
        locations: Locations | Sequence[Mapping[str, Any]] | pd.DataFrame | str | Path | None = None,
        network: WalkingNetwork | str | Path | None = None,
    ) -> Scenario:
        """Validate members and households given as lists of JSON objects (records), as a service receives them.

        Each record is one row, its keys the columns of the data contract
        (``members.csv``, ``households.csv``; other keys are kept and passed
        through), its values text as a web form sends it (``"是"``/``"否"``,
        ``"true"``, ``""`` for blank, numbers as text) or JSON numbers,
        booleans and ``null``. The records are checked by the same rules, with
        the same messages, as the files of :meth:`from_csv`; only rows are
        numbered as records: ``members[3]`` is the fourth record of
        ``members`` (position from 0, ``Issue.row`` = 3).

        Parameters
        ----------
        members, households
            Lists of records (mappings of column name to value).
        policy
            A :class:`~baohu_assign.policy.Policy`, a mapping with the keys of
            ``policy.toml`` (a JSON object), or ``None`` for the defaults.
        locations
            The place hierarchy: records of ``locations.csv`` (numbered as
            ``locations[i]``), or anything :meth:`from_csv` takes.
        network
            As in :meth:`from_csv`.

        Returns
        -------
        Scenario
            As :meth:`from_frames` gives for the same table; the ``row``
            column of its frames holds each record's position.

        Raises
        ------
        InputError
            Every problem of both lists (and of a policy mapping), as the CSV
            path reports them; records that are not objects, and values that
            are lists or objects.
        """
        from ..errors import InputError

        walking = as_network(network)
        if locations is not None and not isinstance(locations, (Locations, pd.DataFrame, str, Path)):
            locations = Locations.from_frame(records_frame(locations, "locations"), file="locations")
        places = as_locations(locations)
        issues = []
        if policy is not None and not isinstance(policy, Policy):
            try:
                policy = Policy.from_mapping(policy)
            except InputError as exc:
                issues.extend(exc.issues)
                policy = None  # the records are still checked, with the default policy
        frames = []
        for records, name in ((members, "members"), (households, "households")):
            try:
                frames.append(records_frame(records, name))
            except InputError as exc:
                issues.extend(exc.issues)
        if len(frames) == 2:
            try:
                scenario = cls._build(frames[0], frames[1], policy, "members", "households", places)
            except InputError as exc:
                issues.extend(exc.issues)
        if issues:
            raise InputError(issues)
        return scenario if walking is None else dataclasses.replace(scenario, network=walking)

    @classmethod
    def _build(
        cls,
        raw_members: pd.DataFrame,
        raw_households: pd.DataFrame,
        policy: Policy | None,
        members_file: str,
        households_file: str,
        locations: Locations | None = None,
    ) -> Scenario:
        from ..errors import InputError

        policy = policy or Policy()
        issues = []
        frames = []
        placed = []
        kind: Literal["members", "households"]
        for raw, validator, name, kind in (
            (raw_members, validate_members, members_file, "members"),
            (raw_households, validate_households, households_file, "households"),
        ):
            try:
                if locations is not None:
                    # Before validation: coordinates a row leaves blank come from its location.
                    raw, found = resolve_references(raw, locations, file=name, table=kind)
                    placed.extend(found)
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
            warnings=(*cross_check(members_frame, households_frame), *placed),
            member_columns=dict(raw_members.attrs.get("original_columns", {})),
            household_columns=dict(raw_households.attrs.get("original_columns", {})),
            locations=locations,
        )

    def replace(
        self,
        *,
        members: pd.DataFrame | None = None,
        households: pd.DataFrame | None = None,
        policy: Policy | None = None,
        network: WalkingNetwork | str | Path | None = None,
    ) -> Scenario:
        """A new, re-validated Scenario with some tables, the policy or the network replaced.

        Whatever is not given (``None``) is kept, the walking network included;
        ``dataclasses.replace(scenario, network=None)`` drops the network.
        """
        chosen_members = self.members if members is None else members
        chosen_households = self.households if households is None else households
        return Scenario.from_frames(
            chosen_members.drop(columns=["row"], errors="ignore"),
            chosen_households.drop(columns=["row"], errors="ignore"),
            policy=policy or self.policy,
            network=self.network if network is None else network,
            locations=self.locations,
        )

    def check(self) -> pd.DataFrame:
        """Per branch, before solving: households per tier, members, capacity, the shortfall no plan avoids.

        See :func:`baohu_assign.diagnose.scenario_check` for the columns.
        """
        from .check import check_branches  # the check compiles the scenario; keep importing Scenario light

        return check_branches(self.members, self.households, self.policy, self.network)

    @property
    def branches(self) -> list[str]:
        """Branch names of the households, sorted."""
        return sorted(self.households["branch"].unique().tolist())

    def __repr__(self) -> str:
        return (
            f"<Scenario {len(self.members):,} members, {len(self.households):,} households, "
            f"{self.households['branch'].nunique():,} branches>"
        )
