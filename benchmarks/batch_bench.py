"""A batch of towns on each executor: wall time, identical plans, and the rerun that reuses everything.

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/batch_bench.py                       # 8 towns of 2,000 households
    PYTHONPATH=src .venv/bin/python benchmarks/batch_bench.py --towns 4 --households 1000 --workers 2

The towns are ``synth.make_town(seed, households=H)`` for seeds 0 … N-1, written
as CSV into one folder each. Timed, one after the other: every town solved on
its own by ``baohu-assign solve`` (in this process, one after the other); the
batch on the local process pool; on a Dask LocalCluster (``--executor dask``);
on a ``dask scheduler`` and ``dask worker`` started here as separate processes
(``--scheduler``); and the local batch run again, which reuses every town.
Times include starting the pool or cluster (not the scheduler and worker
processes, started before). Prints a Markdown table, whether every
assignments.csv is byte-identical to the town solved on its own, and the
machine load (``os.getloadavg``) before and after.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import baohu_assign as ba
from baohu_assign.cli import main

SRC = Path(ba.__file__).resolve().parents[1]


def _plans(out: Path, names: list[str]) -> dict[str, bytes]:
    return {name: (out / name / "assignments.csv").read_bytes() for name in names}


def _cluster(workers: int) -> tuple[str, list[subprocess.Popen]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    }
    scheduler = ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = ["distributed.cli.dask_worker", address, "--nworkers", str(workers), "--nthreads", "1", "--no-dashboard"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", *arguments],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the worker's nanny and worker processes share its group, ended with it
        )
        for arguments in (scheduler, worker)
    ]
    from dask.distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, processes


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--towns", type=int, default=8)
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # as the command line: no INFO lines
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        names = [f"town{seed:02d}" for seed in range(args.towns)]
        for seed, name in enumerate(names):
            ba.synth.make_town(seed, households=args.households).write_csv(root / "towns" / name)
        rows: list[tuple[str, float, str]] = []

        started = time.perf_counter()
        for name in names:
            folder = root / "towns" / name
            files = [str(folder / "members.csv"), str(folder / "households.csv")]
            code = main(["solve", *files, "--out", str(root / "alone" / name), "--quiet"])
            assert code == 0
        rows.append(("each town alone, `solve` one after the other", time.perf_counter() - started, "reference"))
        alone = _plans(root / "alone", names)

        def run(label: str, out: str, **kwargs) -> ba.BatchResult:
            started = time.perf_counter()
            result = ba.solve_many(root / "towns", root / out, **kwargs)
            wall = time.perf_counter() - started
            assert result.exit_code == 0, result.towns
            same = _plans(root / out, names) == alone
            rows.append((label, wall, "identical" if same else "DIFFERENT"))
            return result

        local = run(f"batch, local pool of {args.workers}", "local", workers=args.workers)
        rerun = run("batch rerun, local (every town reused)", "local", workers=args.workers)
        assert all(record["reused"] for record in rerun.towns.values())
        run(f"batch, Dask LocalCluster of {args.workers}", "dask", executor="dask", workers=args.workers)
        address, processes = _cluster(args.workers)
        try:
            run(f"batch, dask scheduler + worker ({args.workers} processes)", "scheduler", scheduler=address)
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    load_after = os.getloadavg()
    solve_s = sorted(record["time_s"] for record in local.towns.values())
    print(f"{args.towns} towns of {args.households:,} households; {args.workers} workers; ")
    print(
        f"per town in the local batch {solve_s[0]:.1f}–{solve_s[-1]:.1f} s (read, solve, write), "
        f"{sum(solve_s):.1f} s in all\n"
    )
    print("| run | wall s | assignments.csv vs alone |")
    print("|---|---|---|")
    for label, wall, same in rows:
        print(f"| {label} | {wall:.2f} | {same} |")
    print(f"\nload average before {load_before[0]:.1f}, after {load_after[0]:.1f}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main_bench()
