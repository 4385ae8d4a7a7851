"""Makes a worker process die on some towns, as a killed or out-of-memory worker would.

Installed in a worker process by ``install()`` (a process pool's initializer)
or ``dask_setup`` (``dask worker --preload crash_hook.py``), never on import: a town whose folder name
holds ``dies-always`` ends its worker process every time; ``dies-once``
only the first time (a file beside its plan folder remembers).
"""

from __future__ import annotations

import os
from pathlib import Path

import baohu_assign.batch as batch

_solve_town = batch.solve_town


def _dying_solve_town(task):
    if "dies-always" in task.name:
        os._exit(17)
    if "dies-once" in task.name:
        marker = Path(task.out + ".died")
        if not marker.exists():
            marker.write_text("died once\n", encoding="utf-8")
            os._exit(17)
    return _solve_town(task)


def install() -> None:
    batch.solve_town = _dying_solve_town


def dask_setup(worker) -> None:
    install()
