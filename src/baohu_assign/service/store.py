"""The job store: one SQLite file (stdlib ``sqlite3``) and one folder per job under the data folder.

The web process and the worker processes share it: the web process creates
jobs and asks for cancels; a worker moves its job through ``solving`` to a
final status and writes progress. Every change of status is one conditional
``UPDATE`` (``… WHERE status = ?``), so a worker left over from a stopped
service cannot overwrite what the next service decided (``interrupted``).

Layout of the data folder::

    jobs.sqlite3
    jobs/<id>/input/     the request as received (request.json, uploaded tables)
    jobs/<id>/plan/      the plan folder (Plan.write), once there is a plan
    jobs/<id>/plan.json  Plan.to_dict(), what GET /plans/<id> returns
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEDULED, SOLVING, COMPLETED, FAILED, CANCELLED, INTERRUPTED = (
    "scheduled",
    "solving",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
)
STATUSES = (SCHEDULED, SOLVING, COMPLETED, FAILED, CANCELLED, INTERRUPTED)
"""Every status a job can have; the last four are final."""
FINAL = frozenset({COMPLETED, FAILED, CANCELLED, INTERRUPTED})
WITH_PLAN = frozenset({COMPLETED, CANCELLED})
"""Statuses whose job may have a plan (a cancelled solve returns its best plan so far)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    parent_id TEXT,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress TEXT,
    message TEXT,
    errors TEXT,
    plan_id TEXT,
    has_plan INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS service (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    stopping INTEGER NOT NULL
);
INSERT OR IGNORE INTO service (one, stopping) VALUES (1, 0);
"""


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the job table."""

    id: str
    kind: str
    parent_id: str | None
    status: str
    created: float
    started: float | None
    finished: float | None
    progress: dict[str, Any] | None
    message: str | None
    errors: list[dict[str, Any]] | None
    plan_id: str | None
    has_plan: bool
    cancel_requested: bool


class JobStore:
    """The jobs of one data folder.

    Parameters
    ----------
    data
        The data folder; created when missing.
    """

    def __init__(self, data: str | Path) -> None:
        self.data = Path(data)
        (self.data / "jobs").mkdir(parents=True, exist_ok=True)
        self.path = self.data / "jobs.sqlite3"
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: the store is used from threads and processes, and calls are short.
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def job_dir(self, job_id: str) -> Path:
        """The folder of a job (inputs, plan folder, plan.json)."""
        return self.data / "jobs" / job_id

    def new_id(self) -> str:
        """A fresh job id: 32 hex digits, nothing else (safe in a path)."""
        return uuid.uuid4().hex

    def create(self, job_id: str, kind: str, parent_id: str | None = None) -> Job:
        """Record a new ``scheduled`` job (its input folder already written)."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, parent_id, status, created) VALUES (?, ?, ?, ?, ?)",
                (job_id, kind, parent_id, SCHEDULED, time.time()),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or ``None`` when there is none of that id."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def ids_with_status(self, status: str) -> list[str]:
        """Ids of the jobs with ``status``, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT id FROM jobs WHERE status = ? ORDER BY created", (status,)).fetchall()
        return [row[0] for row in rows]

    def transition(self, job_id: str, before: str | tuple[str, ...], after: str, **values: Any) -> bool:
        """Move the job from ``before`` (one status or several) to ``after``, setting ``values``.

        Returns whether it moved: ``False`` when the job is not (any longer) in ``before``.
        """
        befores = (before,) if isinstance(before, str) else before
        columns = {"status": after, **{k: _stored(k, v) for k, v in values.items()}}
        assignments = ", ".join(f"{name} = ?" for name in columns)
        marks = ", ".join("?" for _ in befores)
        with self._connect() as db:
            cursor = db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND status IN ({marks})",
                (*columns.values(), job_id, *befores),
            )
        return cursor.rowcount == 1

    def start_solving(self, job_id: str) -> bool:
        """Move a scheduled job to ``solving``, unless the service is stopping; returns whether it moved.

        One statement, so that a job never starts after :meth:`set_stopping` (which the
        service follows with marking every solving job ``interrupted``).
        """
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, started = ? WHERE id = ? AND status = ? "
                "AND NOT EXISTS (SELECT 1 FROM service WHERE stopping = 1)",
                (SOLVING, time.time(), job_id, SCHEDULED),
            )
        return cursor.rowcount == 1

    def set_stopping(self, stopping: bool) -> None:
        """Whether the service is stopping: workers then start no job."""
        with self._connect() as db:
            db.execute("UPDATE service SET stopping = ?", (int(stopping),))

    def set_progress(self, job_id: str, phase: str, done: int, total: int) -> None:
        """Record the progress of a solving job."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET progress = ? WHERE id = ? AND status = ?",
                (json.dumps({"phase": phase, "done": done, "total": total}), job_id, SOLVING),
            )

    def request_cancel(self, job_id: str) -> None:
        """Ask the worker solving the job to stop (it polls :meth:`should_stop`)."""
        with self._connect() as db:
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))

    def should_stop(self, job_id: str) -> bool:
        """Whether the solving job is to stop: a cancel was asked, or it is no longer ``solving``."""
        with self._connect() as db:
            row = db.execute("SELECT status, cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is None or row[0] != SOLVING or bool(row[1])


def _stored(column: str, value: Any) -> Any:
    if column in ("progress", "errors") and value is not None:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


def _job(row: tuple[Any, ...]) -> Job:
    (job_id, kind, parent, status, created, started, finished, progress, message, errors, plan_id, has_plan, cancel) = (
        row
    )
    return Job(
        id=job_id,
        kind=kind,
        parent_id=parent,
        status=status,
        created=created,
        started=started,
        finished=finished,
        progress=None if progress is None else json.loads(progress),
        message=message,
        errors=None if errors is None else json.loads(errors),
        plan_id=plan_id,
        has_plan=bool(has_plan),
        cancel_requested=bool(cancel),
    )
