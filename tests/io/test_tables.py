"""Reading input files: encodings, headers, and the errors a broken file gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from baohu_assign import InputError
from baohu_assign.io.tables import normalise_header, read_frames, read_table

DATA = Path(__file__).parents[1] / "data" / "inputs"
MEMBERS = DATA / "members.csv"
HOUSEHOLDS = DATA / "households.csv"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def only_issue(exc: pytest.ExceptionInfo[InputError]):
    assert len(exc.value.issues) == 1
    return exc.value.issues[0]


# -- valid files -------------------------------------------------------------------


def test_every_cell_is_text_and_blank_is_empty_string():
    """Cells come back exactly as typed: text, '' for blank, leading zeros kept."""
    frame = read_table(MEMBERS)
    assert list(frame.columns) == [
        "member_id",
        "name",
        "branch",
        "lat",
        "lon",
        "age",
        "capacity",
        "max_distance_m",
        "mobile",
        "available",
        "phone_number",
    ]
    assert isinstance(frame.index, pd.RangeIndex)
    assert len(frame) == 4
    assert all(frame[c].map(type).eq(str).all() for c in frame.columns)
    assert frame.loc[0, "member_id"] == "007"
    assert frame.loc[0, "name"] == "张伟"
    assert frame.loc[0, "capacity"] == ""
    assert frame.loc[2, "phone_number"] == ""
    assert frame.loc[0, "lat"] == "34.7200"


def test_original_header_text_is_kept():
    """Pass-through columns can be written back under their original header."""
    frame = read_table(MEMBERS)
    assert frame.attrs["original_columns"]["phone_number"] == "Phone Number"
    assert frame.attrs["original_columns"]["member_id"] == "member_id"


@pytest.mark.parametrize("source", [MEMBERS, HOUSEHOLDS])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
def test_bom_and_gbk_read_like_utf8(tmp_path, source, encoding):
    """Excel's 'CSV UTF-8' (BOM) and GBK exports give the same frame as plain UTF-8."""
    text = source.read_text(encoding="utf-8")
    copy = write(tmp_path, source.name, text.encode(encoding))
    expected = read_table(source)
    got = read_table(copy)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs["original_columns"] == expected.attrs["original_columns"]
    assert "万胜村" in set(got["branch"])


def test_gbk_with_crlf_line_ends(tmp_path):
    """Windows line ends do not leak into the last column."""
    text = MEMBERS.read_text(encoding="utf-8").replace("\n", "\r\n")
    frame = read_table(write(tmp_path, "m.csv", text.encode("gbk")))
    pd.testing.assert_frame_equal(frame, read_table(MEMBERS))


def test_headers_are_normalised(tmp_path):
    """Spaces and case in headers do not matter; a BOM does not stick to the first name."""
    path = write(tmp_path, "m.csv", "\ufeff Member ID ,BRANCH,Lat,Lon,Home  Address\nM1,a,1,2,x\n".encode())
    frame = read_table(path)
    assert list(frame.columns) == ["member_id", "branch", "lat", "lon", "home_address"]
    assert frame.attrs["original_columns"]["home_address"] == "Home  Address"
    assert normalise_header("\u3000Group ID\u3000") == "group_id"


def test_header_only_file_gives_empty_frame(tmp_path):
    frame = read_table(write(tmp_path, "m.csv", b"member_id,branch,lat,lon\n"))
    assert list(frame.columns) == ["member_id", "branch", "lat", "lon"]
    assert len(frame) == 0


def test_quoted_comma_stays_in_its_cell(tmp_path):
    frame = read_table(write(tmp_path, "m.csv", b'member_id,note\nM1,"a, b"\n'))
    assert frame.loc[0, "note"] == "a, b"


def test_short_rows_are_padded_with_blanks(tmp_path):
    frame = read_table(write(tmp_path, "m.csv", b"a,b,c\n1\n1,2,3\n"))
    assert frame.loc[0].tolist() == ["1", "", ""]


def test_trailing_unnamed_empty_columns_are_dropped(tmp_path):
    """Excel leaves ',,' after the last column; they are not columns."""
    frame = read_table(write(tmp_path, "m.csv", b"a,b,,\n1,2,,\n3,4\n"))
    assert list(frame.columns) == ["a", "b"]


def test_semicolon_and_tab_separated_files(tmp_path):
    semi = read_table(write(tmp_path, "s.csv", "a;b\n1;张\n".encode()))
    tab = read_table(write(tmp_path, "t.csv", "a\tb\n1\t张\n".encode()))
    assert semi.to_dict("list") == tab.to_dict("list") == {"a": ["1"], "b": ["张"]}


def test_read_frames_reads_both():
    members, households = read_frames(MEMBERS, HOUSEHOLDS)
    assert "member_id" in members and "household_id" in households


# -- broken files ------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        read_table(tmp_path / "nope.csv")
    issue = only_issue(exc)
    assert issue.file.endswith("nope.csv")
    assert (issue.row, issue.column) == (None, None)
    assert "not found" in issue.message


@pytest.mark.parametrize("data", [b"", b"  \n\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_empty_file(tmp_path, data):
    with pytest.raises(InputError, match="empty") as exc:
        read_table(write(tmp_path, "m.csv", data))
    assert only_issue(exc).row is None


def test_binary_file_with_nul_bytes(tmp_path):
    with pytest.raises(InputError, match="not text"):
        read_table(write(tmp_path, "m.csv", b"member_id\x00\x01\x02\xff\xfe"))


def test_undecodable_bytes(tmp_path):
    """Neither UTF-8 nor GB18030: refused, not read as mojibake."""
    data = bytes(range(0x80, 0x100)) * 4 + b"\x01\x02"
    with pytest.raises(InputError, match="not readable text"):
        read_table(write(tmp_path, "m.csv", data))


def test_utf16_file_is_explained(tmp_path):
    with pytest.raises(InputError, match="UTF-16"):
        read_table(write(tmp_path, "m.csv", "member_id,branch\nM1,a\n".encode("utf-16")))


def test_workbook_saved_as_csv_is_explained(tmp_path):
    with pytest.raises(InputError, match="Excel workbook"):
        read_table(write(tmp_path, "m.csv", b"PK\x03\x04" + b"\x00" * 20))


def test_first_line_blank_means_no_header(tmp_path):
    with pytest.raises(InputError, match="no header") as exc:
        read_table(write(tmp_path, "m.csv", b"\nmember_id,branch\nM1,a\n"))
    assert only_issue(exc).row == 1


def test_duplicate_column_names_are_named(tmp_path):
    """'Name' and 'name ' normalise to the same column: both spellings are reported."""
    with pytest.raises(InputError) as exc:
        read_table(write(tmp_path, "m.csv", b"member_id,Name,branch,name \nM1,a,b,c\n"))
    issue = only_issue(exc)
    assert issue.row == 1
    assert "'name'" in issue.message and "'Name'" in issue.message and "B" in issue.message
    assert "D" in issue.message


def test_unnamed_column_with_data(tmp_path):
    with pytest.raises(InputError, match="column B has data but no name"):
        read_table(write(tmp_path, "m.csv", b"member_id,,branch\nM1,x,b\n"))


def test_row_with_too_many_values(tmp_path):
    """An unquoted comma shifts the row: reported with its spreadsheet row number."""
    path = write(tmp_path, "m.csv", b"member_id,lat,lon\nM1,1,2\nM2,1,5,2\nM3,1,2\n")
    with pytest.raises(InputError, match="quoted") as exc:
        read_table(path)
    assert only_issue(exc).row == 3


def test_read_frames_reports_both_files(tmp_path):
    with pytest.raises(InputError) as exc:
        read_frames(tmp_path / "m.csv", tmp_path / "h.csv")
    assert [i.file.rsplit("/", 1)[-1] for i in exc.value.issues] == ["m.csv", "h.csv"]


def test_old_xls_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"\.xlsx or CSV"):
        read_table(write(tmp_path, "m.xls", b"\xd0\xcf\x11\xe0"))


# -- Excel -------------------------------------------------------------------------


def test_xlsx_without_openpyxl_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # makes `import openpyxl` fail
    with pytest.raises(InputError, match="openpyxl"):
        read_table(write(tmp_path, "m.xlsx", b"PK\x03\x04"))


def test_xlsx_cells_become_text(tmp_path):
    """Numbers typed in Excel read as a user sees them: 45, not 45.0."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "党员"
    sheet.append(["Member ID", "name", "branch", "lat", "lon", "age", "mobile"])
    sheet.append(["007", "张伟", "万胜村", 34.72, 113.95, 45, True])
    sheet.append(["M2", None, "万胜村", 34.5, 113, 60.0, False])
    other = book.create_sheet("户")
    other.append(["household_id"])
    other.append(["H1"])
    path = tmp_path / "m.xlsx"
    book.save(path)

    frame = read_table(path)
    assert list(frame.columns) == ["member_id", "name", "branch", "lat", "lon", "age", "mobile"]
    assert frame.loc[0].tolist() == ["007", "张伟", "万胜村", "34.72", "113.95", "45", "true"]
    assert frame.loc[1].tolist() == ["M2", "", "万胜村", "34.5", "113", "60", "false"]
    assert frame.attrs["original_columns"]["member_id"] == "Member ID"
    assert read_table(path, sheet="户")["household_id"].tolist() == ["H1"]
    assert read_table(path, sheet=1)["household_id"].tolist() == ["H1"]
    with pytest.raises(InputError, match="no sheet named"):
        read_table(path, sheet="missing")
