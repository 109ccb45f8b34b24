"""Building blocks of the contract checks."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from pipeline.ingest.checks import calendar_regex


@pytest.mark.parametrize("fmt", ["%Y-%m-%d", "%d/%m/%Y"])
def test_the_calendar_regex_accepts_exactly_the_real_dates_from_1700_to_2199(fmt):
    regex = re.compile(calendar_regex(fmt))
    real = pd.date_range("1700-01-01", "2199-12-31").strftime(fmt)
    assert all(regex.match(s) for s in real)
    for year in (1699, 1700, 1800, 1900, 1996, 2000, 2023, 2024, 2100, 2104, 2199, 2200):
        for month in range(14):
            for day in range(33):
                text = fmt.replace("%Y", f"{year}").replace("%m", f"{month:02d}").replace("%d", f"{day:02d}")
                try:
                    dt.datetime.strptime(text, fmt)
                    expected = 1700 <= year <= 2199
                except ValueError:
                    expected = False
                assert bool(regex.match(text)) is expected, text
