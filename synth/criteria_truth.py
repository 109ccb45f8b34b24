"""Ground-truth household criteria: the three rule sets computed on the TRUE people.

Written by hand (pandas/numpy, no rule files, nothing shared with the pipeline's rules engine)
so that the engine can be checked against it and it against the engine. Each extract row that
is not a deliberate defect counts for its true person and that person's true household; ages
use the true date of birth. The definitions follow the programme's criteria (schemas/criteria/ encodes the same text):

- R is the extract date; "last 12 months" is R - 1 year < date <= R (R - 1 year keeps the
  month and day, 29 February becoming 28 February); a blank date never satisfies a window.
- Age in whole years as the law counts birthdays (a 29 February birthday is reached on
  1 March in other years). Child: under 18 at R; adult: 18 or over.
- Schools' "last 3 terms" are the three most recent (academic_year, term) pairs present among
  the rows, AUTUMN < SPRING < SUMMER within an academic year.

Two layers, so that small hand-made cases are easy to test:

1. `*_facts(rows, ...)`: one source's rows (extract columns as text plus `person`, an integer
   position in the people arrays) -> {fact name: array of the people for whom it holds}.
   Facts are per person and carry no age-at-R condition; that is applied when combining.
2. `household_criteria(facts, dob, hh, n_households, ref)` -> one row per household with the
   criteria of `phase2`, `phase1` and `supporting_families` (columns `COLUMNS`).

`Collector` drives both inside `generate()` one source at a time (only the small per-person
facts are kept), and `evaluate(rows, people, ref, defects)` does the same from plain frames
keyed by person_id (the unit tests, and re-checking written files).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from synth.dates import EPOCH, ymd

BLANK = np.iinfo("int64").min  # day number of a blank (unknown) date

PROVEN_OUTCOMES = ("CONVICTION", "CAUTION", "YOUTH_CAUTION", "YOUTH_CONDITIONAL_CAUTION")
ASB_INTERVENTIONS = ("ASBO", "CBO", "ASB_INJUNCTION", "ABC", "CPN", "HOUSING_ASB_EVICTION")
OUT_OF_WORK_LEGACY = ("JSA", "ESA", "IS", "IB", "SDA", "CA")
UC_OUT_OF_WORK = ("SEARCHING", "PREPARING", "PLANNING", "NO_WORK_REQUIREMENTS")
ALTERNATIVE_PROVISION = ("PRU", "ALTERNATIVE_PROVISION", "NOT_ON_ROLL")
TERM_ORDER = {"AUTUMN": 0, "SPRING": 1, "SUMMER": 2}
SAFEGUARDING = ("CIN", "CP", "LAC")

PHASE2 = ("crime_asb", "education", "children_need_help", "worklessness", "domestic_abuse", "health")
PHASE1 = ("crime_asb", "education", "worklessness")
SUPPORTING_FAMILIES = (
    "education",
    "early_years",
    "health",
    "substance_use",
    "family_relationships",
    "children_safe",
    "crime_asb",
    "domestic_abuse",
    "secure_housing",
    "financial_stability",
)
NOT_ASSESSED = ("early_years", "family_relationships")  # always blank: no source can assess them
COLUMNS: tuple[str, ...] = (
    *PHASE2,
    "problems",
    "eligible",
    *(f"phase1.{c}" for c in (*PHASE1, "local_filter", "problems", "eligible")),
    *(f"supporting_families.{c}" for c in (*SUPPORTING_FAMILIES, "problems", "eligible")),
)

# Extract columns each source's facts read (besides source_record_id, used to drop defects).
NEEDED: dict[str, tuple[str, ...]] = {
    "police": ("event_date", "event_type", "outcome", "role"),
    "schools": (
        "academic_year",
        "term",
        "sessions_possible",
        "sessions_authorised",
        "sessions_unauthorised",
        "suspensions",
        "permanent_exclusion",
        "provision",
    ),
    "health": ("mental_health", "substance_misuse", "ae_attendances_12m"),
    "benefits": ("benefit_type", "uc_work_group", "claim_start", "claim_end"),
    "children_social_care": ("category", "start_date", "end_date"),
}

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_DMY = re.compile(r"\d{2}/\d{2}/\d{4}")


# -- dates and ages --------------------------------------------------------------------------------


def day_of(d: dt.date) -> int:
    return (d - EPOCH).days


def year_before(ref: dt.date) -> dt.date:
    """R - 1 year: the same month and day a year earlier, 29 February becoming 28 February."""
    if (ref.month, ref.day) == (2, 29):
        return dt.date(ref.year - 1, 2, 28)
    return dt.date(ref.year - 1, ref.month, ref.day)


def _per_value(values: Iterable, fn, dtype: str = "int64") -> np.ndarray:
    """fn applied once per distinct value and gathered back (a million cells, a few hundred values)."""
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    return np.array([fn(v) for v in uniq], dtype=dtype)[codes] if len(codes) else np.array([], dtype=dtype)


def _parse_date(v: object, fmt: str) -> int:
    v = str(v)
    if v == "":
        return BLANK
    if not (_DMY if fmt == "dmy" else _ISO).fullmatch(v):
        raise ValueError(f"not a {fmt} date: {v!r}")
    y, m, d = (v[6:10], v[3:5], v[0:2]) if fmt == "dmy" else (v[0:4], v[5:7], v[8:10])
    return day_of(dt.date(int(y), int(m), int(d)))


def parse_dates(values: Iterable[str], fmt: str) -> np.ndarray:
    """Day numbers of dates written `iso` (YYYY-MM-DD) or `dmy` (DD/MM/YYYY); BLANK where blank.

    Anything else raises: rows that reach here are not defects, so they must be valid.
    """
    return _per_value(values, lambda v: _parse_date(v, fmt))


def age_on(dob: np.ndarray, on: np.ndarray | int) -> np.ndarray:
    """Whole years on a day: one less than the year difference before the birthday is reached."""
    dob = np.asarray(dob, dtype="int64")
    by, bm, bd = ymd(dob)
    oy, om, od = ymd(np.broadcast_to(np.asarray(on, dtype="int64"), dob.shape))
    before = (om < bm) | ((om == bm) & (od < bd))  # 29 Feb: not reached on 28 Feb, reached on 1 Mar
    return oy - by - before.astype("int64")


def _people(mask: np.ndarray, person: np.ndarray) -> np.ndarray:
    return np.unique(person[mask])


def _num(rows: pd.DataFrame, col: str) -> np.ndarray:
    """Whole numbers written as text; anything else raises."""
    return _per_value(rows[col], lambda v: int(str(v)))


def _text(rows: pd.DataFrame, col: str) -> np.ndarray:
    return rows[col].to_numpy(dtype=object)


def _isin(values: np.ndarray, allowed: Iterable[str]) -> np.ndarray:
    return pd.Series(values, dtype=object).isin(list(allowed)).to_numpy()


# -- per-source facts (per person, before any age-at-R condition) ----------------------------------


def police_facts(rows: pd.DataFrame, dob: np.ndarray, ref: dt.date) -> dict[str, np.ndarray]:
    """proven_12m, proven_under18_12m (age at the event date), asb_12m, da_12m, eviction_12m."""
    person = rows["person"].to_numpy(dtype="int64")
    day = parse_dates(_text(rows, "event_date"), "dmy")
    r, lo = day_of(ref), day_of(year_before(ref))
    in12 = (day != BLANK) & (day > lo) & (day <= r)
    etype, outcome, role = _text(rows, "event_type"), _text(rows, "outcome"), _text(rows, "role")
    proven = in12 & (etype == "OFFENCE") & (role == "OFFENDER") & _isin(outcome, PROVEN_OUTCOMES)
    age_at_event = age_on(dob[person], np.where(in12, day, r))
    return {
        "proven_12m": _people(proven, person),
        "proven_under18_12m": _people(proven & (age_at_event < 18), person),
        "asb_12m": _people(in12 & (etype == "ASB") & _isin(outcome, ASB_INTERVENTIONS), person),
        "da_12m": _people(in12 & (etype == "DOMESTIC_ABUSE"), person),
        "eviction_12m": _people(in12 & (outcome == "HOUSING_ASB_EVICTION"), person),
    }


def last_terms(rows: pd.DataFrame, count: int = 3) -> list[tuple[str, str]]:
    """The `count` most recent distinct (academic_year, term) pairs present, oldest first."""
    pairs = set(zip(_text(rows, "academic_year"), _text(rows, "term"), strict=True))
    return sorted(pairs, key=lambda p: (int(p[0][:4]), TERM_ORDER[p[1]]))[-count:]


def schools_facts(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """edu_phase2 and edu_phase1: the pupil's school conditions (the child test comes later).

    Sums run over the pupil's rows in the last 3 terms (of the whole extract); the provision
    test looks at the pupil's own most recent term among all their rows.
    """
    if rows.empty:
        return {"edu_phase2": np.array([], dtype="int64"), "edu_phase1": np.array([], dtype="int64")}
    person = rows["person"].to_numpy(dtype="int64")
    year0 = _per_value(rows["academic_year"], lambda y: int(str(y)[:4]))
    term = _per_value(rows["term"], lambda t: TERM_ORDER[t])
    key = year0 * 3 + term
    recent = {int(y[:4]) * 3 + TERM_ORDER[t] for y, t in last_terms(rows)}
    in3 = np.isin(key, list(recent))
    frame = pd.DataFrame(
        {
            "person": person[in3],
            "possible": _num(rows, "sessions_possible")[in3],
            "absent": (_num(rows, "sessions_authorised") + _num(rows, "sessions_unauthorised"))[in3],
            "unauth": _num(rows, "sessions_unauthorised")[in3],
            "susp": _num(rows, "suspensions")[in3],
            "perm": (_num(rows, "permanent_exclusion") == 1)[in3],
        }
    )
    g = frame.groupby("person").agg(
        possible=("possible", "sum"), absent=("absent", "sum"), unauth=("unauth", "sum"),
        susp=("susp", "sum"), perm=("perm", "any"),
    )
    pos = g["possible"].to_numpy()
    # Exact rational comparisons: absent / possible >= 10/100 and unauth / possible >= 15/100.
    absence10 = (pos > 0) & (100 * g["absent"].to_numpy() >= 10 * pos)
    unauth15 = (pos > 0) & (100 * g["unauth"].to_numpy() >= 15 * pos)
    core = (g["susp"].to_numpy() >= 3) | g["perm"].to_numpy()
    who = g.index.to_numpy(dtype="int64")
    latest = pd.Series(key).groupby(person).transform("max").to_numpy()
    provision = _people((key == latest) & _isin(_text(rows, "provision"), ALTERNATIVE_PROVISION), person)
    return {
        "edu_phase2": np.union1d(who[core | absence10], provision),
        "edu_phase1": np.union1d(who[core | unauth15], provision),
    }


def health_facts(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """mental_health, substance_misuse and ae3 (A&E attendances >= 3 on a row), any row."""
    person = rows["person"].to_numpy(dtype="int64")
    return {
        "mental_health": _people(_num(rows, "mental_health") == 1, person),
        "substance_misuse": _people(_num(rows, "substance_misuse") == 1, person),
        "ae3": _people(_num(rows, "ae_attendances_12m") >= 3, person),
    }


def benefits_facts(rows: pd.DataFrame, ref: dt.date) -> dict[str, np.ndarray]:
    """out_of_work and hb_ctr: on a live claim (any role) of that kind at R."""
    person = rows["person"].to_numpy(dtype="int64")
    r = day_of(ref)
    start = parse_dates(_text(rows, "claim_start"), "iso")
    end = parse_dates(_text(rows, "claim_end"), "iso")
    live = (start != BLANK) & (start <= r) & ((end == BLANK) | (end > r))
    btype, group = _text(rows, "benefit_type"), _text(rows, "uc_work_group")
    oow = _isin(btype, OUT_OF_WORK_LEGACY) | ((btype == "UC") & _isin(group, UC_OUT_OF_WORK))
    return {
        "out_of_work": _people(live & oow, person),
        "hb_ctr": _people(live & _isin(btype, ("HB", "CTR")), person),
    }


def csc_facts(rows: pd.DataFrame, ref: dt.date) -> dict[str, np.ndarray]:
    """csc_12m (any category) and safeguarding_12m (CIN, CP, LAC): an episode open in the last 12 months."""
    person = rows["person"].to_numpy(dtype="int64")
    r, lo = day_of(ref), day_of(year_before(ref))
    start = parse_dates(_text(rows, "start_date"), "iso")
    end = parse_dates(_text(rows, "end_date"), "iso")
    open12 = (start != BLANK) & (start <= r) & ((end == BLANK) | (end > lo))
    return {
        "csc_12m": _people(open12, person),
        "safeguarding_12m": _people(open12 & _isin(_text(rows, "category"), SAFEGUARDING), person),
    }


FACTS: dict[str, tuple[str, ...]] = {
    "police": ("proven_12m", "proven_under18_12m", "asb_12m", "da_12m", "eviction_12m"),
    "schools": ("edu_phase2", "edu_phase1"),
    "health": ("mental_health", "substance_misuse", "ae3"),
    "benefits": ("out_of_work", "hb_ctr"),
    "children_social_care": ("csc_12m", "safeguarding_12m"),
}


def source_facts(source: str, rows: pd.DataFrame, dob: np.ndarray, ref: dt.date) -> dict[str, np.ndarray]:
    """The facts of one source's (non-defect) rows; {} for a source no criterion uses."""
    if source == "police":
        return police_facts(rows, dob, ref)
    if source == "schools":
        return schools_facts(rows)
    if source == "health":
        return health_facts(rows)
    if source == "benefits":
        return benefits_facts(rows, ref)
    if source == "children_social_care":
        return csc_facts(rows, ref)
    return {}


# -- households ------------------------------------------------------------------------------------


def household_criteria(
    facts: Mapping[str, np.ndarray], dob: np.ndarray, hh: np.ndarray, n_households: int, ref: dt.date
) -> pd.DataFrame:
    """The three rule sets per household (row i = household position i), columns `COLUMNS`.

    `facts` maps fact names to person positions; a missing fact holds for nobody. `dob` and
    `hh` are per person (day numbers, household positions).
    """
    dob = np.asarray(dob, dtype="int64")
    hh = np.asarray(hh, dtype="int64")
    P, H = dob.size, int(n_households)
    child = age_on(dob, day_of(ref)) < 18
    adult = ~child

    def person(name: str) -> np.ndarray:
        m = np.zeros(P, dtype=bool)
        m[np.asarray(facts.get(name, np.array([], dtype="int64")), dtype="int64")] = True
        return m

    def household(m: np.ndarray) -> np.ndarray:
        out = np.zeros(H, dtype=bool)
        out[hh[m]] = True
        return out

    f = {name: person(name) for names in FACTS.values() for name in names}
    family = household(child)

    p2 = {
        "crime_asb": household(f["proven_12m"] | f["asb_12m"]),
        "education": household(child & f["edu_phase2"]),
        "children_need_help": household(child & f["csc_12m"]),
        "worklessness": household(adult & f["out_of_work"]),
        "domestic_abuse": household(f["da_12m"]),
        "health": household(f["mental_health"] | f["substance_misuse"] | (child & f["ae3"])),
    }
    p2_n = sum(v.astype(int) for v in p2.values())
    p1 = {
        "crime_asb": household(f["proven_under18_12m"] | f["asb_12m"]),
        "education": household(child & f["edu_phase1"]),
        "worklessness": p2["worklessness"],
    }
    p1_n = sum(v.astype(int) for v in p1.values())
    local = p2["children_need_help"] | p2["domestic_abuse"] | p2["health"]
    sf = {
        "education": p2["education"],
        "health": household(f["mental_health"] | (child & f["ae3"])),
        "substance_use": household(f["substance_misuse"]),
        "children_safe": household(child & f["safeguarding_12m"]),
        "crime_asb": p2["crime_asb"],
        "domestic_abuse": p2["domestic_abuse"],
        "secure_housing": household(f["eviction_12m"]),
        "financial_stability": household(adult & (f["out_of_work"] | f["hb_ctr"])),
    }
    sf_n = sum(v.astype(int) for v in sf.values())

    data: dict[str, np.ndarray] = {c: p2[c].astype(int) for c in PHASE2}
    data["problems"] = p2_n
    data["eligible"] = (family & (p2_n >= 2)).astype(int)
    for c in PHASE1:
        data[f"phase1.{c}"] = p1[c].astype(int)
    data["phase1.local_filter"] = local.astype(int)
    data["phase1.problems"] = p1_n
    data["phase1.eligible"] = (family & ((p1_n == 3) | ((p1_n >= 2) & local))).astype(int)
    for c in SUPPORTING_FAMILIES:
        data[f"supporting_families.{c}"] = (
            np.full(H, "", dtype=object) if c in NOT_ASSESSED else sf[c].astype(int)
        )
    data["supporting_families.problems"] = sf_n
    data["supporting_families.eligible"] = (family & (sf_n >= 3)).astype(int)
    return pd.DataFrame({c: np.asarray(data[c]) for c in COLUMNS})


# -- drivers -----------------------------------------------------------------------------------------


def clean_rows(frame: pd.DataFrame, person: np.ndarray, defect_ids: Iterable[str], source: str) -> pd.DataFrame:
    """The rows validation accepts (not listed as defects), the needed columns plus `person`."""
    keep = ~frame["source_record_id"].isin(pd.Index(list(defect_ids), dtype=object)).to_numpy()
    rows = frame.loc[keep, list(NEEDED[source])].reset_index(drop=True)
    rows["person"] = np.asarray(person, dtype="int64")[keep]
    return rows


class Collector:
    """Gathers per-person facts source by source (only small arrays are kept) for `generate()`."""

    def __init__(self, dob: np.ndarray, hh: np.ndarray, n_households: int, ref: dt.date) -> None:
        self.dob, self.hh, self.n_households, self.ref = dob, hh, n_households, ref
        self.facts: dict[str, np.ndarray] = {}

    def add(self, source: str, frame: pd.DataFrame, person: np.ndarray, defect_ids: Iterable[str]) -> None:
        if source not in NEEDED:
            return
        rows = clean_rows(frame, person, defect_ids, source)
        self.facts.update(source_facts(source, rows, self.dob, self.ref))

    def households(self) -> pd.DataFrame:
        return household_criteria(self.facts, self.dob, self.hh, self.n_households, self.ref)


def evaluate(
    rows: Mapping[str, pd.DataFrame],
    people: pd.DataFrame,
    ref: dt.date,
    defects: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Criteria per household from plain frames keyed by person_id.

    `people`: person_id, household_id, dob (ISO text or date). `rows`: source -> extract rows
    (text columns as written) with a person_id column, and source_record_id when `defects`
    (source, source_record_id) is given. A source absent from `rows` has no rows (0, not
    "not assessed": the generator always writes all six); sources no criterion reads are skipped. Returns
    household_id then `COLUMNS`, one row per household in order of first appearance in `people`.
    """
    dob = parse_dates([str(d) for d in people["dob"]], "iso")
    households = pd.Index(pd.unique(people["household_id"]))
    hh = households.get_indexer(people["household_id"])
    index = pd.Index(people["person_id"])
    facts: dict[str, np.ndarray] = {}
    for source, frame in rows.items():
        if source not in NEEDED:
            continue  # no criterion reads it (the electoral register)
        person = index.get_indexer(frame["person_id"])
        if (person < 0).any():
            raise KeyError(f"{source}: rows of people not in `people`")
        bad: list[str] = []
        if defects is not None and len(defects):
            bad = list(defects.loc[defects["source"] == source, "source_record_id"])
        frame = frame if "source_record_id" in frame else frame.assign(source_record_id="")
        facts.update(source_facts(source, clean_rows(frame, person, bad, source), dob, ref))
    out = household_criteria(facts, dob, hh, len(households), ref)
    out.insert(0, "household_id", households.to_numpy())
    return out
