"""A real ``baohu-assign serve`` process on a free port of this machine, and helpers to talk to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

import baohu_assign

MISSING = [name for name in ("fastapi", "uvicorn", "python_multipart", "httpx") if find_spec(name) is None]
"""What the tests with a server need and this environment lacks: those tests are skipped, the others run."""


def pytest_collection_modifyitems(config, items):
    if not MISSING:
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(MISSING)}: pip install 'baohu-assign[serve]' httpx")
    for item in items:
        if {"server", "start_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


STARTUP_SECONDS = 60.0
POLL_SECONDS = 0.05
FINAL = ("completed", "failed", "cancelled", "interrupted")
SOURCE_ROOT = Path(baohu_assign.__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``python -m baohu_assign serve`` in a subprocess, with an HTTP client on it."""

    def __init__(self, data: Path, log: Path, *args: str) -> None:
        self.data, self.log_path, self.args = data, log, args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SOURCE_ROOT), os.environ.get("PYTHONPATH", "")])}
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "baohu_assign", "serve", "--port", str(self.port), "--data", str(data), *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        import httpx

        self.client = httpx.Client(base_url=self.url, timeout=60.0)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start in {STARTUP_SECONDS} s:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def children(self) -> list[int]:
        """Pids of the server's child processes (Linux /proc)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def workers(self) -> list[int]:
        """Pids of the server's worker processes (its spawned children, not multiprocessing's resource tracker)."""
        found = []
        for pid in self.children():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                found.append(pid)
        return found

    def kill(self) -> None:
        """Kill the server outright (SIGKILL): no shutdown of its own."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self.client.close()
        self._log.close()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self._log.close()

    def wait(self, job_id: str, *, until: tuple[str, ...] = FINAL, timeout: float = 120.0) -> dict:
        """Poll the job (without its plan) until its status is one of ``until``."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.client.get(f"/plans/{job_id}", params={"plan": "false"}).json()
            if body["status"] in until:
                return body
            assert time.monotonic() < deadline, f"job {job_id} still {body['status']} after {timeout} s"
            time.sleep(POLL_SECONDS)

    def plan(self, job_id: str) -> dict:
        body = self.client.get(f"/plans/{job_id}").json()
        assert body["status"] in ("completed", "cancelled"), body
        return body


def start(tmp: Path, *args: str, data: Path | None = None) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    return Server(data or tmp / "data", tmp / "server.log", *args)


@pytest.fixture
def start_server():
    """Start servers for one test (``start_server(tmp, *args, data=...)``); whatever is left running is stopped."""
    started: list[Server] = []

    def starter(tmp: Path, *args: str, data: Path | None = None) -> Server:
        started.append(start(tmp, *args, data=data))
        return started[-1]

    yield starter
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """One server for a module's tests: 1 worker, requests up to 1 MB."""
    tmp = tmp_path_factory.mktemp("serve")
    running = start(tmp, "--max-request-mb", "1")
    yield running
    running.stop()
