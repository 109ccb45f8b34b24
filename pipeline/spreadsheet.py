"""CSV files a spreadsheet opens safely: the one definition of formula-safe cells, for every CSV a person opens.

Spreadsheet formula injection: a cell that begins with =, +, -, @ (or a tab or carriage return,
which some spreadsheets strip before reading a formula) is run as a formula when the file is
opened. Names and addresses come from partner agencies' free text, and a quarantined row is there
precisely because a cell broke the contract (a record id starting with `=` is one of the reasons),
so every such cell is neutralised by a leading apostrophe, which spreadsheets show as text and do
not display. Files are UTF-8 with a byte-order mark (so spreadsheets read accents) and CRLF line ends.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """A cell as text that a spreadsheet will not evaluate as a formula."""
    text = "" if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def safe_csv(columns: Sequence[str], rows: Iterable[Sequence[object]], first_line: str | None = None) -> bytes:
    """The rows under a header of `columns`, every cell neutralised; `first_line` (a protective marking)
    goes above the header when given."""
    buffer = io.StringIO(newline="")
    if first_line is not None:
        buffer.write(first_line + "\r\n")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for record in rows:
        writer.writerow([neutralise(v) for v in record])
    return buffer.getvalue().encode("utf-8-sig")


def frame_csv(frame: pd.DataFrame, first_line: str | None = None) -> bytes:
    """`safe_csv` of a whole frame, its columns in order."""
    return safe_csv(list(frame.columns), frame.itertuples(index=False, name=None), first_line)
