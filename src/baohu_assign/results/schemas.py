"""JSON Schemas of what a service sends and gets back, generated from the models that define them.

Inputs: one member record and one household record of
:meth:`Scenario.from_records <baohu_assign.Scenario.from_records>`
(:data:`~baohu_assign.io.records.MemberRecord`,
:data:`~baohu_assign.io.records.HouseholdRecord`) and the policy
(:class:`~baohu_assign.policy.Policy`). Output: the shape of
:meth:`Plan.to_dict <baohu_assign.Plan.to_dict>` (:class:`PlanRecord`), the
report included (:class:`~baohu_assign.report.Report`). The columns of the
output rows come from the constants of :mod:`baohu_assign.results.tables`, so a
new column cannot go unnoticed.

``docs/schemas/*.schema.json`` are these schemas (``docs/gen_schemas.py``
writes them); ``baohu-assign schema NAME`` prints them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from ..io.events import Event
from ..io.policy import PRIORITIES, Policy
from ..io.records import HouseholdRecord, MemberRecord
from .report import Report
from .tables import ASSIGNMENT_COLUMNS, HOUSEHOLD_COLUMNS, MEMBER_EXTRA_COLUMNS, MEMBER_SUMMARY_COLUMNS

__all__ = [
    "SCHEMA_NAMES",
    "AssignmentRecord",
    "PlanMemberRecord",
    "PlanRecord",
    "PlanReport",
    "json_schema",
    "schema_text",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_PASS_THROUGH: dict[str, Any] = {"type": ["string", "null"]}  # input columns the contract does not know, as text

# Each column of an output row: (JSON type, meaning).
_ASSIGNMENT_FIELDS: dict[str, tuple[Any, str]] = {
    "household_id": (str, "the household"),
    "member_id": (str | None, "its member; null when uncovered"),
    "role": (Literal["primary", "backup"] | None, "primary, or backup (a second member); null when uncovered"),
    "distance_m": (float | None, "metres from member to household; null when uncovered"),
    "changed": (
        bool | None,
        "the member differs from current_member_id (an empty member on either side included); "
        "null when no household has a current member, and on backup rows",
    ),
    "reason": (str, "reason code(s) why uncovered or why changed; empty when none"),
    "head_name": (str | None, "display name"),
    "branch": (str, "branch responsible for the household"),
    "lat": (float, "latitude, WGS84 degrees"),
    "lon": (float, "longitude, WGS84 degrees"),
    "size": (int | None, "persons"),
    "priority": (Literal[PRIORITIES], "priority tier"),
    "visits_per_week": (float, "visits per week (the policy's default resolved)"),
    "group_id": (str | None, "stairwell unit"),
    "current_member_id": (str | None, "the contact before this plan"),
    "pinned": (bool, "must keep current_member_id"),
    "minutes_per_visit": (float, "minutes a visit takes at the door (the policy's default resolved)"),
    "location_id": (str | None, "the household's place (only with a location_id input column)"),
}
_MEMBER_FIELDS: dict[str, tuple[Any, str]] = {
    "member_id": (str, "the member"),
    "branch": (str, "the member's branch"),
    "households": (int, "households the member is the primary contact of"),
    "capacity": (int, "capacity (0 when unavailable)"),
    "utilisation": (float | None, "households / capacity; null when capacity is 0"),
    "visits_per_week": (float, "visits per week over the member's households"),
    "travel_m_per_week": (float, "Σ visits_per_week × distance_m over the member's households"),
    "critical_households": (int, "critical households among them"),
    "over_capacity_unit": (bool, "carries one whole stairwell unit larger than the capacity"),
    "backups": (int | None, "households the member backs up (only when backups were asked for)"),
    "hours_used": (float | None, "weekly hours of the member's visits (only when some member has hours_per_week)"),
    "name": (str | None, "display name"),
    "available": (bool, "takes households"),
    "mobile": (bool, "no distance limit"),
    "max_distance_m": (float, "reach in metres (the policy's default resolved)"),
    "age": (float | None, "age in years"),
    "hours_per_week": (float | None, "weekly hour budget; null: none"),
    "role": (str | None, "role (only with a role input column)"),
    "location_id": (str | None, "the member's place (only with a location_id input column)"),
}
_ASSIGNMENT_OPTIONAL = ("location_id",)
_MEMBER_OPTIONAL = ("backups", "hours_used", "role", "location_id")


def _row_model(
    name: str, doc: str, required: tuple[str, ...], optional: tuple[str, ...], fields: dict[str, tuple[Any, str]]
) -> type[BaseModel]:
    unknown = [c for c in (*required, *optional) if c not in fields]
    if unknown:
        raise RuntimeError(f"{name}: no JSON shape for the columns {unknown}")  # a new output column needs one
    definitions: dict[str, Any] = {}
    for column in (*required, *optional):
        kind, meaning = fields[column]
        definitions[column] = (
            kind,
            Field(description=meaning) if column in required else Field(default=None, description=meaning),
        )
    config = ConfigDict(extra="allow", title=name, json_schema_extra={"additionalProperties": _PASS_THROUGH})
    model: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **definitions)
    return model


AssignmentRecord = _row_model(
    "AssignmentRecord",
    "One row of assignments.csv: a household and its member, then the household's input columns "
    "(pass-through columns under the names given, as text).",
    (*ASSIGNMENT_COLUMNS, *HOUSEHOLD_COLUMNS),
    _ASSIGNMENT_OPTIONAL,
    _ASSIGNMENT_FIELDS,
)
"""One object of ``Plan.to_dict()["assignments"]``."""
PlanMemberRecord = _row_model(
    "PlanMemberRecord",
    "One row of members.csv: a member's load, capacity and travel, then the member's input columns "
    "(pass-through columns under the names given, as text).",
    (*MEMBER_SUMMARY_COLUMNS, *MEMBER_EXTRA_COLUMNS),
    _MEMBER_OPTIONAL,
    _MEMBER_FIELDS,
)
"""One object of ``Plan.to_dict()["members"]``."""


class PlanReport(Report):
    """report.json as ``Plan.to_dict()`` gives it: the report and the plan's id."""

    plan_id: str = Field(description="start of the SHA-256 of assignments.csv and members.csv (Plan.plan_id)")


class PlanRecord(BaseModel):
    """A plan as ``Plan.to_dict()`` gives it: the rows of assignments.csv and members.csv, and report.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assignments: list[AssignmentRecord] = Field(  # type: ignore[valid-type]  # built from the columns
        description="one row per input household in input order, each backup row after its primary row"
    )
    members: list[PlanMemberRecord] = Field(description="one row per member in input order")  # type: ignore[valid-type]
    report: PlanReport


_MODELS: dict[str, type[BaseModel]] = {
    "members": MemberRecord,
    "households": HouseholdRecord,
    "policy": Policy,
    "plan": PlanRecord,
}
SCHEMA_NAMES: tuple[str, ...] = (*_MODELS, "events")
"""The schemas there are: one member record, one household record, the policy, a plan's ``to_dict()``,
and a list of events (:func:`baohu_assign.apply_events`)."""


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) named ``name``, one of :data:`SCHEMA_NAMES`.

    Parameters
    ----------
    name
        ``"members"`` (one member record), ``"households"`` (one household
        record), ``"policy"``, ``"plan"`` (``Plan.to_dict()``) or ``"events"``
        (a list of events for :func:`~baohu_assign.apply_events`).

    Returns
    -------
    dict
        The schema, ``$schema`` (the dialect) first.

    Raises
    ------
    KeyError
        An unknown name.
    """
    if name not in SCHEMA_NAMES:
        raise KeyError(f"no schema {name!r}; choose from {list(SCHEMA_NAMES)}")
    if name == "events":
        schema = TypeAdapter(list[Event]).json_schema()
        schema["title"] = "Events"
    else:
        schema = _MODELS[name].model_json_schema(mode="serialization" if name == "plan" else "validation")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def schema_text(name: str) -> str:
    """:func:`json_schema` as the text of ``docs/schemas/NAME.schema.json`` (indented, ending in a newline)."""
    return json.dumps(json_schema(name), ensure_ascii=False, indent=2) + "\n"
