"""JSON Schemas: published files up to date, and what the library reads and writes fits them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import baohu_assign as ba
from baohu_assign.io.records import HouseholdRecord, MemberRecord
from baohu_assign.io.validate import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from baohu_assign.results.schemas import SCHEMA_NAMES, json_schema, schema_text

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = Path(__file__).parents[2] / "docs" / "schemas"


def validator(name: str):
    schema = json_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_published_schemas_are_up_to_date():
    """docs/schemas/ is what docs/gen_schemas.py writes from the models: run `make docs` after changing them."""
    assert sorted(p.name for p in SCHEMAS.glob("*.schema.json")) == sorted(f"{n}.schema.json" for n in SCHEMA_NAMES)
    for name in SCHEMA_NAMES:
        assert (SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8") == schema_text(name), name


def test_record_schemas_have_every_contract_column():
    assert set(MEMBER_COLUMNS) <= set(MemberRecord.model_fields)
    assert set(HOUSEHOLD_COLUMNS) <= set(HouseholdRecord.model_fields)
    assert json_schema("members")["required"] == ["member_id", "branch"]
    assert json_schema("households")["required"] == ["household_id", "branch"]


def test_records_the_library_accepts_fit_the_input_schemas():
    members = [
        {"member_id": "M1", "branch": "A", "lat": "34.72", "lon": 113.95, "mobile": "是", "age": "", "电话": "138"},
        {"member_id": 2, "branch": "A", "lat": 34.73, "lon": 113.96, "available": False, "capacity": None},
    ]
    households = [
        {"household_id": "H1", "branch": "A", "lat": 34.72, "lon": 113.95, "priority": "重点", "pinned": "否"},
        {"household_id": "H2", "branch": "A", "location_id": "U1", "visit_window": "上午"},
    ]
    for record in members:
        validator("members").validate(record)
    for record in households:
        validator("households").validate(record)
    ba.Scenario.from_records(members, households[:1])


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("members", {"member_id": "M1", "branch": "A", "lat": 1.0}),  # lon and no location_id
        ("members", {"member_id": "M1", "lat": 1.0, "lon": 1.0}),  # no branch
        ("members", {"member_id": "M1", "branch": "A", "lat": 1.0, "lon": 1.0, "note": [1]}),
        ("households", {"household_id": ["H1"], "branch": "A", "lat": 1.0, "lon": 1.0}),
    ],
)
def test_input_schemas_refuse_records_the_library_refuses(name, record):
    assert not validator(name).is_valid(record)
    members = [record] if name == "members" else [{"member_id": "M1", "branch": "A", "lat": 1, "lon": 1}]
    households = [record] if name == "households" else [{"household_id": "H1", "branch": "A", "lat": 1, "lon": 1}]
    with pytest.raises(ba.InputError):
        ba.Scenario.from_records(members, households)


def test_policy_schema_fits_the_policy():
    policy = ba.Policy(backup_tiers=("critical",), max_distance_m=900)
    validator("policy").validate(policy.model_dump(mode="json"))
    assert not validator("policy").is_valid({"max_distance_m": -1})
    assert json_schema("policy")["properties"]["max_distance_m"]["description"]


def test_plan_schema_fits_to_dict(short_plan, relocation_plans):
    community = ba.synth.make_community_with_locations(1)
    located = ba.solve(
        ba.Scenario.from_frames(community.members, community.households, locations=community.locations),
        strategy="greedy",
    )
    assert located.to_dict()["report"]["hierarchy"] is not None
    for plan in (short_plan, *relocation_plans, located):
        validator("plan").validate(json.loads(json.dumps(plan.to_dict())))


def test_plan_schema_refuses_a_wrong_type(short_plan):
    data = json.loads(json.dumps(short_plan.to_dict()))
    data["assignments"][0]["distance_m"] = "near"
    assert not validator("plan").is_valid(data)


def test_events_schema_fits_the_events_apply_events_parses_and_refuses_what_it_refuses():
    from baohu_assign.io.events import parse_events

    good = [
        {"type": "member_unavailable", "member_id": "M001"},
        {"type": "capacity_changed", "member_id": "M002", "capacity": 4},
        {"type": "household_moved", "household_id": "H9", "lat": 34.72, "lon": 113.95},
    ]
    parse_events(good)
    assert list(validator("events").iter_errors(good)) == []
    for bad in ([{"type": "capacity_changed", "member_id": "M002"}], [{"type": "member_gone", "member_id": "M1"}]):
        with pytest.raises(ba.InputError):
            parse_events(bad)
        assert list(validator("events").iter_errors(bad)), bad
