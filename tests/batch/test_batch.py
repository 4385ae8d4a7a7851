"""Batches of towns: same plans on every executor, faults kept to their town, reruns reuse what is unchanged."""

from __future__ import annotations

import io
import itertools
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import baohu_assign as ba
import baohu_assign.batch as batch
from baohu_assign.cli import main
from baohu_assign.runner import RunOptions

HERE = Path(__file__).resolve().parent
SRC = Path(ba.__file__).resolve().parents[1]
TOWNS = {"ash": (1, 150), "birch": (2, 520), "cedar": (3, 150)}
"""Town name: (seed, households). birch is above the tiny-town size, so it is a task of its own; cedar's
members have hour budgets, so CP-SAT solves its branches (with one thread in a batch, two alone)."""


def _write_towns(folder: Path, towns: dict[str, tuple[int, int]]) -> Path:
    for name, (seed, households) in towns.items():
        town = ba.synth.make_town(seed, households=households, branches=2)
        (ba.synth.with_hours(town) if name == "cedar" else town).write_csv(folder / name)
    return folder


@pytest.fixture(scope="module")
def towns(tmp_path_factory) -> Path:
    return _write_towns(tmp_path_factory.mktemp("towns"), TOWNS)


@pytest.fixture(scope="module")
def alone(towns, tmp_path_factory) -> dict[str, bytes]:
    """Each town solved on its own by ``baohu-assign solve``: its assignments.csv."""
    out = tmp_path_factory.mktemp("alone")
    plans = {}
    for name in TOWNS:
        folder = towns / name
        args = ["solve", str(folder / "members.csv"), str(folder / "households.csv"), "--out", str(out / name)]
        assert main([*args, "--quiet"]) == 0
        plans[name] = (out / name / "assignments.csv").read_bytes()
    return plans


@pytest.fixture(scope="module")
def local_batch(towns, tmp_path_factory) -> tuple[Path, ba.BatchResult]:
    out = tmp_path_factory.mktemp("local") / "out"
    return out, ba.solve_many(towns, out, workers=2)


def _plans(out: Path) -> dict[str, bytes]:
    return {name: (out / name / "assignments.csv").read_bytes() for name in TOWNS}


def _record(out: Path) -> dict:
    return json.loads((out / batch.BATCH_FILE).read_text(encoding="utf-8"))


def test_a_batch_on_the_local_pool_writes_each_town_as_solve_alone_does(local_batch, alone):
    out, result = local_batch
    assert _plans(out) == alone
    cedar = json.loads((out / "cedar" / "report.json").read_text(encoding="utf-8"))
    assert {branch["engine"] for branch in cedar["branches"]} == {"cpsat"}
    assert result.exit_code == 0
    written = _record(out)
    assert written["complete"] and written["counts"] == {"ok": 3, "input_error": 0, "failed": 0, "reused": 0}
    for name, record in written["towns"].items():
        households = TOWNS[name][1]
        assert record["covered"] + record["uncovered"] == households
        assert record["plan_id"] == json.loads((out / name / "report.json").read_text(encoding="utf-8"))["plan_id"]
        assert record["attempts"] == 1 and not record["reused"] and record["errors"] == []


def test_a_dask_local_cluster_gives_the_same_plans(towns, alone, tmp_path):
    pytest.importorskip("dask.distributed")
    code = main(["batch", str(towns), "--out", str(tmp_path / "out"), "--executor", "dask", "--workers", "2"])
    assert code == 0
    assert _plans(tmp_path / "out") == alone
    assert _record(tmp_path / "out")["executor"] == "dask"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A ``dask scheduler`` and a ``dask worker`` (two processes, one thread each) started here, with the
    crash hook preloaded; set up as the user guide advises: the scheduler gives up on a task at its first
    dead worker (the batch retries it) and sends a worker no more tasks than it has threads."""
    pytest.importorskip("dask.distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE)]),
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    }
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    logs = tmp_path_factory.mktemp("dask")
    processes = [
        subprocess.Popen(
            [*dask, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "scheduler.log").open("wb"),
            start_new_session=True,
        )
    ]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2", "--nthreads", "1"]
    processes.append(
        subprocess.Popen(
            [*worker, "--no-dashboard", "--preload", str(HERE / "crash_hook.py")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "worker.log").open("wb"),
            start_new_session=True,  # its nanny and worker processes share its group, ended with it
        )
    )
    try:
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGKILL)  # nothing to save: the group of each process started here
            process.wait()


def test_scheduler_and_worker_processes_give_the_same_plans(towns, alone, scheduler, tmp_path):
    code = main(["batch", str(towns), "--out", str(tmp_path / "out"), "--scheduler", scheduler, "--quiet"])
    assert code == 0
    assert _plans(tmp_path / "out") == alone
    assert _record(tmp_path / "out")["executor"] == scheduler


def _towns_with_dying_ones(folder: Path, towns: Path) -> Path:
    for name in ("ash", "cedar"):
        shutil.copytree(towns / name, folder / name)
    shutil.copytree(towns / "ash", folder / "dies-always")
    # Named to come before dies-always in their shared task, so its first death is its own.
    shutil.copytree(towns / "cedar", folder / "cedar-dies-once")
    return folder


def _assert_dead_worker_outcome(out: Path, result: ba.BatchResult, alone: dict[str, bytes]) -> None:
    towns = result.towns
    assert result.exit_code == 1
    assert towns["dies-always"]["status"] == "failed" and towns["dies-always"]["attempts"] == 2
    assert "died twice" in towns["dies-always"]["errors"][0]["message"]
    assert not (out / "dies-always").exists(), "a town whose worker died leaves no plan folder"
    assert towns["cedar-dies-once"]["status"] == "ok" and towns["cedar-dies-once"]["attempts"] == 2
    assert (out / "cedar-dies-once" / "assignments.csv").read_bytes() == alone["cedar"]
    for name in ("ash", "cedar"):
        assert towns[name]["status"] == "ok"
        assert (out / name / "assignments.csv").read_bytes() == alone[name]


def test_a_dead_local_worker_is_retried_once_alone_then_reported(towns, alone, tmp_path, monkeypatch):
    from crash_hook import install

    def pool_with_crash_hook(workers: int) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=install)

    monkeypatch.setattr(batch, "new_local_pool", pool_with_crash_hook)
    folder = _towns_with_dying_ones(tmp_path / "towns", towns)
    out = tmp_path / "out"
    result = ba.solve_many(folder, out, workers=2)
    _assert_dead_worker_outcome(out, result, alone)


def test_a_dead_dask_worker_is_retried_once_then_reported(towns, alone, scheduler, tmp_path):
    folder = _towns_with_dying_ones(tmp_path / "towns", towns)
    out = tmp_path / "out"
    from dask.distributed import Client

    with Client(scheduler) as client:  # any concurrent.futures.Executor will do: here a Dask client's
        result = ba.solve_many(folder, out, executor=client.get_executor())
    _assert_dead_worker_outcome(out, result, alone)


def test_a_town_with_bad_input_is_reported_and_the_others_written(towns, alone, tmp_path, capsys):
    folder = tmp_path / "towns"
    shutil.copytree(towns / "ash", folder / "ash")
    shutil.copytree(towns / "cedar", folder / "broken")
    households = folder / "broken" / "households.csv"
    lines = households.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[3].rstrip("\n").split(",")
    row[header.index("lat")] = "north"
    lines[3] = ",".join(row) + "\n"
    households.write_text("".join(lines), encoding="utf-8")
    (folder / "empty").mkdir()

    code = main(["batch", str(folder), "--out", str(tmp_path / "out"), "--workers", "2"])
    assert code == 2
    towns_written = _record(tmp_path / "out")["towns"]
    assert towns_written["ash"]["status"] == "ok"
    assert (tmp_path / "out" / "ash" / "assignments.csv").read_bytes() == alone["ash"]
    broken = towns_written["broken"]
    assert broken["status"] == "input_error" and not (tmp_path / "out" / "broken").exists()
    assert {"file": "households.csv", "row": 4, "column": "lat"}.items() <= broken["errors"][0].items()
    assert towns_written["empty"]["status"] == "input_error"
    assert "no members.csv or members.xlsx" in towns_written["empty"]["errors"][0]["message"]
    err = capsys.readouterr().err
    assert "input_error (broken): households.csv, row 4, column 'lat'" in err


def test_a_rerun_reuses_the_towns_whose_files_and_options_are_unchanged(towns, tmp_path):
    folder = tmp_path / "towns"
    for name, source in (("alder", "ash"), ("ash", "ash"), ("cedar", "cedar")):  # small towns: short runs
        shutil.copytree(towns / source, folder / name)
    names = ("alder", "ash", "cedar")
    out = tmp_path / "out"
    # Which towns are solved does not depend on the executor: threads of this process keep the test short.
    with ThreadPoolExecutor(2) as threads:

        def run(**options) -> ba.BatchResult:
            return ba.solve_many(folder, out, executor=threads, **options)

        assert run().exit_code == 0
        stamps = {name: (out / name / "report.json").stat().st_mtime_ns for name in names}
        time.sleep(0.01)
        again = run()
        assert all(record["reused"] for record in again.towns.values())
        assert {name: (out / name / "report.json").stat().st_mtime_ns for name in names} == stamps

        # An interrupted batch: batch.json lacks a town, another town's plan folder is gone; a third changed.
        written = _record(out)
        del written["towns"]["ash"]
        (out / batch.BATCH_FILE).write_text(json.dumps(written), encoding="utf-8")
        shutil.rmtree(out / "alder")
        households = folder / "cedar" / "households.csv"
        households.write_text(households.read_text(encoding="utf-8").rstrip("\n").rsplit("\n", 1)[0] + "\n", "utf-8")
        resumed = run()
        assert not any(record["reused"] for record in resumed.towns.values())
        assert resumed.towns["cedar"]["covered"] + resumed.towns["cedar"]["uncovered"] == TOWNS["cedar"][1] - 1

        assert all(record["reused"] for record in run().towns.values())
        assert not any(record["reused"] for record in run(objective="distance").towns.values())


def test_without_dask_the_dask_executor_says_how_to_install_it(towns, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails as if not installed
    code = main(["batch", str(towns), "--out", str(tmp_path / "out"), "--executor", "dask"])
    assert code == 2
    assert "pip install 'baohu-assign[distributed]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing is written before the batch can run"


def test_the_output_folder_may_not_lie_in_the_towns_folder_and_workers_are_counted(towns, tmp_path, capsys):
    assert main(["batch", str(towns), "--out", str(towns / "plans")]) == 2
    assert "lies in the towns folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["batch", str(towns), "--out", str(tmp_path / "out"), "--workers", "0"])
    assert stop.value.code == 2
    assert "--workers: expected a whole number >= 1, got '0'" in capsys.readouterr().err


def _task(index: int, size: int) -> batch.TownTask:
    return batch.TownTask(f"t{index:03d}", "", "", RunOptions(), "", size)


@given(st.lists(st.integers(0, 3 * batch.TINY_TOWN_BYTES), max_size=40))
def test_tiny_towns_share_tasks_up_to_the_bundle_size_and_every_town_is_in_one_task(sizes):
    tasks = [_task(i, size) for i, size in enumerate(sizes)]
    bundles = batch._bundles(tasks)
    assert sorted(t.name for bundle in bundles for t in bundle) == [t.name for t in tasks]
    tiny = [t for t in tasks if t.size < batch.TINY_TOWN_BYTES]
    for bundle in bundles:
        if any(t.size >= batch.TINY_TOWN_BYTES for t in bundle):
            assert len(bundle) == 1
        else:
            assert sum(t.size for t in bundle) <= batch.BUNDLE_BYTES
            positions = [tiny.index(t) for t in bundle]
            assert positions == list(range(positions[0], positions[0] + len(bundle))), "consecutive by name"
    # Each bundle of tiny towns is full: the next tiny town would not have fitted.
    tiny_bundles = sorted(
        (b for b in bundles if all(t.size < batch.TINY_TOWN_BYTES for t in b)), key=lambda b: tiny.index(b[0])
    )
    for first, second in itertools.pairwise(tiny_bundles):
        assert sum(t.size for t in first) + second[0].size > batch.BUNDLE_BYTES


def test_an_interrupted_batch_records_the_towns_it_finished_and_a_rerun_goes_on_from_there(towns, tmp_path):
    folder = tmp_path / "towns"
    for name in ("alder", "ash", "cedar"):
        shutil.copytree(towns / "ash", folder / name)
    out = tmp_path / "out"

    def interrupt_at_the_second_town(phase: str, done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with ThreadPoolExecutor(1) as threads:
        with pytest.raises(KeyboardInterrupt):
            ba.solve_many(folder, out, executor=threads, progress=interrupt_at_the_second_town)
        written = _record(out)
        assert not written["complete"] and sorted(written["towns"]) == ["alder", "ash"]
        resumed = ba.solve_many(folder, out, executor=threads)
    assert {name: record["reused"] for name, record in resumed.towns.items()} == {
        "alder": True,
        "ash": True,
        "cedar": False,
    }
    assert _record(out)["complete"]


def test_the_progress_line_counts_towns():
    from baohu_assign.solving.progress import TerminalProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    TerminalProgress(stream)("towns", 3, 8)
    assert stream.getvalue().endswith("towns done 3/8")
