"""Workbooks as bytes that depend only on their content (the same plan gives the same file)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

__all__ = ["stable_xlsx_bytes"]

_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
"""Every zip entry's time: fixed, so the bytes do not depend on when they were written."""


def stable_xlsx_bytes(book: Any) -> bytes:
    """The workbook as bytes that depend only on its content.

    openpyxl stamps the save time into docProps/core.xml and each zip entry;
    its writer is used directly (keeping our fixed times) and the archive is
    repacked with fixed entry times.
    """
    from openpyxl.writer.excel import ExcelWriter

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(book, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()
