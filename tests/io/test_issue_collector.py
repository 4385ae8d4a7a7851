"""The one issue collector: order, limit, overflow line and hint, the same for every input file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from baohu_assign.errors import InputError, Issue
from baohu_assign.io.tables import MAX_ISSUES, IssueCollector, read_table
from baohu_assign.model.network import WalkingNetwork


def raised(collector: IssueCollector) -> list[Issue]:
    with pytest.raises(InputError) as info:
        collector.raise_if_any()
    return info.value.issues


def test_nothing_found_raises_nothing() -> None:
    collector = IssueCollector("f.csv", np.arange(3) + 2)
    collector.where(np.zeros(3, bool), "a", "never")
    assert len(collector) == 0
    collector.raise_if_any()


def test_whole_file_first_then_rows_in_order_then_checks_in_order() -> None:
    collector = IssueCollector("f.csv", np.array([2, 3, 5, 6]))
    collector.where(np.array([False, True, False, True]), "b", "second check {}", ["x", "y", "z", "w"], np.arange(4))
    collector.add(None, "a", "whole column")
    collector.where(np.array([True, True, False, False]), "a", "first check")
    collector.add(4, "c", "by row", "v")
    issues = raised(collector)
    assert [(i.row, i.column, i.message, i.value) for i in issues] == [
        (None, "a", "whole column", None),
        (2, "a", "first check", None),
        (3, "b", "second check 1", "y"),
        (3, "a", "first check", None),
        (4, "c", "by row", "v"),
        (6, "b", "second check 3", "w"),
    ]
    assert all(i.file == "f.csv" for i in issues)


@given(
    whole=st.integers(0, 70),
    masks=st.lists(st.lists(st.booleans(), min_size=40, max_size=40), max_size=4),
    hint=st.booleans(),
)
def test_limit_and_count_of_the_rest(whole: int, masks: list[list[bool]], hint: bool) -> None:
    collector = IssueCollector("f.csv", np.arange(40) + 2)
    for k in range(whole):
        collector.add(None, None, f"whole {k}")
    for k, mask in enumerate(masks):
        collector.where(np.array(mask), f"c{k}", "bad")
    if hint:
        collector.hint = "a hint"
    total = whole + sum(sum(m) for m in masks)
    assert len(collector) == total
    if total == 0:
        collector.raise_if_any()
        return
    issues = raised(collector)
    listed = issues[:-1] if hint else issues
    if hint:
        assert issues[-1] == Issue("f.csv", None, None, "a hint")
    if total <= MAX_ISSUES:
        assert len(listed) == total
    else:
        assert len(listed) == MAX_ISSUES + 1
        assert listed[-1].message == f"... and {total - MAX_ISSUES} more problem(s) not listed"
        listed = listed[:-1]
    # Whole-file issues first in the order found, then rows ascending.
    expected_rows = sorted(r + 2 for k, mask in enumerate(masks) for r in range(40) if mask[r])
    assert [i.row for i in listed] == ([None] * whole + expected_rows)[:MAX_ISSUES]


def test_ragged_rows_overflow_like_every_other_file(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text("a,b\n" + "".join(f"{i},2,3\n" for i in range(MAX_ISSUES + 7)), encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path)
    issues = info.value.issues
    assert len(issues) == MAX_ISSUES + 1
    assert [i.row for i in issues[:MAX_ISSUES]] == list(range(2, 2 + MAX_ISSUES))
    assert issues[0].message == "row has 3 values but the header has 2 columns (a comma inside a value must be quoted)"
    assert issues[-1].message == "... and 7 more problem(s) not listed"


def test_edge_list_issues_in_row_order_with_the_same_overflow(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    rows = ["34.7,114.0,34.701,114.0,-1,maybe"] * (MAX_ISSUES + 3)
    path.write_text("from_lat,from_lon,to_lat,to_lon,length_m,oneway\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        WalkingNetwork.from_edge_csv(path)
    issues = info.value.issues
    assert len(issues) == MAX_ISSUES + 1
    assert [(i.row, i.column) for i in issues[:4]] == [(2, "length_m"), (2, "oneway"), (3, "length_m"), (3, "oneway")]
    assert issues[-1].message == f"... and {2 * (MAX_ISSUES + 3) - MAX_ISSUES} more problem(s) not listed"
