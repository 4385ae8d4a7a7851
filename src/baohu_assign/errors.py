"""Exceptions and warnings raised by baohu_assign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class BaohuError(Exception):
    """Base class of every error this library raises on purpose."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in the input.

    ``row`` is the row number as a spreadsheet shows it (header = row 1, first
    data row = row 2); ``None`` when the issue concerns the whole file or column.
    For records given as lists (:meth:`Scenario.from_records
    <baohu_assign.Scenario.from_records>`), ``numbering`` is ``"record"``:
    ``row`` is then the record's position in its list, from 0, and the issue
    reads ``members[3]``.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    value: str | None = None
    numbering: Literal["sheet", "record"] = "sheet"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where = f"{where}[{self.row}]" if self.numbering == "record" else f"{where}, row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        return text


class InputError(BaohuError, ValueError):
    """Bad input. Carries every issue found, not only the first."""

    def __init__(self, issues: list[Issue] | Issue):
        if isinstance(issues, Issue):
            issues = [issues]
        self.issues: list[Issue] = list(issues)
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [str(issue) for issue in self.issues]
        head = f"{len(lines)} problem(s) in the input:" if len(lines) > 1 else ""
        return "\n".join([head, *lines]) if head else (lines[0] if lines else "bad input")


class EngineError(BaohuError, RuntimeError):
    """An engine failed: it cannot express the problem, or a fault inside it (an invalid plan, a crash)."""


class EngineUnavailable(EngineError):
    """An engine cannot give a plan here, through no fault of its own.

    Its dependency is missing (OR-Tools not importable) or its time ran out
    before it found any plan. :func:`~baohu_assign.solve` falls back to the
    greedy engine on this error only, with an ``engine_fallback`` warning; any
    other exception from an engine is a fault and raises :class:`EngineError`.
    """


class ScalingWarning(UserWarning):
    """Integer costs had to be scaled down to stay clear of int64 overflow."""
