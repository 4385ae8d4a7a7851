"""Engine parameters: one frozen object passed from solve() to an engine."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


def check_seed(value: Any, name: str = "seed") -> int:
    """``value`` as a seed: a whole number >= 0, else TypeError or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 0, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def check_time_limit(value: Any, name: str = "time_limit") -> float | None:
    """``value`` as seconds (or ``None``): a finite number >= 0, else TypeError or ValueError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds or None, got {type(value).__name__} {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number >= 0 seconds (None: no limit), got {value}")
    return seconds


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


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
        check_time_limit(self.time_limit, "SolveParams.time_limit")
        check_seed(self.seed, "SolveParams.seed")
        _check_count(self.num_workers, "SolveParams.num_workers", 1)
        if self.max_iterations is not None:
            _check_count(self.max_iterations, "SolveParams.max_iterations", 0)
        if not isinstance(self.deadline, Deadline):
            raise TypeError(f"SolveParams.deadline must be a Deadline, got {type(self.deadline).__name__}")

    def started(self) -> SolveParams:
        """A copy whose deadline starts now (when none was set)."""
        if self.deadline.at is not None or self.time_limit is None:
            return self
        return replace(self, deadline=Deadline.after(self.time_limit))
