"""A service killed while solving, started again on the same data folder: nothing finished is lost."""

from __future__ import annotations

import os
import signal
import time

import pytest

import baohu_assign as ba
from baohu_assign.results.plain import table_records


def test_restart_keeps_completed_plans_and_reports_the_solving_job_interrupted(tmp_path, start_server):
    quick = ba.synth.make_town(0, households=200, branches=2)
    slow = ba.synth.make_town(1, households=1500, branches=2)
    quick_body = {"members": table_records(quick.members), "households": table_records(quick.households)}
    slow_body = {
        "members": table_records(slow.members),
        "households": table_records(slow.households),
        "options": {"strategy": "cpsat", "time_limit": 120},
    }
    first = start_server(tmp_path)
    done = first.client.post("/plans", json=quick_body).json()["id"]
    assert first.wait(done)["status"] == "completed"
    plan = first.plan(done)["plan"]
    assignments = first.client.get(f"/plans/{done}/files/assignments.csv").content
    running = first.client.post("/plans", json=slow_body).json()["id"]
    queued = first.client.post("/plans", json=quick_body).json()["id"]  # one worker: waits behind the slow one
    first.wait(running, until=("solving",))
    assert first.wait(queued, until=("scheduled",))["status"] == "scheduled"
    workers = first.children()
    assert first.workers()
    first.kill()
    # Workers left behind by a killed service end themselves.
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived the killed service"
        time.sleep(0.1)

    second = start_server(tmp_path)
    again = second.plan(done)
    assert again["status"] == "completed" and again["plan"] == plan
    assert second.client.get(f"/plans/{done}/files/assignments.csv").content == assignments
    interrupted = second.client.get(f"/plans/{running}").json()
    assert interrupted["status"] == "interrupted"
    assert "stopped while this job was solving" in interrupted["message"]
    assert "plan" not in interrupted
    # The job still waiting when the service died is queued again: nothing of it had run.
    assert second.wait(queued)["status"] == "completed"
    requeued = second.plan(queued)["plan"]
    assert requeued["assignments"] == plan["assignments"] and requeued["members"] == plan["members"]
    # A plan kept across the restart still takes events and recommendations (rebuilt in a worker).
    household = {**quick_body["households"][0], "household_id": "NEW-1"}
    rows = second.client.post(f"/plans/{done}/recommendations", json={"household": household}).json()
    local = ba.solve(ba.Scenario.from_records(quick_body["members"], quick_body["households"]))
    assert rows["recommendations"] == table_records(ba.recommend(local, household, 5))


def test_a_service_shut_down_while_solving_reports_the_job_interrupted(tmp_path, start_server):
    slow = ba.synth.make_town(1, households=1500, branches=2)
    body = {
        "members": table_records(slow.members),
        "households": table_records(slow.households),
        "options": {"strategy": "cpsat", "time_limit": 120},
    }
    first = start_server(tmp_path)
    running = first.client.post("/plans", json=body).json()["id"]
    queued = first.client.post("/plans", json=body).json()["id"]
    first.wait(running, until=("solving",))
    first.stop()  # SIGTERM: uvicorn's graceful shutdown
    assert "Application shutdown complete" in first.log()

    second = start_server(tmp_path)
    job = second.client.get(f"/plans/{running}").json()
    assert job["status"] == "interrupted" and "stopped while this job was solving" in job["message"]
    assert second.client.get(f"/plans/{queued}", params={"plan": "false"}).json()["status"] in ("scheduled", "solving")
    # The job that was waiting is queued again on the start, so it can be cancelled as any other.
    second.client.delete(f"/plans/{queued}")
    assert second.wait(queued)["status"] == "cancelled"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_second_service_on_the_same_data_folder_refuses_to_start(tmp_path, start_server):
    first = start_server(tmp_path)
    with pytest.raises(RuntimeError, match="another service is using the data folder"):
        start_server(tmp_path / "second", data=first.data)
    assert first.client.get("/health").status_code == 200


def test_a_worker_that_dies_fails_its_job_and_the_next_job_still_runs(tmp_path, start_server):
    slow = ba.synth.make_town(1, households=1500, branches=2)
    quick = ba.synth.make_town(0, households=200, branches=2)
    slow_body = {
        "members": table_records(slow.members),
        "households": table_records(slow.households),
        "options": {"strategy": "cpsat", "time_limit": 120},
    }
    quick_body = {"members": table_records(quick.members), "households": table_records(quick.households)}
    server = start_server(tmp_path)
    running = server.client.post("/plans", json=slow_body).json()["id"]
    queued = server.client.post("/plans", json=quick_body).json()["id"]
    server.wait(running, until=("solving",))
    (worker,) = server.workers()
    os.kill(worker, signal.SIGKILL)
    job = server.wait(running)
    assert job["status"] == "failed" and "died" in job["message"]
    assert server.wait(queued)["status"] == "completed"
    assert server.workers() and worker not in server.workers()
