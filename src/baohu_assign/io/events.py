"""Events: small typed changes to a plan's inputs, as a service sends them (JSON objects).

Each event is a pydantic model with a ``type`` field; :data:`Event` is their
discriminated union, so a plain mapping such as
``{"type": "member_unavailable", "member_id": "M001"}`` parses to
:class:`MemberUnavailable`. :func:`parse_events` parses a list and reports
every bad event as an :class:`~baohu_assign.errors.Issue` naming its index
(``events[3]``) and field. The member and household records of
``member_added`` and ``household_added`` are checked later, by the one
validator of the CSV path (:mod:`baohu_assign.io.validate`).
:func:`baohu_assign.apply_events` applies them to a plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ..errors import InputError, Issue
from .policy import PRIORITIES
from .validate import PRIORITY_ALIASES

__all__ = [
    "EVENT_TYPES",
    "CapacityChanged",
    "Event",
    "HouseholdAdded",
    "HouseholdMoved",
    "HouseholdRemoved",
    "MemberAdded",
    "MemberAvailable",
    "MemberRemoved",
    "MemberUnavailable",
    "PinReleased",
    "PinSet",
    "PriorityChanged",
    "parse_events",
]

_Id = Annotated[str, Field(min_length=1, description="id as in the members or households table")]


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class MemberUnavailable(_EventBase):
    """The member takes no households any more (ill, away): their households are re-homed."""

    type: Literal["member_unavailable"] = "member_unavailable"
    member_id: _Id


class MemberAvailable(_EventBase):
    """The member is available again."""

    type: Literal["member_available"] = "member_available"
    member_id: _Id


class MemberAdded(_EventBase):
    """A new member: ``member`` is one record with the columns of members.csv."""

    type: Literal["member_added"] = "member_added"
    member: dict[str, Any]


class MemberRemoved(_EventBase):
    """The member leaves the members table."""

    type: Literal["member_removed"] = "member_removed"
    member_id: _Id


class CapacityChanged(_EventBase):
    """The member's capacity (most households as primary contact) becomes ``capacity``."""

    type: Literal["capacity_changed"] = "capacity_changed"
    member_id: _Id
    capacity: Annotated[int, Field(ge=0)]


class HouseholdAdded(_EventBase):
    """A new household: ``household`` is one record with the columns of households.csv."""

    type: Literal["household_added"] = "household_added"
    household: dict[str, Any]


class HouseholdRemoved(_EventBase):
    """The household leaves the households table."""

    type: Literal["household_removed"] = "household_removed"
    household_id: _Id


class HouseholdMoved(_EventBase):
    """The household now lives at (``lat``, ``lon``), WGS-84 degrees."""

    type: Literal["household_moved"] = "household_moved"
    household_id: _Id
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class PriorityChanged(_EventBase):
    """The household's priority becomes ``priority`` (``normal``/``elevated``/``critical`` or a Chinese alias)."""

    type: Literal["priority_changed"] = "priority_changed"
    household_id: _Id
    priority: str

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, value: str) -> str:
        canonical = PRIORITY_ALIASES.get(value, value.lower())
        if canonical not in PRIORITIES:
            raise ValueError(f"unknown priority {value!r}; use one of {list(PRIORITIES)} or {list(PRIORITY_ALIASES)}")
        return canonical


class PinSet(_EventBase):
    """Pin the household to ``member_id`` (``None``: to its contact in the plan), as ``pinned`` does."""

    type: Literal["pin_set"] = "pin_set"
    household_id: _Id
    member_id: str | None = None


class PinReleased(_EventBase):
    """The household is no longer pinned."""

    type: Literal["pin_released"] = "pin_released"
    household_id: _Id


Event = Annotated[
    MemberUnavailable
    | MemberAvailable
    | MemberAdded
    | MemberRemoved
    | CapacityChanged
    | HouseholdAdded
    | HouseholdRemoved
    | HouseholdMoved
    | PriorityChanged
    | PinSet
    | PinReleased,
    Field(discriminator="type"),
]
"""One event: the union of the event models, told apart by ``type``."""

EVENT_TYPES: tuple[str, ...] = (
    "member_unavailable",
    "member_available",
    "member_added",
    "member_removed",
    "capacity_changed",
    "household_added",
    "household_removed",
    "household_moved",
    "priority_changed",
    "pin_set",
    "pin_released",
)
"""The ``type`` of every event, in the order of the data contract."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)


def parse_events(events: object) -> list[Any]:
    """Parse a list of events (event models or JSON objects) into event models.

    Parameters
    ----------
    events
        A list (or any sequence) of event models or mappings with a ``type``
        key, as :data:`EVENT_TYPES` names them.

    Returns
    -------
    list
        One event model per entry, in order.

    Raises
    ------
    InputError
        Every bad event, as issues of file ``events`` with ``row`` the
        event's index (``events[3]``) and ``column`` the field at fault.
    """
    if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Sequence):
        raise InputError(Issue("events", None, None, f"events must be a list of objects, got {type(events).__name__}"))
    parsed: list[Any] = []
    issues: list[Issue] = []
    for index, event in enumerate(events):
        if isinstance(event, BaseModel):
            event = event.model_dump()
        try:
            parsed.append(_ADAPTER.validate_python(event))
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                field = ".".join(str(p) for p in error["loc"][1:] if p is not None) or None
                if error["type"] == "union_tag_invalid" or (error["type"] == "union_tag_not_found"):
                    field = "type"
                    message = f"unknown or missing event type; use one of {list(EVENT_TYPES)}"
                else:
                    message = str(error["msg"])
                issues.append(Issue("events", index, field, message, numbering="record"))
    if issues:
        raise InputError(issues)
    return parsed
