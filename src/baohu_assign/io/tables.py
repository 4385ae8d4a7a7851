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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError, Issue

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_ISSUES",
    "IssueCollector",
    "cell_text",
    "csv_text",
    "is_missing",
    "missing_mask",
    "normalise_header",
    "read_frames",
    "read_table",
    "row_numbers",
    "text_column",
    "text_frame",
]

MAX_ISSUES = 50
"""Most issues listed in one :class:`InputError`; one more issue counts the rest."""
RowNumbering = Literal["sheet", "record"]
"""How issues number a table's rows: ``"sheet"`` as a spreadsheet shows them (header = row 1, first
data row = row 2); ``"record"``: position in the list of records given, from 0 (``members[3]``)."""
NUMBERING = "numbering"
"""Key of ``frame.attrs`` naming a raw table's :data:`RowNumbering`; absent: ``"sheet"``."""

_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet",)
"""Suffixes of tables read as Parquet."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def is_missing(value: object) -> bool:
    """Whether a cell holds nothing: the one rule of "blank" in every table read.

    Parameters
    ----------
    value
        One cell, as text from a file or as a typed value from a frame.

    Returns
    -------
    bool
        True for ``None``, NaN, ``pd.NA``, ``NaT`` and text that is empty or
        only whitespace (the full-width space ``"\u3000"`` included). Anything
        else is a value: the text ``"nan"``, ``0`` and ``False`` included.

    Examples
    --------
    >>> [is_missing(v) for v in ("", " \u3000 ", None, float("nan"), "nan", 0)]
    [True, True, True, True, False, False]
    """
    if isinstance(value, str):
        return not value.strip()
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def missing_mask(values: pd.Series | np.ndarray | Sequence[object]) -> np.ndarray:
    """:func:`is_missing` over a column.

    Parameters
    ----------
    values
        A column of cells (any dtype).

    Returns
    -------
    numpy.ndarray
        bool, one entry per cell.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object), dtype=object)
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if series.dtype.kind in "biufcmM":  # numbers, booleans, datetimes: only NA is missing
        return missing
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        missing |= (series.str.strip() == "").to_numpy(dtype=bool, na_value=False)
    else:  # object, categorical: cells of any type
        cells = series.to_numpy(dtype=object)
        missing |= np.fromiter((isinstance(v, str) and not v.strip() for v in cells), dtype=bool, count=cells.size)
    return missing


@dataclass
class _Found:
    """Issues of one check: the spreadsheet rows it failed on, built into :class:`Issue` only when listed."""

    rows: np.ndarray
    column: str | None
    message: str  # may hold one "{}" filled from ``extra``
    values: np.ndarray | None
    extra: np.ndarray | None


class IssueCollector:
    """The problems of one input file, gathered as found and raised together as one :class:`InputError`.

    Issues without a row (the whole file or a whole column) come first, in
    the order found; then the issues of rows, in row order and, within a row,
    in the order found. At most :data:`MAX_ISSUES` are listed, and one more
    issue counts the rest; :attr:`hint`, when set, closes the list.

    Parameters
    ----------
    file
        Name used in the issues.
    rows
        Row number of each position the masks of :meth:`where` refer to
        (spreadsheet rows, header = row 1; see :func:`row_numbers`).
    numbering
        How ``rows`` count (:data:`RowNumbering`).
    """

    def __init__(self, file: str, rows: np.ndarray | None = None, numbering: RowNumbering = "sheet") -> None:
        self.file = file
        self.rows = np.zeros(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        self.numbering: RowNumbering = numbering
        self.hint: str | None = None
        self._whole: list[Issue] = []
        self._whole_count = 0
        self._found: list[_Found] = []

    def add(self, row: int | None, column: str | None, message: str, value: str | None = None) -> None:
        """One issue; ``row`` ``None`` for the whole file or column."""
        if row is None:
            self._whole_count += 1
            if len(self._whole) < MAX_ISSUES:  # the rest are only counted
                self._whole.append(Issue(self.file, None, column, message, value, self.numbering))
        else:
            self.at_rows([row], column, message, None if value is None else np.array([value], dtype=object))

    def where(
        self,
        mask: np.ndarray | pd.Series,
        column: str | None,
        message: str,
        values: pd.Series | np.ndarray | None = None,
        extra: np.ndarray | None = None,
    ) -> None:
        """One issue per position where ``mask`` is true.

        ``values`` (the cells as given) is quoted in each issue; ``extra``
        fills the ``{}`` of ``message`` per position.
        """
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if positions.size == 0:
            return
        self.at_rows(
            self.rows[positions],
            column,
            message,
            None if values is None else np.asarray(values, dtype=object)[positions],
            None if extra is None else np.asarray(extra)[positions],
        )

    def at_rows(
        self,
        rows: np.ndarray | Sequence[int],
        column: str | None,
        message: str,
        values: np.ndarray | None = None,
        extra: np.ndarray | None = None,
    ) -> None:
        """One issue per spreadsheet row of ``rows``; ``values`` and ``extra`` aligned with ``rows``."""
        found_rows = np.asarray(rows, dtype=np.int64)
        if found_rows.size:
            self._found.append(
                _Found(
                    found_rows,
                    column,
                    message,
                    None if values is None else np.asarray(values, dtype=object),
                    None if extra is None else np.asarray(extra),
                )
            )

    def mention(self, rows: np.ndarray) -> np.ndarray:
        """How a message names other rows: ``"row 5"``, or ``"members[3]"`` for records."""
        if self.numbering == "record":
            return np.array([f"{self.file}[{r}]" for r in rows], dtype=object)
        return np.array([f"row {r}" for r in rows], dtype=object)

    def __len__(self) -> int:
        return self._whole_count + sum(f.rows.size for f in self._found)

    def raise_if_any(self) -> None:
        """Raise the issues found, if any, as one :class:`InputError`."""
        total = len(self)
        if total == 0:
            return
        issues = self._whole[:MAX_ISSUES]
        room = MAX_ISSUES - len(issues)
        if room > 0 and self._found:
            rows = np.concatenate([f.rows for f in self._found])
            check = np.concatenate([np.full(f.rows.size, k) for k, f in enumerate(self._found)])
            within = np.concatenate([np.arange(f.rows.size) for f in self._found])
            for i in np.lexsort((check, rows))[:room]:
                issues.append(self._issue(self._found[check[i]], int(within[i])))
        if total > len(issues):
            issues.append(Issue(self.file, None, None, f"... and {total - len(issues)} more problem(s) not listed"))
        if self.hint:
            issues.append(Issue(self.file, None, None, self.hint))
        raise InputError(issues)

    def _issue(self, found: _Found, j: int) -> Issue:
        message = found.message if found.extra is None else found.message.format(found.extra[j])
        value = None if found.values is None else str(found.values[j])
        return Issue(self.file, int(found.rows[j]), found.column, message, value, self.numbering)


def row_numbers(raw: pd.DataFrame) -> tuple[np.ndarray, RowNumbering]:
    """The number issues give each row of a raw table, and how they count (:data:`RowNumbering`).

    Spreadsheet rows (data row ``i`` is row ``i + 2``) unless
    ``raw.attrs["numbering"]`` is ``"record"``, as for the tables of
    :func:`~baohu_assign.io.records.records_frame`: then the position ``i``.
    """
    numbering: RowNumbering = "record" if raw.attrs.get(NUMBERING) == "record" else "sheet"
    first = 0 if numbering == "record" else 2
    return np.arange(len(raw), dtype=np.int64) + first, numbering


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
    """Read a CSV, ``.xlsx`` or Parquet table into a frame of strings.

    Parameters
    ----------
    path
        The file. ``.xlsx``/``.xlsm`` are read as workbooks, ``.parquet`` as
        Parquet (typed columns become the text a CSV would hold:
        :func:`text_column`), anything else as CSV.
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
        the header; an ``.xlsx`` file is given but openpyxl is not installed;
        a ``.parquet`` file is not readable Parquet.
    """
    file = str(path)
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "file not found"
        raise InputError(Issue(file, None, None, what))
    fast: pd.DataFrame | None = None
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        rows = _excel_rows(path, file, sheet)
    elif path.suffix.lower() in PARQUET_SUFFIXES:
        fast, rows = _parquet_frame(path, file), []
    elif path.suffix.lower() == ".xls":
        raise InputError(
            Issue(file, None, None, "old Excel .xls files are not read; save the sheet as .xlsx or CSV UTF-8")
        )
    else:
        text = _decode(path.read_bytes(), file)
        fast = _arrow_csv_frame(text, file)
        rows = _csv_rows(text, file) if fast is None else []
    frame = _frame(rows, file) if fast is None else fast
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


def _delimiter(first_line: str) -> str:
    """The cell separator, judged from the header line: ``,`` unless it has none."""
    delimiter = ","
    if "," not in first_line:
        # Some locales' Excel writes ';', and "Unicode text" exports use tabs.
        counts = {d: first_line.count(d) for d in ("\t", ";")}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            delimiter = best
    return delimiter


def _csv_rows(text: str, file: str) -> list[list[str]]:
    text = text.lstrip("\ufeff")
    delimiter = _delimiter(text.split("\n", 1)[0])
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(Issue(file, None, None, f"not a readable CSV file ({exc})")) from None


def _arrow_csv_frame(text: str, file: str) -> pd.DataFrame | None:
    """The frame :func:`_frame` would build from ``text``, read by pyarrow's CSV reader; ``None`` when unsure.

    Only for the plain case where both readers must agree: no quote
    characters, a header of distinct non-blank names, every row as wide as
    the header. Anything else (quoted cells, blank or ragged rows, a header
    to complain about) returns ``None``, and the csv module reads the text,
    so every message about a file stays the same.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    text = text.lstrip("\ufeff")
    if '"' in text:
        return None
    if text.count("\r") != text.count("\r\n"):  # a lone carriage return: a line end the readers may tell apart
        return None
    first_line = text.split("\n", 1)[0].removesuffix("\r")
    delimiter = _delimiter(first_line)
    header = first_line.split(delimiter)
    names = [normalise_header(h) for h in header]
    if not all(names) or len(set(names)) != len(names):
        return None
    columns = [f"c{i}" for i in range(len(header))]
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(column_names=columns, skip_rows=1),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    text_dtype = pd.Series([], dtype="str").dtype  # what ``str`` columns are in this pandas
    arrow_text = isinstance(text_dtype, pd.StringDtype) and text_dtype.storage == "pyarrow"
    types_mapper = {pa.string(): text_dtype}.get if arrow_text else None
    frame = pd.DataFrame(
        {name: table.column(i).to_pandas(types_mapper=types_mapper) for i, name in enumerate(names)},
        index=pd.RangeIndex(table.num_rows),
    )
    if not arrow_text:
        frame = frame.astype(text_dtype)
    frame.attrs["original_columns"] = {
        name: h.replace("\ufeff", "").strip() for name, h in zip(names, header, strict=True)
    }
    frame.attrs["file"] = file
    del table
    release_arrow_memory()  # the reader's scratch
    return frame


def release_arrow_memory() -> None:
    """Give the memory pyarrow's allocator keeps for reuse back to the system.

    Reading and checking a county's tables leaves hundreds of megabytes there
    that nothing but pyarrow would use again.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _parquet_frame(path: Path, file: str) -> pd.DataFrame:
    """A Parquet table as the frame of text :func:`read_table` gives (rows numbered as in a sheet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(Issue(file, None, None, f"not a readable Parquet file ({type(exc).__name__})")) from None
    if not table.num_columns:
        raise InputError(Issue(file, None, None, "file is empty"))
    frame = text_frame(table.to_pandas().reset_index(drop=True))
    frame.attrs = {"original_columns": frame.attrs["original_columns"], "file": file}
    return frame


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
    issues = IssueCollector(file)
    for i, name in enumerate(names):
        if not name:
            issues.add(1, None, f"column {_column_letter(i)} has data but no name in the header")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name in seen:
            first = seen[name]
            issues.add(
                1,
                header[i].strip(),
                f"duplicate column name {name!r} (columns {_column_letter(first)} "
                f"{header[first].strip()!r} and {_column_letter(i)} {header[i].strip()!r})",
            )
        seen.setdefault(name, i)

    cells = _rectangular(body, width, issues)
    issues.raise_if_any()

    frame = pd.DataFrame(cells, columns=names, index=pd.RangeIndex(len(cells)), dtype="str")
    frame.attrs["original_columns"] = {
        name: h.replace("\ufeff", "").strip() for name, h in zip(names, header, strict=True)
    }
    frame.attrs["file"] = file
    return frame


def _rectangular(body: Iterable[list[str]], width: int, issues: IssueCollector) -> list[list[str]]:
    """Pad short rows; a long row with data past the header is an error (an unquoted comma?)."""
    out: list[list[str]] = []
    ragged_rows: list[int] = []
    ragged_lengths: list[int] = []
    for index, row in enumerate(body):
        if len(row) < width:
            row = row + [""] * (width - len(row))
        elif len(row) > width:
            if any(cell.strip() for cell in row[width:]):
                ragged_rows.append(index + 2)
                ragged_lengths.append(len(row))
            row = row[:width]
        out.append(row)
    issues.at_rows(
        ragged_rows,
        None,
        f"row has {{}} values but the header has {width} columns (a comma inside a value must be quoted)",
        extra=np.asarray(ragged_lengths, dtype=np.int64),
    )
    return out


def _column_letter(index: int) -> str:
    """0 → 'A', 26 → 'AA', as a spreadsheet labels columns."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as the text of an output CSV file: a byte-order mark (so Excel reads it as UTF-8),
    no index, ``\\n`` line ends. Every CSV file the package writes has this form.

    The text is pandas' ``to_csv`` (``index=False``, ``lineterminator="\\n"``);
    a frame of text and plain numbers is built column by column in pyarrow
    instead, to the same bytes (many times faster on a county's tables).
    """
    fast = _columnar_csv(frame)
    return "\ufeff" + (frame.to_csv(index=False, lineterminator="\n") if fast is None else fast)


CSV_ROWS_PER_CHUNK = 50_000
"""Rows of an output table built at once by the columnar CSV writer."""


def _csv_quote_characters() -> str:
    """The characters that make the csv module (under pandas' ``to_csv``) quote a cell, asked of it.

    Asked rather than assumed: whether a lone carriage return is quoted
    under a ``\\n`` line end differs between Python versions.
    """
    quoted = []
    for c in (",", '"', "\n", "\r"):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([f"a{c}b", "x"])
        if out.getvalue().startswith('"'):
            quoted.append(c)
    return "".join(quoted)


_QUOTE_CHARACTERS = _csv_quote_characters()


def _columnar_csv(frame: pd.DataFrame) -> str | None:
    """``frame.to_csv(index=False, lineterminator="\\n")`` built in pyarrow, or ``None`` for a frame it does not cover.

    Covered: two or more columns with text names, each of text (``str``,
    ``string``, or objects that are all text or missing) or of numpy
    integers or floats. Cells as pandas writes them: missing as empty,
    numbers as numpy's ``astype(str)``, text quoted (quotes doubled) when it
    holds a character the csv module quotes for.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = list(frame.columns)
    if len(names) < 2 or not all(isinstance(n, str) for n in names):
        return None  # a lone empty cell is written quoted: not worth following here
    if not all(_plain_cells(frame.iloc[:, i]) for i in range(len(names))):
        return None

    def quoted(cells: pa.Array) -> pa.Array:
        needs = None
        for character in _QUOTE_CHARACTERS:
            has = pc.match_substring(cells, character)
            needs = has if needs is None else pc.or_(needs, has)
        if needs is None or not pc.any(needs).as_py():
            return cells
        quote = pa.scalar('"', type=pa.large_string())
        escaped = pc.binary_join_element_wise(
            quote, pc.replace_substring(cells, '"', '""'), quote, pa.scalar("", type=pa.large_string())
        )
        return pc.if_else(needs, escaped, cells)

    numeric = [
        isinstance(frame.dtypes.iloc[i], np.dtype) and frame.dtypes.iloc[i].kind in "iuf" for i in range(len(names))
    ]
    comma, newline = pa.scalar(",", type=pa.large_string()), pa.scalar("\n", type=pa.large_string())
    parts = [",".join(quoted(pa.array(names, type=pa.large_string())).to_pylist()), "\n"]
    for start in range(0, len(frame), CSV_ROWS_PER_CHUNK):  # chunks bound the memory of the cells in pyarrow
        chunk = frame.iloc[start : start + CSV_ROWS_PER_CHUNK]
        columns = [_arrow_cells(chunk.iloc[:, i]) for i in range(len(names))]
        # Numbers never hold a character to quote for.
        lines = pc.binary_join_element_wise(
            *(c if n else quoted(c) for c, n in zip(columns, numeric, strict=True)), comma
        )
        if isinstance(lines, pa.ChunkedArray):  # columns read by pyarrow come in blocks
            lines = lines.combine_chunks()
        whole = pa.LargeListArray.from_arrays(pa.array([0, len(lines)], type=pa.int64()), lines)
        parts += [pc.binary_join(whole, newline)[0].as_py(), "\n"]
    release_arrow_memory()
    return "".join(parts)


def _plain_cells(column: pd.Series) -> bool:
    """Whether :func:`_arrow_cells` covers the column: numpy integers or floats, or text (missing cells allowed)."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return True
    if isinstance(dtype, pd.StringDtype):
        return True
    return dtype == np.dtype(object) and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")


def _arrow_cells(column: pd.Series) -> Any:
    """A :func:`_plain_cells` column as pyarrow ``large_string`` cells, as ``to_csv`` writes them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        values = column.to_numpy()
        # Each distinct value (by its bits: -0.0 is not 0.0) formatted once: visits, capacities and
        # rounded distances repeat a lot, and numpy's formatting is most of the writing time.
        bits, inverse = np.unique(values.view(f"u{values.dtype.itemsize}"), return_inverse=True)
        if bits.size * 2 <= values.size:
            text = bits.view(values.dtype).astype(str).astype(object)[inverse.reshape(-1)]
        else:
            text = values.astype(str).astype(object)
        if dtype.kind == "f":
            text[np.isnan(values)] = ""
        return pa.array(text, type=pa.large_string())
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        cells = pa.array(column.array).cast(pa.large_string())  # the column's own buffers, no Python strings
    else:
        cells = pa.array(column.to_numpy(dtype=object, na_value=None), type=pa.large_string(), from_pandas=True)
    return pc.fill_null(cells, "")


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


def text_column(series: pd.Series) -> pd.Series:
    """A column as the text cells a CSV would hold (:func:`cell_text`), ``str`` dtype, ``RangeIndex``.

    Typed columns (ids typed as numbers, booleans, NaN) become what the same
    table read from a file gives, so typed frames validate like files.
    """
    if series.dtype == "str" and not series.hasnans:
        return series.reset_index(drop=True)
    if isinstance(series.dtype, pd.StringDtype):  # text with blanks: no cell needs more than ""
        return series.fillna("").astype("str").reset_index(drop=True)
    return pd.Series([cell_text(v) for v in series.to_numpy(dtype=object)], dtype="str")


def text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Any frame → the all-text form :func:`read_table` gives: :func:`text_column` cells, normalised headers.

    Headers that normalise alike stay as repeated columns, for the validator
    to name. ``attrs`` are kept; ``attrs["original_columns"]`` maps each
    normalised header to the header as given.
    """
    names = [normalise_header(c) for c in frame.columns]
    out = pd.DataFrame({k: text_column(frame.iloc[:, k]) for k in range(len(names))}, index=pd.RangeIndex(len(frame)))
    out.columns = names
    out.attrs = {**frame.attrs, "original_columns": {normalise_header(c): str(c) for c in frame.columns}}
    return out
