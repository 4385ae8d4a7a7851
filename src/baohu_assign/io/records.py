"""JSON records → raw tables, and the shape of a member and a household record.

Services send members and households as lists of JSON objects, one per
row, keys as the column names of the data contract, values as a web form
sends them (text such as ``"是"``, ``"true"``, ``""`` or ``"34.72"``) or as
JSON numbers, booleans and ``null``. :func:`records_frame` turns such a list
into the all-text frame :func:`~baohu_assign.io.tables.read_table` gives for a
file, so the one validator of :mod:`baohu_assign.io.validate` checks it with
the same rules and messages; only the rows are numbered as records
(``members[3]``: position in the list, from 0) instead of spreadsheet rows.

:data:`MemberRecord` and :data:`HouseholdRecord` describe one record for
JSON Schema (:mod:`baohu_assign.results.schemas`); they are built from the
contract's columns (:data:`~baohu_assign.io.validate.MEMBER_COLUMNS`,
:data:`~baohu_assign.io.validate.HOUSEHOLD_COLUMNS`) and validate nothing
themselves: the library's checks are those of the validator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..errors import InputError, Issue
from .policy import PRIORITIES
from .tables import NUMBERING, IssueCollector, text_frame
from .validate import (
    _HOUSEHOLD_REQUIRED,
    _MEMBER_REQUIRED,
    BOOL_FALSE,
    BOOL_TRUE,
    HOUSEHOLD_COLUMNS,
    HOUSEHOLD_OPTIONAL_COLUMNS,
    MEMBER_COLUMNS,
    PRIORITY_ALIASES,
    VISIT_WINDOWS,
)

__all__ = ["HouseholdRecord", "MemberRecord", "records_frame"]

_SCALARS = (str, int, float, bool, np.generic)


def records_frame(records: object, name: str) -> pd.DataFrame:
    """A list of records (JSON objects) → the all-text frame a file of the same table gives.

    Parameters
    ----------
    records
        A list (or any sequence) of mappings from column name to value: text,
        a number, a boolean or ``None``. Keys missing from a record are
        blank; columns come in the order their keys first appear.
    name
        Name of the table in the issues (``"members"``, ``"households"``).

    Returns
    -------
    pandas.DataFrame
        Text cells as :func:`~baohu_assign.io.tables.text_frame` writes them
        (``7.0`` → ``"7"``, ``True`` → ``"true"``, ``None`` → ``""``),
        normalised headers, ``attrs["original_columns"]`` (the keys as
        given), ``attrs["file"]`` = ``name`` and ``attrs["numbering"]`` =
        ``"record"``: validators number its rows from 0 (``members[3]``).

    Raises
    ------
    InputError
        ``records`` is not a list, a record is not an object, a key is not
        text or is blank, or a value is a list or an object.
    """
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        raise InputError(Issue(name, None, None, f"expected a list of records (objects), got {type(records).__name__}"))
    checks = IssueCollector(name, numbering="record")
    rows: list[Mapping[str, object]] = []
    record: object
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            checks.add(position, None, f"a record must be an object of column → value, got {type(record).__name__}")
            rows.append({})
            continue
        for key, value in record.items():
            if not isinstance(key, str) or not key.strip():
                checks.add(position, None, "a column name must be non-blank text", repr(key))
            elif value is not None and not isinstance(value, _SCALARS) and not pd.api.types.is_scalar(value):
                checks.add(position, key, "a value must be text, a number, true/false or null", repr(value))
        rows.append(record)
    checks.raise_if_any()
    columns: dict[str, list[object]] = {}
    for position, record in enumerate(rows):
        for key, value in record.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * len(rows)
            column[position] = value
    frame = text_frame(pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()}))
    frame.index = pd.RangeIndex(len(rows))
    frame.attrs.update({NUMBERING: "record", "file": name})
    return frame


# -- record shapes (JSON Schema) ----------------------------------------------------------

_BOOL_WORDS = f"true/false, or text: {'/'.join(sorted(BOOL_TRUE))} for true, {'/'.join(sorted(BOOL_FALSE))} for false"
_NUMBER = "a number, or text holding one"

# Each known column of the contract: (JSON type, meaning). Blank ("" or null) takes the default named.
_MEMBER_FIELDS: dict[str, tuple[Any, str]] = {
    "member_id": (str | int, "stable id, unique (text keeps leading zeros: send ids as text)"),
    "name": (str | None, "display name"),
    "branch": (str, "party branch (村/社区支部) the member belongs to"),
    "lat": (float | str | None, f"latitude, WGS84 degrees ({_NUMBER}); blank only with a location_id"),
    "lon": (float | str | None, f"longitude, WGS84 degrees ({_NUMBER}); blank only with a location_id"),
    "age": (float | str | None, f"age in years, 0–120 ({_NUMBER}); sets the policy's default capacity"),
    "capacity": (
        int | str | None,
        "most households taken as primary contact, a whole number ≥ 0; blank: the policy's default by age",
    ),
    "max_distance_m": (float | str | None, "farthest household the member may take, metres > 0; blank: policy"),
    "mobile": (bool | str | int | None, f"移动包户, no distance limit ({_BOOL_WORDS}); blank: false"),
    "available": (bool | str | int | None, f"false: takes no households ({_BOOL_WORDS}); blank: true"),
    "hours_per_week": (float | str | None, "weekly hours the member can give, 0–168; blank: no hour limit"),
    "role": (str | None, "e.g. cadre (may lead a compound)"),
    "location_id": (str | int | None, "a place of the locations table; gives lat/lon when they are blank"),
}
_HOUSEHOLD_FIELDS: dict[str, tuple[Any, str]] = {
    "household_id": (str | int, "stable id, unique (text keeps leading zeros: send ids as text)"),
    "head_name": (str | None, "display name"),
    "branch": (str, "branch responsible for it; after relocation still the original village's branch"),
    "lat": (float | str | None, f"latitude, WGS84 degrees ({_NUMBER}); blank only with a location_id"),
    "lon": (float | str | None, f"longitude, WGS84 degrees ({_NUMBER}); blank only with a location_id"),
    "size": (int | str | None, "persons, a whole number ≥ 1"),
    "priority": (
        str | None,
        f"one of {', '.join(PRIORITIES)} or {', '.join(PRIORITY_ALIASES)} (case-insensitive); blank: normal",
    ),
    "visits_per_week": (float | str | None, "visits per week > 0; blank: the policy's default by priority"),
    "group_id": (str | int | None, "households sharing a group_id (a stairwell unit 单元) get the same member"),
    "current_member_id": (str | int | None, "today's contact, kept when rebalancing"),
    "pinned": (bool | str | int | None, f"must keep current_member_id ({_BOOL_WORDS}); blank: false"),
    "minutes_per_visit": (float | str | None, "minutes a visit takes at the door, > 0; blank: policy"),
    "location_id": (str | int | None, "a place of the locations table; gives lat/lon (and a unit's group)"),
    "visit_window": (
        str | None,
        f"round of the visits: {', '.join(VISIT_WINDOWS)} (case-insensitive); blank: either",
    ),
    "quarantined": (
        bool | str | int | None,
        f"under home quarantine: its visits get the 四个一 checklist ({_BOOL_WORDS}); blank: false",
    ),
}
_OPTIONAL_HOUSEHOLD_COLUMNS = HOUSEHOLD_OPTIONAL_COLUMNS


def _record_model(
    name: str, doc: str, columns: tuple[str, ...], fields: dict[str, tuple[Any, str]], required: tuple[str, ...]
) -> type[BaseModel]:
    unknown = [c for c in columns if c not in fields]
    if unknown:
        raise RuntimeError(f"{name}: no JSON shape for the columns {unknown}")  # a new contract column needs one
    coordinates_or_place = ("lat", "lon")
    definitions: dict[str, Any] = {}
    for column in columns:
        kind, meaning = fields[column]
        needed = column in required and column not in coordinates_or_place
        definitions[column] = (kind, Field(description=meaning) if needed else Field(default=None, description=meaning))
    config = ConfigDict(
        extra="allow",
        title=name,
        json_schema_extra={
            # Without a location_id a record must give both coordinates.
            "anyOf": [{"required": list(coordinates_or_place)}, {"required": ["location_id"]}],
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
    )
    model: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **definitions)
    return model


MemberRecord = _record_model(
    "MemberRecord",
    "One party member (a row of members.csv) as a JSON object; other keys are kept and passed through.",
    MEMBER_COLUMNS,
    _MEMBER_FIELDS,
    _MEMBER_REQUIRED,
)
"""The shape of one member record of :meth:`Scenario.from_records <baohu_assign.Scenario.from_records>`."""
HouseholdRecord = _record_model(
    "HouseholdRecord",
    "One household (a row of households.csv) as a JSON object; other keys are kept and passed through.",
    (*HOUSEHOLD_COLUMNS, *_OPTIONAL_HOUSEHOLD_COLUMNS),
    _HOUSEHOLD_FIELDS,
    _HOUSEHOLD_REQUIRED,
)
"""The shape of one household record of :meth:`Scenario.from_records <baohu_assign.Scenario.from_records>`."""
