"""Backups: each covered household that wants one gets the cheapest member with backup room left."""

from __future__ import annotations

import numpy as np

from .state import (
    _INF,
    _Assignment,
)


class _Backups(_Assignment):
    """Backups: a layer of the greedy engine."""

    # ----------------------------------------------------------------- backups

    def backups(self) -> np.ndarray | None:
        """Backup member per household (-1 none), or ``None`` when no backups are asked for."""
        wants = getattr(self.problem, "household_backup", None)
        if wants is None:
            return None
        backup_of = np.full(self.H, -1, dtype=np.int32)
        cap = getattr(self.problem, "member_backup_capacity", None)
        left = np.asarray(cap, dtype=np.int64).copy() if cap is not None else np.full(self.M, _INF, np.int64)
        rows = np.flatnonzero(np.asarray(wants, dtype=bool) & (self.member_of >= 0))
        if rows.size == 0:
            return backup_of
        options = [self._backup_options(h) for h in rows.tolist()]
        # Critical first, then fewest options, then the household order.
        order = sorted(range(rows.size), key=lambda i: (-int(self.tier[rows[i]]), len(options[i]), int(rows[i])))
        for i in order:
            for m in options[i]:
                if left[m] > 0:
                    left[m] -= 1
                    backup_of[rows[i]] = m
                    break
        return backup_of

    def _backup_options(self, h: int) -> list[int]:
        lo, hi = int(self.ptr[h]), int(self.ptr[h + 1])
        members = self.arc_m[lo:hi]
        order = np.argsort(self.arc_c[lo:hi], kind="stable")
        return [int(m) for m in members[order] if m != self.member_of[h] and self.cap[m] > 0]
