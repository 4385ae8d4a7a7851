"""The cross-check's membership test agrees with ``Series.isin`` on every kind of text column."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from baohu_assign.io.validate import _among

_VALUE = st.one_of(st.none(), st.sampled_from(["M1", "M2", "党员", "", " "]))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(_VALUE, max_size=12),
    pool=st.lists(_VALUE, max_size=8),
    dtype=st.sampled_from(["string", "str", object]),
)
def test_among_is_isin(values, pool, dtype):
    v, p = pd.Series(values, dtype=dtype), pd.Series(pool, dtype=dtype)
    np.testing.assert_array_equal(_among(v, p), v.isin(p).to_numpy(dtype=bool))
