"""Specification of pipeline/link/postcodes.py: a record without a postcode borrows the one postcode
that the other records at its flat, house number and street give, and nothing more.

Hand-made standardised records of invented people, and one hand-made family linked with the bundled
sample (as in test_hard_cases.py).
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import load_schemas
from pipeline.link.postcodes import borrow_postcodes
from pipeline.link.settings import load_linkage
from pipeline.link.stage import link_and_house
from pipeline.link.standardise import standardise_records
from tests.link.test_hard_cases import AS_OF, KEY, d, token, with_cases

S = pd.StringDtype("pyarrow")
DERIVED = ["postcode", "postcode_district", "postcode_sector", "address_key"]


@pytest.fixture(scope="module")
def contracts():
    return load_schemas().contracts


def standardised(contracts, rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """(source, address, postcode or None) per record, standardised and gathered as link_sources does."""
    frames = []
    for i, (source, address, postcode) in enumerate(rows):
        frame = pd.DataFrame({"source_record_id": [f"R{i}"], "forename": ["Tamsin"], "surname": ["Ollerenshaw"],
                              "address" if source == "police" else "address_line_1": [address],
                              "postcode": [postcode]})
        frames.append(standardise_records(frame.astype(S), contracts[source]))
    return pd.concat(frames, ignore_index=True)


def test_a_health_row_without_a_postcode_borrows_the_registers_and_gets_its_key_sector_and_district(contracts):
    records = standardised(contracts, [("electoral_register", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("health", "FLAT 2, 10 WORTLEY PARADE", None)])
    assert records.loc[1, "address_key"] is pd.NA  # without a postcode: no address to meet anyone at
    out = borrow_postcodes(records)
    assert out.loc[1, "postcode"] == "LS97 8HH"
    for column in DERIVED:
        assert out.loc[1, column] == out.loc[0, column] == records.loc[0, column]
    assert out["postcode_borrowed"].tolist() == [False, True]


def test_two_postcodes_at_one_parsed_address_lend_nothing(contracts):
    # One street name in two towns: which one the health row means is not known.
    records = standardised(contracts, [("electoral_register", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("police", "FLAT 2, 10 WORTLEY PARADE", "LS96 1AB"),
                                       ("health", "Flat 2, 10 Wortley Parade", None)])
    out = borrow_postcodes(records)
    assert out.loc[2, DERIVED].isna().all()
    assert not out["postcode_borrowed"].any()


def test_the_same_postcode_twice_is_one_postcode(contracts):
    records = standardised(contracts, [("electoral_register", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("police", "FLAT 2, 10 WORTLEY PARADE", "ls978hh"),
                                       ("health", "Flat 2, 10 Wortley Parade", None)])
    assert borrow_postcodes(records)["postcode"].tolist() == ["LS97 8HH"] * 3


def test_a_rows_own_postcode_is_never_replaced(contracts):
    records = standardised(contracts, [("electoral_register", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("electoral_register", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("health", "Flat 2, 10 Wortley Parade", "LS95 3QT")])
    out = borrow_postcodes(records)
    pd.testing.assert_frame_equal(out[DERIVED], records[DERIVED])
    assert not out["postcode_borrowed"].any()


def test_another_flat_of_the_building_does_not_lend(contracts):
    records = standardised(contracts, [("electoral_register", "Flat 3, 10 Wortley Parade", "LS97 8HH"),
                                       ("electoral_register", "10 Wortley Parade", "LS97 8HH"),
                                       ("health", "Flat 2, 10 Wortley Parade", None)])
    out = borrow_postcodes(records)
    assert pd.isna(out.loc[2, "postcode"]) and not out["postcode_borrowed"].any()


def test_a_house_without_a_flat_borrows_only_from_records_without_one(contracts):
    records = standardised(contracts, [("electoral_register", "Flat 3, 10 Wortley Parade", "LS97 8HH"),
                                       ("police", "10 Wortley Parade", "LS97 8JJ"),
                                       ("health", "10 Wortley Parade", None)])
    out = borrow_postcodes(records)
    assert out.loc[2, "postcode"] == "LS97 8JJ"  # not a second postcode at "10 Wortley Parade": flat 3 is apart
    assert out.loc[2, "address_key"] == records.loc[1, "address_key"]


def test_a_row_with_a_street_but_no_house_number_does_not_borrow(contracts):
    records = standardised(contracts, [("electoral_register", "Wortley Parade", "LS97 8HH"),
                                       ("health", "Wortley Parade", None),
                                       ("health", "Rosebay House", None)])
    out = borrow_postcodes(records)
    assert out.loc[1:, DERIVED].isna().all().all() and not out["postcode_borrowed"].any()


def test_postcode_borrowed_is_true_exactly_for_the_rows_that_borrowed(contracts):
    records = standardised(contracts, [("electoral_register", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("health", "Flat 2, 10 Wortley Parade", None),
                                       ("health", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("health", "Flat 9, 10 Wortley Parade", None),
                                       ("police", "14 Campion Walk", None),
                                       ("health", "Flat 2, 10 Wortley Parade", "")])
    out = borrow_postcodes(records)
    assert out["postcode_borrowed"].tolist() == [False, True, False, False, False, True]
    assert out["postcode_borrowed"].dtype == bool


def test_the_order_of_the_records_does_not_change_what_is_borrowed(contracts):
    records = standardised(contracts, [("electoral_register", "Flat 2, 10 Wortley Parade", "LS97 8HH"),
                                       ("health", "Flat 2, 10 Wortley Parade", None),
                                       ("police", "7 Campion Walk", "LS97 2CD"),
                                       ("health", "7 Campion Walk", None),
                                       ("police", "7 Campion Walk", "LS96 2CD")])
    out = borrow_postcodes(records)
    shuffled = borrow_postcodes(records.iloc[[4, 1, 3, 0, 2]])
    pd.testing.assert_frame_equal(shuffled.sort_index(), out)


def test_without_any_record_to_lend_nothing_changes(contracts):
    records = standardised(contracts, [("health", "Flat 2, 10 Wortley Parade", None)])
    out = borrow_postcodes(records)
    pd.testing.assert_frame_equal(out.drop(columns="postcode_borrowed"), records)
    assert out["postcode_borrowed"].tolist() == [False]


# --------------------------------------------------------------------------- linked with the sample
# A family at a flat: the mother on the register and claiming, the son at school, every one of those
# records with the postcode; the GP has the mother and a baby known to no other agency, at the same
# flat but without a postcode.
FAMILY = [
    ("electoral_register", {"source_record_id": "T-PB-E1", "forename": "Hepzibah", "surname": "Thistlewood",
                            "address_line_1": "Flat 2", "address_line_2": "10 Wortley Parade",
                            "postcode": "LS97 8HH"}),
    ("benefits", {"source_record_id": "T-PB-B1", "claim_token": token("claim pb"), "ni_number_token": token("ni pb"),
                  "role": "CLAIMANT", "forename": "HEPZIBAH", "surname": "THISTLEWOOD", "dob": d("1990-08-14"),
                  "sex": "F", "address_line_1": "Flat 2, 10 Wortley Parade", "postcode": "LS97 8HH"}),
    ("schools", {"source_record_id": "T-PB-S1", "upn_token": token("upn pb"), "legal_forename": "BARNABY",
                 "legal_surname": "THISTLEWOOD", "dob": d("2016-02-03"), "gender": "M",
                 "address_line_1": "Flat 2, 10 Wortley Parade", "postcode": "LS97 8HH"}),
    ("health", {"source_record_id": "T-PB-H1", "nhs_number_token": token("nhs pb mother"), "forename": "HEPZIBAH",
                "surname": "THISTLEWOOD", "dob": d("1990-08-14"), "sex": "F",
                "address_line_1": "FLAT 2, 10 WORTLEY PARADE"}),
    ("health", {"source_record_id": "T-PB-H2", "nhs_number_token": token("nhs pb baby"), "forename": "WILHELMINA",
                "surname": "THISTLEWOOD", "dob": d("2026-03-21"), "sex": "F",
                "address_line_1": "FLAT 2, 10 WORTLEY PARADE"}),
]


@pytest.fixture(scope="module")
def family_linked(sample_run, schemas):
    landed = {p.stem: pd.read_parquet(p) for p in sorted((sample_run.out / "restricted" / "landed").glob("*.parquet"))}
    result = link_and_house(with_cases(landed, FAMILY), schemas.contracts, load_linkage(), AS_OF, KEY)
    return result


def test_a_health_record_without_a_postcode_joins_its_family_at_the_same_flat(family_linked):
    links = family_linked.record_links.set_index("source_record_id")
    homes = links.loc[[i["source_record_id"] for _, i in FAMILY], "household_key"]
    assert homes.nunique() == 1, homes.to_dict()
    assert links.loc["T-PB-H2", "household_basis"] != "no_address"


def test_the_records_that_borrowed_are_marked_in_link_records_and_counted(family_linked):
    records = family_linked.link_records.set_index("source_record_id")
    assert records.loc[["T-PB-H1", "T-PB-H2"], "postcode_borrowed"].all()
    assert not records.loc[["T-PB-E1", "T-PB-B1", "T-PB-S1"], "postcode_borrowed"].any()
    assert records.loc["T-PB-H2", "postcode"] == "LS97 8HH"
    assert family_linked.counts.postcodes_borrowed == int(records["postcode_borrowed"].sum()) >= 2
