"""The one rule of a missing cell: ``is_missing`` and its column form ``missing_mask``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from baohu_assign.io.geocode import normalise_address
from baohu_assign.io.policy import Policy
from baohu_assign.io.tables import is_missing, missing_mask
from baohu_assign.io.validate import validate_households
from baohu_assign.results.explain import changed_mask

WHITESPACE = " \t\n\r\u3000\u00a0\u2003"


def oracle(value: object) -> bool:
    """The contract's rule, written out case by case."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return all(c.isspace() for c in value)
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ("", True),
        (" ", True),
        ("\u3000", True),  # full-width space
        (" \t\u3000 ", True),
        (None, True),
        (float("nan"), True),
        (np.float32("nan"), True),
        (pd.NA, True),
        (pd.NaT, True),
        (np.datetime64("NaT"), True),
        ("nan", False),  # text, not a missing number
        ("NaN", False),
        ("None", False),
        ("0", False),
        (0, False),
        (0.0, False),
        (False, False),
        ("a", False),
        (" 007 ", False),
    ],
)
def test_edge_cases(value: object, missing: bool) -> None:
    assert is_missing(value) is missing
    assert missing_mask([value]).tolist() == [missing]


cells = st.one_of(
    st.text(alphabet=WHITESPACE, max_size=3),
    st.text(max_size=4),
    st.sampled_from(["nan", "NaN", "None", "0", "是"]),
    st.none(),
    st.just(pd.NA),
    st.just(pd.NaT),
    st.floats(allow_nan=True),
    st.integers(-5, 5),
    st.booleans(),
)


@given(st.lists(cells, max_size=12))
def test_mask_is_the_rule_on_object_columns(values: list[object]) -> None:
    expected = [oracle(v) for v in values]
    assert [is_missing(v) for v in values] == expected
    assert missing_mask(values).tolist() == expected
    assert missing_mask(pd.Series(values, dtype=object)).tolist() == expected


@given(st.lists(st.one_of(st.text(alphabet=WHITESPACE + "ab0", max_size=3), st.none()), max_size=12))
@pytest.mark.parametrize("dtype", ["str", "string", "category"])
def test_mask_is_the_rule_on_text_columns(dtype: str, values: list[str | None]) -> None:
    series = pd.Series(values, dtype=dtype)
    assert missing_mask(series).tolist() == [oracle(v) for v in values]


@given(st.lists(st.floats(allow_nan=True), max_size=12))
def test_mask_on_numbers(values: list[float]) -> None:
    assert missing_mask(pd.Series(values, dtype=np.float64)).tolist() == [math.isnan(v) for v in values]


def test_whitespace_member_ids_mean_no_member() -> None:
    # A member id of spaces is no member, as everywhere else: no change between it and none.
    changed = changed_mask([" ", "\u3000", "M1", None], [None, "", " M1", "\u3000"])
    assert changed.tolist() == [False, False, True, False]


def test_missing_address_normalises_to_nothing() -> None:
    assert normalise_address(pd.NA) == normalise_address(None) == normalise_address("\u3000 ") == ""


def test_validator_reads_full_width_spaces_as_blank() -> None:
    raw = pd.DataFrame(
        {
            "household_id": ["H1", "H2"],
            "branch": ["A", "A"],
            "lat": ["34.7", "34.7"],
            "lon": ["114.0", "114.0"],
            "priority": ["\u3000", "critical"],
            "visits_per_week": [" \u3000", "2"],
            "group_id": ["\u3000", "G1"],
            "pinned": ["\u3000", "no"],
        }
    )
    frame = validate_households(raw, Policy())
    assert frame["priority"].tolist() == ["normal", "critical"]
    assert frame["visits_per_week"].tolist() == [Policy().visits_per_week["normal"], 2.0]
    assert frame["group_id"].isna().tolist() == [True, False]
    assert frame["pinned"].tolist() == [False, False]
