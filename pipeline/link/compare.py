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

Each feature is one `Comparison`: a class with a name, the standardised columns it needs encoded,
and one method computing it over pairs (as recordlinkage's BaseCompareFeature is). `COMPARISONS`
lists them in the order of the features frame; adding one is a class and a line there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import jellyfish
import numpy as np
import pandas as pd

from pipeline.link.birthdates import birth_date_level

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


@dataclass(frozen=True)
class EncodedRecords:
    """Per-record integer codes, built once per run; comparing pairs then only indexes them."""

    codes: dict[str, np.ndarray]  # the columns comparisons compare for equality, -1 = missing
    forename: np.ndarray
    forename_alt: np.ndarray
    names: np.ndarray  # vocabulary of forename and forename_alt
    surname: np.ndarray
    surnames: np.ndarray
    dob: np.ndarray  # (n, 3) float: year, month, day (NaN = missing)
    surname_tf: np.ndarray

    def equal(self, column: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """1 where the pair's values of `column` agree, 0 where they differ, NaN where either is missing."""
        c = self.codes[column]
        return _equal(c[i], c[j])


class Comparison(ABC):
    """One comparison feature of candidate pairs: NaN where it cannot be told, else higher = more alike."""

    name: str  # its column in the features frame
    encodes: tuple[str, ...] = ()  # standardised columns it compares for equality (EncodedRecords.codes)

    @abstractmethod
    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """The feature for pairs (i[k], j[k]) of record positions."""


class Equal(Comparison):
    """1 same, 0 different."""

    def __init__(self, name: str, column: str):
        self.name, self.column, self.encodes = name, column, (column,)

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return enc.equal(self.column, i, j)


class ForenameSimilarity(Comparison):
    """Jaro-Winkler of forenames, the best of legal, preferred and nickname-canonical forms."""

    name = "forename_jw"

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        fore, alt, names, jw = enc.forename, enc.forename_alt, enc.names, jellyfish.jaro_winkler_similarity
        return np.fmax(distinct_apply(fore[i], fore[j], names, jw),
                       np.fmax(distinct_apply(alt[i], fore[j], names, jw), distinct_apply(fore[i], alt[j], names, jw)))


class SurnameSimilarity(Comparison):
    """Jaro-Winkler of surnames."""

    name = "surname_jw"

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return distinct_apply(enc.surname[i], enc.surname[j], enc.surnames, jellyfish.jaro_winkler_similarity)


class SurnameSharesPart(Comparison):
    """1 when the surnames share a part (Smith and Smith-Jones: birth and married names)."""

    name = "surname_part"

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return distinct_apply(enc.surname[i], enc.surname[j], enc.surnames,
                              lambda p, q: float(bool(set(p.split()) & set(q.split()))))


class BirthDate(Comparison):
    """3 exact, 2 day and month swapped, 1 two of three parts equal, 0 otherwise."""

    name = "dob"

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        (y_i, m_i, d_i), (y_j, m_j, d_j) = enc.dob[i].T, enc.dob[j].T
        return birth_date_level(y_i, m_i, d_i, y_j, m_j, d_j)


class Postcode(Comparison):
    """2 same unit, 1 same sector, 0 otherwise."""

    name = "postcode"
    encodes = ("postcode", "postcode_sector")

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        unit, sector = enc.equal("postcode", i, j), enc.equal("postcode_sector", i, j)
        return np.where(np.isnan(unit), np.nan, np.where(unit == 1, 2.0, np.where(sector == 1, 1.0, 0.0)))


class Address(Comparison):
    """2 same address; -1 another flat of one building (number, street, postcode), strong evidence of
    another household; 0 otherwise."""

    name = "address"
    encodes = ("address_key", "house_number", "street", "flat", "postcode")

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        key = enc.equal("address_key", i, j)
        building = (enc.equal("house_number", i, j) == 1) & (enc.equal("street", i, j) == 1) & \
            (enc.equal("postcode", i, j) == 1)
        other_flat = building & (enc.equal("flat", i, j) == 0)  # both flats known, and different
        return np.where(key == 1, 2.0, np.where(other_flat, -1.0, np.where(np.isnan(key), np.nan, 0.0)))


class SurnameFrequency(Comparison):
    """How common the commoner of the two surnames is (share of records), for term-frequency weighting."""

    name = "surname_tf"

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.fmax(enc.surname_tf[i], enc.surname_tf[j])


COMPARISONS: tuple[Comparison, ...] = (
    ForenameSimilarity(), Equal("forename_equiv", "forename_canonical"), SurnameSimilarity(),
    Equal("surname_equiv", "surname_canonical"), SurnameSharesPart(), BirthDate(), Equal("sex", "sex"), Postcode(),
    Address(), Equal("uprn", "uprn"), SurnameFrequency(),
)


# The standardised columns `encode_records` reads besides those the comparisons compare for equality.
ENCODED_COLUMNS = ("forename", "forename_alt", "surname", "surname_canonical", "dob_year", "dob_month", "dob_day")


def compared_columns(comparisons: tuple[Comparison, ...] = COMPARISONS) -> list[str]:
    """Every standardised column comparing two records reads (what a record must keep to be compared later)."""
    return list(dict.fromkeys([*ENCODED_COLUMNS, *(c for comparison in comparisons for c in comparison.encodes)]))


def encode_records(records: pd.DataFrame, comparisons: tuple[Comparison, ...] = COMPARISONS) -> EncodedRecords:
    """Factorise the standardised records once (strings to integer codes)."""
    columns = dict.fromkeys(c for comparison in comparisons for c in comparison.encodes)
    codes = {c: _vocabulary(records, [c])[0][0] for c in columns}
    (fore, alt), names = _vocabulary(records, ["forename", "forename_alt"])
    (sur,), surnames = _vocabulary(records, ["surname"])
    dob = np.column_stack([records[c].to_numpy(dtype="float64", na_value=np.nan)
                           for c in ("dob_year", "dob_month", "dob_day")])
    canonical = records["surname_canonical"].astype(object)
    tf = canonical.map(canonical.value_counts(normalize=True)).to_numpy(dtype="float64", na_value=np.nan)
    return EncodedRecords(codes, fore, alt, names, sur, surnames, dob, tf)


def compare_pairs(records: pd.DataFrame | EncodedRecords, pairs: pd.DataFrame,
                  comparisons: tuple[Comparison, ...] = COMPARISONS) -> pd.DataFrame:
    """One row of features per candidate pair (same order as `pairs`), one column per comparison."""
    enc = records if isinstance(records, EncodedRecords) else encode_records(records, comparisons)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    out = pd.DataFrame(index=pairs.index)
    for comparison in comparisons:
        out[comparison.name] = comparison.compute(enc, i, j)
    return out
