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

Forename and surname swapped: agencies' data entry sometimes puts the family name first (WILLIAMS
SARAH for SARAH WILLIAMS: a name order of another convention, fields swapped). Where a pair's names
agree better with the second record's forename and surname exchanged (i's forename against j's
surname, i's surname against j's forename) than as written, the five name features (forename_jw,
forename_equiv, surname_jw, surname_equiv, surname_part) are those of the exchanged orientation,
so the pair's names count as the same; its date of birth and address still decide (`orient_names`).

Each feature is one `Comparison`: a class with a name, the standardised columns it needs encoded,
and one method computing it over pairs (as recordlinkage's BaseCompareFeature is). `COMPARISONS`
lists them in the order of the features frame; adding one is a class and a line there. A
`NameComparison` reads the pair's names in their orientation (`NamePairs`), worked out once for
all of them.
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
    """Per-record integer codes, built once per run; comparing pairs then only indexes them.

    Forenames and surnames share one vocabulary (`names`), and canonical forenames and surnames one
    code space, so a forename can be compared with a surname (names entered in each other's fields).
    """

    codes: dict[str, np.ndarray]  # the columns comparisons compare for equality, -1 = missing
    forename: np.ndarray
    forename_alt: np.ndarray
    surname: np.ndarray
    names: np.ndarray  # one vocabulary of forename, forename_alt and surname
    forename_canonical: np.ndarray  # canonical forename and surname: codes of one vocabulary
    surname_canonical: np.ndarray
    initials: np.ndarray  # per code of `names`, the code of its first letter
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


_NONE = np.int64(-1)
# Both names must agree this well with forename and surname exchanged for a pair to be compared so (`orient_names`).
EXCHANGED_AT_LEAST = 0.9


@dataclass(frozen=True)
class NameSide:
    """One side's names for each pair: codes of `EncodedRecords.names` (canonical forms: of their own code space),
    -1 = missing. Read from the records when asked, so the codes of millions of pairs are never all held at once.

    Where `exchanged`, the forename and surname fields are read the other way round. `surname_alt` is a form of the
    name in the surname slot: none as written (None), the forename field's preferred or canonical form where the
    fields are exchanged; the forename slot then has no other form (a surname has none).
    """

    enc: EncodedRecords
    rows: np.ndarray
    exchanged: np.ndarray | None = None  # bool per pair; None: as written everywhere

    def _read(self, field: str, exchanged_field: str | None) -> np.ndarray:
        codes = getattr(self.enc, field)[self.rows]
        if self.exchanged is None:
            return codes
        other = getattr(self.enc, exchanged_field)[self.rows] if exchanged_field else _NONE
        return np.where(self.exchanged, other, codes)

    @property
    def forename(self) -> np.ndarray:
        return self._read("forename", "surname")

    @property
    def forename_alt(self) -> np.ndarray:
        return self._read("forename_alt", None)

    @property
    def surname(self) -> np.ndarray:
        return self._read("surname", "forename")

    @property
    def surname_alt(self) -> np.ndarray | None:
        return None if self.exchanged is None else np.where(self.exchanged, self.enc.forename_alt[self.rows], _NONE)

    @property
    def forename_canonical(self) -> np.ndarray:
        return self._read("forename_canonical", "surname_canonical")

    @property
    def surname_canonical(self) -> np.ndarray:
        return self._read("surname_canonical", "forename_canonical")


@dataclass(frozen=True)
class NamePairs:
    """The names of pairs (i, j) in the orientation they are compared in: `a` (record i) as written, `b`
    (record j) as written or with its forename and surname exchanged where `swapped`."""

    a: NameSide
    b: NameSide
    swapped: np.ndarray  # bool per pair

    @property
    def names(self) -> np.ndarray:
        """The vocabulary of every code but the canonical ones."""
        return self.a.enc.names


def _best_of(x: np.ndarray, y: np.ndarray, x_alt: np.ndarray | None, y_alt: np.ndarray | None,
             names: np.ndarray) -> np.ndarray:
    """Jaro-Winkler of names x and y, the best of either's other form where it has one."""
    jw = jellyfish.jaro_winkler_similarity
    out = distinct_apply(x, y, names, jw)
    if x_alt is not None:
        out = np.fmax(out, distinct_apply(x_alt, y, names, jw))
    if y_alt is not None:
        out = np.fmax(out, distinct_apply(x, y_alt, names, jw))
    return out


def _forename_jw(n: NamePairs) -> np.ndarray:
    return _best_of(n.a.forename, n.b.forename, n.a.forename_alt, n.b.forename_alt, n.names)


def _surname_jw(n: NamePairs) -> np.ndarray:
    return _best_of(n.a.surname, n.b.surname, n.a.surname_alt, n.b.surname_alt, n.names)


def orient_names(enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> NamePairs:
    """The names of pairs (i, j), record j's forename and surname exchanged where that agrees better.

    Exchanged where all four names are known, the forename and surname Jaro-Winkler similarities
    (`forename_jw` + `surname_jw`) add up to more exchanged than as written, and exchanged each is at least
    `EXCHANGED_AT_LEAST`: an exchange explains a disagreement only if it makes both names agree (give or
    take a slip of typing); the better of two weak agreements would only flatter two strangers. A name
    entered in the wrong field keeps its letters, so only pairs whose names are not the same as written and
    whose first letters agree crosswise (i's forename, or its preferred form, with j's surname; i's surname
    with j's forename or its preferred form) are scored both ways: a few pairs of all, so comparing stays
    cheap.
    Record i is read as written: a form of i's forename counts towards the forename, of j's towards the
    surname it is compared with.
    """
    a, b = NameSide(enc, i), NameSide(enc, j)
    fa, sa, alt_a, fb, sb, alt_b = a.forename, a.surname, a.forename_alt, b.forename, b.surname, b.forename_alt
    initial = enc.initials

    def same_initial(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x >= 0) & (y >= 0) & (initial[np.maximum(x, 0)] == initial[np.maximum(y, 0)])

    maybe = np.flatnonzero((fa >= 0) & (sa >= 0) & (fb >= 0) & (sb >= 0) & ((fa != fb) | (sa != sb))
                           & (same_initial(fa, sb) | same_initial(alt_a, sb))
                           & (same_initial(sa, fb) | same_initial(sa, alt_b)))
    del fa, sa, alt_a, fb, sb, alt_b
    swapped = np.zeros(len(i), dtype=bool)
    if len(maybe):
        some = NameSide(enc, i[maybe])
        written = NamePairs(some, NameSide(enc, j[maybe]), np.zeros(len(maybe), dtype=bool))
        exchanged = NamePairs(some, NameSide(enc, j[maybe], np.ones(len(maybe), dtype=bool)),
                              np.ones(len(maybe), dtype=bool))
        fore, sur = _forename_jw(exchanged), _surname_jw(exchanged)
        better = (fore + sur > _forename_jw(written) + _surname_jw(written)) & \
            (fore >= EXCHANGED_AT_LEAST) & (sur >= EXCHANGED_AT_LEAST)
        swapped[maybe[better]] = True
    return NamePairs(a, NameSide(enc, j, swapped) if swapped.any() else b, swapped)


class NameComparison(Comparison):
    """A comparison of the pair's names, in the orientation `orient_names` gives them (once for all such)."""

    def compute(self, enc: EncodedRecords, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return self.compare_names(orient_names(enc, i, j))

    @abstractmethod
    def compare_names(self, names: NamePairs) -> np.ndarray:
        """The feature for the pairs of `names`."""


class ForenameSimilarity(NameComparison):
    """Jaro-Winkler of forenames, the best of legal, preferred and nickname-canonical forms."""

    name = "forename_jw"

    def compare_names(self, names: NamePairs) -> np.ndarray:
        return _forename_jw(names)


class SurnameSimilarity(NameComparison):
    """Jaro-Winkler of surnames."""

    name = "surname_jw"

    def compare_names(self, names: NamePairs) -> np.ndarray:
        return _surname_jw(names)


class ForenameEquivalent(NameComparison):
    """1 when the canonical forenames are equal (Bob and Robert), 0 when not."""

    name = "forename_equiv"

    def compare_names(self, names: NamePairs) -> np.ndarray:
        return _equal(names.a.forename_canonical, names.b.forename_canonical)


class SurnameEquivalent(NameComparison):
    """1 when the canonical surnames are equal (Choudhury and Chaudhry), 0 when not."""

    name = "surname_equiv"

    def compare_names(self, names: NamePairs) -> np.ndarray:
        return _equal(names.a.surname_canonical, names.b.surname_canonical)


class SurnameSharesPart(NameComparison):
    """1 when the surnames share a part (Smith and Smith-Jones: birth and married names)."""

    name = "surname_part"

    def compare_names(self, names: NamePairs) -> np.ndarray:
        return distinct_apply(names.a.surname, names.b.surname, names.names,
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
    ForenameSimilarity(), ForenameEquivalent(), SurnameSimilarity(), SurnameEquivalent(), SurnameSharesPart(),
    BirthDate(), Equal("sex", "sex"), Postcode(), Address(), Equal("uprn", "uprn"), SurnameFrequency(),
)


# The standardised columns `encode_records` reads besides those the comparisons compare for equality.
ENCODED_COLUMNS = ("forename", "forename_alt", "surname", "forename_canonical", "surname_canonical", "dob_year",
                   "dob_month", "dob_day")


def compared_columns(comparisons: tuple[Comparison, ...] = COMPARISONS) -> list[str]:
    """Every standardised column comparing two records reads (what a record must keep to be compared later)."""
    return list(dict.fromkeys([*ENCODED_COLUMNS, *(c for comparison in comparisons for c in comparison.encodes)]))


def encode_records(records: pd.DataFrame, comparisons: tuple[Comparison, ...] = COMPARISONS) -> EncodedRecords:
    """Factorise the standardised records once (strings to integer codes)."""
    columns = dict.fromkeys(c for comparison in comparisons for c in comparison.encodes)
    codes = {c: _vocabulary(records, [c])[0][0] for c in columns}
    (fore, alt, sur), names = _vocabulary(records, ["forename", "forename_alt", "surname"])
    (fore_canon, sur_canon), _ = _vocabulary(records, ["forename_canonical", "surname_canonical"])
    initials = pd.factorize(np.array([str(name)[:1] for name in names], dtype=object))[0].astype(np.int64)
    dob = np.column_stack([records[c].to_numpy(dtype="float64", na_value=np.nan)
                           for c in ("dob_year", "dob_month", "dob_day")])
    canonical = records["surname_canonical"].astype(object)
    tf = canonical.map(canonical.value_counts(normalize=True)).to_numpy(dtype="float64", na_value=np.nan)
    return EncodedRecords(codes, fore, alt, sur, names, fore_canon, sur_canon, initials, dob, tf)


def compare_pairs(records: pd.DataFrame | EncodedRecords, pairs: pd.DataFrame,
                  comparisons: tuple[Comparison, ...] = COMPARISONS) -> pd.DataFrame:
    """One row of features per candidate pair (same order as `pairs`), one column per comparison."""
    enc = records if isinstance(records, EncodedRecords) else encode_records(records, comparisons)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    out = pd.DataFrame(index=pairs.index)
    names = orient_names(enc, i, j) if any(isinstance(c, NameComparison) for c in comparisons) else None
    for comparison in comparisons:
        if isinstance(comparison, NameComparison):
            assert names is not None
            out[comparison.name] = comparison.compare_names(names)
        else:
            out[comparison.name] = comparison.compute(enc, i, j)
    return out
