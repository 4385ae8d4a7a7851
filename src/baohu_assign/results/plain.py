"""Tables and reports as plain JSON values: what ``to_dict()`` hands to ``json.dumps``.

Plain means ``str``, ``int``, ``float``, ``bool``, ``None``, ``list`` and
``dict`` only: no numpy or pandas scalars, and every missing value (NaN,
``pd.NA``, ``None``) as ``None`` (JSON ``null``), as the blank cell of the
same table's CSV file. Infinite numbers, which JSON cannot hold, are ``None``
too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plain", "table_records"]


def plain(value: Any) -> Any:
    """A value with every number, text and container as a plain JSON value (recursively).

    Parameters
    ----------
    value
        A scalar (Python, numpy or pandas), a mapping, a list or a tuple.

    Returns
    -------
    object
        ``None`` for missing and non-finite numbers; numpy scalars as
        Python ones; mappings as dicts with text keys; lists and tuples as
        lists.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, np.integer, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, np.generic):
        return plain(value.item())
    return str(value)


def table_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as one dict per row (column → plain value), in row and column order.

    Parameters
    ----------
    frame
        Any frame with text column names (a plan's or a visit plan's table).

    Returns
    -------
    list of dict
        Integer columns as ``int``, float columns as ``float``, booleans as
        ``bool``, text as ``str``; each missing cell ``None``.
    """
    names = [str(c) for c in frame.columns]
    columns = [[plain(v) for v in frame.iloc[:, k].to_numpy(dtype=object)] for k in range(frame.shape[1])]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] if names else []
