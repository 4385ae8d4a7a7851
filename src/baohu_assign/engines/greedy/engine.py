"""The greedy engine: its layers, and the local search that drives their moves."""

from __future__ import annotations

from .backups import _Backups
from .group_moves import _GroupMoves


class _Engine(_GroupMoves, _Backups):
    """Mutable assignment state with the construction and the local search."""

    def improve(self) -> None:
        """Local search until no improving move, the move budget or the deadline."""
        if self.H == 0 or self.M == 0 or self.arc_h.size == 0:
            return
        while self._budget_left():
            applied = self._cancel_cycles()
            if self.budgeted:
                applied += self._budget_pass()
            if self.g_size.size and self._budget_left():
                applied += self._cancel_group_cycles()
                applied += self._group_pass()
            if applied == 0 or (self.g_size.size == 0 and not self.budgeted):
                break
