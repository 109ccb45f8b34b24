"""Comparison features of candidate pairs, vectorised, each distinct value pair compared once.

recordlinkage's Compare calls jellyfish once per row pair in Python; names repeat a great deal
(many pairs compare SMITH with SMITH), so string similarities here are computed once per
distinct (a, b) and mapped back. Every feature is NaN where either side is missing, so the
model can tell "unknown" from "disagrees".

Features (numbers, higher = more alike unless said):
- forename_jw, surname_jw: Jaro-Winkler, forename taking the best of legal, preferred and
  nickname-canonical forms;
- forename_equiv, surname_equiv: canonical forms equal (Bob/Robert, Muhammad/Mohammed);
- surname_part: the surnames share a part (Smith vs Smith-Jones, birth and married names);
- dob: 3 exact, 2 day and month swapped, 1 two of three parts equal, 0 otherwise;
- sex: 1 same, 0 different;
- postcode: 2 same unit, 1 same sector, 0 otherwise;
- address: 2 same address key; -1 same building (number, street, postcode) but a different
  flat, strong evidence of a different household; 0 otherwise;
- uprn: 1 same, 0 different;
- surname_tf: how common the surname is (share of records), for term-frequency weighting.
"""

from __future__ import annotations

from dataclasses import dataclass

import jellyfish
import numpy as np
import pandas as pd

_ARROW_STRING = pd.StringDtype("pyarrow")


def _vocabulary(records: pd.DataFrame, columns: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer codes of each column over one shared vocabulary (-1 = missing).

    Equality becomes an integer comparison and a similarity needs only each distinct pair of
    codes, however many row pairs share it.
    """
    # Arrow-backed strings factorise in Arrow's C++ (dictionary encoding), several times faster
    # than Python objects.
    stacked = pd.concat([records[c].astype(_ARROW_STRING) for c in columns], ignore_index=True)
    codes, uniques = pd.factorize(stacked, use_na_sentinel=True)
    n = len(records)
    return [codes[k * n:(k + 1) * n].astype(np.int64) for k in range(len(columns))], np.asarray(uniques, dtype=object)


def _equal(ci: np.ndarray, cj: np.ndarray) -> np.ndarray:
    return np.where((ci >= 0) & (cj >= 0), (ci == cj).astype(np.float64), np.nan)


def distinct_apply(ci: np.ndarray, cj: np.ndarray, uniques: np.ndarray, fn, symmetric: bool = True) -> np.ndarray:
    """fn(a, b) for each pair of codes, NaN where either is missing; once per distinct pair.

    Distinct pairs are found with a hash table (pd.factorize), not a sort: linear in the number
    of pairs. For a symmetric fn, (a, b) and (b, a) count as one pair.
    """
    present = (ci >= 0) & (cj >= 0)
    out = np.full(len(ci), np.nan)
    if not present.any():
        return out
    a, b = ci[present], cj[present]
    if symmetric:
        a, b = np.minimum(a, b), np.maximum(a, b)
    width = np.int64(max(len(uniques), 1))
    inverse, distinct = pd.factorize(a * width + b)
    scores = np.array([fn(uniques[k // width], uniques[k % width]) for k in distinct.tolist()], dtype=np.float64)
    out[present] = scores[inverse]
    return out


EQUALITY_COLUMNS = ["forename_canonical", "surname_canonical", "sex", "postcode", "postcode_sector",
                    "address_key", "house_number", "street", "flat", "uprn"]


@dataclass(frozen=True)
class EncodedRecords:
    """Per-record integer codes, built once per run; comparing pairs then only indexes them."""

    codes: dict[str, np.ndarray]  # equality columns, -1 = missing
    forename: np.ndarray
    forename_alt: np.ndarray
    names: np.ndarray  # vocabulary of forename and forename_alt
    surname: np.ndarray
    surnames: np.ndarray
    dob: np.ndarray  # (n, 3) float: year, month, day (NaN = missing)
    surname_tf: np.ndarray


def encode_records(records: pd.DataFrame) -> EncodedRecords:
    """Factorise the standardised records once (strings to integer codes)."""
    codes = {c: _vocabulary(records, [c])[0][0] for c in EQUALITY_COLUMNS}
    (fore, alt), names = _vocabulary(records, ["forename", "forename_alt"])
    (sur,), surnames = _vocabulary(records, ["surname"])
    dob = np.column_stack([records[c].to_numpy(dtype="float64", na_value=np.nan)
                           for c in ("dob_year", "dob_month", "dob_day")])
    canonical = records["surname_canonical"].astype(object)
    tf = canonical.map(canonical.value_counts(normalize=True)).to_numpy(dtype="float64", na_value=np.nan)
    return EncodedRecords(codes, fore, alt, names, sur, surnames, dob, tf)


def compare_pairs(records: pd.DataFrame | EncodedRecords, pairs: pd.DataFrame) -> pd.DataFrame:
    """One row of features per candidate pair (same order as `pairs`)."""
    enc = records if isinstance(records, EncodedRecords) else encode_records(records)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    jw = jellyfish.jaro_winkler_similarity

    def equal(column: str) -> np.ndarray:
        c = enc.codes[column]
        return _equal(c[i], c[j])

    out = pd.DataFrame(index=pairs.index)
    fore, alt, names = enc.forename, enc.forename_alt, enc.names
    out["forename_jw"] = np.fmax(distinct_apply(fore[i], fore[j], names, jw),
                                 np.fmax(distinct_apply(alt[i], fore[j], names, jw),
                                         distinct_apply(fore[i], alt[j], names, jw)))
    out["forename_equiv"] = equal("forename_canonical")
    sur = enc.surname
    out["surname_jw"] = distinct_apply(sur[i], sur[j], enc.surnames, jw)
    out["surname_equiv"] = equal("surname_canonical")
    out["surname_part"] = distinct_apply(sur[i], sur[j], enc.surnames,
                                         lambda p, q: float(bool(set(p.split()) & set(q.split()))))

    (y_i, m_i, d_i), (y_j, m_j, d_j) = enc.dob[i].T, enc.dob[j].T
    known = ~np.isnan(y_i) & ~np.isnan(y_j)
    same = (y_i == y_j).astype(int) + (m_i == m_j).astype(int) + (d_i == d_j).astype(int)
    swap = (y_i == y_j) & (m_i == d_j) & (d_i == m_j) & (m_i != d_i)
    level = np.select([same == 3, swap, same == 2], [3.0, 2.0, 1.0], default=0.0)
    out["dob"] = np.where(known, level, np.nan)

    out["sex"] = equal("sex")
    unit, sector = equal("postcode"), equal("postcode_sector")
    out["postcode"] = np.where(np.isnan(unit), np.nan, np.where(unit == 1, 2.0, np.where(sector == 1, 1.0, 0.0)))

    key = equal("address_key")
    building = (equal("house_number") == 1) & (equal("street") == 1) & (unit == 1)
    other_flat = building & (equal("flat") == 0)  # both flats known, and different
    out["address"] = np.where(key == 1, 2.0, np.where(other_flat, -1.0, np.where(np.isnan(key), np.nan, 0.0)))
    out["uprn"] = equal("uprn")
    out["surname_tf"] = np.fmax(enc.surname_tf[i], enc.surname_tf[j])
    return out
