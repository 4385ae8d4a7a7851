"""What the service's worker processes run: solves, events, recommendations, each from a job folder.

The web process (:mod:`baohu_assign.service.app`) never solves nor loads a
plan: it writes a job's inputs into its folder and hands the job id to a
worker process, which runs one of the functions here and records the outcome
in the job store (:mod:`baohu_assign.service.store`). Nothing here imports
the web framework.

A job's inputs (``input/request.json`` and the uploaded tables) are read by
:func:`load_scenario` with the library's own readers and validator, so the
service reports bad input with the messages of the command line. A plan is
rebuilt in a worker from its job's inputs (:func:`plan_of`) and kept in a
small per-process cache, so events and recommendations on a recent plan do
not solve again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from ..engines import STRATEGIES
from ..errors import InputError, Issue
from ..io.atomic import atomic_write_text
from ..model.problem import OBJECTIVES
from ..solving.params import check_seed, check_time_limit
from .store import CANCELLED, COMPLETED, FAILED, SOLVING, JobStore

if TYPE_CHECKING:
    from ..model.scenario import Scenario
    from ..results.plan import Plan
    from ..runner import RunOptions

__all__ = ["PlanOptions", "issue_records", "load_scenario", "plan_of", "recommend_rows", "run_job", "worker_init"]

log = logging.getLogger(__name__)

REQUEST_FILE = "request.json"
"""The request as received (records, options, events), in a job's ``input/`` folder."""
PLAN_FOLDER = "plan"
"""A job's plan folder (:meth:`Plan.write <baohu_assign.Plan.write>`), in its job folder."""
PLAN_JSON = "plan.json"
""":meth:`Plan.to_dict <baohu_assign.Plan.to_dict>` of a job's plan, in its job folder."""
CANCEL_POLL_SECONDS = 0.2
"""How often a worker reads its job row for a cancel (a cancel set by another process)."""
PROGRESS_EVERY_SECONDS = 0.5
"""Least time between two progress writes of one phase."""
CACHED_PLANS = 4
"""Plans a worker process keeps in memory for events and recommendations."""


class PlanOptions(BaseModel):
    """The options of a solve through the service: those of ``baohu-assign solve`` that decide a plan folder.

    Validated in the web process (errors name ``options`` and the field);
    :meth:`run_options` turns them into the command line's
    :class:`~baohu_assign.runner.RunOptions`.
    """

    model_config = ConfigDict(extra="forbid")

    objective: str = "balanced"
    """``balanced``, ``distance`` or ``min-churn`` (as ``--objective``)."""
    strategy: str = "auto"
    """``auto``, ``flow``, ``cpsat`` or ``greedy`` (as ``--strategy``)."""
    time_limit: float | None = None
    """Seconds for the whole solve (as ``--time-limit``); ``null``: none, a reproducible plan."""
    seed: int = 0
    """Seed of every random choice (as ``--seed``)."""
    backup: str | None = None
    """Priorities that also get a backup member, comma-separated (as ``--backup``)."""
    xlsx: bool = False
    """Also write roster.xlsx (as ``--xlsx``)."""
    map: bool = False
    """Also write map.html (as ``--map``)."""
    tile_url: str | None = None
    """Base-map tile URL template of map.html (as ``--tile-url``; implies ``map``)."""
    visits: bool = False
    """Also plan the week's visits: visits.csv, member_days.csv (as ``--visits``)."""
    parquet: bool = False
    """Also write assignments.parquet and members.parquet into the plan folder (as ``--parquet``)."""

    @field_validator("objective", "strategy")
    @classmethod
    def _one_of(cls, value: str, info: ValidationInfo) -> str:
        choices = OBJECTIVES if info.field_name == "objective" else STRATEGIES
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    @field_validator("time_limit")
    @classmethod
    def _time_limit(cls, value: float | None) -> float | None:
        return check_time_limit(value)

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: int) -> int:
        return check_seed(value)

    @classmethod
    def parse(cls, raw: object) -> PlanOptions:
        """The options of a request (``None``: the defaults); InputError naming ``options`` and the field."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InputError(Issue("options", None, None, f"expected an object, got {type(raw).__name__}"))
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            issues = [
                Issue(
                    "options",
                    None,
                    ".".join(str(p) for p in err["loc"]) or None,
                    "unknown option" if err["type"] == "extra_forbidden" else _reason(err["msg"]),
                )
                for err in exc.errors(include_url=False)
            ]
            raise InputError(issues) from None

    def run_options(self, policy: Any = None) -> RunOptions:
        """The command line's options for the same solve."""
        from ..runner import RunOptions

        return RunOptions(**self.model_dump(), policy=policy)


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def issue_records(error: InputError, job_dir: Path | None = None) -> list[dict[str, Any]]:
    """The issues of an InputError as JSON objects: file, row, column, message, value, numbering, text.

    A file inside ``job_dir`` (an uploaded table) is named by its file name alone.
    """
    records = []
    for issue in error.issues:
        if job_dir is not None and issue.file.startswith(str(job_dir)):
            issue = dataclasses.replace(issue, file=Path(issue.file).name)
        records.append({**dataclasses.asdict(issue), "text": str(issue)})
    return records


# -- a job's inputs -----------------------------------------------------------------------


def read_request(job_dir: Path) -> dict[str, Any]:
    """``input/request.json`` of a job."""
    loaded: dict[str, Any] = json.loads((job_dir / "input" / REQUEST_FILE).read_text(encoding="utf-8"))
    return loaded


def load_scenario(job_dir: Path) -> tuple[Scenario, RunOptions]:
    """The validated scenario and the options of a solve job, from its ``input/`` folder.

    Records (``"source": "records"``) go through :meth:`Scenario.from_records
    <baohu_assign.Scenario.from_records>`, uploaded tables through
    :meth:`Scenario.from_csv <baohu_assign.Scenario.from_csv>`, the policy and
    ``backup`` through the command line's :func:`~baohu_assign.runner.town_policy`.

    Raises
    ------
    InputError
        Every problem of the inputs, as the command line reports them.
    """
    from ..io.policy import Policy
    from ..model.scenario import Scenario
    from ..runner import load_policy, town_policy

    request = read_request(job_dir)
    options = PlanOptions.parse(request.get("options"))
    if request["source"] == "records":
        raw_policy = request.get("policy")
        try:
            policy = town_policy(options.run_options(Policy.from_mapping(raw_policy or {})))
        except InputError:
            # Every problem at once: the policy's together with the records'.
            Scenario.from_records(request["members"], request["households"], raw_policy)
            raise
        scenario = Scenario.from_records(request["members"], request["households"], policy)
        return scenario, options.run_options(policy)
    folder = job_dir / "input"
    policy_file = folder / request["policy"] if request.get("policy") else None
    policy = town_policy(options.run_options(load_policy(policy_file)))
    scenario = Scenario.from_csv(folder / request["members"], folder / request["households"], policy=policy)
    return scenario, options.run_options(policy)


# -- worker processes ---------------------------------------------------------------------


def worker_init(parent_pid: int, log_level: int) -> None:
    """Start of a worker process: its log level, and an end when the service's process is gone.

    A service killed outright leaves its workers behind; each ends itself
    once its parent is no longer the service (its job is then ``interrupted``).
    """
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def warm_up() -> None:
    """Import what a solve needs, so that a worker's first job does not wait for it."""
    from .. import runner  # noqa: F401
    from ..results import events, planning, recommend  # noqa: F401


_plans: OrderedDict[str, Plan] = OrderedDict()
_plans_lock = threading.Lock()


def _remember(job_id: str, plan: Plan) -> None:
    with _plans_lock:
        _plans[job_id] = plan
        _plans.move_to_end(job_id)
        while len(_plans) > CACHED_PLANS:
            _plans.popitem(last=False)


def plan_of(store: JobStore, job_id: str) -> Plan:
    """The plan of a job that has one: from this process's cache, else rebuilt from the job's inputs.

    A solve job's plan is rebuilt by :func:`~baohu_assign.runner.plan_in_force`
    from its inputs and plan folder; an events job's by applying its events to
    its parent's plan (a min-churn rebalance onto its plan folder when that
    does not give the same plan id, as for a solve cut short).
    """
    with _plans_lock:
        cached = _plans.get(job_id)
    if cached is not None:
        return cached
    from ..results.events import apply_events
    from ..results.planning import rebalance
    from ..runner import plan_in_force

    job = store.get(job_id)
    if job is None or not job.has_plan:
        raise LookupError(f"job {job_id} has no plan")
    job_dir = store.job_dir(job_id)
    if job.kind == "solve":
        scenario, _ = load_scenario(job_dir)
        plan, _ = plan_in_force(scenario, job_dir / PLAN_FOLDER)
    else:
        assert job.parent_id is not None
        plan = apply_events(plan_of(store, job.parent_id), read_request(job_dir)["events"])
        if plan.plan_id != job.plan_id:
            plan = rebalance(plan.scenario, current=job_dir / PLAN_FOLDER, objective="min-churn", seed=plan.seed)
    _remember(job_id, plan)
    return plan


class _CancelWatch:
    """A thread that sets ``cancel`` once the job is to stop (a cancel asked, or no longer ``solving``)."""

    def __init__(self, store: JobStore, job_id: str, cancel: threading.Event) -> None:
        self._done = threading.Event()

        def watch() -> None:
            while not self._done.wait(CANCEL_POLL_SECONDS):
                if store.should_stop(job_id):
                    cancel.set()
                    return

        self._thread = threading.Thread(target=watch, name=f"cancel-watch-{job_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class _Progress:
    """The solve's progress callback: into the job row, a phase at most every half second."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store, self.job_id = store, job_id
        self._phase: str | None = None
        self._last = float("-inf")

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == self._phase and now - self._last < PROGRESS_EVERY_SECONDS and not (total and done >= total):
            return
        self._phase, self._last = phase, now
        self.store.set_progress(self.job_id, phase, done, total)


def run_job(data: str, job_id: str) -> str:
    """Run a scheduled job to its final status (in a worker process); returns that status.

    A job no longer ``scheduled`` when its turn comes (cancelled meanwhile) is
    left as it is. Bad input ends the job ``failed`` with its issues; a
    cancel during the solve ends it ``cancelled`` with the best plan so far.
    """
    store = JobStore(data)
    job = store.get(job_id)
    if job is None or not store.start_solving(job_id):
        # Cancelled meanwhile, or the service is stopping (the job stays scheduled for its next start).
        return job.status if job is not None else "missing"
    log.info("job %s (%s) solving", job_id, job.kind)
    job_dir = store.job_dir(job_id)
    cancel = threading.Event()
    watch = _CancelWatch(store, job_id, cancel)
    try:
        if job.kind == "solve":
            from ..runner import run_scenario

            scenario, options = load_scenario(job_dir)
            plan = run_scenario(
                scenario, job_dir / PLAN_FOLDER, options, progress=_Progress(store, job_id), cancel=cancel
            ).plan
        else:
            from ..results.events import apply_events

            assert job.parent_id is not None
            store.set_progress(job_id, "loading", 0, 0)
            parent = plan_of(store, job.parent_id)
            store.set_progress(job_id, "solving", 0, 0)
            plan = apply_events(parent, read_request(job_dir)["events"])
            plan.write(job_dir / PLAN_FOLDER)
        atomic_write_text(job_dir / PLAN_JSON, json.dumps(plan.to_dict(), ensure_ascii=False, allow_nan=False))
        cancelled = any(w.code == "cancelled" for w in plan.report.warnings)
        status = CANCELLED if cancelled else COMPLETED
        message = "cancelled: the plan is the best found before the cancel" if cancelled else None
        if store.transition(
            job_id, SOLVING, status, finished=time.time(), plan_id=plan.plan_id, has_plan=True, message=message
        ):
            _remember(job_id, plan)
        log.info("job %s %s", job_id, status)
        return status
    except InputError as exc:
        log.info("job %s failed: %d input problem(s)", job_id, len(exc.issues))
        log.debug("job %s input problems: %s", job_id, exc)
        store.transition(
            job_id,
            SOLVING,
            FAILED,
            finished=time.time(),
            errors=issue_records(exc, job_dir),
            message=f"bad input: {len(exc.issues)} problem(s)",
        )
        return FAILED
    except Exception as exc:
        log.error("job %s failed: internal error %s", job_id, type(exc).__name__)
        log.debug("job %s", job_id, exc_info=True)
        store.transition(
            job_id, SOLVING, FAILED, finished=time.time(), message=f"internal error: {type(exc).__name__}: {exc}"
        )
        return FAILED
    finally:
        watch.stop()


def recommend_rows(data: str, job_id: str, household: Mapping[str, Any], k: int) -> dict[str, Any]:
    """:func:`~baohu_assign.recommend` on a job's plan, as ``{"recommendations": rows}`` or ``{"errors": issues}``.

    Issues come back as data: an InputError does not cross a process boundary whole.
    """
    from ..results.plain import table_records
    from ..results.recommend import recommend

    store = JobStore(data)
    try:
        frame = recommend(plan_of(store, job_id), household, k)
    except InputError as exc:
        return {"errors": issue_records(exc)}
    return {"recommendations": table_records(frame)}
