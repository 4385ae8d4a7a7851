"""Running CP-SAT on a built model (interruptible by the stop) and reading its solution back."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ...errors import EngineError
from ...model.objective import evaluate
from ..stop import Stop
from .model import _Context, _Sub, search_logger
from .state import _member_of, _State

if TYPE_CHECKING:
    from ortools.sat.python import cp_model


@dataclass(slots=True)
class _Result:
    status: str  # "optimal", "feasible", "infeasible", "unknown"
    objective: int | None  # model objective including offset
    bound: float | None
    values: np.ndarray | None
    wall_s: float


def _solve_model(
    ctx: _Context,
    sub: _Sub,
    *,
    wall: float | None,
    deterministic: float | None,
    workers: int,
    seed: int,
) -> _Result:
    """Run CP-SAT on a built model with a wall-clock and/or deterministic limit."""
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    p = solver.parameters
    p.random_seed = int(seed) % (2**31)
    # Work-limited mode: one worker, the only way CP-SAT's result depends on nothing but the model,
    # the seed and the deterministic limit (see the module docstring).
    p.num_workers = 1 if ctx.work_mode else max(1, int(workers))
    if wall is not None:
        p.max_time_in_seconds = max(float(wall), 0.01)
    if deterministic is not None:
        p.max_deterministic_time = max(float(deterministic), 0.001)
    p.log_to_stdout = False
    if ctx.log:
        p.log_search_progress = True
        solver.log_callback = search_logger.debug
    start = time.perf_counter()
    if ctx.stop.events:
        status = _solve_cancellable(solver, sub.builder.model, ctx.stop)
    else:
        status = solver.solve(sub.builder.model)
    wall_s = time.perf_counter() - start
    ctx.solves += 1
    name = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "feasible",
        cp_model.INFEASIBLE: "infeasible",
    }.get(status, "unknown")
    if status == cp_model.MODEL_INVALID:
        raise EngineError(f"CP-SAT rejected the model: {sub.builder.model.validate()}")
    if name in ("optimal", "feasible"):
        values = _tightened(sub, np.array(solver.response_proto.solution, dtype=np.int64))
        objective = int((sub.builder.objective_coeffs * values[sub.builder.objective_vars]).sum()) + sub.offset
        bound = float(solver.best_objective_bound) + sub.offset
        return _Result(name, objective, bound, values, wall_s)
    return _Result(name, None, None, None, wall_s)


CANCEL_POLL_SECONDS = 0.02
"""How often a running CP-SAT solve checks the stop's cancel flags."""


def _solve_cancellable(solver: cp_model.CpSolver, model: cp_model.CpModel, stop: Stop) -> cp_model.CpSolverStatus:
    """``solver.solve(model)``, interrupted as soon as one of ``stop``'s cancel flags is set."""
    finished = threading.Event()

    def watch() -> None:
        # Until the solve returns: a stop_search() sent before the search starts would be lost.
        while not finished.wait(CANCEL_POLL_SECONDS):
            if stop.cancelled():
                solver.stop_search()

    watcher = threading.Thread(target=watch, name="cpsat-cancel", daemon=True)
    watcher.start()
    try:
        return solver.solve(model)
    finally:
        finished.set()
        watcher.join()


def _tightened(sub: _Sub, values: np.ndarray) -> np.ndarray:
    """``values`` with every balance variable at its least value, the balance cost of its member's load.

    The tangent constraints only bound a balance variable from below; a
    feasible solution CP-SAT has not proven optimal may leave it above, and
    then its objective is more than the plan costs.
    """
    if not sub.balance_terms:
        return values
    values = values.copy()
    for term in sub.balance_terms:
        load = term.fixed_load + int((term.sizes * values[term.literals]).sum())
        values[term.var] = int(term.table[load])
    return values


def _apply(ctx: _Context, state: _State, sub: _Sub, values: np.ndarray) -> _State:
    """The state with the model's solution written over its free units and backups."""
    units = ctx.units
    new = state.copy()
    x = values[sub.x_first : sub.x_first + sub.options.shape[0]]
    new.unit_option[sub.units] = -1
    chosen = sub.options[x > 0]
    new.unit_option[units.option_unit[chosen]] = chosen
    if sub.backup_households.size:
        new.backup_of[sub.backup_households] = -1
        bvals = values[sub.b_first : sub.b_first + sub.backup_arcs.shape[0]]
        arcs = sub.backup_arcs[bvals > 0]
        new.backup_of[ctx.problem.arc_household[arcs]] = ctx.problem.arc_member[arcs]
    return new


def _total(ctx: _Context, state: _State) -> int:
    """Objective the context optimises: evaluate(), without backup terms while they are off."""
    member_of = _member_of(ctx.problem, ctx.units, state)
    if ctx.backups:
        return int(evaluate(ctx.problem, member_of, state.backup_of).total)
    plain = replace(ctx.problem, household_backup=None, member_backup_capacity=None, backup_penalty=0)
    return int(evaluate(plain, member_of).total)
