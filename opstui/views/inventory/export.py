"""CSV export of the table in front of you (`e`): what the table shows, filter and sort applied, raw values.

Every value is untrusted (a node reports it), and a spreadsheet runs a cell that starts like a formula; the
file name carries untrusted text too (a custom type's name), so both are made harmless here.
"""

from __future__ import annotations

import csv
from pathlib import Path

from opstui.private_files import open_private
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable

EXPORT_DIR = Path.home() / "opstui-exports"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Literal text for a spreadsheet: control characters made visible, and a value that a spreadsheet
    would run as a formula (`=cmd|...`, `+`, `-`, `@`) prefixed with an apostrophe."""
    text = clean(value, None)
    return "'" + text if text.startswith(_FORMULA_START) else text


def file_part(text: str) -> str:
    """Untrusted text (a custom inventory type may be named `Custom:../../x`) made safe for a file name:
    letters, digits, `-_.`; anything else, `/` first, becomes `_`."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def write_csv(path: Path, table: NodeTable) -> int:
    """The rows the table shows (filter and sort applied), every column, raw values; returns rows written."""
    rows = table.visible_rows()
    with open_private(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([c.label for c in table.columns])
        for row in rows:
            writer.writerow([csv_cell(c.get(row)) for c in table.columns])
    return len(rows)
