"""The HTTP service against a real uvicorn process: submit, poll, cancel, events, recommendations, files, limits."""

from __future__ import annotations

import io
import json
import time

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.errors import InputError
from baohu_assign.results.plain import table_records
from baohu_assign.service.jobs import issue_records

SEED = 3
POLICY = {"max_distance_m": 1200, "capacity_by_age": [{"min_age": 0, "capacity": 8}, {"min_age": 60, "capacity": 5}]}


@pytest.fixture(scope="module")
def town():
    """The demo town's generator at a small size."""
    return ba.synth.make_town(0, households=300, branches=3)


@pytest.fixture(scope="module")
def records(town):
    return {"members": table_records(town.members), "households": table_records(town.households), "policy": POLICY}


@pytest.fixture(scope="module")
def local_plan(records):
    """What the library gives for the same records and seed."""
    return ba.solve(ba.Scenario.from_records(records["members"], records["households"], POLICY), seed=SEED)


@pytest.fixture(scope="module")
def solved(server, records):
    """A JSON submit of the town, solved by the service (with the roster workbook and the Parquet tables)."""
    options = {"seed": SEED, "xlsx": True, "parquet": True}
    response = server.client.post("/plans", json={**records, "options": options})
    assert response.status_code == 202, response.text
    job = response.json()
    server.wait(job["id"])
    return {"submitted": response, "job": server.plan(job["id"])}


def same_plan(served: dict, expected: ba.Plan) -> None:
    want = expected.to_dict()
    assert served["report"]["plan_id"] == want["report"]["plan_id"]
    assert served["assignments"] == want["assignments"]
    assert served["members"] == want["members"]


def test_json_submit_is_accepted_with_id_and_links(solved):
    response = solved["submitted"]
    body = response.json()
    assert body["status"] == "scheduled"
    assert response.headers["location"] == f"/plans/{body['id']}" == body["links"]["self"]


def test_json_submit_completes_with_the_plan_solve_gives(solved, local_plan):
    job = solved["job"]
    assert job["status"] == "completed"
    assert job["plan_id"] == local_plan.plan_id
    assert job["progress"] is None and job["started"] and job["finished"]
    same_plan(job["plan"], local_plan)
    assert set(job["links"]) >= {"self", "events", "recommendations", "files"}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_multipart_upload_completes_with_the_plan_solve_gives(server, town, tmp_path, kind):
    members_csv, households_csv = town.write_csv(tmp_path)
    paths = [members_csv, households_csv]
    if kind == "xlsx":
        paths = []
        for path in (members_csv, households_csv):
            target = path.with_suffix(".xlsx")
            pd.read_csv(path, dtype=str, keep_default_na=False).to_excel(target, index=False)
            paths.append(target)
    policy_toml = tmp_path / "policy.toml"
    policy_toml.write_text("max_distance_m = 1200\n", encoding="utf-8")
    expected = ba.solve(ba.Scenario.from_csv(*paths, policy=ba.Policy.from_toml(policy_toml)), seed=SEED)
    files = {name: (path.name, path.read_bytes()) for name, path in zip(("members", "households"), paths, strict=True)}
    files["policy"] = ("policy.toml", policy_toml.read_bytes())
    response = server.client.post("/plans", files=files, data={"options": json.dumps({"seed": SEED})})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert server.wait(job_id)["status"] == "completed"
    same_plan(server.plan(job_id)["plan"], expected)


def test_a_bad_row_is_422_with_file_row_column_as_the_library_says(server, records):
    members = [dict(m) for m in records["members"]]
    members[4] = {**members[4], "name": "张三丰", "age": "abc岁"}
    response = server.client.post("/plans", json={"members": members, "households": records["households"]})
    assert response.status_code == 422
    errors = response.json()["errors"]
    with pytest.raises(InputError) as raised:
        ba.Scenario.from_records(members, records["households"])
    assert errors == issue_records(raised.value)
    assert any(e["file"] == "members" and e["row"] == 4 and e["column"] == "age" for e in errors)
    assert "张三丰" not in server.log() and "abc岁" not in server.log()  # personal data: DEBUG only


def test_a_bad_row_of_an_uploaded_csv_is_422_naming_the_sheet_row(server, town, tmp_path):
    members_csv, households_csv = town.write_csv(tmp_path)
    frame = pd.read_csv(members_csv, dtype=str, keep_default_na=False)
    frame.loc[2, "age"] = "abc"
    frame.to_csv(members_csv, index=False)
    # The file keeps the name it was uploaded with (a folder part is dropped), so the message names the clerk's file.
    files = {
        "members": ("村里/党员.csv", members_csv.read_bytes()),
        "households": ("h.csv", households_csv.read_bytes()),
    }
    response = server.client.post("/plans", files=files)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["file"], error["row"], error["column"]) == ("党员.csv", 4, "age")
    assert error["text"].startswith("党员.csv, row 4, column 'age'")


def test_bad_options_and_unknown_keys_are_422(server, records):
    response = server.client.post(
        "/plans", json={**records, "options": {"objective": "fastest", "seed": -1, "colour": "red"}, "extra": 1}
    )
    assert response.status_code == 422
    where = {(e["file"], e["column"]) for e in response.json()["errors"]}
    assert ("request", "extra") in where
    response = server.client.post("/plans", json={**records, "options": {"objective": "fastest", "colour": "red"}})
    where = {(e["file"], e["column"]) for e in response.json()["errors"]}
    assert where == {("options", "objective"), ("options", "colour")}


def test_a_body_over_the_limit_is_413_declared_or_streamed(server):
    jobs_before = sorted(server.data.joinpath("jobs").iterdir())
    big = b'{"members": "' + b"x" * 1_500_000 + b'"}'
    response = server.client.post("/plans", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "max-request-mb" in response.json()["detail"]

    def chunks():  # no Content-Length: only counting the stream can tell
        for _ in range(30):
            yield b"x" * 100_000

    response = server.client.post("/plans", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    # An upload counts as it arrives too (multipart, streamed without a length).
    upload = b"--b\r\nContent-Disposition: form-data; name=members; filename=m.csv\r\n\r\n" + b"x" * 100_000

    def parts():
        yield upload
        for _ in range(30):
            yield b"x" * 100_000

    response = server.client.post(
        "/plans", content=parts(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 413
    assert sorted(server.data.joinpath("jobs").iterdir()) == jobs_before  # a refused request leaves nothing


def test_events_give_a_new_job_with_the_changes_apply_events_gives(server, solved, local_plan):
    parent = solved["job"]["id"]
    busy = local_plan.members.sort_values("households", ascending=False)["member_id"].iloc[0]
    events = [{"type": "member_unavailable", "member_id": str(busy)}]
    response = server.client.post(f"/plans/{parent}/events", json=events)
    assert response.status_code == 202, response.text
    child = response.json()
    assert child["kind"] == "events" and child["parent"] == parent and child["id"] != parent
    assert child["links"]["parent"] == f"/plans/{parent}"
    assert server.wait(child["id"])["status"] == "completed"
    expected = ba.apply_events(local_plan, events)
    served = server.plan(child["id"])["plan"]
    same_plan(served, expected)
    assert any(row["changed"] for row in served["assignments"])


def test_bad_events_are_422_and_unknown_ids_fail_the_job(server, solved):
    parent = solved["job"]["id"]
    response = server.client.post(f"/plans/{parent}/events", json=[{"type": "member_gone"}])
    assert response.status_code == 422
    assert response.json()["errors"][0]["file"] == "events"
    response = server.client.post(f"/plans/{parent}/events", json=[{"type": "member_removed", "member_id": "nobody"}])
    job = server.wait(response.json()["id"])
    assert job["status"] == "failed"
    assert job["errors"][0]["column"] == "member_id" and "unknown member id" in job["errors"][0]["message"]


def test_recommendations_are_those_of_recommend(server, solved, local_plan, records):
    household = {**records["households"][0], "household_id": "NEW-1"}
    response = server.client.post(
        f"/plans/{solved['job']['id']}/recommendations", json={"household": household, "k": 3}
    )
    assert response.status_code == 200, response.text
    assert response.json()["recommendations"] == table_records(ba.recommend(local_plan, household, 3))
    bad = {**household, "lat": "north"}
    response = server.client.post(f"/plans/{solved['job']['id']}/recommendations", json={"household": bad})
    assert response.status_code == 422
    assert response.json()["errors"][0]["column"] == "lat"


def test_files_of_the_plan_folder_and_nothing_else(server, solved, local_plan, tmp_path):
    job_id = solved["job"]["id"]
    local_plan.write(tmp_path / "plan", parquet=True)
    for name in ("assignments.csv", "members.csv"):
        response = server.client.get(f"/plans/{job_id}/files/{name}")
        assert response.status_code == 200
        assert response.content == (tmp_path / "plan" / name).read_bytes()
    for name in ("assignments.parquet", "members.parquet"):  # asked for with the option "parquet"
        response = server.client.get(f"/plans/{job_id}/files/{name}")
        assert response.status_code == 200
        served = pd.read_parquet(io.BytesIO(response.content))
        pd.testing.assert_frame_equal(served, pd.read_parquet(tmp_path / "plan" / name))
    report = server.client.get(f"/plans/{job_id}/files/report.json").json()
    assert report["plan_id"] == local_plan.plan_id
    roster = server.client.get(f"/plans/{job_id}/files/roster.xlsx")
    assert roster.status_code == 200 and roster.content[:2] == b"PK"
    for name in ("map.html", "..%2Fjobs.sqlite3", "..%2F..%2Fjobs.sqlite3", "%2E%2E", "plan.json"):
        assert server.client.get(f"/plans/{job_id}/files/{name}").status_code == 404, name
    assert server.client.get("/plans/0123456789abcdef0123456789abcdef/files/members.csv").status_code == 404
    assert server.client.get("/plans/../jobs.sqlite3").status_code == 404


def test_unknown_plan_is_404(server):
    assert server.client.get("/plans/nope").status_code == 404
    assert server.client.delete("/plans/0123456789abcdef0123456789abcdef").status_code == 404


def test_cancel_a_long_solve_returns_its_best_plan(server):
    town = ba.synth.make_town(1, households=1500, branches=2)
    body = {
        "members": table_records(town.members),
        "households": table_records(town.households),
        "options": {"strategy": "cpsat", "time_limit": 120},
    }
    long_job = server.client.post("/plans", json=body).json()["id"]
    waiting = server.client.post("/plans", json=body).json()["id"]  # one worker: this one waits its turn
    solving = server.wait(long_job, until=("solving",))
    while (solving["progress"] or {}).get("phase") != "solving":
        time.sleep(0.05)
        solving = server.client.get(f"/plans/{long_job}", params={"plan": "false"}).json()
    assert server.client.delete(f"/plans/{waiting}").json()["status"] == "cancelled"
    response = server.client.delete(f"/plans/{long_job}")
    assert response.status_code == 202 and response.json()["cancel_requested"]
    job = server.wait(long_job)
    assert job["status"] == "cancelled" and "best found" in job["message"]
    plan = server.plan(long_job)["plan"]
    assert "cancelled" in [w["code"] for w in plan["report"]["warnings"]]
    assert len([r for r in plan["assignments"] if r["role"] != "backup"]) == 1500
    never = server.client.get(f"/plans/{waiting}").json()
    assert never["status"] == "cancelled" and never["started"] is None and "plan" not in never
