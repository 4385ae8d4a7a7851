"""The HTTP service (``baohu-assign serve``): plans as jobs, submitted, polled, cancelled.

Endpoints (docs/data-contract.md, "HTTP service"):

- ``POST /plans``: members and households as JSON records or uploaded
  CSV/xlsx files, with policy and options → 202, the job id and links;
- ``GET /plans/{id}``: status, progress while solving, then the plan
  (:meth:`Plan.to_dict <baohu_assign.Plan.to_dict>`);
- ``DELETE /plans/{id}``: cancel (a solve returns its best plan so far);
- ``POST /plans/{id}/events``: events on the plan → a new job;
- ``POST /plans/{id}/recommendations``: members for one new household;
- ``GET /plans/{id}/files/{name}``: a file of the plan folder.

The web process validates requests and keeps the job store
(:mod:`~baohu_assign.service.store`); every solve, and everything that loads
a plan, runs in a worker process (:mod:`~baohu_assign.service.jobs`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import multiprocessing
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from .._version import __version__
from ..errors import InputError, Issue
from ..runner import TABLE_SUFFIXES
from . import jobs
from .store import CANCELLED, FAILED, FINAL, INTERRUPTED, SCHEDULED, SOLVING, WITH_PLAN, Job, JobStore

__all__ = ["DEFAULT_MAX_REQUEST_MB", "create_app", "run_server"]

log = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_MB = 100.0
"""Largest request body accepted (``--max-request-mb``): a town of some 300,000 households as JSON."""
MAX_RECOMMENDATIONS = 100
"""Largest ``k`` of a recommendation request."""
STOP_GRACE_SECONDS = 5.0
"""How long a stopping service waits for its workers to return before ending them."""
INTERRUPTED_MESSAGE = "the service stopped while this job was solving; submit it again"
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_REQUEST_KEYS = ("members", "households", "policy", "options")
_UPLOAD_FIELDS = ("members", "households", "policy", "options")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes``.

    Checked on the declared ``Content-Length`` before anything is read, and on
    the bytes as they arrive (a chunked body declares none, a lying client a
    wrong one).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"request body over the limit of {self.max_bytes / 1e6:g} MB (--max-request-mb)"

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"detail": self._detail()}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _input_error(exc: InputError, job_dir: Path | None = None) -> JSONResponse:
    errors = jobs.issue_records(exc, job_dir)
    return JSONResponse({"detail": f"{len(errors)} problem(s) in the input", "errors": errors}, status_code=422)


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


class Service:
    """The web process's state: the job store and the pool of worker processes."""

    def __init__(self, data: Path, workers: int) -> None:
        self.store = JobStore(data)
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.stopping = False
        self._lock: IO[str] | None = None

    def start(self) -> None:
        """Recover the jobs of an earlier run, start the workers, queue the scheduled jobs again."""
        self._lock_data_folder()
        self.store.set_stopping(False)
        for job_id in self.store.ids_with_status(SOLVING):
            self.store.transition(job_id, SOLVING, INTERRUPTED, finished=time.time(), message=INTERRUPTED_MESSAGE)
            log.warning("job %s was solving when the service stopped: interrupted", job_id)
        self.pool = self._new_pool()
        for _ in range(self.workers):
            self.pool.submit(jobs.warm_up)  # starts every worker now, not at the first job
        for job_id in self.store.ids_with_status(SCHEDULED):
            self.dispatch(job_id)

    def stop(self) -> None:
        """End the workers; a job they were solving is ``interrupted``, scheduled ones wait for the next start."""
        self.stopping = True  # the futures the ended workers leave broken are not the jobs' failures
        self.store.set_stopping(True)  # from now on no worker starts a job
        for job_id in self.store.ids_with_status(SOLVING):
            self.store.transition(job_id, SOLVING, INTERRUPTED, finished=time.time(), message=INTERRUPTED_MESSAGE)
        if self.pool is not None:
            processes = list(getattr(self.pool, "_processes", {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            # A worker sees its job interrupted and returns within a second or so (its solve cancelled);
            # one still compiling a large town is ended.
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for process in processes:
                process.join(max(0.0, deadline - time.monotonic()))
            for process in processes:
                if process.is_alive():
                    process.terminate()
                    process.join(5)
            self.pool = None
        if self._lock is not None:
            self._lock.close()  # the data folder is free for the next service
            self._lock = None

    def _lock_data_folder(self) -> None:
        """One service per data folder: a second one would take the first one's solving jobs as interrupted."""
        try:
            import fcntl
        except ImportError:  # not on this platform: the rule stands unchecked
            return
        self._lock = (self.store.data / "service.lock").open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise RuntimeError(f"another service is using the data folder {self.store.data}") from None

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: a fresh interpreter per worker, never a fork of the threaded web process.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=jobs.worker_init,
            initargs=(os.getpid(), logging.getLogger("baohu_assign").getEffectiveLevel()),
        )

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            raise HTTPException(503, "the service is stopping")
        return self.pool

    def dispatch(self, job_id: str) -> None:
        """Hand a scheduled job to the worker pool."""
        future = self._pool().submit(jobs.run_job, str(self.store.data), job_id)
        future.add_done_callback(lambda done: self._finished(job_id, done))

    def _finished(self, job_id: str, future: Future[str]) -> None:
        if future.cancelled() or self.stopping:
            return  # the service is stopping; a scheduled job stays scheduled for the next start
        error = future.exception()
        if error is None:
            return
        log.error("job %s: the worker failed: %s", job_id, type(error).__name__)
        if isinstance(error, BrokenProcessPool):
            # A worker died (killed, out of memory): the pool is broken for every job in it.
            if self.pool is not None and getattr(self.pool, "_broken", False):
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._new_pool()
                log.warning("worker pool restarted")
            message = "the worker process solving this job died (killed, or out of memory?)"
            if not self.store.transition(job_id, SOLVING, FAILED, finished=time.time(), message=message):
                job = self.store.get(job_id)
                if job is not None and job.status == SCHEDULED:
                    self.dispatch(job_id)  # it never ran: queued again on the new pool
            return
        message = f"the worker failed: {type(error).__name__}: {error}"
        self.store.transition(job_id, (SCHEDULED, SOLVING), FAILED, finished=time.time(), message=message)

    async def in_worker(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in a worker process and wait for it without blocking the web process."""
        return await asyncio.wrap_future(self._pool().submit(function, *args))


def create_app(
    data: str | Path = "baohu-data", *, workers: int = 1, max_request_mb: float = DEFAULT_MAX_REQUEST_MB
) -> ASGIApp:
    """The service as an ASGI application (FastAPI inside the request-size limit).

    Parameters
    ----------
    data
        The data folder: the job store and every job's inputs and plan folder.
    workers
        Worker processes that solve (and load plans), at least 1.
    max_request_mb
        Largest request body in megabytes; larger ones get 413.

    Returns
    -------
    ASGI application
        To run with uvicorn (:func:`run_server`) or any ASGI server. Starting
        it (the lifespan) marks the jobs an earlier run left ``solving`` as
        ``interrupted`` and queues the ``scheduled`` ones again.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not max_request_mb > 0:
        raise ValueError(f"max_request_mb must be > 0, got {max_request_mb}")
    service = Service(Path(data), workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="baohu-assign",
        version=__version__,
        description="Assign party members to the households they look after (党员包户), as jobs.",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> JSONResponse:
        return _input_error(exc)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """The service is up: its version and worker count."""
        return {"status": "ok", "version": __version__, "workers": service.workers}

    @app.post("/plans", status_code=202)
    async def submit(request: Request) -> Response:
        """Submit members and households (JSON records or uploaded files) with policy and options: a solve job."""
        store = service.store
        job_id = store.new_id()
        job_dir = store.job_dir(job_id)
        (job_dir / "input").mkdir(parents=True)
        try:
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                await _save_upload(request, job_dir)
            elif content_type.startswith("application/json"):
                await _save_records(request, job_dir)
            else:
                raise HTTPException(415, "send application/json (records) or multipart/form-data (files)")
            # Checked now, with the command line's messages, so that bad input is a 422 and not a failed job.
            await asyncio.to_thread(jobs.load_scenario, job_dir)
        except InputError as exc:
            shutil.rmtree(job_dir, ignore_errors=True)
            log.info("submit refused: %d input problem(s)", len(exc.issues))
            return _input_error(exc, job_dir)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        job = store.create(job_id, "solve")
        service.dispatch(job_id)
        log.info("job %s scheduled", job_id)
        return JSONResponse(_job_body(job), status_code=202, headers={"Location": f"/plans/{job_id}"})

    @app.get("/plans/{job_id}")
    async def status(job_id: str, plan: bool = True) -> Response:
        """A job's status, its progress while solving, and its plan once there is one (``?plan=false``: without)."""
        job = _job(service.store, job_id)
        body = json.dumps(_job_body(job), ensure_ascii=False)
        plan_file = service.store.job_dir(job_id) / jobs.PLAN_JSON
        if plan and job.has_plan and job.status in WITH_PLAN:
            # The plan's JSON as the worker wrote it, spliced in without parsing it again.
            text = await asyncio.to_thread(plan_file.read_text, encoding="utf-8")
            body = body[:-1] + ', "plan": ' + text + "}"
        return Response(body.encode("utf-8"), media_type="application/json")

    @app.delete("/plans/{job_id}")
    async def cancel(job_id: str) -> Response:
        """Cancel a job: a scheduled one never starts; a solving one returns its best plan so far."""
        store = service.store
        job = _job(store, job_id)
        if job.status == SCHEDULED and store.transition(
            job_id, SCHEDULED, CANCELLED, finished=time.time(), message="cancelled before it started"
        ):
            return JSONResponse(_job_body(_job(store, job_id)))
        if job.status not in FINAL:
            store.request_cancel(job_id)
            log.info("job %s: cancel asked", job_id)
            return JSONResponse(_job_body(_job(store, job_id)), status_code=202)
        return JSONResponse(_job_body(job))

    @app.post("/plans/{job_id}/events", status_code=202)
    async def events(job_id: str, request: Request) -> Response:
        """Events on a job's plan (a JSON list, or ``{"events": [...]}``): a new job, its parent this one."""
        from ..io.events import parse_events

        store = service.store
        parent = _with_plan(store, job_id)
        raw = await _json(request)
        if isinstance(raw, dict) and set(raw) == {"events"}:
            raw = raw["events"]
        parse_events(raw)  # a bad event is a 422 now; unknown ids only the plan can tell (a failed job)
        new_id = store.new_id()
        job_dir = store.job_dir(new_id)
        (job_dir / "input").mkdir(parents=True)
        _write_request(job_dir, {"events": raw})
        job = store.create(new_id, "events", parent.id)
        service.dispatch(new_id)
        log.info("job %s scheduled: events on %s", new_id, parent.id)
        return JSONResponse(_job_body(job), status_code=202, headers={"Location": f"/plans/{new_id}"})

    @app.post("/plans/{job_id}/recommendations")
    async def recommendations(job_id: str, request: Request) -> Response:
        """The members one new household could get on this job's plan (``{"household": {...}, "k": 5}``)."""
        store = service.store
        _with_plan(store, job_id)
        raw = await _json(request)
        if not isinstance(raw, dict) or not isinstance(raw.get("household"), dict):
            raise InputError(Issue("request", None, "household", "expected an object with a household record"))
        unknown = sorted(set(raw) - {"household", "k"})
        if unknown:
            raise InputError([Issue("request", None, key, "unknown key") for key in unknown])
        k = raw.get("k", 5)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_RECOMMENDATIONS:
            raise InputError(Issue("request", None, "k", f"a whole number from 1 to {MAX_RECOMMENDATIONS}", repr(k)))
        answer = await service.in_worker(jobs.recommend_rows, str(store.data), job_id, raw["household"], k)
        if "errors" in answer:
            errors = answer["errors"]
            return JSONResponse({"detail": f"{len(errors)} problem(s) in the input", "errors": errors}, 422)
        return JSONResponse({"plan": job_id, **answer})

    @app.get("/plans/{job_id}/files/{name}")
    async def file(job_id: str, name: str) -> Response:
        """A file of the job's plan folder: assignments.csv, members.csv, report.json, roster.xlsx, map.html, …"""
        store = service.store
        _with_plan(store, job_id)
        folder = store.job_dir(job_id) / jobs.PLAN_FOLDER
        # Only a name the folder lists: no path of the caller's ever reaches the file system.
        names = {entry.name for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith(".")}
        if name not in names:
            raise HTTPException(404, f"no file {name!r} in this plan; it has {', '.join(sorted(names))}")
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type == "application/json":
            media_type += "; charset=utf-8"
        return FileResponse(folder / name, media_type=media_type, filename=name)

    return BodyLimit(app, int(max_request_mb * 1_000_000))


def _job(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None:
        raise HTTPException(404, f"no plan {job_id!r}")
    return job


def _with_plan(store: JobStore, job_id: str) -> Job:
    job = _job(store, job_id)
    if not (job.has_plan and job.status in WITH_PLAN):
        raise HTTPException(409, f"job {job_id} has no plan (status {job.status})")
    return job


def _job_body(job: Job) -> dict[str, Any]:
    base = f"/plans/{job.id}"
    links: dict[str, str] = {"self": base}
    if job.parent_id is not None:
        links["parent"] = f"/plans/{job.parent_id}"
    if job.has_plan and job.status in WITH_PLAN:
        links.update(events=f"{base}/events", recommendations=f"{base}/recommendations", files=f"{base}/files/{{name}}")
    body: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "parent": job.parent_id,
        "created": _iso(job.created),
        "started": _iso(job.started),
        "finished": _iso(job.finished),
        "progress": job.progress if job.status == SOLVING else None,
        "cancel_requested": job.cancel_requested,
        "message": job.message,
        "errors": job.errors,
        "plan_id": job.plan_id,
        "links": links,
    }
    return body


async def _json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InputError(Issue("request", None, None, f"not valid JSON: {exc}")) from None


def _write_request(job_dir: Path, request: dict[str, Any]) -> None:
    text = json.dumps(request, ensure_ascii=False)
    (job_dir / "input" / jobs.REQUEST_FILE).write_text(text, encoding="utf-8")


async def _save_records(request: Request, job_dir: Path) -> None:
    raw = await _json(request)
    if not isinstance(raw, dict):
        raise InputError(Issue("request", None, None, f"expected a JSON object, got {type(raw).__name__}"))
    issues = [Issue("request", None, key, "unknown key") for key in raw if key not in _REQUEST_KEYS]
    issues += [Issue("request", None, key, "missing") for key in ("members", "households") if key not in raw]
    if issues:
        raise InputError(issues)
    jobs.PlanOptions.parse(raw.get("options"))
    await asyncio.to_thread(_write_request, job_dir, {"source": "records", **raw})


async def _save_upload(request: Request, job_dir: Path) -> None:
    form = await request.form()
    issues = [Issue("request", None, key, "unknown form field") for key in form if key not in _UPLOAD_FIELDS]
    saved: dict[str, Any] = {"source": "files"}
    for field, suffixes in (("members", TABLE_SUFFIXES), ("households", TABLE_SUFFIXES), ("policy", (".toml",))):
        part = form.get(field)
        if part is None:
            if field != "policy":
                missing = "missing: upload the table as a file (CSV, .xlsx or .parquet)"
                issues.append(Issue("request", None, field, missing))
            continue
        suffix = Path(part.filename or "").suffix.lower() if isinstance(part, UploadFile) else ""
        if not isinstance(part, UploadFile) or suffix not in suffixes:
            issues.append(Issue("request", None, field, f"expected a file named *{' or *'.join(suffixes)}"))
            continue
        # Kept under the name it was uploaded with, so that messages name the caller's own file (党员.csv).
        name = f"{field}/{_upload_name(part.filename, field, suffix)}"
        (job_dir / "input" / field).mkdir()
        await asyncio.to_thread(_copy_upload, part, job_dir / "input" / name)
        saved[field] = name
    options = form.get("options")
    if options is not None:
        if not isinstance(options, str):
            issues.append(Issue("request", None, "options", "expected a form field holding a JSON object"))
        else:
            try:
                saved["options"] = json.loads(options)
            except ValueError as exc:
                issues.append(Issue("options", None, None, f"not valid JSON: {exc}"))
    if issues:
        raise InputError(issues)
    jobs.PlanOptions.parse(saved.get("options"))
    _write_request(job_dir, saved)


def _upload_name(filename: str | None, field: str, suffix: str) -> str:
    """The uploaded file's own name without any folder part, or ``<field><suffix>`` when it has none usable."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    return name if name not in ("", ".", "..") and not name.startswith(".") else f"{field}{suffix}"


def _copy_upload(part: UploadFile, target: Path) -> None:
    part.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(part.file, out)


def run_server(
    host: str = "127.0.0.1",
    port: int = 8000,
    data: str | Path = "baohu-data",
    *,
    workers: int = 1,
    max_request_mb: float = DEFAULT_MAX_REQUEST_MB,
    log_level: str = "info",
) -> None:
    """Run the service with uvicorn until it is stopped (Ctrl-C, SIGTERM)."""
    import uvicorn

    app = create_app(data, workers=workers, max_request_mb=max_request_mb)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    uvicorn.Server(config).run()
