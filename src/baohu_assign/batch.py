"""Batches of towns: one plan folder per town, solved on a local process pool or a Dask cluster.

``TOWNS`` holds one sub-folder per town with its input files, named as
:meth:`TownFiles.from_folder <baohu_assign.runner.TownFiles.from_folder>`
says. Every town is solved with the same options by the same path as
``baohu-assign solve`` (:func:`baohu_assign.runner.run_plan`), in a worker
process: a task carries only paths, options and numbers, and the worker
reads, solves and writes the town's plan folder itself (OR-Tools objects do
not travel between processes). CP-SAT gets one thread per task, the workers
are the parallelism. The driver writes ``batch.json`` beside the plan
folders: per town its status, counts, time and error messages.

Faults stay in their town: bad input is that town's ``input_error``; an
exception in its solve is its ``failed``; a worker process that dies (killed,
out of memory) takes its tasks with it, and each of them is tried once more
on its own (a fresh process of its own on the local pool), then reported
``failed``. A rerun reuses every town whose input files and options are
unchanged since its plan folder was written (``digest`` in batch.json), so
an interrupted batch goes on where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import InputError, Issue
from .io.atomic import atomic_write_text
from .io.policy import Policy
from .runner import RunOptions, TownFiles, run_plan, town_policy

__all__ = ["BATCH_FILE", "BatchResult", "run_batch", "solve_many"]

logger = logging.getLogger(__name__)

BATCH_FILE = "batch.json"
"""The batch record written into the output folder, beside the plan folders."""
BATCH_FORMAT = 1
"""Version of batch.json's layout."""
EXECUTORS = ("local", "dask")
INSTALL_DASK = "pip install 'baohu-assign[distributed]'"
TINY_TOWN_BYTES = 64 * 1024
"""A town whose input files hold fewer bytes than this (about 400 households) is tiny: it solves in
a fraction of a second, about what handing a task to a worker costs, so tiny towns share a task."""
BUNDLE_BYTES = 256 * 1024
"""The most input bytes one task of tiny towns holds (consecutive tiny towns by name)."""
DASK_SETTINGS = {"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}
"""Scheduler settings of the LocalCluster made here, advised for a cluster of one's own (see the user guide)."""
STATUSES = ("ok", "input_error", "failed")
"""A town's status in batch.json."""
_SAVE_EVERY_S = 1.0  # batch.json is rewritten at most this often while towns finish, and at the end


@dataclass(frozen=True, slots=True)
class TownTask:
    """One town as a worker receives it: plain data only."""

    name: str
    folder: str
    out: str
    options: RunOptions
    digest: str
    size: int
    attempt: int = 1


@dataclass(frozen=True, slots=True, eq=False)
class BatchResult:
    """What :func:`solve_many` did.

    Attributes
    ----------
    path
        The batch.json written.
    towns
        Per town (by folder name, sorted) its record as in batch.json:
        ``status`` (``ok``, ``input_error``, ``failed``), ``covered``,
        ``uncovered``, ``time_s``, ``plan_id``, ``digest``, ``attempts``,
        ``reused`` and ``errors`` (dicts with ``file``, ``row``,
        ``column``, ``message``, ``value``).
    wall_s
        Seconds the whole batch took.
    """

    path: Path
    towns: dict[str, dict[str, Any]]
    wall_s: float

    @property
    def counts(self) -> dict[str, int]:
        """Towns per status, and ``reused``: those whose plan folder was kept from an earlier run."""
        counts = {status: sum(r["status"] == status for r in self.towns.values()) for status in STATUSES}
        counts["reused"] = sum(bool(r.get("reused")) for r in self.towns.values())
        return counts

    @property
    def exit_code(self) -> int:
        """The command line's exit code: 1 when a town failed, else 2 when one had bad input, else 0."""
        counts = self.counts
        return 1 if counts["failed"] else 2 if counts["input_error"] else 0


def solve_many(
    towns: str | Path,
    out: str | Path,
    *,
    objective: str = "balanced",
    strategy: str = "auto",
    time_limit: float | None = None,
    seed: int = 0,
    policy: Policy | str | Path | None = None,
    backup: str | None = None,
    xlsx: bool = False,
    map: bool = False,
    tile_url: str | None = None,
    visits: bool = False,
    leaders: bool = False,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BatchResult:
    """Solve every town of a folder and write one plan folder per town, and ``batch.json``.

    Parameters
    ----------
    towns
        A folder with one sub-folder per town (folders starting with ``.``
        are skipped), each holding ``members`` and ``households`` (``.csv``
        or ``.xlsx``) and optionally ``policy.toml``, ``locations``
        (``.csv``/``.xlsx``) and ``network`` (``.graphml``/``.csv``).
    out
        Output folder: ``OUT/<town>/`` per town (written whole or not at
        all, as :meth:`Plan.write <baohu_assign.Plan.write>`) and ``OUT/batch.json``.
        Neither ``towns`` nor inside it. With a Dask cluster, ``towns`` and
        ``out`` must be reachable under the same path on every worker.
    objective, strategy, time_limit, seed
        As for :func:`~baohu_assign.solve`, for every town (``time_limit``
        per town).
    policy
        A :class:`~baohu_assign.Policy` or a ``policy.toml`` for every town
        that has no ``policy.toml`` of its own.
    backup, xlsx, map, tile_url, visits, leaders
        As the command line's ``--backup``, ``--xlsx``, ``--map``,
        ``--tile-url``, ``--visits``, ``--leaders`` (which needs the town's ``locations`` file).
    executor
        ``"local"`` (default): a process pool on this machine;
        ``"dask"``: a Dask ``LocalCluster`` of ``workers`` processes (or the
        cluster at ``scheduler``); or any :class:`concurrent.futures.Executor`,
        e.g. ``client.get_executor()`` of a Dask client, which is used as it
        is and not shut down.
    workers
        Processes of the local pool or LocalCluster; default: the machine's CPU count.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); implies ``executor="dask"``.
    progress
        Called as ``progress("towns", done, total)`` as towns finish.

    Returns
    -------
    BatchResult
        The records of batch.json; :attr:`BatchResult.exit_code` sums it up.

    Raises
    ------
    InputError
        ``towns`` is not a folder of town folders, ``out`` lies in it, or
        the shared policy file is bad (a town's own bad input is only that
        town's ``input_error``).
    ModuleNotFoundError
        ``executor="dask"`` without Dask distributed installed
        (``pip install 'baohu-assign[distributed]'``).

    Notes
    -----
    A town reuses its plan folder from an earlier run (``reused``: true) when
    batch.json recorded it ``ok`` with the same ``digest`` (SHA-256 of the
    town folder's files and the options) and the folder still holds that
    plan. A town's plan does not depend on the executor: the same input,
    options and seed give the same assignments.csv as ``baohu-assign solve``.
    """
    if isinstance(policy, str):
        policy = Path(policy)
    options = RunOptions(
        objective=objective,
        strategy=strategy,
        time_limit=time_limit,
        seed=seed,
        policy=policy,
        backup=backup,
        xlsx=xlsx,
        map=map,
        tile_url=tile_url,
        visits=visits,
        leaders=leaders,
    )
    return run_batch(towns, out, options, executor=executor, workers=workers, scheduler=scheduler, progress=progress)


def run_batch(
    towns: str | Path,
    out: str | Path,
    options: RunOptions,
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BatchResult:
    """:func:`solve_many` with the options as one :class:`~baohu_assign.runner.RunOptions` (the command line's way)."""
    started = time.perf_counter()
    _check_executor(executor, workers, scheduler)
    towns_dir, out_dir = _check_folders(Path(towns), Path(out))
    options = _checked_options(options)
    folders = _town_folders(towns_dir)
    previous = _previous_records(out_dir / BATCH_FILE)
    records: dict[str, dict[str, Any]] = {}
    tasks: list[TownTask] = []
    for folder in folders:
        digest, size = _digest(folder, options)
        old = previous.get(folder.name)
        if old is not None and _still_valid(old, digest, out_dir / folder.name):
            records[folder.name] = {**old, "reused": True}
        else:
            tasks.append(TownTask(folder.name, str(folder), str(out_dir / folder.name), options, digest, size))
    name = executor if isinstance(executor, str) else type(executor).__name__
    if scheduler is not None:
        name = scheduler
    header = {
        "format": BATCH_FORMAT,
        "baohu_assign": __version__,
        "towns_folder": str(towns_dir),
        "executor": name,
        "options": options.fingerprint(),
    }
    saver = _Saver(out_dir / BATCH_FILE, header, records, started)
    total = len(folders)
    if progress is not None:
        progress("towns", len(records), total)

    def finished(task: TownTask, record: dict[str, Any]) -> None:
        records[task.name] = {
            "status": record["status"],
            "covered": record.get("covered"),
            "uncovered": record.get("uncovered"),
            "time_s": record.get("time_s"),
            "plan_id": record.get("plan_id"),
            "digest": task.digest,
            "attempts": task.attempt,
            "reused": False,
            "errors": record.get("errors", []),
        }
        saver.save()
        if progress is not None:
            progress("towns", len(records), total)

    complete = False
    try:
        if tasks:
            with _executor(executor, workers, scheduler) as (pool, slots, isolate):
                _drive(_bundles(tasks), pool, slots, isolate, finished)
        complete = True
    finally:
        # Also when interrupted: the towns finished so far are on record, and a rerun reuses them.
        saver.save(final=True, complete=complete)
    return BatchResult(path=saver.path, towns=dict(sorted(records.items())), wall_s=time.perf_counter() - started)


# -- the worker's side -------------------------------------------------------------------


def run_bundle(tasks: tuple[TownTask, ...]) -> list[dict[str, Any]]:
    """Solve the towns of one task, one after the other, in this process: one record per town."""
    return [solve_town(task) for task in tasks]


def solve_town(task: TownTask) -> dict[str, Any]:
    """Read, solve and write one town; its outcome as a batch.json record (never raises on the town's account)."""
    started = time.perf_counter()
    try:
        files = TownFiles.from_folder(task.folder)
        policy = town_policy(task.options, files.policy)
        outcome = run_plan(files, Path(task.out), task.options, policy=policy)
    except InputError as exc:
        errors = [asdict(issue) for issue in exc.issues]
        return {"status": "input_error", "time_s": _elapsed(started), "errors": errors}
    except Exception as exc:  # a fault of this town's solve: the others go on
        logger.debug("town %s failed", task.name, exc_info=True)
        message = f"internal error: {type(exc).__name__}: {exc}"
        return {"status": "failed", "time_s": _elapsed(started), "errors": [_issue(task.folder, message)]}
    counts = outcome.plan.report.counts
    return {
        "status": "ok",
        "covered": counts.covered,
        "uncovered": counts.uncovered,
        "time_s": _elapsed(started),
        "plan_id": outcome.plan.plan_id,
    }


def _elapsed(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _issue(file: str, message: str) -> dict[str, Any]:
    return asdict(Issue(file, None, None, message))


# -- the driver's side -------------------------------------------------------------------


def _check_folders(towns: Path, out: Path) -> tuple[Path, Path]:
    if not towns.is_dir():
        raise InputError(Issue(str(towns), None, None, "not a folder (TOWNS is a folder with one folder per town)"))
    towns_dir, out_dir = towns.resolve(), Path(os.path.abspath(out)).resolve()
    if out_dir == towns_dir or towns_dir in out_dir.parents:
        raise InputError(
            Issue(str(out), None, None, f"lies in the towns folder {towns}: choose an output folder outside it")
        )
    return towns_dir, out_dir


def _checked_options(options: RunOptions) -> RunOptions:
    """The options checked once here (bad ones are the whole batch's error), with paths made absolute."""
    from .engines import STRATEGIES
    from .model.problem import OBJECTIVES
    from .solving.params import check_seed, check_time_limit

    if options.objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {options.objective!r}")
    if options.strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {options.strategy!r}")
    check_time_limit(options.time_limit)
    check_seed(options.seed)
    town_policy(options)  # a bad shared policy file or --backup stops the batch before any town
    policy = options.policy
    if isinstance(policy, Path):
        policy = Path(os.path.abspath(policy))
    # One CP-SAT thread per task: the workers are the parallelism (without a time limit the plan is the same).
    return replace(options, policy=policy, num_workers=1)


def _town_folders(towns: Path) -> list[Path]:
    folders = sorted(p for p in towns.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise InputError(Issue(str(towns), None, None, "holds no town folder (one sub-folder per town)"))
    return folders


def _digest(folder: Path, options: RunOptions) -> tuple[str, int]:
    """SHA-256 of the town folder's files (names and bytes), the options and the package version; and the bytes."""
    digest = hashlib.sha256()
    head = {"format": BATCH_FORMAT, "version": __version__, "options": options.fingerprint(paths=False)}
    digest.update(json.dumps(head, sort_keys=True, default=str).encode("utf-8"))
    size = 0
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        size += len(data)
        for part in (path.name.encode("utf-8"), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest(), size


def _previous_records(path: Path) -> dict[str, dict[str, Any]]:
    """The towns of an earlier batch.json; none when absent or unreadable (then every town is solved)."""
    try:
        towns = json.loads(path.read_text(encoding="utf-8")).get("towns", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {name: record for name, record in towns.items() if isinstance(record, dict)}


def _still_valid(record: dict[str, Any], digest: str, plan_folder: Path) -> bool:
    """Whether a town's earlier record can stand: ok, same digest, and its plan folder still holds that plan."""
    if record.get("status") != "ok" or record.get("digest") != digest:
        return False
    try:
        report = json.loads((plan_folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and report.get("plan_id") == record.get("plan_id") is not None


class _Saver:
    """Writes batch.json atomically as towns finish (at most every second) and at the end."""

    def __init__(self, path: Path, header: dict[str, Any], records: dict[str, dict[str, Any]], started: float):
        self.path, self.header, self.records, self.started = path, header, records, started
        self.last = float("-inf")

    def save(self, *, final: bool = False, complete: bool = False) -> None:
        """Write batch.json now if ``final``, else unless it was written less than a second ago."""
        now = time.perf_counter()
        if not final and now - self.last < _SAVE_EVERY_S:
            return
        self.last = now
        towns = dict(sorted(self.records.items()))
        counts = {status: sum(r["status"] == status for r in towns.values()) for status in STATUSES}
        counts["reused"] = sum(bool(r.get("reused")) for r in towns.values())
        document = {
            **self.header,
            "complete": complete,
            "wall_s": round(now - self.started, 3),
            "counts": counts,
            "towns": towns,
        }
        atomic_write_text(self.path, json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def _bundles(tasks: list[TownTask]) -> list[tuple[TownTask, ...]]:
    """Tasks for the workers: a town alone, or consecutive tiny towns together; the largest first."""
    bundles: list[tuple[TownTask, ...]] = []
    tiny: list[TownTask] = []
    for task in tasks:
        if task.size >= TINY_TOWN_BYTES:
            bundles.append((task,))
            continue
        if tiny and sum(t.size for t in tiny) + task.size > BUNDLE_BYTES:
            bundles.append(tuple(tiny))
            tiny = []
        tiny.append(task)
    if tiny:
        bundles.append(tuple(tiny))
    # Longest first keeps the last worker from starting the biggest town when the others are done.
    return sorted(bundles, key=lambda bundle: -sum(t.size for t in bundle))


def new_local_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of ``workers`` fresh processes.

    They start from a fork server that has imported the package (where the
    system has one; otherwise each is spawned): no thread of this process
    is inherited, and a new process costs no second import.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _check_executor(executor: str | Executor, workers: int | None, scheduler: str | None) -> None:
    """Before anything is read or written: the executor is known, and Dask there when it is needed."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if isinstance(executor, Executor):
        return
    if scheduler is None and executor not in EXECUTORS:
        raise ValueError(
            f"executor must be one of {list(EXECUTORS)} or a concurrent.futures.Executor, got {executor!r}"
        )
    if scheduler is not None or executor == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ModuleNotFoundError(
                f"--executor dask needs Dask distributed: {INSTALL_DASK}", name="distributed"
            ) from None


@contextmanager
def _executor(
    executor: str | Executor, workers: int | None, scheduler: str | None
) -> Iterator[tuple[Executor, int, bool]]:
    """The executor, the tasks it runs at once, and whether a retry needs a process of its own."""
    count = workers or os.cpu_count() or 1
    if isinstance(executor, Executor):
        slots = getattr(executor, "_max_workers", None) or count
        yield executor, slots, isinstance(executor, ProcessPoolExecutor)
        return
    if executor == "local" and scheduler is None:
        pool = new_local_pool(count)
        try:
            yield pool, count, True
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    from dask.distributed import Client, LocalCluster

    with ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(Client(scheduler))
        else:
            import dask

            # One thread per worker process and no task waiting on a worker (saturation 1): a task has a
            # core to itself and a dead worker names its task. No failure allowed: a task whose worker
            # died comes back here at once, and _drive tries it once more.
            with dask.config.set(DASK_SETTINGS):
                cluster = stack.enter_context(
                    LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None)
                )
            client = stack.enter_context(Client(cluster))
        slots = sum(client.nthreads().values()) or count
        yield client.get_executor(pure=False), slots, False


def _drive(
    bundles: list[tuple[TownTask, ...]],
    executor: Executor,
    slots: int,
    isolate: bool,
    finished: Callable[[TownTask, dict[str, Any]], None],
) -> None:
    """Run the bundles, ``slots`` at a time; a task whose worker died is tried once more per town, then failed.

    A process pool fails every task it holds when one of its processes dies,
    so it is given no more tasks than it has processes (each task it holds is
    running), and with ``isolate`` a town tried again runs in a process of
    its own: a second death is then its own.
    """
    queue = deque(bundles)
    running: dict[Future[list[dict[str, Any]]], tuple[tuple[TownTask, ...], Executor]] = {}
    main = executor
    owned: list[Executor] = []  # pools made here in place of a broken one, shut down at the end
    try:
        while queue or running:
            while queue and len(running) < slots:
                bundle = queue.popleft()
                target = new_local_pool(1) if isolate and bundle[0].attempt > 1 else main
                try:
                    future = target.submit(run_bundle, bundle)
                except BrokenExecutor:
                    main = new_local_pool(slots)
                    owned.append(main)
                    target = main
                    future = target.submit(run_bundle, bundle)
                running[future] = (bundle, target)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                bundle, source = running.pop(future)
                if source is not main:
                    source.shutdown(wait=False)
                try:
                    results = future.result()
                except Exception as exc:  # the worker died (or the cluster lost the task): not the town's doing
                    if isinstance(exc, BrokenExecutor) and source is main:
                        main = new_local_pool(slots)
                        owned.append(main)
                    for task in bundle:
                        if task.attempt == 1:
                            queue.appendleft((replace(task, attempt=2),))
                        else:
                            message = f"the worker process solving this town died twice ({type(exc).__name__}: {exc})"
                            finished(task, {"status": "failed", "errors": [_issue(task.folder, message)]})
                    continue
                for task, record in zip(bundle, results, strict=True):
                    finished(task, record)
    finally:
        for pool in owned:
            pool.shutdown(wait=True, cancel_futures=True)
