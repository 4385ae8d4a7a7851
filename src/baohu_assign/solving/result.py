"""What solve() and rebalance() find, in indices: per branch its problem, solution and how it was reached.

The report and the plan's tables are built from a :class:`SolveResult` by
:mod:`baohu_assign.results`; nothing here knows about either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ..model.compile import BranchProblem
from ..model.scenario import Scenario
from ..model.solution import Solution
from .params import Deadline

__all__ = ["BranchResult", "SolveResult", "Status"]


class Status(StrEnum):
    """Outcome of a solve.

    ``optimal``: every branch proven optimal. ``feasible``: a valid plan
    without proof. ``fallback``: an engine failed or was unavailable and
    greedy produced the plan. ``infeasible``: no valid plan was found.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    FALLBACK = "fallback"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True, slots=True, eq=False)
class BranchResult:
    """One branch's problem, solution and how it was reached.

    ``notes``: why greedy took over an unavailable engine (``engine_fallback``
    warnings); a fault inside an engine is never covered for: it raises
    :class:`~baohu_assign.errors.EngineError`. ``reproducible``: no wall-clock limit can
    have shaped the plan, so the same input, seed and versions give it again.
    ``safety_limit_reached``: the safety time limit of a run without a time
    limit stopped the search before its work budget was spent (then
    ``reproducible`` is false too).
    ``time_cuts``: what the caller's time limit stopped or left out in this
    branch (``time_limit_reached`` warnings); empty when nothing was cut.
    ``cancelled``: the caller's cancel flag was set by the time the branch
    was done, so its search stopped early or never started.
    """

    branch: BranchProblem
    solution: Solution
    status: Status
    balance_weight: float | None
    notes: tuple[str, ...] = ()
    reproducible: bool = True
    safety_limit_reached: bool = False
    time_cuts: tuple[str, ...] = ()
    cancelled: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class SolveResult:
    """Everything a solve found, before any table or report is built from it.

    Attributes
    ----------
    scenario
        The scenario solved.
    results
        One :class:`BranchResult` per compiled branch, in branch order.
    objective, strategy, seed, time_limit
        As the call used them.
    wall_s
        Seconds the solving took (the report is built afterwards).
    deadline
        The caller's time limit as a deadline, whose ``cuts`` say what it
        cut; ``None`` without a time limit. The report's shortfall diagnosis
        gets what is left of it.
    cancelled
        The caller's cancel flag (``SolveParams.cancel``) was set during the call.
    """

    scenario: Scenario
    results: tuple[BranchResult, ...]
    objective: str
    strategy: str
    seed: int
    time_limit: float | None
    wall_s: float
    deadline: Deadline | None = None
    cancelled: bool = False

    def __post_init__(self) -> None:
        for result in self.results:
            # Tables and report are built from these: nobody may change them afterwards.
            for array in (result.solution.member_of, result.solution.backup_of):
                if array is not None:
                    array.flags.writeable = False

    def primary_member_rows(self) -> np.ndarray:
        """int64[H]: per scenario household row, the scenario row of its member; -1 when uncovered."""
        member_row = np.full(len(self.scenario.households), -1, dtype=np.int64)
        for result in self.results:
            branch = result.branch
            member_of = result.solution.member_of.astype(np.int64)
            covered = member_of >= 0
            member_row[branch.household_rows[covered]] = branch.member_rows[member_of[covered]]
        return member_row
