"""Comparison features (issue 3): what each pair of records has in common, read off as numbers."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.config import load_schemas
from pipeline.link.compare import compare_pairs
from pipeline.link.standardise import standardise_records

HEADER = ["source_record_id", "nhs_number_token", "forename", "surname", "dob", "sex", "address_line_1",
          "address_line_2", "address_line_3", "postcode", "gp_practice_code", "mental_health", "substance_misuse",
          "ae_attendances_12m", "extract_date"]


def health(rows: list[dict]) -> pd.DataFrame:
    """Standardised health records from a few hand-made rows."""
    base = {"nhs_number_token": None, "sex": "M", "address_line_1": "12 Acorn Road", "postcode": "LS30 1AB",
            "extract_date": "2026-10-31"}
    frame = pd.DataFrame([{c: (base | row).get(c) for c in HEADER} for row in rows])
    frame["dob"] = pd.to_datetime(frame["dob"])
    frame["extract_date"] = pd.to_datetime(frame["extract_date"])
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype("string[pyarrow]")
    frame.insert(0, "row_number", range(2, len(frame) + 2))
    return standardise_records(frame, load_schemas().contracts["health"])


def features(rows: list[dict]) -> dict:
    records = health(rows)
    return compare_pairs(records, pd.DataFrame({"i": [0], "j": [1]})).iloc[0].to_dict()


def person(**kw) -> dict:
    return {"source_record_id": kw.pop("id", "H1"), "forename": "Robert", "surname": "Smith",
            "dob": "1980-03-04"} | kw


def test_bob_and_robert_are_equivalent_forenames():
    f = features([person(), person(id="H2", forename="Bob")])
    assert f["forename_equiv"] == 1.0 and f["forename_jw"] == 1.0  # via the canonical form


def test_twins_differ_in_forename_but_agree_on_date_of_birth_and_address():
    f = features([person(), person(id="H2", forename="Thomas")])
    assert f["forename_jw"] < 0.7 and f["forename_equiv"] == 0.0
    assert f["dob"] == 3.0 and f["address"] == 2.0 and f["surname_jw"] == 1.0


def test_a_day_month_swap_is_its_own_level():
    assert features([person(), person(id="H2", dob="1980-04-03")])["dob"] == 2.0
    assert features([person(), person(id="H2", dob="1980-03-05")])["dob"] == 1.0
    assert math.isnan(features([person(), person(id="H2", dob=None)])["dob"])


def test_two_flats_of_one_building_count_against_a_link():
    f = features([person(address_line_1="Flat 1, 12 Acorn Road"),
                  person(id="H2", address_line_1="Flat 2, 12 Acorn Road")])
    assert f["address"] == -1.0 and f["postcode"] == 2.0


def test_a_married_double_barrelled_surname_shares_a_part():
    f = features([person(surname="Smith"), person(id="H2", surname="Smith-Jones")])
    assert f["surname_part"] == 1.0 and f["surname_equiv"] == 0.0


def test_transliterations_are_equivalent():
    f = features([person(forename="Muhammad"), person(id="H2", forename="Mohammed")])
    assert f["forename_equiv"] == 1.0


def test_missing_values_are_unknown_not_disagreement():
    f = features([person(postcode=None), person(id="H2", sex=None)])
    assert math.isnan(f["postcode"]) and math.isnan(f["sex"]) and math.isnan(f["address"])
