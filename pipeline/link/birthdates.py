"""How far apart two birth dates are: the levels comparison uses, and the rule clustering keeps.

One definition serves both. `birth_date_level` is the comparison's feature (`compare.BirthDate`):
3 the same date, 2 day and month swapped (an American-order entry), 1 two of the three parts
equal (one part mistyped: a day, a month, or a year off), 0 otherwise. Two dates at level 1 or
above are what one slip between agencies explains; two dates at level 0 are two people.

Clustering holds to that (`cluster.cluster_records`): a father and his son of the same name at
one address share a forename, a surname and an address, and an electoral register record, which
carries no birth date, matches both equally. Their own dated records disagree beyond one slip,
so no cluster may hold both, however strongly the undated record links to each of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UNKNOWN = -1  # a birth number for a record without a (whole) birth date


def birth_date_level(y_i: np.ndarray, m_i: np.ndarray, d_i: np.ndarray, y_j: np.ndarray, m_j: np.ndarray,
                     d_j: np.ndarray) -> np.ndarray:
    """Per pair of dates (as year, month, day arrays; NaN unknown): 3, 2, 1 or 0 as the module says, NaN where
    either date is unknown."""
    known = ~np.isnan(y_i) & ~np.isnan(y_j)
    same = (y_i == y_j).astype(int) + (m_i == m_j).astype(int) + (d_i == d_j).astype(int)
    swap = (y_i == y_j) & (m_i == d_j) & (d_i == m_j) & (m_i != d_i)
    level = np.select([same == 3, swap, same == 2], [3.0, 2.0, 1.0], default=0.0)
    return np.where(known, level, np.nan)


def birth_numbers(records: pd.DataFrame) -> np.ndarray:
    """Per record, its birth date as one number YYYYMMDD (int64), or UNKNOWN without a whole date."""
    parts = [records[c].to_numpy(dtype="float64", na_value=np.nan) for c in ("dob_year", "dob_month", "dob_day")]
    known = ~np.isnan(parts[0]) & ~np.isnan(parts[1]) & ~np.isnan(parts[2])
    number = np.where(known, np.nan_to_num(parts[0]) * 10000 + np.nan_to_num(parts[1]) * 100
                      + np.nan_to_num(parts[2]), UNKNOWN)
    return number.astype(np.int64)


def birth_numbers_of(dob: pd.Series) -> np.ndarray:
    """`birth_numbers` of a column of dates (any type `pd.to_datetime` reads), UNKNOWN where there is none."""
    d = pd.to_datetime(dob)
    number = (d.dt.year * 10000 + d.dt.month * 100 + d.dt.day).to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(number), UNKNOWN, number).astype(np.int64)


def _parts(number: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    number = np.asarray(number, dtype=np.int64)
    unknown = number == UNKNOWN
    y, m, d = (number // 10000).astype(np.float64), (number // 100 % 100).astype(np.float64), (
        number % 100).astype(np.float64)
    return np.where(unknown, np.nan, y), np.where(unknown, np.nan, m), np.where(unknown, np.nan, d)


def two_people(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair of birth numbers: the dates disagree beyond one slip (level 0), so they are two people.
    False where either is UNKNOWN."""
    level = birth_date_level(*_parts(a), *_parts(b))
    return level == 0
