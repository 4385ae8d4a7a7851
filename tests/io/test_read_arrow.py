"""pyarrow's CSV reader reads plain files exactly as the csv module does; anything else goes to the csv module."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baohu_assign.io import tables

_CELL = st.text(alphabet=st.sampled_from(list("ab1 .-_\u3000党员户\t;,\"'\r")), max_size=6)


def _by_csv_module(text: str, file: str) -> pd.DataFrame:
    return tables._frame(tables._csv_rows(text, file), file)


@st.composite
def _csv_text(draw):
    width = draw(st.integers(1, 4))
    header = draw(
        st.lists(st.sampled_from(["id", "Name", " lat ", "lon", "党员", "", "id"]), min_size=width, max_size=width)
    )
    rows = draw(st.lists(st.lists(_CELL, min_size=0, max_size=width + 1), max_size=6))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [delimiter.join(header), *(delimiter.join(r) for r in rows)]
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    return draw(st.sampled_from(["", "\ufeff"])) + text


@settings(max_examples=300, deadline=None)
@given(text=_csv_text())
def test_arrow_reader_gives_the_csv_modules_frame_or_steps_aside(text):
    fast = tables._arrow_csv_frame(text, "t.csv")
    try:
        expected = _by_csv_module(text, "t.csv")
    except tables.InputError:
        assert fast is None, "a file the csv module refuses is never read by the fast path"
        return
    if fast is None:
        return
    pd.testing.assert_frame_equal(fast, expected)
    assert fast.attrs == expected.attrs


@pytest.mark.parametrize(
    "text",
    [
        'id,name\n1,"a,b"\n',  # a quoted cell
        "id,name\n1,a,x\n",  # a row longer than the header
        "id,name\n1\n",  # a shorter one
        "id,\n1,\n",  # a blank header name
        "id,ID\n1,2\n",  # the same name twice
        "id,name\r1,a\r",  # lines ended by carriage returns alone
        "id,name\r\n1,a\rb\r\n",  # a carriage return alone inside a row
    ],
)
def test_anything_but_a_plain_table_goes_to_the_csv_module(text):
    assert tables._arrow_csv_frame(text, "t.csv") is None


def test_blank_line_is_a_row_of_blanks_as_with_the_csv_module():
    text = "id,name\n1,a\n\n2,b\n"
    fast = tables._arrow_csv_frame(text, "t.csv")
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _by_csv_module(text, "t.csv"))
    assert fast["id"].tolist() == ["1", "", "2"]


def test_plain_table_read_by_arrow_keeps_text_as_written(tmp_path):
    path = tmp_path / "households.csv"
    path.write_bytes("\ufeffhousehold_id,size,名称\r\n007,2,\u3000张三 \r\n008,,李四\r\n".encode())
    frame = tables.read_table(path)
    assert frame["household_id"].tolist() == ["007", "008"]
    assert frame["size"].tolist() == ["2", ""]
    assert frame["名称"].tolist() == ["\u3000张三 ", "李四"]
    pd.testing.assert_frame_equal(frame, _by_csv_module(path.read_text(encoding="utf-8-sig"), str(path)))
