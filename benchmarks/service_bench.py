"""How long does a plan take through the HTTP service? Submit → completed on the demo town, and a cancel.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/service_bench.py                  # the 12,000-household demo town
    PYTHONPATH=src .venv/bin/python benchmarks/service_bench.py --households 3000 --runs 3

Starts ``baohu-assign serve`` (1 worker) on a free port of this machine with
a fresh data folder, submits the demo town (:func:`baohu_assign.datasets.synth.make_town`,
seed 0) as JSON records ``--runs`` times, and polls every 50 ms until each
job is completed: the median wall time from the POST to the poll that saw
``completed`` (and when the 202 came: the request is validated before it),
next to ``ba.solve`` on the same records in this process, and the GET of
the completed job with its plan.
Then one long solve (CP-SAT, 120 s time limit) is cancelled once it is
solving: the time from the DELETE to the poll that saw ``cancelled``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import baohu_assign as ba
from baohu_assign.results.plain import table_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=12_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    town = ba.synth.make_town(0, households=args.households)
    body = {"members": table_records(town.members), "households": table_records(town.households)}
    started = time.perf_counter()
    ba.solve(ba.Scenario.from_records(body["members"], body["households"]))
    in_process = time.perf_counter() - started

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "PYTHONPATH": str(Path(ba.__file__).resolve().parent.parent)}
        server = subprocess.Popen(
            [sys.executable, "-m", "baohu_assign", "serve", "--port", str(port), "--data", data],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
            _wait_up(client)
            walls, accepted, fetched = [], [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                job = client.post("/plans", json=body).json()["id"]
                accepted.append(time.perf_counter() - started)
                status = _wait(client, job, ("completed", "failed"))
                walls.append(time.perf_counter() - started)
                assert status == "completed", status
                started = time.perf_counter()
                client.get(f"/plans/{job}").json()
                fetched.append(time.perf_counter() - started)
            print(
                f"demo town {args.households:,} households: submit → completed median {statistics.median(walls):.2f} s "
                f"(runs {', '.join(f'{w:.2f}' for w in walls)}; the 202 after {statistics.median(accepted):.2f} s); "
                f"ba.solve in process {in_process:.2f} s; GET of the plan {statistics.median(fetched):.2f} s"
            )
            long_body = {**body, "options": {"strategy": "cpsat", "time_limit": 120}}
            job = client.post("/plans", json=long_body).json()["id"]
            while (client.get(f"/plans/{job}", params={"plan": "false"}).json()["progress"] or {}).get(
                "phase"
            ) != "solving":
                time.sleep(0.05)
            time.sleep(1.0)
            started = time.perf_counter()
            client.delete(f"/plans/{job}")
            status = _wait(client, job, ("cancelled", "completed", "failed"))
            print(
                f"cancel of a CP-SAT solve (120 s limit): {status} {time.perf_counter() - started:.2f} s after DELETE"
            )
        finally:
            server.terminate()
            server.wait(30)


def _wait_up(client: httpx.Client) -> None:
    for _ in range(600):
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _wait(client: httpx.Client, job: str, final: tuple[str, ...]) -> str:
    while True:
        status = str(client.get(f"/plans/{job}", params={"plan": "false"}).json()["status"])
        if status in final:
            return status
        time.sleep(0.05)


if __name__ == "__main__":
    main()
