"""Progress reporting for long runs: a callback interface and a one-line terminal display.

A progress callback is any ``callable(phase, done, total)``:

- ``phase``: what is happening, e.g. ``"loading"``, ``"arcs"``, ``"solving"``,
  ``"writing"``;
- ``done``, ``total``: the step being worked on and the number of steps
  (``solve`` calls ``("solving", k, n)`` as it starts branch ``k`` of ``n``);
  both 0 for a phase without steps.

:func:`~baohu_assign.solve` and :func:`~baohu_assign.rebalance` accept one
as ``progress=``. The library itself never prints; :class:`TerminalProgress`
is what the command line uses. It draws a single line on standard error and
rewrites it in place, and only when that stream is a terminal, so logs,
pipes and CI output stay clean. No third-party dependency.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressCallback", "TerminalProgress", "terminal_progress"]

ProgressCallback = Callable[[str, int, int], None]
"""``progress(phase, done, total)``; see the module docstring."""

_CLEAR = "\r\x1b[K"  # back to column 0, erase to end of line
_LABELS = {"arcs": "building candidate pairs (arcs)", "solving": "solving branch", "towns": "towns done"}


class TerminalProgress:
    """Show progress as one updating line on a terminal stream.

    Parameters
    ----------
    stream
        Where to draw (default: ``sys.stderr`` at call time).
    min_interval
        Seconds between redraws of the same phase; a new phase always draws.
        Keeps a run over hundreds of branches from flooding a slow terminal.

    Notes
    -----
    Call :meth:`close` (or use it as a context manager) before printing
    anything else, so the progress line is erased first.
    """

    def __init__(self, stream: TextIO | None = None, *, min_interval: float = 0.1) -> None:
        self._stream = stream
        self.min_interval = min_interval
        self._started = time.perf_counter()
        self._last_draw = float("-inf")
        self._last_phase: str | None = None
        self._visible = False

    @property
    def stream(self) -> TextIO:
        """The stream drawn on (``sys.stderr`` as it is now, unless one was given)."""
        return self._stream if self._stream is not None else sys.stderr

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        final = total > 0 and done >= total
        if phase == self._last_phase and not final and now - self._last_draw < self.min_interval:
            return
        self._last_phase, self._last_draw = phase, now
        text = f"[{now - self._started:6.1f} s] {_LABELS.get(phase, phase)}"
        if total > 0:
            text += f" {done}/{total}"
        # A line longer than the terminal wraps, and "\r" then only rewrites its last part.
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self._write(_CLEAR + text[: max(width, 10)])
        self._visible = True

    def close(self) -> None:
        """Erase the progress line (if one was drawn)."""
        if self._visible:
            self._write(_CLEAR)
            self._visible = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            # A closed or broken stream must never stop a solve.
            pass

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def terminal_progress(*, quiet: bool = False, stream: TextIO | None = None) -> TerminalProgress | None:
    """A :class:`TerminalProgress` when ``stream`` (default stderr) is a terminal and not ``quiet``.

    Parameters
    ----------
    quiet
        ``True`` (the command line's ``--quiet``) turns progress off.
    stream
        The stream to draw on; default ``sys.stderr``.

    Returns
    -------
    TerminalProgress or None
        ``None`` when nothing should be drawn: pass it on as ``progress=``
        all the same, it means "no progress".
    """
    target = stream if stream is not None else sys.stderr
    if quiet:
        return None
    try:
        interactive = bool(target.isatty())
    except (AttributeError, ValueError):
        interactive = False
    return TerminalProgress(stream) if interactive else None
