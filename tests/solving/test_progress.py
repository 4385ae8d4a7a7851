"""The progress line: drawn only on a terminal, erased before output, silent with --quiet."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from baohu_assign.solving.progress import TerminalProgress, terminal_progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_means_no_progress():
    assert terminal_progress(stream=io.StringIO()) is None


def test_quiet_means_no_progress_even_on_a_terminal():
    assert terminal_progress(quiet=True, stream=FakeTerminal()) is None


def test_terminal_gets_one_rewritten_line_with_steps():
    stream = FakeTerminal()
    progress = terminal_progress(stream=stream)
    assert isinstance(progress, TerminalProgress)
    progress.min_interval = 0.0
    progress("loading", 0, 0)
    progress("solving", 1, 3)
    progress("solving", 3, 3)
    text = stream.getvalue()
    assert "\n" not in text  # rewritten in place, never a new line
    assert text.count("\r\x1b[K") == 3
    assert text.endswith("solving branch 3/3")
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")  # erased before anything else is printed


def test_redraws_of_one_phase_are_throttled_but_the_last_step_always_shows():
    stream = FakeTerminal()
    progress = TerminalProgress(stream, min_interval=3600.0)
    for k in range(1, 101):
        progress("solving", k, 100)
    drawn = stream.getvalue().split("\r\x1b[K")[1:]
    assert len(drawn) == 2  # the first step and the final one
    assert drawn[-1].endswith("100/100")


def test_close_without_drawing_writes_nothing():
    stream = FakeTerminal()
    TerminalProgress(stream).close()
    assert stream.getvalue() == ""


def test_broken_stream_never_stops_a_solve():
    stream = FakeTerminal()
    stream.close()
    progress = TerminalProgress(stream)
    progress("solving", 1, 2)  # must not raise
    progress.close()


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("quiet", [False, True])
def test_cli_draws_progress_on_a_pseudo_terminal(tmp_path: Path, quiet: bool):
    """Through the real CLI with stderr on a pty: a progress line appears unless --quiet."""
    import pty
    import subprocess

    from baohu_assign.datasets.synth import make_town

    town = make_town(households=300, seed=3)
    members, households = tmp_path / "members.csv", tmp_path / "households.csv"
    town.members.to_csv(members, index=False)
    town.households.to_csv(households, index=False)
    main_fd, child_fd = pty.openpty()
    args = [
        sys.executable,
        "-m",
        "baohu_assign",
        "solve",
        str(members),
        str(households),
        "--out",
        str(tmp_path / "out"),
    ]
    if quiet:
        args.append("--quiet")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=child_fd, close_fds=True)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the pty
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=120) == 0
    os.close(main_fd)
    seen = b"".join(chunks).decode("utf-8", "replace")
    if quiet:
        assert "solving branch" not in seen
    else:
        assert "solving branch" in seen
        assert seen.endswith("\r\x1b[K")  # the line is erased before the process ends
