"""Formula-safe CSV: the one definition every CSV a person opens in a spreadsheet is written with."""

from __future__ import annotations

import csv
import io

import pandas as pd

from pipeline.spreadsheet import frame_csv, neutralise


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised():
    for attack in ("=HYPERLINK(\"http://x\",\"click\")", "+44 20 7946 0000", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"):
        assert neutralise(attack) == "'" + attack
    for harmless in ("O'NEIL", "SMITH-JONES", "ZOË", "", "12 HIGH STREET"):
        assert neutralise(harmless) == harmless
    assert neutralise(None) == "" and neutralise(pd.NA) == ""


def test_a_frame_is_written_with_its_header_every_cell_safe_for_spreadsheets_to_read():
    frame = pd.DataFrame({"source": ["police"], "row_number": [7], "source_record_id": ["=1+1"], "reason": [None]})
    data = frame_csv(frame)
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["source", "row_number", "source_record_id", "reason"], ["police", "7", "'=1+1", ""]]
