"""rebalance(): repair a plan after moves, illness or new households, changing as little as possible.

Index level: :func:`rebalance` returns a :class:`~baohu_assign.solving.result.SolveResult`;
:func:`baohu_assign.rebalance` makes the plan of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Issue
from ..io.tables import IssueCollector, missing_mask, read_table
from ..io.validate import InputWarning
from ..model.changes import changed_mask
from ..model.scenario import Scenario
from .params import SolveParams
from .result import SolveResult
from .solve import check_scenario, solve

__all__ = ["REBALANCE_WARNINGS", "current_members", "rebalance"]

REBALANCE_WARNINGS: tuple[str, ...] = ("no_current_plan", "not_in_current_plan", "current_member_id_replaced")
"""Warning codes :func:`rebalance` adds to ``report.json`` (the command line also prints them on stderr)."""

_EXAMPLES = 5


def rebalance(
    scenario: Scenario,
    *,
    current: SolveResult | str | Path | None = None,
    objective: str = "min-churn",
    strategy: str = "auto",
    time_limit: float | None = None,
    seed: int | None = None,
    params: SolveParams | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> SolveResult:
    """Re-assign with today's contacts as the starting point, in indices: the solving part of
    :func:`baohu_assign.rebalance`.

    Parameters, warnings and errors as for :func:`baohu_assign.rebalance`;
    ``current`` is a previous solve's result (a plan's ``result``), a plan
    folder or its ``assignments.csv``.

    Returns
    -------
    SolveResult
        As :func:`~baohu_assign.solving.solve.solve` returns it.
    """
    check_scenario(scenario)
    added: list[InputWarning] = []
    if current is not None:
        scenario, added = _with_current(scenario, current)
    current_ids = scenario.households.get("current_member_id")
    if current_ids is None or not current_ids.notna().any():
        added.append(
            InputWarning(
                "no_current_plan",
                "no household has a current member (no current_member_id values"
                + (
                    ", and the current plan names none of these households"
                    if current is not None
                    else " and no current plan was given: --current DIR or rebalance(current=...)"
                )
                + "); nothing can be kept, so this is a fresh plan",
                len(scenario.households),
                [],
            )
        )
    if added:
        scenario = dataclasses.replace(scenario, warnings=(*scenario.warnings, *added))
    return solve(
        scenario,
        objective=objective,
        strategy=strategy,
        time_limit=time_limit,
        seed=seed,
        params=params,
        progress=progress,
    )


def current_members(current: SolveResult | str | Path) -> pd.Series:
    """Each household's primary member in a previous plan.

    Parameters
    ----------
    current
        A previous solve's result (a plan's
        :attr:`~baohu_assign.Plan.result`), a plan folder (its
        ``assignments.csv`` is read) or an ``assignments.csv`` file (CSV or
        ``.xlsx``). From the file only ``household_id`` and ``member_id`` are
        needed; with a ``role`` column, backup rows are skipped.

    Returns
    -------
    pandas.Series
        Member id (``string``, ``<NA>`` where the plan left the household
        uncovered), indexed by household id, in the plan's row order.

    Raises
    ------
    InputError
        The folder or file does not exist or cannot be read, a column is
        missing, a household id is empty or appears twice.
    """
    if isinstance(current, SolveResult):
        member_ids = np.append(current.scenario.members["member_id"].to_numpy(dtype=object), [None])
        household_ids = current.scenario.households["household_id"].astype(str)
        return pd.Series(
            pd.array(member_ids[current.primary_member_rows()], dtype="string"),  # -1 picks the trailing None
            index=pd.Index(household_ids.to_numpy(dtype=object), name="household_id"),
            name="member_id",
            dtype="string",
        )
    path = Path(current)
    if not path.exists():
        raise InputError(
            Issue(
                str(path),
                None,
                None,
                "current plan not found: no such folder or file (give a plan folder or its assignments.csv)",
            )
        )
    if path.is_dir():
        path = path / "assignments.csv"
        if not path.is_file():
            raise InputError(
                Issue(
                    str(path),
                    None,
                    None,
                    "current plan not found: the folder has no assignments.csv "
                    "(a plan folder is what `baohu-assign solve --out DIR` or Plan.write writes)",
                )
            )
    table = read_table(path)  # missing file, encoding, ragged rows: errors naming the file
    file = str(path)
    missing = [c for c in ("household_id", "member_id") if c not in table.columns]
    if missing:
        raise InputError([Issue(file, None, c, "column missing (needed to read the current plan)") for c in missing])
    rows = np.arange(len(table)) + 2  # as a spreadsheet shows them
    keep = np.ones(len(table), dtype=bool)
    if "role" in table.columns:
        keep = table["role"].str.strip().str.casefold().to_numpy() != "backup"
    household = table["household_id"].str.strip().to_numpy(dtype=object)[keep]
    member = table["member_id"].str.strip().to_numpy(dtype=object)[keep]
    rows = rows[keep]
    no_household = missing_mask(household)
    issues = IssueCollector(file, rows)
    issues.where(no_household, "household_id", "empty household id")
    seen: dict[str, int] = {}
    for hid, row, absent in zip(household, rows, no_household, strict=True):
        if absent:
            continue
        if hid in seen:
            issues.add(
                int(row), "household_id", f"household listed twice as a primary contact (first in row {seen[hid]})", hid
            )
        else:
            seen[hid] = int(row)
    issues.raise_if_any()
    return pd.Series(
        pd.array(np.where(missing_mask(member), None, member), dtype="string"),
        index=pd.Index(household, name="household_id"),
        name="member_id",
    )


def _with_current(scenario: Scenario, current: SolveResult | str | Path) -> tuple[Scenario, list[InputWarning]]:
    """The scenario with ``current_member_id`` taken from the previous plan, and what that replaced."""
    previous = current_members(current)
    households = scenario.households
    ids = households["household_id"].astype(str)
    listed = ids.isin(previous.index).to_numpy()
    taken = pd.array(ids.map(previous).to_numpy(dtype=object), dtype="string")
    warnings: list[InputWarning] = []
    absent = ~listed
    if absent.any():
        warnings.append(
            InputWarning(
                "not_in_current_plan",
                f"{int(absent.sum())} household(s) are not in the current plan; they have no current member",
                int(absent.sum()),
                ids[absent].head(_EXAMPLES).tolist(),
            )
        )
    if "current_member_id" in households and households["current_member_id"].notna().any():
        # The previous plan wins: that is what the caller asked for by giving it.
        differs = changed_mask(households["current_member_id"].to_numpy(dtype=object), np.asarray(taken, dtype=object))
        if differs.any():
            warnings.append(
                InputWarning(
                    "current_member_id_replaced",
                    f"the current plan replaces current_member_id of the households file; "
                    f"{int(differs.sum())} value(s) differed",
                    int(differs.sum()),
                    ids[differs].head(_EXAMPLES).tolist(),
                )
            )
    frame = households.drop(columns=["row"], errors="ignore").copy()
    frame["current_member_id"] = taken
    rebuilt = scenario.replace(households=frame)
    # Re-validation sees normalised headers; keep the names the input files used.
    rebuilt = dataclasses.replace(
        rebuilt,
        member_columns=scenario.member_columns,
        household_columns=scenario.household_columns,
    )
    return rebuilt, warnings
