"""solve() and rebalance(): a scenario in, a :class:`~baohu_assign.Plan` out.

The solving stage finds the assignment in indices (a
:class:`~baohu_assign.solving.result.SolveResult`); the plan, its tables and
its report are made of it here, the report before returning (within the
caller's time limit, when there is one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..model.scenario import Scenario
from ..solving import rebalance as rebalancing
from ..solving import solve as solving
from ..solving.params import SolveParams
from .plan import Plan

__all__ = ["rebalance", "solve"]


def solve(
    scenario: Scenario,
    *,
    objective: str = "balanced",
    strategy: str = "auto",
    time_limit: float | None = None,
    seed: int | None = None,
    params: SolveParams | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Plan:
    """Assign members to households.

    Parameters
    ----------
    scenario
        Validated members and households.
    objective
        ``"balanced"`` (default): weekly travel plus a convex load-balance
        term; ``"distance"``: weekly travel; ``"min-churn"``: fewest changed
        contacts, then travel. Coverage (critical, then elevated, then
        normal) always comes first.
    strategy
        ``"auto"`` (best engine per branch, greedy as fallback), ``"flow"``,
        ``"cpsat"`` or ``"greedy"``.
    time_limit
        Wall-clock budget in seconds for the whole call: compiling, search,
        checks and the report (built before returning). Branches that need
        search (stairwell units, hour budgets, backups) make the best of it,
        so their plan may differ between runs. Whatever is cut short to keep
        the limit is named in ``time_limit_reached`` warnings of the report;
        below what compiling needs, compiling still finishes and each branch
        gets greedy's construction, so the call ends after the limit.
        ``None`` (default): exact
        branches run to optimality and search branches stop on a
        deterministic work budget, so the plan is reproducible (a safety net
        of :data:`~baohu_assign.solving.solve.SEARCH_SAFETY_SECONDS` aside, reported when it binds).
    seed
        Seed of every random choice, a whole number >= 0; ``None`` (default):
        ``params.seed``, or 0 without ``params``. Without a time limit the
        same input, seed and package versions give the identical plan
        (``report.reproducible`` says whether this run is guaranteed to).
    params
        Advanced engine parameters; ``time_limit`` and ``seed`` override
        theirs when given (not ``None``). ``max_iterations`` replaces every search branch's
        work budget (and caps greedy's local search); with it, a time limit
        is only a safety net, as without one.
    progress
        Called as ``progress("arcs", 0, 0)`` before the candidate pairs are
        built and ``progress("solving", k, n)`` as branch ``k`` of ``n``
        starts (see :mod:`baohu_assign.progress`); ``None``: silent.

    Returns
    -------
    Plan
        Immutable result: assignments, member summary, report.

    Raises
    ------
    TypeError
        An argument of the wrong type (``scenario`` not a
        :class:`~baohu_assign.scenario.Scenario`, ``time_limit`` not a number,
        ``seed`` not a whole number, ``params`` not a
        :class:`~baohu_assign.params.SolveParams`, ``progress`` not callable);
        the message names it.
    ValueError
        An argument out of range or not among the choices; the message names it.

    Examples
    --------
    >>> import baohu_assign as ba
    >>> town = ba.synth.make_town(0, households=300, branches=3)
    >>> plan = ba.solve(ba.Scenario.from_frames(town.members, town.households))
    >>> plan.report.status.value
    'optimal'
    """
    result = solving.solve(
        scenario,
        objective=objective,
        strategy=strategy,
        time_limit=time_limit,
        seed=seed,
        params=params,
        progress=progress,
    )
    return Plan.from_result(result)


def rebalance(
    scenario: Scenario,
    *,
    current: Plan | str | Path | None = None,
    objective: str = "min-churn",
    strategy: str = "auto",
    time_limit: float | None = None,
    seed: int | None = None,
    params: SolveParams | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Plan:
    """Re-assign with today's contacts as the starting point.

    Today's contacts come from the households' ``current_member_id`` column,
    or from ``current``, a previous plan, when given: a household's primary
    member in that plan becomes its current member, exactly as if
    ``current_member_id`` had been filled in by hand. Pins (``pinned``) hold
    wherever the member is still available and eligible; a pin that cannot
    hold is a warning in the report, never an error.

    Under ``min-churn`` (the default) the plan covers the most households
    (critical first) and, among those plans, changes the fewest contacts,
    then minimises weekly travel; with the flow engine this minimum is exact.
    Each household's ``changed`` flag and ``reason`` say what happened.
    ``progress`` is passed on to :func:`~baohu_assign.solve`.

    Parameters
    ----------
    scenario
        Members and households as they are now.
    current
        The plan in force: a :class:`~baohu_assign.plan.Plan`, a plan folder
        written by :meth:`Plan.write <baohu_assign.plan.Plan.write>` (``baohu-assign
        solve --out``), or its ``assignments.csv`` (see :func:`~baohu_assign.solving.rebalance.current_members`).
        It replaces the households' ``current_member_id`` (warning
        ``current_member_id_replaced`` with how many values differed);
        households it does not list have no current member (warning
        ``not_in_current_plan``). ``None``: the ``current_member_id`` column.
    objective, strategy, time_limit, seed, params, progress
        As for :func:`~baohu_assign.solve`.

    Returns
    -------
    Plan
        With warning ``no_current_plan`` in its report when no household has
        a current member: then nothing can be kept and the plan is a fresh one.

    Raises
    ------
    InputError
        ``current`` is a path that does not hold a readable plan (the message
        names file, row and column).
    """
    result = rebalancing.rebalance(
        scenario,
        current=current.result if isinstance(current, Plan) else current,
        objective=objective,
        strategy=strategy,
        time_limit=time_limit,
        seed=seed,
        params=params,
        progress=progress,
    )
    return Plan.from_result(result)
