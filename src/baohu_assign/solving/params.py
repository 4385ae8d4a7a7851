"""The caller's solve parameters, and the deadline of one solve() call that records what it cut.

:class:`SolveParams` is what users pass to :func:`~baohu_assign.solve`;
solve() turns it into each engine's settings and a
:class:`~baohu_assign.engines.stop.Stop` (see :mod:`baohu_assign.engines.contract`).
"""

from __future__ import annotations

import math
import numbers
import threading
from dataclasses import dataclass, field
from typing import Any

from ..engines.stop import Stop, now


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


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline of one solve() call on :data:`baohu_assign.engines.stop.clock` (``None``: no limit).

    Engines get it as a :class:`~baohu_assign.engines.stop.Stop` (:meth:`stop`).
    ``cuts`` records, in order, what the deadline stopped or left out (for
    the report); the deadlines made from one by :meth:`part` record into the
    same list.
    """

    at: float | None = None
    cuts: list[str] = field(default_factory=list, compare=False, repr=False)
    events: tuple[threading.Event, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float | None, events: tuple[threading.Event, ...] = ()) -> Deadline:
        return cls(None if seconds is None else now() + seconds, events=events)

    def stop(self) -> Stop:
        """The stop criterion an engine gets: this deadline and the cancel flag.

        Its rules (a cancel flag ends the time, unlimited stays unlimited) are
        the ones every method below applies.
        """
        return Stop(self.at, self.events)

    def cancelled(self) -> bool:
        """Whether the caller's cancel flag (``SolveParams.cancel``) is set."""
        return self.stop().cancelled()

    def remaining(self) -> float | None:
        """Seconds left (never negative; 0 once cancelled), or ``None`` when unlimited."""
        return self.stop().remaining()

    def expired(self) -> bool:
        return self.stop().expired()

    def part(self, share: float, reserve: float = 0.0) -> Deadline:
        """A deadline ``share`` of the way from now to this one, after keeping ``reserve`` seconds back.

        Unlimited stays unlimited; cuts are recorded into this deadline's list.
        """
        return Deadline(self.stop().part(share, reserve).at, self.cuts, self.events)

    def within(self, seconds: float) -> Deadline:
        """This deadline or ``seconds`` from now, whichever comes first (cuts recorded here)."""
        return Deadline(self.stop().within(seconds).at, self.cuts, self.events)

    def cut(self, what: str) -> None:
        """Record that the deadline stopped or left out ``what`` (once)."""
        if what not in self.cuts:
            self.cuts.append(what)


@dataclass(frozen=True, slots=True)
class SolveParams:
    """Advanced parameters of :func:`~baohu_assign.solve` and :func:`~baohu_assign.rebalance`.

    solve() turns them into each engine's settings
    (:class:`~baohu_assign.engines.contract.GreedySettings`,
    :class:`~baohu_assign.engines.contract.CpsatSettings`) and a
    :class:`~baohu_assign.engines.stop.Stop` per branch.

    Parameters
    ----------
    time_limit
        Wall-clock budget in seconds for the whole solve() call, as its
        ``time_limit`` argument (which overrides it); ``None``: unlimited.
    seed
        Seed of every random choice.
    num_workers
        Threads CP-SAT may use (its ``workers``). In work-limited mode the plan
        does not depend on it; under a time limit it does.
    max_iterations
        Work budget of every branch that needs search, instead of the one
        solve() picks by the branch's size: CP-SAT's LNS rounds (its
        ``lns_rounds``, which keep it in the reproducible work-limited mode
        even under a time limit, then only a safety net), and the most
        improving moves of greedy's local search (its ``max_moves``).
        ``None``: greedy searches until no improving move remains or the time
        is up; CP-SAT gets a budget per branch from solve() without a time
        limit, and the time with one.
    cancel
        A :class:`threading.Event` another thread may set to stop the call:
        the engine at work stops at its next check (CP-SAT within a fraction
        of a second), every branch still to come gets greedy's construction
        without search, no shortfall diagnosis is solved, and the plan is
        returned (valid, every household in it) with a ``cancelled``
        warning. Compiling is not interrupted. ``None``: no cancelling.
    """

    time_limit: float | None = None
    seed: int = 0
    num_workers: int = 2
    max_iterations: int | None = None
    cancel: threading.Event | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_time_limit(self.time_limit, "SolveParams.time_limit")
        check_seed(self.seed, "SolveParams.seed")
        _check_count(self.num_workers, "SolveParams.num_workers", 1)
        if self.max_iterations is not None:
            _check_count(self.max_iterations, "SolveParams.max_iterations", 0)
        if self.cancel is not None and not isinstance(self.cancel, threading.Event):
            raise TypeError(f"SolveParams.cancel must be a threading.Event or None, got {type(self.cancel).__name__}")
