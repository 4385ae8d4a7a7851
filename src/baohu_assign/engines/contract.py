"""The engine contract: what every engine offers, how it is tuned, and when it stops.

An engine takes a compiled :class:`~baohu_assign.problem.Problem` and returns
a :class:`~baohu_assign.solution.Solution`. What it is asked is split in
three, so no argument means two things:

- **settings**: how much work and how (an engine's own frozen dataclass:
  :class:`GreedySettings`, :class:`CpsatSettings`; flow takes ``None``);
- **stop**: when to give up, whatever the work left
  (:class:`~baohu_assign.engines.stop.Stop`: a deadline, a cancel flag);
- **seed** and **initial**: every random choice, and a valid plan to start
  from (never worsened: the returned plan's objective is at most its own).

An engine that runs out of time still returns a valid plan and marks it
``stopped``; only when it cannot (OR-Tools missing, no plan at all in the
time) it raises :class:`~baohu_assign.errors.EngineUnavailable`. Anything
else that goes wrong inside it is an :class:`~baohu_assign.errors.EngineError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..model.objective import evaluate
from ..model.problem import Problem
from ..model.solution import Solution, violations
from .stop import Stop

_SettingsT = TypeVar("_SettingsT", contravariant=True)


class Engine(Protocol[_SettingsT]):
    """What :func:`baohu_assign.engines.load` returns."""

    @property
    def name(self) -> str:
        """The engine's name (``"flow"``, ``"greedy"``, ``"cpsat"``), also :attr:`Solution.engine`."""
        ...

    def supports(self, problem: Problem) -> bool:
        """Whether the engine can express every rule of ``problem``."""
        ...

    def solve(
        self, problem: Problem, settings: _SettingsT, stop: Stop, *, seed: int, initial: Solution | None = None
    ) -> Solution:
        """A valid plan of ``problem``.

        Parameters
        ----------
        problem
            The compiled problem of one branch.
        settings
            The engine's own settings (``None`` for flow).
        stop
            When to stop searching; the plan found so far is returned (``stopped`` set when the
            stop cut work short).
        seed
            Seed of every random choice: same problem, settings and seed, same plan (for an engine
            stopped by its settings rather than by ``stop``).
        initial
            A valid plan of ``problem`` to start from; the returned plan is never worse.

        Raises
        ------
        EngineUnavailable
            The engine cannot run here (OR-Tools missing) or found no plan before ``stop``.
        EngineError
            The engine cannot express the problem, or failed.
        ValueError
            ``initial`` is not a valid plan of ``problem``.
        """
        ...


@dataclass(frozen=True, slots=True)
class GreedySettings:
    """Greedy's work limit.

    Parameters
    ----------
    max_moves
        Most improving local-search moves (``0``: the construction alone;
        ``None``: until no improving move remains).
    """

    max_moves: int | None = None


@dataclass(frozen=True, slots=True)
class CpsatSettings:
    """CP-SAT's threads and work limits.

    Parameters
    ----------
    workers
        Threads CP-SAT may use. In work-limited mode the plan does not depend on it.
    lns_rounds
        Rounds of large neighbourhood search; setting it switches to the
        reproducible work-limited mode (see :mod:`baohu_assign.engines.cpsat`).
        ``None``: wall-clock mode, the search runs until the stop or until it stalls.
    deterministic_time
        Deterministic seconds of each whole-model CP-SAT solve. ``None``:
        ``lns_rounds`` × the deterministic time of one neighbourhood in
        work-limited mode; else a fixed cap without a deadline, none with one.
    """

    workers: int = 2
    lns_rounds: int | None = None
    deterministic_time: float | None = None

    @property
    def work_limited(self) -> bool:
        return self.lns_rounds is not None


def initial_objective(problem: Problem, initial: Solution) -> int:
    """The objective of a starting plan, after checking it keeps every hard rule of ``problem``.

    Raises
    ------
    ValueError
        ``initial`` breaks a rule (or is not a plan of ``problem``).
    """
    broken = violations(problem, initial.member_of, initial.backup_of)
    if broken:
        raise ValueError(f"initial is not a valid plan of the problem: {broken[:3]}")
    return int(evaluate(problem, initial.member_of, initial.backup_of).total)
