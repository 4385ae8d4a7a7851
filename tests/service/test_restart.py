"""A service killed while solving, started again on the same data folder: nothing finished is lost."""

from __future__ import annotations

import time

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
    first.wait(running, until=("solving",))
    workers = first.workers()
    assert workers
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
    # A plan kept across the restart still takes events and recommendations (rebuilt in a worker).
    household = {**quick_body["households"][0], "household_id": "NEW-1"}
    rows = second.client.post(f"/plans/{done}/recommendations", json={"household": household}).json()
    local = ba.solve(ba.Scenario.from_records(quick_body["members"], quick_body["households"]))
    assert rows["recommendations"] == table_records(ba.recommend(local, household, 5))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
