"""Changed contacts: the one definition of a household whose contact changed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..io.tables import missing_mask

__all__ = ["changed_mask"]


def changed_mask(current_ids: Sequence[object] | np.ndarray, member_ids: Sequence[object] | np.ndarray) -> np.ndarray:
    """Whether each household's contact changed: the one definition of ``changed``.

    A household changed when its member differs from its current member, an
    empty member on either side included: a household that had no contact
    and now has one (new), one whose contact is another member, and one that
    had a contact and is now uncovered (it lost its contact, also when its
    member left the members table). The ``changed`` column of
    assignments.csv, the ``changed`` counts of report.json (per branch and
    total), the plan summary, :func:`~baohu_assign.compare.compare` and the
    roster all count this set.

    Parameters
    ----------
    current_ids, member_ids
        Per household, today's member id and the plan's member id; a missing
        value (:func:`~baohu_assign.io.tables.is_missing`: ``None``, ``NA``,
        ``NaN``, ``""``) means "no member".

    Returns
    -------
    numpy.ndarray
        bool, one entry per household.

    Examples
    --------
    >>> changed_mask(["M1", "M2", None, "M3", ""], ["M1", "M9", "M4", None, None]).tolist()
    [False, True, True, True, False]
    """
    current, member = _id_text(current_ids), _id_text(member_ids)
    if current.shape != member.shape:
        raise ValueError(f"{current.shape[0]} current members for {member.shape[0]} households")
    return current != member


def _id_text(ids: Sequence[object] | np.ndarray) -> np.ndarray:
    """Ids as text, "" for every way of saying "no member" (:func:`~baohu_assign.io.tables.is_missing`)."""
    cells = pd.Series(np.asarray(ids, dtype=object), dtype=object)
    missing = missing_mask(cells)
    if pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):
        text = cells.to_numpy(dtype=object, copy=True)  # text already: no conversion of every cell
    else:
        text = cells.astype("string").to_numpy(dtype=object)
    text[missing] = ""
    return text
