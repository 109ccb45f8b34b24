"""CSV writing: UTF-8 without BOM, comma separated, RFC 4180 quoting.

Extracts use CRLF line ends, as RFC 4180 specifies for agency files; truth files (ours, not an
agency's) use LF. Fields are quoted only when they contain a comma, quote or line break, and
embedded quotes are doubled (csv.QUOTE_MINIMAL with doublequote), which is what RFC 4180 asks.
The standard library's C writer is used directly: it is markedly faster than DataFrame.to_csv
on text columns and writes the same bytes.
"""

from __future__ import annotations

import csv
import pathlib

import pandas as pd

EXTRACT_LINE_END = "\r\n"
TRUTH_LINE_END = "\n"


def write_csv(frame: pd.DataFrame, path: pathlib.Path, line_end: str = EXTRACT_LINE_END, append: bool = False) -> None:
    """Write one table (values as str; None/NaN never occur); with `append`, add rows only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if append else "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL, doublequote=True, quotechar='"')
        if not append:
            w.writerow(list(frame.columns))
        cols = [frame[c].to_numpy() for c in frame.columns]
        step = 250_000
        for i in range(0, len(frame), step):
            w.writerows(zip(*(c[i : i + step].tolist() for c in cols), strict=True))
