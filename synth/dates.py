"""Date arithmetic on int64 day numbers (days since 1970-01-01), vectorised.

Dates are held as plain day numbers so that a million dates of birth are one numpy array, and
formatted to text only once per distinct value.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split day numbers into year, month (1-12) and day (1-31) arrays."""
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype("int64") + 1970
    month = months.astype("int64") % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype("int64") + 1
    return year, month, day


def from_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Day numbers from valid year/month/day arrays."""
    months = (np.asarray(year, dtype="int64") - 1970) * 12 + (np.asarray(month, dtype="int64") - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype("int64")
    return first + np.asarray(day, dtype="int64") - 1


def age_on(dob: np.ndarray, on: np.ndarray | int) -> np.ndarray:
    """Whole years of age on a date (or array of dates), as the law counts birthdays."""
    by, bm, bd = ymd(dob)
    oy, om, od = ymd(np.broadcast_to(np.asarray(on, dtype="int64"), np.shape(dob)))
    before = (om < bm) | ((om == bm) & (od < bd))
    return oy - by - before.astype("int64")


def add_years(days: np.ndarray | int, years: int) -> np.ndarray:
    """Same calendar day `years` later (29 Feb becomes 28 Feb)."""
    y, m, d = ymd(np.atleast_1d(days))
    y = y + years
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    d = np.where((m == 2) & (d == 29) & ~leap, 28, d)
    return from_ymd(y, m, d)


def swap_day_month(days: np.ndarray) -> np.ndarray:
    """The date with day and month exchanged; callers only pass dates with day <= 12."""
    y, m, d = ymd(days)
    return from_ymd(y, d, m)


def format_dates(days: np.ndarray, fmt: str, blank: np.ndarray | None = None) -> np.ndarray:
    """Render day numbers as text, `iso` (YYYY-MM-DD) or `dmy` (DD/MM/YYYY); blank where masked.

    Formats each distinct date once and gathers, which is much faster than per-row strftime.
    """
    days = np.asarray(days, dtype="int64")
    if days.size == 0:
        return np.array([], dtype=object)
    uniq, inverse = np.unique(days, return_inverse=True)
    iso = np.datetime_as_string(uniq.astype("datetime64[D]"), unit="D").astype(object)
    if fmt == "dmy":
        iso = np.array([f"{s[8:10]}/{s[5:7]}/{s[0:4]}" for s in iso], dtype=object)
    elif fmt != "iso":
        raise ValueError(f"unknown date format {fmt!r}")
    out = iso[inverse]
    if blank is not None:
        out = np.where(blank, "", out).astype(object)
    return out


def academic_terms(extract_date: dt.date, count: int = 3) -> list[tuple[str, str, dt.date, dt.date]]:
    """The `count` most recent school terms that have started by the extract date, oldest first.

    Returns (academic_year, term, first_day, last_day) with terms AUTUMN (1 Sep - 19 Dec),
    SPRING (5 Jan - 31 Mar) and SUMMER (14 Apr - 22 Jul): the English pattern, with Easter
    approximated by a fixed date because the census only needs the term's identity and length.
    """
    terms: list[tuple[str, str, dt.date, dt.date]] = []
    start_year = extract_date.year if extract_date >= dt.date(extract_date.year, 9, 1) else extract_date.year - 1
    y = start_year
    while len(terms) < count:
        label = f"{y}/{(y + 1) % 100:02d}"
        cand = [
            (label, "SUMMER", dt.date(y + 1, 4, 14), dt.date(y + 1, 7, 22)),
            (label, "SPRING", dt.date(y + 1, 1, 5), dt.date(y + 1, 3, 31)),
            (label, "AUTUMN", dt.date(y, 9, 1), dt.date(y, 12, 19)),
        ]
        for c in cand:
            if c[2] <= extract_date and len(terms) < count:
                terms.append(c)
        y -= 1
    return list(reversed(terms))


def school_days(first: dt.date, last: dt.date) -> int:
    """Weekdays in [first, last], less a one-week half-term when the span covers it."""
    if last < first:
        return 0
    n = int(np.busday_count(np.datetime64(first), np.datetime64(last) + np.timedelta64(1, "D")))
    span = (last - first).days
    return max(0, n - 5) if span > 45 else n
