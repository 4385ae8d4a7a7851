"""When an engine must stop: a deadline on a monotonic clock, a cancel flag, or both.

A :class:`Stop` is what an engine polls between steps of its work; it says
nothing about how much work to do (that is the engine's settings). Stops
compose: ``a | b`` stops as soon as either does, so a caller can give an
engine the earlier of its own deadline and a shared one, and cancel a whole
call from another thread through one :class:`threading.Event`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

clock: Callable[[], float] = time.monotonic
"""The clock every deadline is measured on, in seconds. Tests replace it to move time forward."""


def now() -> float:
    """The time on :data:`clock`: what :attr:`Stop.at` is compared with."""
    return clock()


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop criterion of one engine call.

    Parameters
    ----------
    at
        Deadline on :data:`clock` (``None``: no deadline).
    events
        Cancel flags; setting any of them (from any thread) stops the engine
        as if its deadline had passed.

    Examples
    --------
    >>> import threading
    >>> cancel = threading.Event()
    >>> stop = Stop.after(60.0) | Stop.on(cancel)
    >>> stop.expired()
    False
    >>> cancel.set()
    >>> stop.expired(), stop.remaining()
    (True, 0.0)
    """

    at: float | None = None
    events: tuple[threading.Event, ...] = ()

    @classmethod
    def after(cls, seconds: float | None) -> Stop:
        """A deadline ``seconds`` from now (``None``: never)."""
        return cls(None if seconds is None else now() + seconds)

    @classmethod
    def on(cls, event: threading.Event) -> Stop:
        """Stop when ``event`` is set."""
        return cls(None, (event,))

    def __or__(self, other: Stop) -> Stop:
        """Stop as soon as either criterion does (the earlier deadline, every cancel flag)."""
        deadlines = [t for t in (self.at, other.at) if t is not None]
        at = min(deadlines) if deadlines else None
        return Stop(at, self.events + tuple(e for e in other.events if e not in self.events))

    def cancelled(self) -> bool:
        """Whether a cancel flag is set."""
        return any(event.is_set() for event in self.events)

    def expired(self) -> bool:
        """Whether the engine must stop now: the deadline has passed or a cancel flag is set."""
        return self.cancelled() or (self.at is not None and now() >= self.at)

    def remaining(self) -> float | None:
        """Seconds left (never negative; 0 once cancelled), or ``None`` without a deadline."""
        if self.cancelled():
            return 0.0
        if self.at is None:
            return None
        return max(0.0, self.at - now())

    def within(self, seconds: float) -> Stop:
        """This stop, or ``seconds`` from now, whichever comes first."""
        return self | Stop.after(seconds)

    def part(self, share: float, reserve: float = 0.0) -> Stop:
        """A stop ``share`` of the way from now to this deadline, after keeping ``reserve`` seconds back.

        Without a deadline it stays without one; the cancel flags are kept.
        """
        if self.at is None:
            return self
        start = now()
        return Stop(start + share * max(self.at - reserve - start, 0.0), self.events)
