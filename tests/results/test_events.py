"""apply_events(): typed events, only the touched branches re-solved (min-churn), the others carried over."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import baohu_assign as ba
from baohu_assign.cli import main


@pytest.fixture(scope="module")
def plan() -> ba.Plan:
    """900 households in five branches (flow and CP-SAT ones), solved under the balanced objective."""
    town = ba.synth.make_town(5, households=900, branches=5)
    return ba.solve(ba.Scenario.from_frames(town.members, town.households), seed=0)


# --------------------------------------------------------------------------- helpers (independent of the package)


def _contacts(plan: ba.Plan) -> dict[str, str | None]:
    primary = plan.assignments
    primary = primary[primary["role"].fillna("primary") != "backup"]
    return {
        h: (None if pd.isna(m) else str(m)) for h, m in zip(primary["household_id"], primary["member_id"], strict=True)
    }


def _branch_of(plan: ba.Plan) -> dict[str, str]:
    households = plan.scenario.households
    return dict(zip(households["household_id"].astype(str), households["branch"].astype(str), strict=True))


def _busiest_member(plan: ba.Plan, branch: str | None = None) -> str:
    contacts = pd.Series(_contacts(plan)).dropna()
    if branch is not None:
        branches = _branch_of(plan)
        contacts = contacts[[branches[h] == branch for h in contacts.index]]
    return str(contacts.value_counts().index[0])


def _changed_in(before: ba.Plan, after: ba.Plan, households: set[str]) -> int:
    old, new = _contacts(before), _contacts(after)
    return sum(1 for h in households if old.get(h) != new.get(h))


def _assert_untouched_identical(before: ba.Plan, after: ba.Plan, touched: set[str]) -> None:
    branches = _branch_of(before)
    old, new = _contacts(before), _contacts(after)
    kept = [h for h, b in branches.items() if b not in touched and h in new]
    assert kept, "the test needs untouched branches"
    assert all(old[h] == new[h] for h in kept)
    old_branches = {r.branch.branch: r for r in before.results}
    for result in after.results:
        if result.branch.branch in touched:
            continue
        original = old_branches[result.branch.branch]
        assert result.solution is original.solution  # reused, not re-solved
        assert np.array_equal(result.solution.member_of, original.solution.member_of)


# --------------------------------------------------------------------------- parsing


def test_every_event_kind_parses_from_a_plain_mapping_and_dumps_back():
    raw = [
        {"type": "member_unavailable", "member_id": "M1"},
        {"type": "member_available", "member_id": "M1"},
        {"type": "member_added", "member": {"member_id": "M9", "branch": "b", "lat": 34.7, "lon": 114.0}},
        {"type": "member_removed", "member_id": "M1"},
        {"type": "capacity_changed", "member_id": "M1", "capacity": 3},
        {"type": "household_added", "household": {"household_id": "H9", "branch": "b", "lat": 34.7, "lon": 114.0}},
        {"type": "household_removed", "household_id": "H1"},
        {"type": "household_moved", "household_id": "H1", "lat": 34.71, "lon": 114.01},
        {"type": "priority_changed", "household_id": "H1", "priority": "重点"},
        {"type": "pin_set", "household_id": "H1", "member_id": "M2"},
        {"type": "pin_released", "household_id": "H1"},
    ]
    parsed = ba.events.parse_events(raw)
    assert [e.type for e in parsed] == list(ba.events.EVENT_TYPES)
    assert parsed[8].priority == "critical"
    dumped = json.loads(json.dumps([e.model_dump() for e in parsed]))
    assert ba.events.parse_events(dumped) == parsed


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({"type": "member_ill", "member_id": "M1"}, "type", "unknown or missing event type"),
        ({"member_id": "M1"}, "type", "unknown or missing event type"),
        ({"type": "capacity_changed", "member_id": "M1", "capacity": -1}, "capacity", "greater than or equal"),
        ({"type": "capacity_changed", "member_id": "M1"}, "capacity", "Field required"),
        ({"type": "household_moved", "household_id": "H1", "lat": 134, "lon": 114}, "lat", "less than"),
        ({"type": "priority_changed", "household_id": "H1", "priority": "urgent"}, "priority", "unknown priority"),
        ({"type": "member_unavailable", "member_id": "M1", "extra": 1}, "extra", "Extra inputs"),
    ],
)
def test_a_bad_event_is_named_by_index_and_field(event, field, words):
    good = {"type": "member_available", "member_id": "M1"}
    with pytest.raises(ba.InputError) as caught:
        ba.events.parse_events([good, good, event])
    (issue,) = caught.value.issues
    assert (issue.row, issue.column) == (2, field)
    assert words in issue.message
    assert str(issue).startswith("events[2], column '" + field + "'")


def test_unknown_ids_and_bad_records_name_the_event(plan):
    member = str(plan.scenario.members["member_id"].iloc[0])
    household = str(plan.scenario.households["household_id"].iloc[0])
    events = [
        {"type": "member_unavailable", "member_id": "NOBODY"},
        {"type": "household_moved", "household_id": "NOWHERE", "lat": 34.7, "lon": 114.0},
        {"type": "member_added", "member": {"member_id": member, "branch": "x", "lat": 34.7, "lon": 114.0}},
        {"type": "household_added", "household": {"household_id": "NEW", "branch": "x", "lat": "north"}},
        {"type": "pin_set", "household_id": household, "member_id": "NOBODY"},
    ]
    with pytest.raises(ba.InputError) as caught:
        ba.apply_events(plan, events)
    text = str(caught.value)
    assert "events[0], column 'member_id': unknown member id" in text
    assert "events[1], column 'household_id': unknown household id" in text
    assert "events[2], column 'member_id': id already in the table" in text
    assert "events[3].household" in text and "lat" in text
    assert "events[4], column 'member_id': unknown member id" in text


# --------------------------------------------------------------------------- semantics


def test_an_ill_member_s_households_are_rehomed_and_the_rest_carried_over(plan):
    branches = _branch_of(plan)
    ill = _busiest_member(plan)
    theirs = {h for h, m in _contacts(plan).items() if m == ill}
    branch = branches[next(iter(theirs))]
    after = ba.apply_events(plan, [{"type": "member_unavailable", "member_id": ill}])
    new = _contacts(after)
    assert all(new[h] != ill for h in theirs)
    changed = set(after.assignments.loc[after.assignments["changed"] == True, "household_id"])  # noqa: E712
    assert theirs <= changed
    _assert_untouched_identical(plan, after, {branch})
    # Minimum churn: as many changed contacts in the branch as a full min-churn rebalance makes.
    edited = after.scenario
    full = ba.rebalance(edited, current=plan, objective="min-churn")
    in_branch = {h for h, b in branches.items() if b == branch}
    if all(r.solution.engine == "flow" for r in full.results if r.branch.branch == branch):
        assert _changed_in(plan, after, in_branch) == _changed_in(plan, full, in_branch)
    assert after.report.warnings[-1].code == "events_applied"


def test_changed_flags_compare_with_the_plans_contacts(plan):
    member = _busiest_member(plan)
    after = ba.apply_events(plan, [{"type": "member_unavailable", "member_id": member}])
    old, new = _contacts(plan), _contacts(after)
    flags = dict(zip(after.assignments["household_id"], after.assignments["changed"], strict=True))
    assert all(bool(flags[h]) == (old.get(h) != new[h]) for h in new)
    assert after.report.components.changed == sum(old.get(h) != new[h] for h in new)


def _event_of_each_kind(plan: ba.Plan, kind: str, branch: str) -> dict:
    households = plan.scenario.households
    members = plan.scenario.members
    hh = households[households["branch"] == branch].iloc[0]
    mm = members[members["branch"] == branch].iloc[0]
    hid, mid = str(hh["household_id"]), str(mm["member_id"])
    return {
        "member_unavailable": {"type": kind, "member_id": _busiest_member(plan, branch)},
        "member_available": {"type": kind, "member_id": mid},
        "member_added": {
            "type": kind,
            "member": {"member_id": "NEW-M", "branch": branch, "lat": float(hh["lat"]), "lon": float(hh["lon"])},
        },
        "member_removed": {"type": kind, "member_id": _busiest_member(plan, branch)},
        "capacity_changed": {"type": kind, "member_id": _busiest_member(plan, branch), "capacity": 1},
        "household_added": {
            "type": kind,
            "household": {"household_id": "NEW-H", "branch": branch, "lat": float(mm["lat"]), "lon": float(mm["lon"])},
        },
        "household_removed": {"type": kind, "household_id": hid},
        "household_moved": {"type": kind, "household_id": hid, "lat": float(mm["lat"]), "lon": float(mm["lon"])},
        "priority_changed": {"type": kind, "household_id": hid, "priority": "critical"},
        "pin_set": {"type": kind, "household_id": hid},
        "pin_released": {"type": kind, "household_id": hid},
    }[kind]


@pytest.mark.parametrize("kind", ba.events.EVENT_TYPES)
def test_every_event_kind_touches_only_its_branch(plan, kind):
    branch = plan.scenario.branches[1]
    event = _event_of_each_kind(plan, kind, branch)
    after = ba.apply_events(plan, [event])
    _assert_untouched_identical(plan, after, {branch})
    households = after.scenario.households.set_index("household_id")
    members = after.scenario.members.set_index("member_id")
    if kind == "member_unavailable":
        assert not members.loc[event["member_id"], "available"]
        assert event["member_id"] not in set(_contacts(after).values())
    elif kind == "member_removed":
        assert event["member_id"] not in members.index
        assert event["member_id"] not in set(_contacts(after).values())
    elif kind == "capacity_changed":
        assert members.loc[event["member_id"], "capacity"] == 1
        assert list(_contacts(after).values()).count(event["member_id"]) <= 1
    elif kind == "member_added":
        assert "NEW-M" in members.index
    elif kind == "household_added":
        assert "NEW-H" in households.index and _contacts(after)["NEW-H"] is not None
    elif kind == "household_removed":
        assert event["household_id"] not in households.index
    elif kind == "household_moved":
        assert households.loc[event["household_id"], ["lat", "lon"]].tolist() == [event["lat"], event["lon"]]
    elif kind == "priority_changed":
        assert households.loc[event["household_id"], "priority"] == "critical"
    elif kind == "pin_set":
        assert households.loc[event["household_id"], "pinned"]
        assert _contacts(after)[event["household_id"]] == _contacts(plan)[event["household_id"]]
    elif kind == "pin_released":
        assert not households.loc[event["household_id"], "pinned"]
    assert after.report.warnings[-1].code == "events_applied"
    # Only the touched rows were validated again: the frames are those of validating the whole edited tables.
    whole = after.scenario.replace()
    pd.testing.assert_frame_equal(after.scenario.households, whole.households)
    pd.testing.assert_frame_equal(after.scenario.members, whole.members)


def test_a_new_priority_brings_its_default_visits(plan):
    households = plan.scenario.households
    normal = households[households["priority"] == "normal"].iloc[0]
    after = ba.apply_events(
        plan, [{"type": "priority_changed", "household_id": str(normal["household_id"]), "priority": "重点"}]
    )
    row = after.scenario.households.set_index("household_id").loc[normal["household_id"]]
    assert row["visits_per_week"] == plan.scenario.policy.visits_per_week["critical"]


def test_no_events_keep_the_plan(plan):
    after = ba.apply_events(plan, [])
    assert _contacts(after) == _contacts(plan)
    assert not after.assignments["changed"].any()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_unavailable_members_keep_untouched_branches_and_minimum_churn(plan, data):
    """Against an independent oracle: a full min-churn rebalance of the edited scenario, on flow branches."""
    members = plan.scenario.members
    ids = data.draw(st.lists(st.sampled_from(members["member_id"].astype(str).tolist()), min_size=1, max_size=3))
    after = ba.apply_events(plan, [{"type": "member_unavailable", "member_id": m} for m in ids])
    touched = set(members.loc[members["member_id"].isin(ids), "branch"].astype(str))
    full = ba.rebalance(after.scenario, current=plan, objective="min-churn")
    branches = _branch_of(plan)
    for result in full.results:
        branch = result.branch.branch
        if branch in touched and result.solution.engine == "flow":
            in_branch = {h for h, b in branches.items() if b == branch}
            assert _changed_in(plan, after, in_branch) == _changed_in(plan, full, in_branch)
    assert all(m not in set(_contacts(after).values()) for m in ids)
    if len(touched) < len(plan.scenario.branches):
        _assert_untouched_identical(plan, after, touched)


# --------------------------------------------------------------------------- command line


def test_cli_apply_round_trip(plan, tmp_path, capsys):
    scenario = plan.scenario
    scenario.members.drop(columns=["row"]).to_csv(tmp_path / "members.csv", index=False)
    scenario.households.drop(columns=["row"]).to_csv(tmp_path / "households.csv", index=False)
    plan.write(tmp_path / "plan")
    ill = _busiest_member(plan)
    (tmp_path / "events.json").write_text(json.dumps([{"type": "member_unavailable", "member_id": ill}]))
    code = main(
        [
            "apply",
            str(tmp_path / "members.csv"),
            str(tmp_path / "households.csv"),
            str(tmp_path / "events.json"),
            "--current",
            str(tmp_path / "plan"),
            "--out",
            str(tmp_path / "after"),
        ]
    )
    assert code == 0
    assert "note:" not in capsys.readouterr().err  # the plan folder was rebuilt exactly from its inputs
    written = pd.read_csv(tmp_path / "after" / "assignments.csv", dtype=str)
    expected = ba.apply_events(plan, [{"type": "member_unavailable", "member_id": ill}]).assignments
    assert ill not in set(written["member_id"].dropna())
    assert written["member_id"].fillna("").tolist() == expected["member_id"].fillna("").astype(str).tolist()
    report = json.loads((tmp_path / "after" / "report.json").read_text())
    assert any(w["code"] == "events_applied" for w in report["warnings"])


def test_cli_apply_bad_events_exit_2_naming_index_and_field(plan, tmp_path, capsys):
    scenario = plan.scenario
    scenario.members.drop(columns=["row"]).to_csv(tmp_path / "members.csv", index=False)
    scenario.households.drop(columns=["row"]).to_csv(tmp_path / "households.csv", index=False)
    plan.write(tmp_path / "plan")
    (tmp_path / "events.json").write_text(json.dumps([{"type": "capacity_changed", "member_id": "M1"}]))
    code = main(
        [
            "apply",
            str(tmp_path / "members.csv"),
            str(tmp_path / "households.csv"),
            str(tmp_path / "events.json"),
            "--current",
            str(tmp_path / "plan"),
            "--out",
            str(tmp_path / "after"),
        ]
    )
    assert code == 2
    assert "events[0], column 'capacity'" in capsys.readouterr().err


# --------------------------------------------------------------------------- edge cases and the report


def test_a_branch_without_members_and_members_without_households(plan):
    scenario = plan.scenario
    empty, other = scenario.branches[0], scenario.branches[1]
    members = scenario.members.drop(columns=["row"])
    members = members[members["branch"] != empty].copy()
    lonely = str(members["member_id"].iloc[0])
    members.loc[members.index[0], "branch"] = "无户支部"
    bare = ba.solve(ba.Scenario.from_frames(members, scenario.households.drop(columns=["row"])), seed=0)
    household = str(scenario.households.loc[scenario.households["branch"] == empty, "household_id"].iloc[0])
    after = ba.apply_events(
        bare,
        [
            {"type": "household_moved", "household_id": household, "lat": 34.7, "lon": 114.0},
            {"type": "member_unavailable", "member_id": lonely},
        ],
    )
    assert _contacts(after)[household] is None  # still nobody to serve it
    _assert_untouched_identical(bare, after, {empty, "无户支部"})
    assert other not in after.report.warnings[-1].examples


def test_untouched_branches_keep_the_plans_shortfall_diagnosis(short_plan):
    short = {s.branch: s for s in short_plan.report.shortfalls}
    assert short, "the fixture leaves households uncovered"
    quiet = next(b for b in short_plan.scenario.branches if b not in short)
    member = _busiest_member(short_plan, quiet)
    after = ba.apply_events(short_plan, [{"type": "member_unavailable", "member_id": member}])
    kept = {s.branch: s for s in after.report.shortfalls if s.branch in short}
    assert kept == short  # the plan's diagnosis of each untouched branch


def test_diagnose_takes_known_branches_as_given(short_plan):
    from baohu_assign.results.diagnose import diagnose

    fresh = diagnose(short_plan.result)
    marked = {s.branch: s.model_copy(update={"candidates": -1}) for s in fresh}
    again = diagnose(short_plan.result, known=marked)
    assert [s.candidates for s in again] == [-1] * len(fresh)
    assert [s.branch for s in again] == [s.branch for s in fresh]


def test_crossing_branches_touches_the_one_problem():
    town = ba.synth.make_town(2, households=300, branches=3, stairwells=False)
    policy = ba.Policy(allow_cross_branch=True)
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households, policy=policy), seed=0)
    ill = _busiest_member(plan)
    after = ba.apply_events(plan, [{"type": "member_unavailable", "member_id": ill}])
    full = ba.rebalance(after.scenario, current=plan, objective="min-churn")
    everyone = set(_contacts(plan))
    assert ill not in set(_contacts(after).values())
    assert _changed_in(plan, after, everyone) == _changed_in(plan, full, everyone)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_events_leave_other_branches_alone_and_tables_as_validation_gives_them(plan, data):
    branches = plan.scenario.branches
    chosen = data.draw(st.lists(st.sampled_from(branches), min_size=1, max_size=3, unique=True))
    kinds = [data.draw(st.sampled_from(ba.events.EVENT_TYPES)) for _ in chosen]
    events = [_event_of_each_kind(plan, kind, branch) for kind, branch in zip(kinds, chosen, strict=True)]
    for index, event in enumerate(events):  # one new id per added row
        for key, id_key in (("member", "member_id"), ("household", "household_id")):
            if key in event:
                event[key] = {**event[key], id_key: f"{event[key][id_key]}-{index}"}
    after = ba.apply_events(plan, events)
    if len(chosen) < len(branches):
        _assert_untouched_identical(plan, after, set(chosen))
    whole = after.scenario.replace()
    pd.testing.assert_frame_equal(after.scenario.households, whole.households)
    pd.testing.assert_frame_equal(after.scenario.members, whole.members)
    old, new = _contacts(plan), _contacts(after)
    flags = dict(zip(after.assignments["household_id"], after.assignments["changed"], strict=True))
    assert all(bool(flags[h]) == (old.get(h) != new[h]) for h in new)
