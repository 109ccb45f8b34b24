"""Specification of pipeline/link/standardise.py: each test is one rule on a small hand-made frame."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.config import load_schemas
from pipeline.link.standardise import (
    OUTPUT_COLUMNS,
    EquivalentsError,
    load_equivalents,
    standardise_postcode,
    standardise_records,
)

S = pd.StringDtype("pyarrow")


@pytest.fixture(scope="module")
def contracts():
    return load_schemas().contracts


def health(**cols: list) -> pd.DataFrame:
    """A health-shaped frame: given columns, other identifying columns blank."""
    n = len(next(iter(cols.values())))
    base = {
        "row_number": list(range(2, n + 2)),
        "source_record_id": [f"H{i}" for i in range(n)],
        "nhs_number_token": [None] * n,
        "forename": ["Ann"] * n,
        "surname": ["Smith"] * n,
        "dob": [dt.date(1990, 5, 17)] * n,
        "sex": ["F"] * n,
        "address_line_1": ["1 High Street"] * n,
        "postcode": ["LS1 4AB"] * n,
    }
    base.update(cols)
    frame = pd.DataFrame(base)
    for c in frame.columns:
        if c not in ("row_number", "dob"):
            frame[c] = frame[c].astype(S)
    frame["dob"] = pd.to_datetime(frame["dob"])
    return frame


def police(addresses: list[str], postcodes: list[str] | None = None) -> pd.DataFrame:
    n = len(addresses)
    return pd.DataFrame({
        "row_number": list(range(2, n + 2)),
        "source_record_id": pd.array([f"P{i}" for i in range(n)], dtype=S),
        "surname": pd.array(["JONES"] * n, dtype=S),
        "forename": pd.array(["ALI"] * n, dtype=S),
        "address": pd.array(addresses, dtype=S),
        "postcode": pd.array(postcodes or ["LS1 4AB"] * n, dtype=S),
    })


def test_output_has_every_column_one_row_per_input_row(contracts):
    out = standardise_records(health(forename=["Ann", "Bob"]), contracts["health"])
    assert list(out.columns) == OUTPUT_COLUMNS
    assert len(out) == 2
    assert out["source"].tolist() == ["health", "health"]
    assert out["uprn"].isna().all()  # health supplies no UPRN: null, not missing
    assert out["row_number"].tolist() == [2, 3]


def test_titles_punctuation_and_spaces_removed(contracts):
    out = standardise_records(
        health(forename=["Mrs  Michelle", "DR. john", "Miss"], surname=["O'Neil", "  smith ", "Jones"]),
        contracts["health"])
    assert out["forename"].tolist() == ["MICHELLE", "JOHN", "MISS"]  # a lone title is kept: it is all we have
    assert out["surname"].tolist() == ["ONEIL", "SMITH", "JONES"]


def test_accents_stripped(contracts):
    out = standardise_records(health(forename=["Zoë", "Łukasz", "Ciarán"], surname=["Dąbrowska", "Król", "Núñez"]),
                              contracts["health"])
    assert out["forename"].tolist() == ["ZOE", "LUKASZ", "CIARAN"]
    assert out["surname"].tolist() == ["DABROWSKA", "KROL", "NUNEZ"]


def test_zero_width_characters_and_full_width_letters_do_not_split_a_name(contracts):
    out = standardise_records(health(forename=["Jo\u200bhn", "\uff2a\uff4f\uff48\uff4e", "Jo\u00adhn", "John"],
                                     surname=["Smi\u200dth", "\uff33\uff4d\uff49\uff54\uff48", "\ufeffSmith", "Smith"]),
                              contracts["health"])
    assert out["forename"].tolist() == ["JOHN"] * 4
    assert out["surname"].tolist() == ["SMITH"] * 4
    assert out["middle_names"].isna().all()


def test_zero_width_characters_and_full_width_digits_do_not_change_an_address(contracts):
    out = standardise_records(police(["12 Acorn Road", "\uff11\uff12 Acorn Road", "12 Ac\u200born Road"]),
                              contracts["police"])
    assert out["address_key"].nunique() == 1 and out["house_number"].tolist() == ["12"] * 3


def test_extra_forename_words_become_middle_names_when_source_has_none(contracts):
    out = standardise_records(health(forename=["Mary Jane Ann"]), contracts["health"])
    assert out.loc[0, "forename"] == "MARY"
    assert out.loc[0, "middle_names"] == "JANE ANN"


def test_nickname_shares_canonical_form_and_gives_alt(contracts):
    out = standardise_records(health(forename=["Bob", "Robert", "bobby", "Alex"]), contracts["health"])
    assert out["forename_canonical"].tolist()[:3] == ["ROBERT"] * 3
    assert out.loc[0, "forename_alt"] == "ROBERT"
    assert pd.isna(out.loc[1, "forename_alt"])  # already canonical
    assert out.loc[3, "forename_canonical"] == "ALEX"  # ambiguous: Alexander or Alexandra, left alone


def test_preferred_forename_is_the_alt(contracts):
    frame = health(forename=["Robert"])
    frame = frame.rename(columns={"forename": "legal_forename", "surname": "legal_surname", "sex": "gender"})
    frame["preferred_forename"] = pd.array(["Bobby"], dtype=S)
    out = standardise_records(frame, contracts["schools"])
    assert out.loc[0, "forename"] == "ROBERT"
    assert out.loc[0, "forename_alt"] == "BOBBY"


def test_transliterations_share_canonical_form(contracts):
    out = standardise_records(
        health(forename=["Muhammad", "Mohammed", "Mohamed", "Yousef", "Yusuf"],
               surname=["Choudhury", "Chaudhry", "Hussein", "Hussain", "Smith"]),
        contracts["health"])
    assert out["forename_canonical"].tolist() == ["MOHAMMED"] * 3 + ["YUSUF"] * 2
    assert out["surname_canonical"].tolist()[:4] == ["CHAUDHRY", "CHAUDHRY", "HUSSAIN", "HUSSAIN"]
    assert out.loc[0, "forename_phonetic"] == out.loc[1, "forename_phonetic"]


def test_double_barrelled_surname_gives_parts_and_keeps_joined_form(contracts):
    out = standardise_records(health(surname=["Smith-Jones", "Smith Jones"]), contracts["health"])
    assert list(out.loc[0, "surname_parts"]) == ["SMITH", "JONES"]
    assert out.loc[0, "surname"] == out.loc[1, "surname"] == "SMITH JONES"


def test_postcode_canonical_district_and_sector():
    out = standardise_postcode(pd.Series(["ls14ab", " LS1  4AB", "sw1a1aa", "not a pc", None, "LS1"], dtype=S))
    assert out["postcode"].tolist()[:3] == ["LS1 4AB", "LS1 4AB", "SW1A 1AA"]
    assert out.loc[0, "postcode_district"] == "LS1"
    assert out.loc[0, "postcode_sector"] == "LS1 4"
    assert out.loc[2, "postcode_sector"] == "SW1A 1"
    assert out.iloc[3:].isna().all().all()


def test_flat_number_and_street_from_free_text_line(contracts):
    lines = ["Flat 3, 12 Acorn Road, Aldermoor", "12A Acorn Rd.", "Apartment 2, 7 St. Mary's St", "3A, 5 Elm Grove"]
    out = standardise_records(police(lines), contracts["police"])
    assert out[["flat", "house_number", "street"]].values.tolist() == [
        ["3", "12", "ACORN ROAD"],
        [pd.NA, "12A", "ACORN ROAD"],
        ["2", "7", "ST MARYS STREET"],
        ["3A", "5", "ELM GROVE"],
    ]


def test_flat_on_its_own_address_line(contracts):
    out = standardise_records(health(address_line_1=["FLAT B"], address_line_2=["12 ACORN ROAD"]),
                              contracts["health"])
    assert (out.loc[0, "flat"], out.loc[0, "house_number"], out.loc[0, "street"]) == ("B", "12", "ACORN ROAD")


def test_two_flats_in_one_building_get_different_address_keys_and_spelling_does_not_matter(contracts):
    out = standardise_records(police(["Flat 3, 12 Acorn Road", "Flat 4, 12 Acorn Road", "FLAT 3 , 12 ACORN RD"],
                                     ["LS1 4AB", "LS1 4AB", "ls14ab"]), contracts["police"])
    keys = out["address_key"].tolist()
    assert keys[0] != keys[1]
    assert keys[0] == keys[2]


def test_no_fixed_abode_is_not_an_address(contracts):
    out = standardise_records(police(["No Fixed Abode", "NFA"]), contracts["police"])
    assert out[["flat", "house_number", "street", "address_key"]].isna().all().all()


def test_address_key_needs_a_postcode(contracts):
    out = standardise_records(police(["12 Acorn Road"], [None]), contracts["police"])
    assert pd.isna(out.loc[0, "address_key"])


def test_sex_and_dob_parts(contracts):
    out = standardise_records(
        health(sex=["M", "U", "f"], dob=[dt.date(2001, 3, 4), dt.date(2001, 3, 3), None]), contracts["health"])
    assert out["sex"].tolist()[0] == "M"
    assert pd.isna(out.loc[1, "sex"]) and out.loc[2, "sex"] == "F"
    assert (out.loc[0, "dob_year"], out.loc[0, "dob_month"], out.loc[0, "dob_day"]) == (2001, 3, 4)
    assert out["dob_swappable"].tolist()[:2] == [True, False]  # 4 March could be 3 April; 3 March cannot
    assert pd.isna(out.loc[2, "dob"]) and pd.isna(out.loc[2, "dob_year"])


def test_conflicting_equivalents_fail_naming_file_and_key(tmp_path):
    bad = tmp_path / "eq.yaml"
    bad.write_text("nicknames:\n  ROBERT: [BOB]\n  BOBBY: [BOB]\n", encoding="utf-8")
    with pytest.raises(EquivalentsError, match=r"eq\.yaml.*BOBBY.*BOB already maps to ROBERT"):
        load_equivalents(bad)


def test_shipped_equivalents_load():
    eq = load_equivalents()
    assert eq["forename"]["BILL"] == "WILLIAM"
    assert eq["surname"]["MUHAMMAD"] == "MOHAMMED"
    assert "BOB" not in eq["surname"]  # nicknames are for forenames only


def test_deterministic(contracts):
    frame = police(["Flat 3, 12 Acorn Road", "2 Crag Rd, Aldermoor"], ["ls14ab", "LS30 4RH"])
    a = standardise_records(frame, contracts["police"])
    b = standardise_records(frame.copy(), contracts["police"])
    pd.testing.assert_frame_equal(a, b)
