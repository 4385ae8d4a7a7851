"""Bytes → raw frames: decode, split into cells, normalise headers; no rules.

Every cell comes back as text (blank cells as ``""``), so that
:mod:`baohu_assign.validate` sees exactly what the user typed, leading zeros
and all. Accepted inputs:

- CSV in UTF-8, UTF-8 with a byte-order mark (Excel's "CSV UTF-8") or
  GBK/GB18030 (older Excel in China), comma separated (tab or semicolon
  separated files are recognised from the header line);
- ``.xlsx`` workbooks, when :mod:`openpyxl` is installed.

Headers are normalised (stripped, lower-cased, inner spaces → ``_``); the
header text as written is kept in ``frame.attrs["original_columns"]``
(normalised → original) so pass-through columns keep their names in outputs.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Issue

logger = logging.getLogger(__name__)

__all__ = ["MAX_ISSUES", "normalise_header", "read_frames", "read_table"]

MAX_ISSUES = 50
"""Most issues listed in one :class:`InputError`; one more issue counts the rest."""

_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def normalise_header(name: object) -> str:
    """The canonical spelling of a column header.

    Parameters
    ----------
    name
        The header as written in the file.

    Returns
    -------
    str
        Stripped of whitespace and byte-order marks, lower-cased, inner runs of
        whitespace (including the full-width space) replaced by ``_``.

    Examples
    --------
    >>> normalise_header(" Member ID ")
    'member_id'
    """
    text = str(name).replace("\ufeff", "").strip().lower()
    return _SPACES.sub("_", text)


def read_table(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a CSV or ``.xlsx`` table into a frame of strings.

    Parameters
    ----------
    path
        The file. ``.xlsx``/``.xlsm`` are read as workbooks, anything else as CSV.
    sheet
        Workbook sheet, by name or 0-based position; the first sheet when
        ``None``. Ignored for CSV files.

    Returns
    -------
    pandas.DataFrame
        One row per data row in file order (``RangeIndex``; data row ``i`` is
        spreadsheet row ``i + 2``), one ``str`` column per header, every cell a
        ``str`` (``""`` when blank). Headers are normalised with
        :func:`normalise_header`; ``attrs["original_columns"]`` maps each
        normalised header to the text in the file, ``attrs["file"]`` is the
        path as given.

    Raises
    ------
    InputError
        The file is missing, empty, not text (binary, undecodable), has no
        header, has duplicate column names, or has a row with more cells than
        the header; an ``.xlsx`` file is given but openpyxl is not installed.
    """
    file = str(path)
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "file not found"
        raise InputError(Issue(file, None, None, what))
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        rows = _excel_rows(path, file, sheet)
    elif path.suffix.lower() == ".xls":
        raise InputError(
            Issue(file, None, None, "old Excel .xls files are not read; save the sheet as .xlsx or CSV UTF-8")
        )
    else:
        rows = _csv_rows(_decode(path.read_bytes(), file), file)
    frame = _frame(rows, file)
    logger.debug("read %s: %d rows, columns %s", file, len(frame), list(frame.columns))
    return frame


def read_frames(members_path: str | Path, households_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``members.csv`` and ``households.csv`` with :func:`read_table`.

    Parameters
    ----------
    members_path, households_path
        The two input files (CSV or ``.xlsx``).

    Returns
    -------
    tuple of pandas.DataFrame
        The raw members frame and the raw households frame.

    Raises
    ------
    InputError
        With the issues of both files together when either cannot be read.
    """
    issues: list[Issue] = []
    frames: list[pd.DataFrame] = []
    for path in (members_path, households_path):
        try:
            frames.append(read_table(path))
        except InputError as exc:
            issues.extend(exc.issues)
    if issues:
        raise InputError(issues)
    return frames[0], frames[1]


# -- decoding -------------------------------------------------------------------


def _decode(data: bytes, file: str) -> str:
    """Bytes → text: UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK)."""
    data = data.rstrip(b"\x1a")  # DOS end-of-file mark left by old office software
    if not data.strip():
        raise InputError(Issue(file, None, None, "file is empty"))
    if data.startswith(b"PK\x03\x04"):
        raise InputError(
            Issue(file, None, None, "this looks like an Excel workbook; give it the .xlsx extension or save it as CSV")
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(Issue(file, None, None, "file is UTF-16 text; save it as CSV UTF-8"))
    if b"\x00" in data:
        raise InputError(Issue(file, None, None, "file is not text (it contains NUL bytes); expected a CSV file"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # GB18030 maps most byte soup to some character; control characters betray binary.
        if _CONTROL.search(text):
            break
        logger.debug("decoded %s as %s", file, encoding)
        return text
    raise InputError(
        Issue(file, None, None, "file is not readable text; expected CSV in UTF-8, UTF-8 with BOM, or GBK")
    )


def _csv_rows(text: str, file: str) -> list[list[str]]:
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        # Some locales' Excel writes ';', and "Unicode text" exports use tabs.
        counts = {d: first_line.count(d) for d in ("\t", ";")}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            delimiter = best
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(Issue(file, None, None, f"not a readable CSV file ({exc})")) from None


# -- Excel ----------------------------------------------------------------------


def _excel_rows(path: Path, file: str, sheet: str | int | None) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError:
        raise InputError(
            Issue(
                file, None, None, "reading .xlsx files needs openpyxl (pip install openpyxl), or save the sheet as CSV"
            )
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise InputError(Issue(file, None, None, f"not a readable .xlsx workbook ({type(exc).__name__})")) from None
    try:
        names = book.sheetnames
        if sheet is None:
            chosen = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise InputError(Issue(file, None, None, f"no sheet number {sheet}; the workbook has {len(names)}"))
            chosen = names[sheet]
        elif sheet in names:
            chosen = sheet
        else:
            raise InputError(Issue(file, None, None, f"no sheet named {sheet!r}; sheets are {names}"))
        rows = [[_excel_text(v) for v in row] for row in book[chosen].iter_rows(values_only=True)]
    finally:
        book.close()
    if not any(any(cell.strip() for cell in row) for row in rows):
        raise InputError(Issue(file, None, None, f"sheet {chosen!r} is empty"))
    return rows


def _excel_text(value: object) -> str:
    """A workbook cell as the text a user sees; whole floats without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


# -- rows → frame ---------------------------------------------------------------


def _frame(rows: Sequence[list[str]], file: str) -> pd.DataFrame:
    # A blank line 1 would shift every row number the user sees; refuse it rather than guess.
    start = 0
    while start < len(rows) and not any(cell.strip() for cell in rows[start]):
        start += 1
    if start == len(rows):
        raise InputError(Issue(file, None, None, "file is empty"))
    if start:
        raise InputError(
            Issue(
                file,
                1,
                None,
                f"no header: line 1 is blank and the table starts on line {start + 1}; "
                "the column names must be on line 1",
            )
        )
    header = list(rows[0])
    body = rows[1:]
    width = len(header)

    # Trailing unnamed columns are Excel leftovers unless some row has data there.
    while width and not header[width - 1].strip() and not any(len(r) >= width and r[width - 1].strip() for r in body):
        width -= 1
    header = header[:width]
    if not width:
        raise InputError(Issue(file, 1, None, "no header: line 1 has no column names"))

    names = [normalise_header(h) for h in header]
    issues: list[Issue] = []
    for i, name in enumerate(names):
        if not name:
            issues.append(Issue(file, 1, None, f"column {_column_letter(i)} has data but no name in the header"))
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name in seen:
            first = seen[name]
            issues.append(
                Issue(
                    file,
                    1,
                    header[i].strip(),
                    f"duplicate column name {name!r} (columns {_column_letter(first)} "
                    f"{header[first].strip()!r} and {_column_letter(i)} {header[i].strip()!r})",
                )
            )
        seen.setdefault(name, i)

    cells = _rectangular(body, width, file, issues)
    if issues:
        raise InputError(issues)

    frame = pd.DataFrame(cells, columns=names, index=pd.RangeIndex(len(cells)), dtype="str")
    frame.attrs["original_columns"] = {
        name: h.replace("\ufeff", "").strip() for name, h in zip(names, header, strict=True)
    }
    frame.attrs["file"] = file
    return frame


def _rectangular(body: Iterable[list[str]], width: int, file: str, issues: list[Issue]) -> list[list[str]]:
    """Pad short rows; a long row with data past the header is an error (an unquoted comma?)."""
    out: list[list[str]] = []
    ragged = 0
    for index, row in enumerate(body):
        if len(row) < width:
            row = row + [""] * (width - len(row))
        elif len(row) > width:
            if any(cell.strip() for cell in row[width:]):
                ragged += 1
                if ragged <= MAX_ISSUES:
                    issues.append(
                        Issue(
                            file,
                            index + 2,
                            None,
                            f"row has {len(row)} values but the header has {width} columns "
                            "(a comma inside a value must be quoted)",
                        )
                    )
            row = row[:width]
        out.append(row)
    if ragged > MAX_ISSUES:
        issues.append(Issue(file, None, None, f"... and {ragged - MAX_ISSUES} more rows with too many values"))
    return out


def _column_letter(index: int) -> str:
    """0 → 'A', 26 → 'AA', as a spreadsheet labels columns."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def cell_text(value: object) -> str:
    """One cell as the text a CSV would hold: "" for missing, whole floats without ".0", booleans as true/false."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)
