"""Tests of the synthetic authority generator (synth).

Small runs (300 households) check the file contract, determinism, tokens and truth; one
2,000-household run checks that every hard case of domain.md is really present in the
extracts, by finding it from the extracts and the truth rather than trusting the generator's
own hard_cases.csv.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import pathlib
import re

import pandas as pd
import pytest

from synth import criteria_truth, generate
from synth.identifiers import normalise_identifier, token_key
from synth.names import load_tables

R = dt.date(2026, 10, 31)

# Copied from the agencies' extract specification (tests/fixtures/extracts-spec-v1.md), deliberately
# not imported from synth.schema.
SPEC_COLUMNS = {
    "police": "source_record_id nominal_token surname forename dob sex address postcode event_date "
    "event_type outcome role extract_date",
    "schools": "source_record_id upn_token legal_forename preferred_forename legal_surname dob gender "
    "address_line_1 address_line_2 address_line_3 postcode uprn school_urn academic_year term "
    "sessions_possible sessions_authorised sessions_unauthorised suspensions "
    "permanent_exclusion provision extract_date",
    "health": "source_record_id nhs_number_token forename surname dob sex address_line_1 address_line_2 "
    "address_line_3 postcode gp_practice_code mental_health substance_misuse "
    "ae_attendances_12m extract_date",
    "electoral_register": "source_record_id elector_number forename middle_names surname address_line_1 "
    "address_line_2 address_line_3 address_line_4 postcode uprn attainer_dob "
    "extract_date",
    "benefits": "source_record_id claim_token ni_number_token role forename surname dob sex address_line_1 "
    "address_line_2 address_line_3 postcode uprn benefit_type uc_work_group claim_start "
    "claim_end extract_date",
    "children_social_care": "source_record_id child_token forename surname dob sex address_line_1 "
    "address_line_2 postcode uprn category start_date end_date extract_date",
}
SPEC_COLUMNS = {k: v.split() for k, v in SPEC_COLUMNS.items()}
# truth/households.csv: the true household, then its criteria under the three rule sets.
HOUSEHOLD_COLUMNS = [
    *["household_id", "uprn", "postcode", "members", "children"],
    *["crime_asb", "education", "children_need_help", "worklessness", "domestic_abuse", "health"],
    *["problems", "eligible"],
    *["phase1.crime_asb", "phase1.education", "phase1.worklessness", "phase1.local_filter"],
    *["phase1.problems", "phase1.eligible"],
    *["supporting_families.education", "supporting_families.early_years", "supporting_families.health"],
    *["supporting_families.substance_use", "supporting_families.family_relationships"],
    *["supporting_families.children_safe", "supporting_families.crime_asb", "supporting_families.domestic_abuse"],
    *["supporting_families.secure_housing", "supporting_families.financial_stability"],
    *["supporting_families.problems", "supporting_families.eligible"],
]
TOKEN = re.compile(r"^[0-9a-f]{64}$")
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DMY = re.compile(r"^\d{2}/\d{2}/\d{4}$")
ALLOWED = {
    ("police", "sex"): {"M", "F", "U"},
    ("police", "event_type"): {"OFFENCE", "ASB", "DOMESTIC_ABUSE"},
    ("police", "role"): {"OFFENDER", "SUSPECT", "VICTIM", "WITNESS"},
    ("schools", "gender"): {"M", "F"},
    ("schools", "term"): {"AUTUMN", "SPRING", "SUMMER"},
    ("schools", "provision"): {"MAINSTREAM", "PRU", "ALTERNATIVE_PROVISION", "ELECTIVE_HOME_EDUCATION", "NOT_ON_ROLL"},
    ("schools", "permanent_exclusion"): {"0", "1"},
    ("health", "sex"): {"M", "F", "U"},
    ("health", "mental_health"): {"0", "1"},
    ("health", "substance_misuse"): {"0", "1"},
    ("benefits", "role"): {"CLAIMANT", "PARTNER", "DEPENDANT"},
    ("benefits", "benefit_type"): {"JSA", "ESA", "IS", "IB", "SDA", "CA", "UC", "HB", "CTR", "PIP"},
    ("benefits", "uc_work_group"): {"", "SEARCHING", "PREPARING", "PLANNING", "NO_WORK_REQUIREMENTS", "WORKING"},
    ("benefits", "sex"): {"M", "F", "U"},
    ("children_social_care", "category"): {"CIN", "CP", "LAC", "EARLY_HELP"},
    ("children_social_care", "sex"): {"M", "F", "U"},
}
OUTCOMES = {
    "OFFENCE": {"CHARGE", "CONVICTION", "CAUTION", "YOUTH_CAUTION", "YOUTH_CONDITIONAL_CAUTION", "NFA"},
    "ASB": {"ASBO", "CBO", "ASB_INJUNCTION", "ABC", "CPN", "HOUSING_ASB_EVICTION", "WARNING"},
    "DOMESTIC_ABUSE": {"RECORDED"},
}
DATE_COLS = {
    "police": ["dob", "event_date"],
    "schools": ["dob"],
    "health": ["dob"],
    "electoral_register": ["attainer_dob"],
    "benefits": ["dob", "claim_start", "claim_end"],
    "children_social_care": ["dob", "start_date", "end_date"],
}


def read(out: pathlib.Path, source: str) -> pd.DataFrame:
    return pd.read_csv(out / "extracts" / f"{source}.csv", dtype=str, keep_default_na=False, encoding="utf-8")


def truth(out: pathlib.Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "truth" / f"{name}.csv", dtype=str, keep_default_na=False)


def clean(out: pathlib.Path, source: str) -> pd.DataFrame:
    """Extract rows that are not deliberately defective, joined to their truth."""
    df = read(out, source)
    bad = truth(out, "defects")
    df = df[~df.source_record_id.isin(bad[bad.source == source].source_record_id)]
    t = truth(out, "truth")
    return df.merge(t[t.source == source][["source_record_id", "person_id", "household_id"]], on="source_record_id")


def tok(seed: int, value: str) -> str:
    return hmac.new(token_key(seed), normalise_identifier(value).encode(), hashlib.sha256).hexdigest()


def norm(s: pd.Series) -> pd.Series:
    return s.str.upper().str.split().str.join(" ")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict]:
    out = tmp_path_factory.mktemp("synth_small")
    return out, generate(300, 11, out)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("synth_big")
    generate(2000, 20261, out)
    return out


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("synth_defects")
    generate(300, 5, out, defect_rate=0.03)
    return out


# -- the file contract -------------------------------------------------------------------------


def test_files_headers_and_encoding(small):
    out, _ = small
    for source, cols in SPEC_COLUMNS.items():
        raw = (out / "extracts" / f"{source}.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), source
        text = raw.decode("utf-8")
        rows = list(csv.reader(text.splitlines()))
        assert rows[0] == cols, source
        assert len(rows) > 1, f"{source} is empty"
        assert all(len(r) == len(cols) for r in rows), source
        df = read(out, source)
        assert set(df.extract_date) == {R.isoformat()}, source
        assert df.source_record_id.is_unique, source
    for name, cols in {
        "truth": ["source", "source_record_id", "person_id", "household_id"],
        "households": HOUSEHOLD_COLUMNS,
        "defects": ["source", "source_record_id", "kind"],
    }.items():
        assert list(truth(out, name).columns) == cols
    assert {"person_id", "household_id", "forename", "surname", "dob", "sex", "nhs_number"} <= set(
        truth(out, "people").columns
    )


def test_rfc4180_quoting_round_trips(small):
    out, _ = small
    raw = (out / "extracts" / "police.csv").read_text(encoding="utf-8")
    assert '"' in raw, "police single-line addresses contain commas and must be quoted"
    with open(out / "extracts" / "police.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert all(len(r) == len(SPEC_COLUMNS["police"]) for r in rows)
    assert any("," in r[6] for r in rows[1:])


def test_summary_has_counts_only(small):
    out, summary = small
    assert summary["households"] == 300
    assert summary["rows"] == {s: len(read(out, s)) for s in SPEC_COLUMNS}
    flat = repr(summary)
    people = truth(out, "people")
    assert not any(n in flat for n in people.surname.head(50))


def test_deterministic_and_seed_sensitive(small, tmp_path):
    out, _ = small
    again = tmp_path / "again"
    generate(300, 11, again)
    files = sorted(p.relative_to(out) for p in out.rglob("*.csv"))
    assert files == sorted(p.relative_to(again) for p in again.rglob("*.csv"))
    for f in files:
        assert (out / f).read_bytes() == (again / f).read_bytes(), f
    other = tmp_path / "other"
    generate(300, 12, other)
    for source in SPEC_COLUMNS:
        name = pathlib.Path("extracts") / f"{source}.csv"
        assert (out / name).read_bytes() != (other / name).read_bytes(), source


def test_dates_formats_and_values(small):
    out, _ = small
    for source, cols in DATE_COLS.items():
        df = clean(out, source)
        pattern = DMY if source == "police" else ISO
        for c in cols:
            v = df[c][df[c] != ""]
            assert v.str.match(pattern).all(), (source, c, v[~v.str.match(pattern)].head())
            fmt = "%d/%m/%Y" if source == "police" else "%Y-%m-%d"
            parsed = pd.to_datetime(v, format=fmt)
            assert (parsed <= pd.Timestamp(R)).all() or c == "claim_end", (source, c)


def test_values_in_allowed_sets_and_counts(small):
    out, _ = small
    for (source, col), allowed in ALLOWED.items():
        df = clean(out, source)
        assert set(df[col]) <= allowed, (source, col, set(df[col]) - allowed)
    p = clean(out, "police")
    assert all(o in OUTCOMES[e] for e, o in zip(p.event_type, p.outcome, strict=True))
    s = clean(out, "schools")
    n = {
        c: s[c].astype(int)
        for c in ["sessions_possible", "sessions_authorised", "sessions_unauthorised", "suspensions"]
    }
    assert (n["sessions_authorised"] + n["sessions_unauthorised"] <= n["sessions_possible"]).all()
    assert all((v >= 0).all() for v in n.values())
    assert s.school_urn[s.school_urn != ""].str.fullmatch(r"\d{6}").all()
    b = clean(out, "benefits")
    assert ((b.uc_work_group != "") == (b.benefit_type == "UC")).all() or (
        b[b.uc_work_group != ""].benefit_type == "UC"
    ).all()
    ended = b[b.claim_end != ""]
    assert (ended.claim_end > ended.claim_start).all()
    for source in ["schools", "electoral_register", "benefits", "children_social_care"]:
        u = clean(out, source).uprn
        assert u[u != ""].str.fullmatch(r"\d{1,12}").all(), source


def test_postcodes_are_uk_format(small):
    out, _ = small
    for source in SPEC_COLUMNS:
        pc = clean(out, source).postcode
        pc = pc[pc != ""].str.upper()
        assert pc.str.match(POSTCODE).all(), (source, pc[~pc.str.match(POSTCODE)].head())
    assert truth(out, "households").postcode.str.match(POSTCODE).all()


# -- tokens and truth ----------------------------------------------------------------------------


def test_tokens_are_hmac_of_the_agency_identifier(small):
    out, _ = small
    people = truth(out, "people").set_index("person_id")
    checks = [
        ("health", "nhs_number_token", ["nhs_number", "nhs_number_duplicate"]),
        ("schools", "upn_token", ["upn"]),
        ("police", "nominal_token", ["police_nominal", "police_nominal_duplicate"]),
        ("children_social_care", "child_token", ["la_child_id"]),
    ]
    for source, col, ids in checks:
        df = clean(out, source)
        assert df[col].str.match(TOKEN).all(), source
        for _, row in df.iterrows():
            expected = {tok(11, people.at[row.person_id, i]) for i in ids if people.at[row.person_id, i]}
            assert row[col] in expected, (source, row.source_record_id)
    b = clean(out, "benefits")
    assert b.claim_token.str.match(TOKEN).all()
    dep = b.role == "DEPENDANT"
    assert (b.ni_number_token[dep] == "").all()
    assert b.ni_number_token[~dep].str.match(TOKEN).all()
    for _, row in b[~dep].iterrows():
        assert row.ni_number_token == tok(11, people.at[row.person_id, "ni_number"])


def test_same_identifier_same_token_one_person(small):
    out, _ = small
    for source, col in [
        ("schools", "upn_token"),
        ("benefits", "ni_number_token"),
        ("police", "nominal_token"),
        ("health", "nhs_number_token"),
        ("children_social_care", "child_token"),
    ]:
        df = clean(out, source)
        df = df[df[col] != ""]
        assert (df.groupby(col).person_id.nunique() == 1).all(), source
    s = clean(out, "schools")
    assert (s.groupby("person_id").upn_token.nunique() == 1).all(), "a pupil keeps one UPN over terms"
    b = clean(out, "benefits")
    assert (b.groupby("claim_token").household_id.nunique() == 1).all()


def test_truth_covers_every_row(small):
    out, _ = small
    t = truth(out, "truth")
    people = truth(out, "people")
    for source in SPEC_COLUMNS:
        ids = set(read(out, source).source_record_id)
        assert ids == set(t[t.source == source].source_record_id), source
    assert len(t) == len(t.drop_duplicates(["source", "source_record_id"]))
    merged = t.merge(people[["person_id", "household_id"]], on="person_id", suffixes=("", "_p"), how="left")
    assert (merged.household_id == merged.household_id_p).all()
    hh = truth(out, "households")
    assert set(people.household_id) == set(hh.household_id)
    assert (hh.members.astype(int) == hh.household_id.map(people.household_id.value_counts())).all()
    d = truth(out, "defects")
    assert set(zip(d.source, d.source_record_id, strict=True)) <= set(zip(t.source, t.source_record_id, strict=True))


# -- defects -----------------------------------------------------------------------------------


def test_defects_recorded_and_really_defective(defective):
    out = defective
    d = truth(out, "defects")
    assert len(d) > 20
    assert {"impossible_date", "wrong_date_format", "out_of_set", "bad_token"} <= set(d.kind)
    for source in SPEC_COLUMNS:
        df = read(out, source).set_index("source_record_id")
        for _, row in d[d.source == source].iterrows():
            rec = df.loc[row.source_record_id]
            assert _invalid(source, rec), (source, row.source_record_id, row.kind, dict(rec))


def _invalid(source: str, rec: pd.Series) -> bool:
    """A small independent validator of one row against the spec."""
    fmt, pat = ("%d/%m/%Y", DMY) if source == "police" else ("%Y-%m-%d", ISO)
    for c in DATE_COLS[source]:
        v = rec[c]
        if v and (not pat.match(v) or pd.isna(pd.to_datetime(v, format=fmt, errors="coerce"))):
            return True
    for (s, c), allowed in ALLOWED.items():
        if s == source and rec[c] not in allowed:
            return True
    if source == "police" and rec.outcome not in OUTCOMES.get(rec.event_type, set()):
        return True
    for c in [c for c in rec.index if c.endswith("_token")]:
        if rec[c] and not TOKEN.match(rec[c]):
            return True
        if not rec[c] and not (source == "benefits" and rec.role == "DEPENDANT"):
            return True
    if source == "schools":
        n = {
            c: int(rec[c]) for c in ["sessions_possible", "sessions_authorised", "sessions_unauthorised", "suspensions"]
        }
        if min(n.values()) < 0 or n["sessions_authorised"] + n["sessions_unauthorised"] > n["sessions_possible"]:
            return True
    if source == "health" and int(rec.ae_attendances_12m) < 0:
        return True
    if source == "benefits" and rec.claim_end and rec.claim_end <= rec.claim_start:
        return True
    if source == "children_social_care" and rec.end_date and rec.end_date < rec.start_date:
        return True
    return "uprn" in rec.index and bool(rec.uprn) and not rec.uprn.isdigit()


# -- realism and hard cases (2,000 households) -----------------------------------------------------


def test_population_shape(big):
    people = truth(big, "people")
    hh = truth(big, "households")
    assert 2.15 <= len(people) / len(hh) <= 2.5
    age = (pd.Timestamp(R) - pd.to_datetime(people.dob)).dt.days / 365.2425
    assert 0.18 <= (age < 18).mean() <= 0.24
    assert people.surname.value_counts().index[0] in {"Smith", "Jones"}
    assert {"Khan", "Patel"} & set(people.surname)
    h = clean(big, "health")
    assert 0.95 <= h.person_id.nunique() / len(people) <= 0.995
    er = clean(big, "electoral_register")
    adults = people[age >= 18]
    assert 0.7 <= er.person_id.isin(adults.person_id).sum() / len(adults) <= 0.9
    pc = hh.postcode.value_counts()
    assert 8 <= len(hh) / len(pc) <= 25 or pc.mean() > 1


def test_er_has_no_dob_except_attainers(big):
    er = clean(big, "electoral_register")
    assert "dob" not in er.columns
    people = truth(big, "people").set_index("person_id")
    att = er[er.attainer_dob != ""]
    assert len(att) > 0
    age = (pd.Timestamp(R) - pd.to_datetime(people.loc[att.person_id].dob)).dt.days / 365.2425
    assert ((age >= 16) & (age < 18)).all()
    assert (att.attainer_dob.to_numpy() == people.loc[att.person_id].dob.to_numpy()).all()
    assert (er.attainer_dob == "").mean() > 0.95


def test_twins_and_father_son_namesakes(big):
    people = truth(big, "people")
    twins = people.merge(people, on=["household_id", "dob", "surname"])
    twins = twins[(twins.person_id_x < twins.person_id_y) & (twins.forename_x != twins.forename_y)]
    assert len(twins) >= 3
    assert (twins.sex_x == twins.sex_y).any()
    seen = set(clean(big, "health").person_id)
    assert twins.person_id_x.isin(seen).any()
    ns = people.merge(people, on=["household_id", "forename", "surname"])
    ns = ns[(ns.person_id_x != ns.person_id_y) & (ns.sex_x == "M") & (ns.sex_y == "M")]
    gap = (pd.to_datetime(ns.dob_y) - pd.to_datetime(ns.dob_x)).dt.days / 365.25
    # A few arise by chance (common names); the generator plants more, as real data has.
    assert (gap >= 15).sum() >= 8
    planted = people[people.namesake_of != ""].merge(people, left_on="namesake_of", right_on="person_id")
    assert len(planted) >= 5
    assert (planted.forename_x == planted.forename_y).all() and (planted.surname_x == planted.surname_y).all()
    assert (planted.household_id_x == planted.household_id_y).all()


def test_flats_share_a_street_address(big):
    er = clean(big, "electoral_register")
    flats = er[norm(er.address_line_1).str.startswith("FLAT")]
    street = norm(flats.address_line_2) + "|" + flats.postcode.str.upper().str.replace(" ", "")
    per_street = flats.assign(street=street).groupby("street").household_id.nunique()
    assert (per_street >= 2).sum() >= 5


def test_nicknames_and_transliterations(big):
    t = load_tables()
    people = truth(big, "people").set_index("person_id")
    found_nick = found_var = 0
    for source, col in [("health", "forename"), ("police", "forename"), ("benefits", "forename")]:
        df = clean(big, source)
        true = people.loc[df.person_id, "forename"].to_numpy()
        got = norm(df[col]).to_numpy()
        for g, f in zip(got, true, strict=True):
            if g != f.upper():
                found_nick += g in {n.upper() for n in t.nicknames.get(f, ())}
                found_var += g in {n.upper() for n in t.variants.get(f, ())}
    s = clean(big, "schools")
    pref = s[s.preferred_forename != ""]
    nick_pref = sum(
        p.strip().title() in t.nicknames.get(f, ())
        for p, f in zip(pref.preferred_forename, pref.legal_forename, strict=True)
    )
    assert found_nick >= 5 and nick_pref >= 5 and found_var >= 5, (found_nick, nick_pref, found_var)


def test_birth_and_married_surnames_across_agencies(big):
    people = truth(big, "people").set_index("person_id")
    married = people[people.surname != people.birth_surname]
    h = clean(big, "health")
    er = clean(big, "electoral_register")
    h = h[h.person_id.isin(married.index)]
    er = er[er.person_id.isin(married.index)]
    both = h.merge(er, on="person_id", suffixes=("_h", "_e"))
    birth = norm(both.person_id.map(married.birth_surname))
    current = norm(both.person_id.map(married.surname))
    hit = (norm(both.surname_h) == birth) & (norm(both.surname_e) == current)
    assert hit.sum() >= 5


def test_day_month_swapped_dob(big):
    people = truth(big, "people").set_index("person_id")
    n = 0
    for source in ["police", "health", "schools", "benefits"]:
        df = clean(big, source)
        df = df[df.dob != ""]
        fmt = "%d/%m/%Y" if source == "police" else "%Y-%m-%d"
        got = pd.to_datetime(df.dob, format=fmt)
        true = pd.to_datetime(people.loc[df.person_id].dob).to_numpy()
        true = pd.Series(true, index=df.index)
        swapped = (got != true) & (got.dt.day == true.dt.month) & (got.dt.month == true.dt.day)
        n += int(swapped.sum())
    assert n >= 3


def test_stale_addresses(big):
    moves = truth(big, "moves").set_index("household_id")
    gaz = truth(big, "gazetteer").set_index("uprn")
    hh = truth(big, "households").set_index("household_id")
    h = clean(big, "health")
    h = h[h.household_id.isin(moves.index) & (h.postcode != "")]
    pc = h.postcode.str.upper().str.replace(" ", "")
    prev_pc = h.household_id.map(moves.previous_uprn).map(gaz.postcode).str.replace(" ", "")
    now_pc = h.household_id.map(hh.postcode).str.replace(" ", "")
    stale = (pc == prev_pc) & (pc != now_pc)
    assert stale.sum() >= 10
    p = clean(big, "police")
    p = p[p.household_id.isin(moves.index) & (p.postcode != "")]
    ppc = p.postcode.str.upper().str.replace(" ", "")
    assert (ppc == p.household_id.map(moves.previous_uprn).map(gaz.postcode).str.replace(" ", "")).any()


def test_agency_duplicates(big):
    h = clean(big, "health")
    per_person = h.groupby("person_id").nhs_number_token.nunique()
    assert (per_person >= 2).sum() >= 2
    p = clean(big, "police")
    assert (p.groupby("person_id").nominal_token.nunique() >= 2).sum() >= 1
    s = clean(big, "schools")
    assert (s.groupby("person_id").upn_token.nunique() == 1).all()


def test_case_punctuation_and_accents(big):
    names = pd.concat(
        [clean(big, s).forename for s in ["health", "police", "benefits"]]
        + [clean(big, s).surname for s in ["health", "police", "benefits", "electoral_register"]]
    )
    assert names.str.isupper().mean() > 0.2
    assert names.str.contains(r"^(?:MR|MRS|MS|MISS|DR|Mr|Mrs|Ms|Miss|Dr) ", regex=True).any()
    assert names.str.contains("  ").any() or names.str.startswith(" ").any()
    assert names.str.contains("'").any() and names.str.contains("-").any()
    assert names.str.contains(r"[^\x00-\x7f]", regex=True).any()


def test_hard_cases_file_lists_every_kind(big):
    kinds = set(truth(big, "hard_cases").kind)
    assert {
        "nickname",
        "transliteration",
        "birth_surname",
        "dob_day_month_swap",
        "stale_address",
        "agency_duplicate",
        "typo",
        "title",
    } <= kinds


def test_phase2_eligible_rate_is_realistic(big):
    """Roughly 1-3% of households are families meeting two or more phase 2 criteria."""
    people = truth(big, "people")
    age = (pd.Timestamp(R) - pd.to_datetime(people.set_index("person_id").dob)).dt.days / 365.2425
    y1 = pd.Timestamp(R) - pd.DateOffset(years=1)
    met: dict[str, set] = {}
    p = clean(big, "police")
    p = p[pd.to_datetime(p.event_date, format="%d/%m/%Y") > y1]
    proven = (
        (p.event_type == "OFFENCE")
        & (p.role == "OFFENDER")
        & p.outcome.isin(["CONVICTION", "CAUTION", "YOUTH_CAUTION", "YOUTH_CONDITIONAL_CAUTION"])
    )
    asb = (p.event_type == "ASB") & p.outcome.isin(
        ["ASBO", "CBO", "ASB_INJUNCTION", "ABC", "CPN", "HOUSING_ASB_EVICTION"]
    )
    met["crime_asb"] = set(p[proven | asb].household_id)
    met["domestic_abuse"] = set(p[p.event_type == "DOMESTIC_ABUSE"].household_id)
    s = clean(big, "schools")
    for c in [
        "sessions_possible",
        "sessions_authorised",
        "sessions_unauthorised",
        "suspensions",
        "permanent_exclusion",
    ]:
        s[c] = s[c].astype(int)
    g = s.groupby(["person_id", "household_id"])[
        ["sessions_possible", "sessions_authorised", "sessions_unauthorised", "suspensions", "permanent_exclusion"]
    ].sum()
    edu = ((g.sessions_authorised + g.sessions_unauthorised) >= 0.1 * g.sessions_possible) & (g.sessions_possible > 0)
    edu |= (g.suspensions >= 3) | (g.permanent_exclusion > 0)
    met["education"] = set(g[edu].index.get_level_values(1)) | set(
        s[s.provision.isin(["PRU", "ALTERNATIVE_PROVISION", "NOT_ON_ROLL"])].household_id
    )
    c = clean(big, "children_social_care")
    met["children_need_help"] = set(
        c[(c.end_date == "") | (pd.to_datetime(c.end_date.replace("", None)) > y1)].household_id
    )
    b = clean(big, "benefits")
    live = b.claim_end == ""
    oow = b.benefit_type.isin(["JSA", "ESA", "IS", "IB", "SDA", "CA"]) | (
        (b.benefit_type == "UC") & b.uc_work_group.isin(["SEARCHING", "PREPARING", "PLANNING", "NO_WORK_REQUIREMENTS"])
    )
    met["worklessness"] = set(b[live & oow & (b.person_id.map(age) >= 18)].household_id)
    h = clean(big, "health")
    child = h.person_id.map(age) < 18
    met["health"] = set(
        h[
            (h.mental_health == "1") | (h.substance_misuse == "1") | (child & (h.ae_attendances_12m.astype(int) >= 3))
        ].household_id
    )
    hh = truth(big, "households")
    n = sum(hh.household_id.isin(v).astype(int) for v in met.values())
    eligible = ((n >= 2) & (hh.children.astype(int) > 0)).mean()
    assert 0.008 <= eligible <= 0.045, eligible
    assert all(len(v) > 0 for v in met.values()), {k: len(v) for k, v in met.items()}


def test_rows_not_marked_defective_pass_validation(small):
    out, _ = small
    for source in SPEC_COLUMNS:
        df = clean(out, source)
        bad = [r.source_record_id for _, r in df.iterrows() if _invalid(source, r)]
        assert not bad, (source, bad[:5])


def test_other_extract_date_and_school_terms(tmp_path):
    out = tmp_path / "may"
    generate(150, 3, out, extract_date=dt.date(2026, 5, 20), defect_rate=0.0)
    s = read(out, "schools")
    terms = set(zip(s.academic_year, s.term, strict=True))
    assert terms == {("2025/26", "AUTUMN"), ("2025/26", "SPRING"), ("2025/26", "SUMMER")}
    summer = s[s.term == "SUMMER"].sessions_possible.astype(int)
    autumn = s[s.term == "AUTUMN"].sessions_possible.astype(int)
    assert summer.max() < autumn.max(), "the summer term has only just started"
    for source in SPEC_COLUMNS:
        assert set(read(out, source).extract_date) == {"2026-05-20"}
    assert truth(out, "defects").empty


def test_blank_means_blank(big):
    """Noise never turns an unknown (blank) value into whitespace."""
    for source in SPEC_COLUMNS:
        df = read(big, source)
        for c in df.columns:
            assert not (df[c].str.strip() == "").ne(df[c] == "").any(), (source, c)


# -- criteria of the true households (truth/households.csv) ------------------------------------------


def _written_rows(out: pathlib.Path) -> dict[str, pd.DataFrame]:
    t = truth(out, "truth")
    return {
        s: read(out, s).merge(t[t.source == s][["source_record_id", "person_id"]], on="source_record_id")
        for s in SPEC_COLUMNS
    }


def test_household_criteria_recomputed_from_the_written_files(defective):
    """households.csv holds the criteria of the files as written (after defects, defect rows left out).

    A consistency check only: it recomputes the truth with the generator's own code. That code is
    checked against hand-computed households by the `test_criteria_*` cases below, and against the
    pipeline's rules engine, written apart from it, by tests/criteria/test_oracle.py.
    """
    out = defective
    hh = truth(out, "households")
    again = criteria_truth.evaluate(_written_rows(out), truth(out, "people"), R, truth(out, "defects"))
    again = again.set_index("household_id").loc[hh.household_id].reset_index().astype(str)
    pd.testing.assert_frame_equal(again, hh[["household_id", *criteria_truth.COLUMNS]], check_dtype=False)
    assert hh.children.astype(int).sum() > 0


def test_household_criteria_are_exercised_and_consistent(big):
    """Every criterion is met by some households and not all, and children are counted from the people.

    Like the test above, this checks the truth against itself, not against hand-computed answers.
    """
    hh = truth(big, "households")
    assert list(hh.columns) == HOUSEHOLD_COLUMNS
    people = truth(big, "people")
    dob = pd.to_datetime(people.dob)
    age = R.year - dob.dt.year - ((dob.dt.month > R.month) | ((dob.dt.month == R.month) & (dob.dt.day > R.day)))
    assert (hh.children.astype(int) == hh.household_id.map(people[age < 18].household_id.value_counts())
            .fillna(0).astype(int)).all()
    family = hh.children.astype(int) > 0
    for prefix, names, need in [
        ("", criteria_truth.PHASE2, 2),
        ("phase1.", criteria_truth.PHASE1, None),
        ("supporting_families.", criteria_truth.SUPPORTING_FAMILIES, 3),
    ]:
        assessed = [c for c in names if c not in criteria_truth.NOT_ASSESSED]
        met = hh[[prefix + c for c in assessed]].astype(int)
        for c in met:
            assert 0 < met[c].sum() < len(hh), c
        assert (met.sum(axis=1) == hh[prefix + "problems"].astype(int)).all(), prefix
        eligible = hh[prefix + "eligible"].astype(int) == 1
        assert eligible.any() and not (eligible & ~family).any(), prefix
        if need:
            assert (eligible == (family & (met.sum(axis=1) >= need))).all(), prefix
    for c in criteria_truth.NOT_ASSESSED:
        assert (hh[f"supporting_families.{c}"] == "").all()
    assert 0.008 <= (hh.eligible == "1").mean() <= 0.045


# Tiny hand-made authorities for the boundaries of the rules. R = 2026-10-31, so R - 1 year is
# 2025-10-31 (outside the window) and 2025-11-01 is its first day.


def _people(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["person_id", "household_id", "dob"])


# H1: an adult and a child; H2: adults only; H3: a 17-year-old who turns 18 on 15 November.
PEOPLE = _people(
    ("P1", "H1", "1980-05-01"),
    ("P2", "H1", "2015-03-03"),
    ("P3", "H2", "1990-01-01"),
    ("P4", "H2", "1988-07-07"),
    ("P5", "H3", "2008-11-15"),
)


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"source_record_id": f"R{i}", **r} for i, r in enumerate(rows)])


def police(person: str, date: str, etype: str = "OFFENCE", outcome: str = "CONVICTION", role: str = "OFFENDER"):
    return {"person_id": person, "event_date": date, "event_type": etype, "outcome": outcome, "role": role}


def school(person: str, year: str = "2026/27", term: str = "AUTUMN", possible: int = 100, auth: int = 0,
           unauth: int = 0, susp: int = 0, perm: int = 0, provision: str = "MAINSTREAM"):
    return {"person_id": person, "academic_year": year, "term": term, "sessions_possible": str(possible),
            "sessions_authorised": str(auth), "sessions_unauthorised": str(unauth), "suspensions": str(susp),
            "permanent_exclusion": str(perm), "provision": provision}


def benefit(person: str, btype: str, start: str = "2020-01-01", end: str = "", group: str = ""):
    return {"person_id": person, "benefit_type": btype, "uc_work_group": group, "claim_start": start,
            "claim_end": end}


def episode(person: str, category: str, start: str, end: str = ""):
    return {"person_id": person, "category": category, "start_date": start, "end_date": end}


def health(person: str, mh: int = 0, sm: int = 0, ae: int = 0):
    return {"person_id": person, "mental_health": str(mh), "substance_misuse": str(sm),
            "ae_attendances_12m": str(ae)}


def crit(people: pd.DataFrame = PEOPLE, ref: dt.date = R, defects: pd.DataFrame | None = None,
         **rows: list[dict]) -> pd.DataFrame:
    frames = {s: _frame(r) for s, r in rows.items()}
    return criteria_truth.evaluate(frames, people, ref, defects).set_index("household_id")


def test_criteria_absence_exactly_ten_percent_is_met_just_under_is_not():
    # Four terms: the oldest (heavy absence) is not among the last three; a later academic
    # year's AUTUMN comes after an earlier one's SUMMER. 50 of 500 sessions is exactly 10%.
    old = school("P2", "2025/26", "AUTUMN", possible=100, unauth=90)
    terms = [("2025/26", "SPRING", 200), ("2025/26", "SUMMER", 160), ("2026/27", "AUTUMN", 140)]
    met = crit(schools=[old] + [school("P2", y, t, p, auth=p // 20, unauth=p // 20) for y, t, p in terms])
    assert met.at["H1", "education"] == 1 and met.at["H1", "supporting_families.education"] == 1
    under = [school("P2", y, t, p, auth=p // 20 - (t == "AUTUMN"), unauth=p // 20) for y, t, p in terms]
    assert crit(schools=[old, *under]).at["H1", "education"] == 0  # 49 of 500: 9.8%
    # Phase 1: unauthorised absence of at least 15%.
    assert crit(schools=[school("P2", unauth=15)]).at["H1", "phase1.education"] == 1
    assert crit(schools=[school("P2", unauth=14)]).at["H1", "phase1.education"] == 0
    assert crit(schools=[school("P2", auth=14, unauth=1)]).at["H1", "phase1.education"] == 0
    # Suspensions summed over the terms, and only for children at R.
    two_terms = [school("P2", term="AUTUMN", susp=1), school("P2", "2025/26", "SUMMER", susp=2)]
    assert crit(schools=two_terms).at["H1", "phase1.education"] == 1
    assert crit(schools=[school("P1", auth=50)]).at["H1", "education"] == 0
    assert crit(schools=[school("P2", possible=0)]).at["H1", "education"] == 0


def test_criteria_latest_provision_is_the_pupils_own_most_recent_term():
    autumn_pru = [school("P2", "2025/26", "SUMMER"), school("P2", "2026/27", "AUTUMN", provision="PRU")]
    assert crit(schools=autumn_pru).at["H1", "education"] == 1
    back = [school("P2", "2025/26", "SUMMER", provision="NOT_ON_ROLL"), school("P2", "2026/27", "AUTUMN")]
    assert crit(schools=back).at["H1", "education"] == 0
    ehe = [school("P2", provision="ELECTIVE_HOME_EDUCATION", possible=0)]
    assert crit(schools=ehe).at["H1", "education"] == 0


def test_criteria_event_window_is_after_r_minus_one_year_up_to_r():
    for date, inside in [("31/10/2025", 0), ("01/11/2025", 1), ("31/10/2026", 1), ("01/11/2026", 0)]:
        c = crit(police=[police("P1", date), police("P3", date, "DOMESTIC_ABUSE", "RECORDED", "WITNESS")])
        assert c.at["H1", "crime_asb"] == inside, date
        assert c.at["H2", "domestic_abuse"] == inside, date
    assert crit(police=[police("P1", "")]).at["H1", "crime_asb"] == 0  # a blank date is never in a window


def test_criteria_window_from_a_29_february_extract_date():
    ref = dt.date(2028, 2, 29)
    for date, inside in [("28/02/2027", 0), ("01/03/2027", 1)]:
        assert crit(ref=ref, police=[police("P1", date, "ASB", "CBO")]).at["H1", "crime_asb"] == inside


def test_criteria_warnings_charges_and_suspects_are_not_proven():
    for row in [
        police("P1", "01/06/2026", "ASB", "WARNING"),
        police("P1", "01/06/2026", "OFFENCE", "CHARGE"),
        police("P1", "01/06/2026", "OFFENCE", "NFA"),
        police("P1", "01/06/2026", "OFFENCE", "CONVICTION", "SUSPECT"),
        police("P1", "01/06/2026", "OFFENCE", "CONVICTION", "VICTIM"),
    ]:
        c = crit(police=[row])
        assert c.at["H1", "crime_asb"] == 0 and c.at["H1", "phase1.crime_asb"] == 0, row
    c = crit(police=[police("P3", "01/06/2026", "ASB", "HOUSING_ASB_EVICTION", "WITNESS")])
    assert c.at["H2", "crime_asb"] == 1 and c.at["H2", "supporting_families.secure_housing"] == 1
    assert c.at["H2", "phase1.crime_asb"] == 1


def test_criteria_phase1_youth_offence_uses_age_at_the_event():
    people = _people(("P1", "H1", "2008-06-01"), ("P2", "H1", "2012-01-01"))  # P1 is 18 at R
    young = crit(people, police=[police("P1", "01/03/2026", outcome="YOUTH_CAUTION")])  # aged 17
    assert young.at["H1", "phase1.crime_asb"] == 1 and young.at["H1", "crime_asb"] == 1
    grown = crit(people, police=[police("P1", "01/06/2026")])  # aged 18
    assert grown.at["H1", "phase1.crime_asb"] == 0 and grown.at["H1", "crime_asb"] == 1
    birthday = crit(people, police=[police("P1", "01/06/2026"), police("P1", "31/05/2026")])
    assert birthday.at["H1", "phase1.crime_asb"] == 1


def test_criteria_benefits_live_claims_and_work_groups():
    def c(*rows):
        return crit(benefits=list(rows)).loc["H1"]

    assert c(benefit("P1", "ESA")).worklessness == 1
    assert c(benefit("P1", "ESA", end="2026-10-31")).worklessness == 0  # ends on R: not live
    assert c(benefit("P1", "ESA", end="2026-11-01")).worklessness == 1
    assert c(benefit("P1", "ESA", start="2026-11-01")).worklessness == 0  # not started
    assert c(benefit("P1", "UC", group="WORKING")).worklessness == 0
    assert c(benefit("P1", "UC", group="NO_WORK_REQUIREMENTS")).worklessness == 1
    assert c(benefit("P2", "UC", group="SEARCHING")).worklessness == 0  # a child dependant
    assert c(benefit("P1", "PIP")).worklessness == 0
    hb = c(benefit("P1", "HB"))
    assert hb.worklessness == 0 and hb["supporting_families.financial_stability"] == 1
    assert c(benefit("P1", "CTR", end="2026-10-31"))["supporting_families.financial_stability"] == 0


def test_criteria_social_care_episode_open_in_the_last_12_months():
    def c(*rows):
        return crit(children_social_care=list(rows)).loc["H1"]

    assert c(episode("P2", "CIN", "2024-01-01", "2025-10-31")).children_need_help == 0
    assert c(episode("P2", "CIN", "2024-01-01", "2025-11-01")).children_need_help == 1
    assert c(episode("P2", "CP", "2026-10-31"))["supporting_families.children_safe"] == 1
    assert c(episode("P2", "CP", "2026-11-01")).children_need_help == 0  # starts after R
    early = c(episode("P2", "EARLY_HELP", "2026-01-01"))
    assert early.children_need_help == 1 and early["supporting_families.children_safe"] == 0
    assert c(episode("P1", "LAC", "2026-01-01")).children_need_help == 0  # not a child at R


def test_criteria_health_flags_and_child_ae():
    c = crit(health=[health("P1", ae=5), health("P3", sm=1), health("P5", ae=3)])
    assert c.at["H1", "health"] == 0  # A&E counts for children only
    assert c.at["H2", "health"] == 1 and c.at["H2", "supporting_families.substance_use"] == 1
    assert c.at["H2", "supporting_families.health"] == 0
    assert c.at["H3", "health"] == 1 and c.at["H3", "supporting_families.health"] == 1  # 17 at R


def test_criteria_29_february_birthday_reached_on_1_march():
    people = _people(("P1", "H1", "2008-02-29"))
    assert crit(people, dt.date(2026, 2, 28), health=[health("P1", ae=3)]).at["H1", "health"] == 1
    assert crit(people, dt.date(2026, 3, 1), health=[health("P1", ae=3)]).at["H1", "health"] == 0


def test_criteria_households_without_children_are_never_eligible():
    rows = {
        "police": [police(p, "01/06/2026", "ASB", "HOUSING_ASB_EVICTION") for p in ("P1", "P3")]
        + [police(p, "01/06/2026", "DOMESTIC_ABUSE", "RECORDED") for p in ("P1", "P3")],
        "benefits": [benefit(p, "JSA") for p in ("P1", "P3")],
        "health": [health(p, mh=1, sm=1) for p in ("P1", "P3")],
    }
    c = crit(**rows)
    for prefix, problems in [("", 4), ("phase1.", 2), ("supporting_families.", 6)]:
        assert c.at["H1", prefix + "problems"] == c.at["H2", prefix + "problems"] == problems, prefix
        assert c.at["H1", prefix + "eligible"] == 1 and c.at["H2", prefix + "eligible"] == 0, prefix
    assert c.at["H1", "phase1.local_filter"] == 1
    assert c.at["H1", "supporting_families.early_years"] == ""


def test_criteria_phase1_two_of_three_need_the_local_filter():
    base = {"police": [police("P1", "01/06/2026", "ASB", "ABC")], "benefits": [benefit("P1", "IS")]}
    c = crit(**base)
    assert c.at["H1", "phase1.problems"] == 2 and c.at["H1", "phase1.eligible"] == 0
    c = crit(**base, health=[health("P1", mh=1)])
    assert c.at["H1", "phase1.local_filter"] == 1 and c.at["H1", "phase1.eligible"] == 1
    c = crit(**base, schools=[school("P2", perm=1)])
    assert c.at["H1", "phase1.problems"] == 3 and c.at["H1", "phase1.eligible"] == 1


def test_criteria_defect_rows_are_left_out():
    rows = [police("P1", "01/06/2026"), police("P3", "01/06/2026")]
    defects = pd.DataFrame({"source": ["police", "schools"], "source_record_id": ["R0", "R1"]})
    c = crit(defects=defects, police=rows)
    assert c.at["H1", "crime_asb"] == 0 and c.at["H2", "crime_asb"] == 1
    # A defect row may hold anything (here an impossible date); it is never parsed.
    bad = [police("P1", "31/02/2026"), school("P2", term="WINTER", susp=-1)]
    defects = pd.DataFrame({"source": ["police", "schools"], "source_record_id": ["R0", "R0"]})
    c = crit(defects=defects, police=bad[:1], schools=bad[1:])
    assert c.at["H1", "crime_asb"] == 0 and c.at["H1", "education"] == 0
