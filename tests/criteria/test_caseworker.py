"""The caseworker export's CSV: marked, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pandas as pd

from pipeline.criteria.caseworker import COLUMNS, MARKING, to_csv


def test_the_file_is_headed_with_its_marking_and_every_cell_is_safe():
    row = dict.fromkeys(COLUMNS, "x")
    row.update(forename="=CMD|' /C calc'!A0", surname="-SMITH", address="@HOME", postcode="+AB1 2CD")
    data = to_csv(pd.DataFrame([row]))
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0].startswith(MARKING + ":")
    parsed = list(csv.reader(io.StringIO("\r\n".join(lines[1:]))))
    assert parsed[0] == COLUMNS
    values = dict(zip(COLUMNS, parsed[1], strict=True))
    assert values["forename"] == "'=CMD|' /C calc'!A0" and values["surname"] == "'-SMITH"
    assert values["address"] == "'@HOME" and values["postcode"] == "'+AB1 2CD"
    assert not [v for v in parsed[1] if v[:1] in "=+-@"]
