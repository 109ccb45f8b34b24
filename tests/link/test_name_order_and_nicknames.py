"""Linkage, as a specification: names in each other's fields, and nicknames on the undated electoral register.

Agencies' data entry sometimes puts the family name first (WILLIAMS SARAH for SARAH WILLIAMS: a
name order of another convention, or the fields swapped). And the electoral register, which carries
no date of birth, may list a person under a nickname or another spelling (Tom for THOMAS, Ayesha for
AISHA) that keys on neither the date of birth nor the forename's phonetic key. Both are one person
with their other records; two people at one address whose names are merely the same two words in
the other order, born on different dates, are not.

The linkage cases are hand-made records added to the bundled sample's landed rows (as in
test_hard_cases.py); the comparison cases are tiny frames. Names are invented and appear nowhere in
the sample.
"""

from __future__ import annotations

import jellyfish
import pandas as pd
import pytest

from pipeline.link.compare import compare_pairs, encode_records, orient_names
from pipeline.link.model import score
from pipeline.link.people import pair_levels
from pipeline.link.settings import load_linkage
from pipeline.link.stage import link_and_house
from tests.link.test_compare import health
from tests.link.test_hard_cases import AS_OF, KEY, d, household, person, sample_landed, token, with_cases

__all__ = ["sample_landed"]  # a fixture of test_hard_cases, used here

CASES: list[tuple[str, dict]] = [
    # A child: the school wrote the family name first, the GP as usual.
    ("schools", {"source_record_id": "T-SW-S1", "upn_token": token("upn swapped"), "legal_forename": "WINTERGILL",
                 "legal_surname": "MIRABEL", "dob": d("2014-09-17"), "gender": "F",
                 "address_line_1": "9 Damselfly Row", "postcode": "LS98 1AA"}),
    ("health", {"source_record_id": "T-SW-H1", "nhs_number_token": token("nhs swapped"), "forename": "Mirabel",
                "surname": "Wintergill", "dob": d("2014-09-17"), "sex": "F",
                "address_line_1": "9 Damselfly Row", "postcode": "LS98 1AA"}),
    # Tom on the register; THOMAS at the GP and with the police, at one address.
    ("health", {"source_record_id": "T-TOM-H1", "nhs_number_token": token("nhs thomas"), "forename": "THOMAS",
                "surname": "ZOLLINGFORD", "dob": d("1979-05-08"), "sex": "M",
                "address_line_1": "22 Hornbeam Walk", "postcode": "LS98 2BB"}),
    ("police", {"source_record_id": "T-TOM-P1", "nominal_token": token("nominal thomas"), "forename": "THOMAS",
                "surname": "ZOLLINGFORD", "dob": d("1979-05-08"), "sex": "M",
                "address": "22 HORNBEAM WALK", "postcode": "LS98 2BB"}),
    ("electoral_register", {"source_record_id": "T-TOM-E1", "forename": "Tom", "surname": "Zollingford",
                            "address_line_1": "22 Hornbeam Walk", "postcode": "LS98 2BB"}),
    # Ayesha on the register, AISHA at the GP: one name in two spellings.
    ("health", {"source_record_id": "T-AY-H1", "nhs_number_token": token("nhs aisha"), "forename": "AISHA",
                "surname": "QADRIVELLE", "dob": d("1990-02-21"), "sex": "F",
                "address_line_1": "3 Sloeberry Close", "postcode": "LS98 3CC"}),
    ("electoral_register", {"source_record_id": "T-AY-E1", "forename": "Ayesha", "surname": "Qadrivelle",
                            "address_line_1": "3 Sloeberry Close", "postcode": "LS98 3CC"}),
    # Beth on the register, ELIZABETH claiming benefits: the address written two ways, one UPRN.
    ("benefits", {"source_record_id": "T-BE-B1", "claim_token": token("claim elizabeth"),
                  "ni_number_token": token("ni elizabeth"), "role": "CLAIMANT", "forename": "ELIZABETH",
                  "surname": "KINGSWEAR", "dob": d("1985-11-30"), "sex": "F",
                  "address_line_1": "5A Medlar Court", "postcode": "LS98 4DD", "uprn": "100900999991"}),
    ("electoral_register", {"source_record_id": "T-BE-E1", "forename": "Beth", "surname": "Kingswear",
                            "address_line_1": "Flat A", "address_line_2": "5 Medlar Court", "postcode": "LS98 4DD",
                            "uprn": "100900999991"}),
    # Guard: two people at one address, the same two names in the other order, born 33 years apart.
    ("health", {"source_record_id": "T-GD-H1", "nhs_number_token": token("nhs barnaby"), "forename": "BARNABY",
                "surname": "ELSWORTH", "dob": d("1958-03-14"), "sex": "M",
                "address_line_1": "41 Quince Terrace", "postcode": "LS98 5EE"}),
    ("police", {"source_record_id": "T-GD-P1", "nominal_token": token("nominal elsworth"), "forename": "ELSWORTH",
                "surname": "BARNABY", "dob": d("1991-07-02"), "sex": "M",
                "address": "41 QUINCE TERRACE", "postcode": "LS98 5EE"}),
]


@pytest.fixture(scope="module")
def run(sample_landed, schemas):
    """The sample with this module's cases, linked once."""
    return link_and_house(with_cases(sample_landed, CASES), schemas.contracts, load_linkage(), AS_OF, KEY)


@pytest.fixture(scope="module")
def linked(run):
    return run.record_links.set_index("source_record_id")


# --------------------------------------------------------------------------- linkage
def test_a_school_record_with_the_family_name_first_is_the_same_child_as_the_gp_record(linked):
    # WINTERGILL MIRABEL (schools) and Mirabel Wintergill (health): one birth date, one address.
    assert person(linked, "T-SW-S1") == person(linked, "T-SW-H1")


def test_tom_on_the_register_is_thomas_of_the_dated_records_at_his_address(linked):
    assert person(linked, "T-TOM-H1") == person(linked, "T-TOM-P1")
    assert person(linked, "T-TOM-E1") == person(linked, "T-TOM-H1")


def test_ayesha_on_the_register_is_aisha_at_her_address(linked):
    assert person(linked, "T-AY-E1") == person(linked, "T-AY-H1")


def test_beth_on_the_register_is_elizabeth_of_the_same_uprn_written_another_way(linked):
    assert person(linked, "T-BE-E1") == person(linked, "T-BE-B1")


def test_two_people_at_one_address_with_the_same_names_in_the_other_order_stay_apart(linked):
    # BARNABY ELSWORTH born 1958 and ELSWORTH BARNABY born 1991: a household of two, not one person.
    assert person(linked, "T-GD-H1") != person(linked, "T-GD-P1")
    assert household(linked, "T-GD-H1") == household(linked, "T-GD-P1")


def test_were_they_compared_the_two_people_would_score_below_the_match_threshold(run):
    # No pass proposes them (no shared birth date, no shared forename); this says that comparing them
    # anyway, names agreeing once exchanged, would still not link them: the birth dates decide.
    settings = load_linkage()
    records = health([
        {"source_record_id": "G1", "forename": "BARNABY", "surname": "ELSWORTH", "dob": "1958-03-14",
         "address_line_1": "41 Quince Terrace", "postcode": "LS98 5EE"},
        {"source_record_id": "G2", "forename": "ELSWORTH", "surname": "BARNABY", "dob": "1991-07-02",
         "address_line_1": "41 Quince Terrace", "postcode": "LS98 5EE"},
    ]).assign(extract_date=pd.Timestamp("2026-10-31"))
    scored = score(run.model, pair_levels(records, pd.DataFrame({"i": [0], "j": [1]}), settings))
    assert scored["match_probability"].iloc[0] < settings.model.review_threshold


# --------------------------------------------------------------------------- comparison
def pair(a: dict, b: dict) -> dict:
    """The features of one pair of hand-made health records (see test_compare.health)."""
    records = health([{"source_record_id": "H1", "dob": "1980-03-04"} | a,
                      {"source_record_id": "H2", "dob": "1980-03-04"} | b])
    return compare_pairs(records, pd.DataFrame({"i": [0], "j": [1]})).iloc[0].to_dict()


NAME_FEATURES = ("forename_jw", "forename_equiv", "surname_jw", "surname_equiv", "surname_part")


def test_names_entered_in_each_others_fields_compare_as_the_same_names():
    f = pair({"forename": "Mirabel", "surname": "Wintergill"}, {"forename": "WINTERGILL", "surname": "MIRABEL"})
    assert {k: f[k] for k in NAME_FEATURES} == dict.fromkeys(NAME_FEATURES, 1.0)


def test_the_exchange_is_found_whichever_record_of_the_pair_holds_it():
    f = pair({"forename": "WINTERGILL", "surname": "MIRABEL"}, {"forename": "Mirabel", "surname": "Wintergill"})
    assert {k: f[k] for k in NAME_FEATURES} == dict.fromkeys(NAME_FEATURES, 1.0)


def test_an_exchanged_pair_of_names_keeps_the_forenames_nickname():
    # TOM ZOLLINGFORD against ZOLLINGFORD THOMAS, either way round: Tom is a form of Thomas.
    for a, b in [({"forename": "TOM", "surname": "ZOLLINGFORD"}, {"forename": "ZOLLINGFORD", "surname": "THOMAS"}),
                 ({"forename": "ZOLLINGFORD", "surname": "THOMAS"}, {"forename": "TOM", "surname": "ZOLLINGFORD"})]:
        f = pair(a, b)
        assert f["forename_jw"] == 1.0 and f["surname_jw"] == 1.0
        assert f["forename_equiv"] == 1.0 and f["surname_equiv"] == 1.0


def test_names_that_agree_as_written_are_compared_as_written():
    # WINTERGILL against WINTERGALE is a typing slip; exchanging the names would agree far worse.
    f = pair({"forename": "Mirabel", "surname": "Wintergill"}, {"forename": "Mirabel", "surname": "Wintergale"})
    assert f["forename_jw"] == 1.0 and 0.9 < f["surname_jw"] < 1.0 and f["surname_equiv"] == 0.0


def test_strangers_whose_names_are_less_unlike_exchanged_are_compared_as_written():
    # ODALRIC PENWARDEN and PENROSE ODILE: exchanged, the names are a little less unlike (0.68 and 0.83 against
    # 0.43 and 0.44), but neither the same: the better of two weak agreements would only flatter strangers.
    f = pair({"forename": "ODALRIC", "surname": "PENWARDEN"}, {"forename": "PENROSE", "surname": "ODILE"})
    assert f["forename_jw"] == pytest.approx(jellyfish.jaro_winkler_similarity("ODALRIC", "PENROSE"))
    assert f["surname_jw"] == pytest.approx(jellyfish.jaro_winkler_similarity("PENWARDEN", "ODILE"))


def test_no_exchange_without_all_four_names():
    # A record with no forename: its surname is not compared with the other's forename.
    f = pair({"forename": None, "surname": "Mirabel"}, {"forename": "MIRABEL", "surname": "WINTERGILL"})
    assert pd.isna(f["forename_jw"]) and f["surname_jw"] < 0.7


def test_the_exchange_is_decided_pair_by_pair():
    records = health([
        {"source_record_id": "H1", "forename": "Mirabel", "surname": "Wintergill", "dob": "2014-09-17"},
        {"source_record_id": "H2", "forename": "WINTERGILL", "surname": "MIRABEL", "dob": "2014-09-17"},
        {"source_record_id": "H3", "forename": "Mirabel", "surname": "Wintergill", "dob": "2014-09-17"},
        {"source_record_id": "H4", "forename": "ODALRIC", "surname": "PENWARDEN", "dob": "2014-09-17"},
    ])
    pairs = pd.DataFrame({"i": [0, 0, 1, 0], "j": [1, 2, 2, 3]})
    names = orient_names(encode_records(records), pairs["i"].to_numpy(), pairs["j"].to_numpy())
    assert names.swapped.tolist() == [True, False, True, False]
    f = compare_pairs(records, pairs)
    assert f["forename_jw"].tolist()[:3] == [1.0, 1.0, 1.0] and f["surname_equiv"].tolist()[:3] == [1.0, 1.0, 1.0]
    assert f["forename_jw"].iloc[3] < 0.7
