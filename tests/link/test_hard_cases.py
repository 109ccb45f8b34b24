"""Linkage, as a specification: the hard cases (twins, namesakes, flats, nicknames, married names), determinism.

Each hard case is a handful of hand-made records added to the bundled sample's landed rows: the
sample gives the model its training pairs (as a month's real extracts would), the hand-made
records are the cases under test. Names are invented and appear nowhere in the sample.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import pandas as pd
import pytest

from pipeline.link.settings import load_linkage
from pipeline.link.stage import link_and_house

AS_OF = dt.date(2026, 10, 31)
KEY = secrets.token_bytes(32)  # random per session: keys are compared only within it


def token(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# Hand-made records: (source, fields). Every record not named here keeps the template's
# non-identifying fields; identifying fields not given are blank.
CASES: dict[str, list[tuple[str, dict]]] = {
    "twins": [
        ("schools", {"source_record_id": "T-TWIN-S1", "upn_token": token("upn twin 1"), "legal_forename": "ISOLDE",
                     "legal_surname": "QUARRINGTON", "dob": d("2015-06-01"), "gender": "F",
                     "address_line_1": "14 Nettlebed Close", "postcode": "LS97 1AA"}),
        ("schools", {"source_record_id": "T-TWIN-S2", "upn_token": token("upn twin 2"), "legal_forename": "ROWENA",
                     "legal_surname": "QUARRINGTON", "dob": d("2015-06-01"), "gender": "F",
                     "address_line_1": "14 Nettlebed Close", "postcode": "LS97 1AA"}),
        ("health", {"source_record_id": "T-TWIN-H1", "nhs_number_token": token("nhs twin 1"), "forename": "ISOLDE",
                    "surname": "QUARRINGTON", "dob": d("2015-06-01"), "sex": "F",
                    "address_line_1": "14 NETTLEBED CLOSE", "postcode": "LS971AA"}),
        ("health", {"source_record_id": "T-TWIN-H2", "nhs_number_token": token("nhs twin 2"), "forename": "ROWENA",
                    "surname": "QUARRINGTON", "dob": d("2015-06-01"), "sex": "F",
                    "address_line_1": "14 NETTLEBED CLOSE", "postcode": "LS971AA"}),
    ],
    "father and son": [
        ("health", {"source_record_id": "T-FS-H1", "nhs_number_token": token("nhs father"), "forename": "ALARIC",
                    "surname": "VENNINGTON", "dob": d("1971-02-11"), "sex": "M",
                    "address_line_1": "3 Pipistrelle Way", "postcode": "LS97 2BB"}),
        ("health", {"source_record_id": "T-FS-H2", "nhs_number_token": token("nhs son"), "forename": "ALARIC",
                    "surname": "VENNINGTON", "dob": d("1999-09-23"), "sex": "M",
                    "address_line_1": "3 Pipistrelle Way", "postcode": "LS97 2BB"}),
        ("police", {"source_record_id": "T-FS-P1", "nominal_token": token("nominal son"), "forename": "ALARIC",
                    "surname": "VENNINGTON", "dob": d("1999-09-23"), "sex": "M",
                    "address": "3 PIPISTRELLE WAY", "postcode": "LS97 2BB"}),
    ],
    "father and son on the register": [  # both adults on the register, neither entry with a birth date
        ("health", {"source_record_id": "T-FR-H1", "nhs_number_token": token("nhs register father"),
                    "forename": "BARNABY", "surname": "QUILLFEATHER", "dob": d("1968-04-30"), "sex": "M",
                    "address_line_1": "8 Larkspur Rise", "postcode": "LS97 4DD"}),
        ("health", {"source_record_id": "T-FR-H2", "nhs_number_token": token("nhs register son"),
                    "forename": "BARNABY", "surname": "QUILLFEATHER", "dob": d("1998-12-02"), "sex": "M",
                    "address_line_1": "8 Larkspur Rise", "postcode": "LS97 4DD"}),
        ("police", {"source_record_id": "T-FR-P1", "nominal_token": token("nominal register son"),
                    "forename": "BARNABY", "surname": "QUILLFEATHER", "dob": d("1998-12-02"), "sex": "M",
                    "address": "8 LARKSPUR RISE", "postcode": "LS97 4DD"}),
        ("electoral_register", {"source_record_id": "T-FR-E1", "forename": "Barnaby", "surname": "Quillfeather",
                                "address_line_1": "8 Larkspur Rise", "postcode": "LS97 4DD"}),
    ],
    "brother and sister on the register": [  # similar forenames, one address; the register gives no birth date
        ("health", {"source_record_id": "T-BS-H1", "nhs_number_token": token("nhs brother"), "forename": "FABIAN",
                    "surname": "MERRIWEATHER", "dob": d("1990-03-14"), "sex": "M",
                    "address_line_1": "21 Campion Walk", "postcode": "LS97 5EE"}),
        ("health", {"source_record_id": "T-BS-H2", "nhs_number_token": token("nhs sister"), "forename": "FABIANA",
                    "surname": "MERRIWEATHER", "dob": d("1993-08-27"), "sex": "F",
                    "address_line_1": "21 Campion Walk", "postcode": "LS97 5EE"}),
        ("electoral_register", {"source_record_id": "T-BS-E1", "forename": "Fabiana", "surname": "Merriweather",
                                "address_line_1": "21 Campion Walk", "postcode": "LS97 5EE"}),
        ("electoral_register", {"source_record_id": "T-BS-E2", "forename": "Fabian", "surname": "Merriweather",
                                "address_line_1": "21 Campion Walk", "postcode": "LS97 5EE"}),
    ],
    "a couple who moved": [  # the GP has them at the old address, the register at the new one; no agency has both
        ("health", {"source_record_id": "T-MV-H1", "nhs_number_token": token("nhs mover 1"), "forename": "HECTOR",
                    "surname": "PENHALIGON", "dob": d("1952-07-19"), "sex": "M",
                    "address_line_1": "5 Sloe Lane", "postcode": "LS97 6FF"}),
        ("health", {"source_record_id": "T-MV-H2", "nhs_number_token": token("nhs mover 2"), "forename": "PRUDENCE",
                    "surname": "ASHCOMBE", "dob": d("1955-01-08"), "sex": "F",
                    "address_line_1": "5 Sloe Lane", "postcode": "LS97 6FF"}),
        ("electoral_register", {"source_record_id": "T-MV-E1", "forename": "Hector", "surname": "Penhaligon",
                                "address_line_1": "9 Teasel Road", "postcode": "LS97 7GG"}),
        ("electoral_register", {"source_record_id": "T-MV-E2", "forename": "Prudence", "surname": "Ashcombe",
                                "address_line_1": "9 Teasel Road", "postcode": "LS97 7GG"}),
    ],
    "flats": [
        ("health", {"source_record_id": "T-FL-H1", "nhs_number_token": token("nhs flat 1"), "forename": "PERPETUA",
                    "surname": "DRAYCOTT", "dob": d("1980-01-15"), "sex": "F",
                    "address_line_1": "Flat 1, 27 Marchmont Terrace", "postcode": "LS97 3CC"}),
        ("health", {"source_record_id": "T-FL-H2", "nhs_number_token": token("nhs flat 2"), "forename": "PERPETUA",
                    "surname": "DRAYCOTT", "dob": d("1980-01-15"), "sex": "F",
                    "address_line_1": "Flat 2, 27 Marchmont Terrace", "postcode": "LS97 3CC"}),
        ("electoral_register", {"source_record_id": "T-FL-E1", "forename": "Ottoline", "surname": "Fairbairn",
                                "address_line_1": "Flat 1", "address_line_2": "27 Marchmont Terrace",
                                "postcode": "LS97 3CC"}),
        ("electoral_register", {"source_record_id": "T-FL-E2", "forename": "Cressida", "surname": "Winterbourne",
                                "address_line_1": "Flat 2", "address_line_2": "27 Marchmont Terrace",
                                "postcode": "LS97 3CC"}),
    ],
    "nickname": [
        ("health", {"source_record_id": "T-NK-H1", "nhs_number_token": token("nhs robert"), "forename": "ROBERT",
                    "surname": "TEMPLECOMBE", "dob": d("1988-04-30"), "sex": "M",
                    "address_line_1": "61 Larkspur Rise", "postcode": "LS97 4DD"}),
        ("police", {"source_record_id": "T-NK-P1", "nominal_token": token("nominal bob"), "forename": "BOB",
                    "surname": "TEMPLECOMBE", "dob": d("1988-04-30"), "sex": "M",
                    "address": "61 LARKSPUR RISE", "postcode": "LS97 4DD"}),
    ],
    "transliteration": [
        ("benefits", {"source_record_id": "T-TR-B1", "claim_token": token("claim tr"), "ni_number_token":
                      token("ni tr"), "role": "CLAIMANT", "forename": "MUHAMMAD", "surname": "QURESHI-ANWAR",
                      "dob": d("1979-12-02"), "sex": "M", "address_line_1": "8 Sorrel Gardens",
                      "postcode": "LS97 5EE"}),
        ("health", {"source_record_id": "T-TR-H1", "nhs_number_token": token("nhs tr"), "forename": "Mohammed",
                    "surname": "Qureshi-Anwar", "dob": d("1979-12-02"), "sex": "M",
                    "address_line_1": "8 Sorrel Gardens", "postcode": "LS97 5EE"}),
    ],
    "married name": [
        ("health", {"source_record_id": "T-MN-H1", "nhs_number_token": token("nhs married"), "forename": "GWENDOLINE",
                    "surname": "ASHBOURNE", "dob": d("1984-07-19"), "sex": "F",
                    "address_line_1": "19 Tansy Lane", "postcode": "LS97 6FF"}),
        ("benefits", {"source_record_id": "T-MN-B1", "claim_token": token("claim married"), "ni_number_token":
                      token("ni married"), "role": "CLAIMANT", "forename": "GWENDOLINE", "surname": "PRIDDLECOMBE",
                      "dob": d("1984-07-19"), "sex": "F", "address_line_1": "19 Tansy Lane",
                      "postcode": "LS97 6FF"}),
    ],
    "day-month swap": [
        ("health", {"source_record_id": "T-DM-H1", "nhs_number_token": token("nhs swap"), "forename": "THADDEUS",
                    "surname": "MORECAMBE", "dob": d("1992-03-07"), "sex": "M",
                    "address_line_1": "5 Yarrow Court", "postcode": "LS97 7GG"}),
        ("police", {"source_record_id": "T-DM-P1", "nominal_token": token("nominal swap"), "forename": "THADDEUS",
                    "surname": "MORECAMBE", "dob": d("1992-07-03"), "sex": "M",
                    "address": "5 YARROW COURT", "postcode": "LS97 7GG"}),
    ],
}

IDENTIFYING = ("forename", "legal_forename", "preferred_forename", "middle_names", "surname", "legal_surname", "dob",
               "attainer_dob", "sex", "gender", "address", "address_line_1", "address_line_2", "address_line_3",
               "address_line_4", "postcode", "uprn", "upn_token", "nhs_number_token", "nominal_token",
               "ni_number_token", "claim_token", "child_token")


def with_cases(landed: dict[str, pd.DataFrame], cases: list[tuple[str, dict]]) -> dict[str, pd.DataFrame]:
    """The landed frames with the hand-made records appended (template: each source's first row)."""
    out = {s: f.copy() for s, f in landed.items()}
    for source in {s for s, _ in cases}:
        frame = out[source]
        rows = [{c: None if c in IDENTIFYING else frame[c].iloc[0] for c in frame.columns} | fields
                for s, fields in cases if s == source]
        added = pd.DataFrame(rows, columns=frame.columns).astype(frame.dtypes.to_dict())  # the columns' own types
        out[source] = pd.concat([frame, added], ignore_index=True)
    return out


@pytest.fixture(scope="module")
def sample_landed(sample_run, schemas) -> dict[str, pd.DataFrame]:
    """The sample's landed rows, from the session's run of it."""
    return {p.stem: pd.read_parquet(p) for p in sorted((sample_run.out / "restricted" / "landed").glob("*.parquet"))}


@pytest.fixture(scope="module")
def sample_linked(sample_landed, schemas):
    """The sample alone, linked once under this module's key."""
    return link_and_house(sample_landed, schemas.contracts, load_linkage(), AS_OF, KEY)


@pytest.fixture(scope="module")
def linked(sample_landed, schemas):
    """All hard cases linked together with the sample, once."""
    cases = [c for group in CASES.values() for c in group]
    result = link_and_house(with_cases(sample_landed, cases), schemas.contracts, load_linkage(), AS_OF, KEY)
    return result.record_links.set_index("source_record_id")


def person(linked, record_id: str) -> str:
    return linked.loc[record_id, "person_key"]


def household(linked, record_id: str) -> str:
    return linked.loc[record_id, "household_key"]


def test_twins_stay_apart_and_each_twin_links_across_agencies(linked):
    assert person(linked, "T-TWIN-S1") == person(linked, "T-TWIN-H1")
    assert person(linked, "T-TWIN-S2") == person(linked, "T-TWIN-H2")
    assert person(linked, "T-TWIN-S1") != person(linked, "T-TWIN-S2")
    assert household(linked, "T-TWIN-S1") == household(linked, "T-TWIN-S2")


def test_a_father_and_son_of_one_name_at_one_address_stay_apart(linked):
    assert person(linked, "T-FS-H1") != person(linked, "T-FS-H2")
    assert person(linked, "T-FS-P1") == person(linked, "T-FS-H2")
    assert household(linked, "T-FS-H1") == household(linked, "T-FS-H2")


def test_a_father_and_son_both_matched_by_one_undated_register_record_are_not_joined_through_it(linked):
    # The register record (no birth date) matches both men; it may join one of them, never both.
    assert person(linked, "T-FR-H1") != person(linked, "T-FR-H2")
    assert person(linked, "T-FR-H2") == person(linked, "T-FR-P1")
    assert person(linked, "T-FR-E1") in (person(linked, "T-FR-H1"), person(linked, "T-FR-H2"))
    assert household(linked, "T-FR-H1") == household(linked, "T-FR-H2") == household(linked, "T-FR-E1")


def test_an_undated_register_record_joins_the_sibling_it_names_not_the_one_with_a_similar_name(linked):
    assert person(linked, "T-BS-E1") == person(linked, "T-BS-H2")  # Fabiana
    assert person(linked, "T-BS-E2") == person(linked, "T-BS-H1")  # Fabian
    assert person(linked, "T-BS-H1") != person(linked, "T-BS-H2")


def test_a_couple_listed_at_their_old_address_by_the_gp_and_their_new_one_by_the_register_link(linked):
    assert person(linked, "T-MV-H1") == person(linked, "T-MV-E1")
    assert person(linked, "T-MV-H2") == person(linked, "T-MV-E2")
    assert person(linked, "T-MV-H1") != person(linked, "T-MV-H2")
    assert household(linked, "T-MV-H1") == household(linked, "T-MV-H2")


def test_neighbours_in_two_flats_of_one_building_stay_apart(linked):
    # Same name and birth date, different flats: two people in two households.
    assert person(linked, "T-FL-H1") != person(linked, "T-FL-H2")
    assert household(linked, "T-FL-H1") != household(linked, "T-FL-H2")
    assert household(linked, "T-FL-E1") == household(linked, "T-FL-H1")
    assert household(linked, "T-FL-E2") == household(linked, "T-FL-H2")


def test_bob_and_robert_with_one_birth_date_and_address_link(linked):
    assert person(linked, "T-NK-H1") == person(linked, "T-NK-P1")


def test_muhammad_and_mohammed_link(linked):
    assert person(linked, "T-TR-H1") == person(linked, "T-TR-B1")


def test_a_married_name_links_when_birth_date_and_address_agree(linked):
    assert person(linked, "T-MN-H1") == person(linked, "T-MN-B1")


def test_a_day_month_swap_links(linked):
    assert person(linked, "T-DM-H1") == person(linked, "T-DM-P1")


def test_every_linked_record_has_a_probability_and_anchors_have_one(linked):
    assert linked["match_probability"].between(0, 1).all()
    anchors = linked.groupby("person_key")["match_probability"].max()
    assert (anchors == 1.0).all()


# --------------------------------------------------------------------------- determinism
def test_the_same_input_twice_gives_identical_keys_and_tables(sample_landed, sample_linked, schemas):
    again = link_and_house(sample_landed, schemas.contracts, load_linkage(), AS_OF, KEY)
    pd.testing.assert_frame_equal(sample_linked.record_links, again.record_links)
    pd.testing.assert_frame_equal(sample_linked.pairs, again.pairs)


def test_keys_do_not_depend_on_the_order_of_rows_in_a_file(sample_landed, sample_linked, schemas):
    shuffled = {s: f.sample(frac=1.0, random_state=7).reset_index(drop=True) for s, f in sample_landed.items()}
    b = link_and_house(shuffled, schemas.contracts, load_linkage(), AS_OF, KEY).record_links
    key = ["source", "source_record_id"]
    a = sample_linked.record_links.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    agree = (a["person_key"] == b["person_key"]).mean()
    # Ties between equally strong links may break differently; keys must agree almost everywhere.
    assert agree > 0.995, agree


def same_partition(a: pd.Series, b: pd.Series) -> bool:
    """Whether two labellings of the same rows group them alike (each group of one is a group of the other)."""
    pairs = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()})
    return bool((pairs.groupby("a")["b"].nunique() == 1).all() and (pairs.groupby("b")["a"].nunique() == 1).all())


def test_a_different_key_gives_different_keys_for_the_same_people(sample_landed, sample_linked, schemas):
    a = sample_linked.record_links
    b = link_and_house(sample_landed, schemas.contracts, load_linkage(), AS_OF,
                       b"another key, also only for tests").record_links
    assert not set(a["person_key"]) & set(b["person_key"])
    assert not set(a["household_key"]) & set(b["household_key"])
    # ... but the same grouping of records into people and households.
    assert same_partition(a["person_key"], b["person_key"])
    assert same_partition(a["household_key"], b["household_key"])


def test_same_partition_tells_a_regrouping_apart():
    assert same_partition(pd.Series(["x", "x", "y"]), pd.Series(["p", "p", "q"]))
    assert not same_partition(pd.Series(["x", "x", "y"]), pd.Series(["p", "q", "q"]))
    assert not same_partition(pd.Series(["x", "y", "z"]), pd.Series(["p", "p", "q"]))


def test_record_links_has_one_row_per_accepted_row_with_the_spec_columns(sample_run):
    out = sample_run.out
    links = pd.read_parquet(out / "record_links.parquet")
    assert list(links.columns[:5]) == ["source", "source_record_id", "person_key", "household_key",
                                       "match_probability"]
    landed_rows = sum(len(pd.read_parquet(p)) for p in (out / "restricted" / "landed").glob("*.parquet"))
    assert len(links) == landed_rows
    assert not links.duplicated(["source", "source_record_id"]).any()
    assert links["person_key"].str.fullmatch(r"P[0-9a-f]{20}").all()
    assert links["household_key"].str.fullmatch(r"H[0-9a-f]{20}").all()
    # A person lives in one household.
    assert (links.groupby("person_key")["household_key"].nunique() == 1).all()
