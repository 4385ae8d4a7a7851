"""Engine parameters: one frozen object passed from solve() to an engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

clock: Callable[[], float] = time.monotonic
"""The clock every deadline is measured on, in seconds. Tests replace it to move time forward."""


def now() -> float:
    """The time on :data:`clock`: what :attr:`Deadline.at` is compared with."""
    return clock()


@dataclass(frozen=True, slots=True)
class Deadline:
    """A wall-clock deadline on :data:`clock` (``None``: no limit).

    ``cuts`` records, in order, what the deadline stopped or left out (for
    the report); the deadlines made from one by :meth:`part` record into the
    same list.
    """

    at: float | None = None
    cuts: list[str] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else now() + seconds)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or ``None`` when unlimited."""
        if self.at is None:
            return None
        return max(0.0, self.at - now())

    def expired(self) -> bool:
        return self.at is not None and now() >= self.at

    def part(self, share: float, reserve: float = 0.0) -> Deadline:
        """A deadline ``share`` of the way from now to this one, after keeping ``reserve`` seconds back.

        Unlimited stays unlimited; cuts are recorded into this deadline's list.
        """
        if self.at is None:
            return self
        start = now()
        return Deadline(start + share * max(self.at - reserve - start, 0.0), self.cuts)

    def within(self, seconds: float) -> Deadline:
        """This deadline or ``seconds`` from now, whichever comes first (cuts recorded here)."""
        end = now() + seconds
        return Deadline(end if self.at is None else min(self.at, end), self.cuts)

    def cut(self, what: str) -> None:
        """Record that the deadline stopped or left out ``what`` (once)."""
        if what not in self.cuts:
            self.cuts.append(what)


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How an engine should run.

    Parameters
    ----------
    time_limit
        Wall-clock budget in seconds for the engine call (``None``: unlimited).
    seed
        Seed of every random choice.
    num_workers
        Threads an engine may use (CP-SAT). In work-limited mode (with
        ``max_iterations``) the plan does not depend on it; under a wall-clock
        limit it does.
    max_iterations
        Work budget: greedy's improving local-search moves, and CP-SAT's LNS
        rounds, which switch CP-SAT to its reproducible work-limited mode
        (see :mod:`baohu_assign.engines.cpsat`). ``None``: greedy searches until
        no improving move remains or the deadline passes; CP-SAT runs on the
        wall clock. Without a time limit :func:`~baohu_assign.solve` gives
        CP-SAT a budget per branch by itself.
    deadline
        Absolute deadline shared by the engines of one solve() call.
    """

    time_limit: float | None = None
    seed: int = 0
    num_workers: int = 2
    max_iterations: int | None = None
    deadline: Deadline = field(default_factory=Deadline)

    def __post_init__(self) -> None:
        if self.time_limit is not None and self.time_limit < 0:
            raise ValueError(f"time_limit must be >= 0 seconds, got {self.time_limit}")
        if self.num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {self.num_workers}")

    def started(self) -> SolveParams:
        """A copy whose deadline starts now (when none was set)."""
        if self.deadline.at is not None or self.time_limit is None:
            return self
        return replace(self, deadline=Deadline.after(self.time_limit))
