"""Output CSV text: the columnar writer gives pandas' to_csv bytes exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from baohu_assign.io import tables

_TEXT = st.text(alphabet=st.sampled_from(list('ab ,;"\n\r\t\u3000党员户0.-')), max_size=6)
_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e-5, 2.0, 1e16, 0.1, 123456.789, 1e300]),
)


def _column(kind: str, n: int):
    if kind == "float":
        return st.lists(_FLOAT, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="float64"))
    if kind == "int":
        return st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="int64")
        )
    cells = st.lists(st.one_of(st.none(), _TEXT), min_size=n, max_size=n)
    if kind == "object":
        return cells.map(lambda v: pd.Series(v, dtype=object))
    return cells.map(lambda v: pd.Series(v, dtype=kind))


@st.composite
def _frames(draw):
    n = draw(st.integers(0, 20))
    kinds = draw(st.lists(st.sampled_from(["float", "int", "object", "string", "str"]), min_size=1, max_size=5))
    names = draw(st.lists(_TEXT, min_size=len(kinds), max_size=len(kinds)))
    frame = pd.DataFrame({i: draw(_column(kind, n)) for i, kind in enumerate(kinds)})
    frame.columns = names
    return frame


@settings(max_examples=300, deadline=None)
@given(frame=_frames(), rows_per_chunk=st.sampled_from([1, 2, 50_000]))
def test_csv_text_is_pandas_to_csv(frame, rows_per_chunk):
    expected = "\ufeff" + frame.to_csv(index=False, lineterminator="\n")
    original = tables.CSV_ROWS_PER_CHUNK
    tables.CSV_ROWS_PER_CHUNK = rows_per_chunk
    try:
        assert tables.csv_text(frame) == expected
    finally:
        tables.CSV_ROWS_PER_CHUNK = original


def test_columnar_writer_covers_text_and_numbers():
    frame = pd.DataFrame(
        {
            "id": pd.Series(["H1", 'say "hi"', None], dtype="str"),
            "m": pd.Series(["M1", pd.NA, "a,b"], dtype="string"),
            "d": [1.5, np.nan, 1e-5],
            "n": [1, 2, 3],
            "g": [None, "U1", np.nan],
        }
    )
    text = tables._columnar_csv(frame)
    assert text == 'id,m,d,n,g\nH1,M1,1.5,1,\n"say ""hi""",,,2,U1\n,"a,b",1e-05,3,\n'


def test_other_columns_are_left_to_pandas():
    assert tables._columnar_csv(pd.DataFrame({"a": [1], "b": pd.Series([True], dtype="boolean")})) is None
    assert tables._columnar_csv(pd.DataFrame({"a": [1]})) is None  # one column: a lone blank is quoted
    mixed = pd.DataFrame({"a": [1, 2], "b": pd.Series(["x", 3], dtype=object)})
    assert tables._columnar_csv(mixed) is None
    assert tables.csv_text(mixed) == "\ufeff" + mixed.to_csv(index=False, lineterminator="\n")
