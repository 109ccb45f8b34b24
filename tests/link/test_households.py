"""Placing people at one address on the as-of date, with the shipped household settings.

Hand-made records, each a person's evidence of an address: the source says how much it is
trusted (schemas/linkage.yaml), its date how fresh it is, and a live benefit claim binds its
members to the claimant's address.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipeline.link.households import (
    HouseholdAssignment,
    academic_term_end,
    assign_households,
    evidence_dates,
    place_names,
)
from pipeline.link.settings import load_linkage

AS_OF = dt.date(2026, 10, 31)


class Records:
    """Records of people (numbered from 0) at addresses (A, B, ...), each with its evidence date."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, person: int, source: str, address: str | None, on: str = "2026-10-31", live: bool = False,
            claim: str | None = None, role: str | None = None, surname: str = "FAIRWEATHER") -> Records:
        self.rows.append({"person": person, "source": source, "address_key": address, "uprn": None, "on": on,
                          "current": live, "unit_token": claim, "unit_role": role, "surname_canonical": surname})
        return self

    def place(self) -> list[str]:
        """Each person's household id: 'A:<address>', or 'P:<person>' for someone with no address."""
        frame = pd.DataFrame(self.rows)
        homes = assign_households(frame, frame["person"].to_numpy(),
                                  pd.to_datetime(frame["on"]).to_numpy("datetime64[D]"), frame["current"].to_numpy(),
                                  AS_OF, load_linkage().households)
        return homes.household.tolist()


def test_a_fresh_claim_outweighs_an_old_gp_registration_elsewhere():
    # A family moved: the GP still has the old flat, the live claim has the new one.
    homes = Records().add(0, "health", "OLD FLAT").add(0, "benefits", "NEW HOUSE", live=True, claim="c1",
                                                       role="CLAIMANT").place()
    assert homes == ["A:NEW HOUSE"]


def test_claim_members_live_at_the_claimants_address_whatever_their_own_records_say():
    records = (Records()
               .add(0, "benefits", "NEW HOUSE", live=True, claim="c1", role="CLAIMANT")
               .add(1, "benefits", "OLD FLAT", live=True, claim="c1", role="PARTNER")
               .add(1, "police", "OLD FLAT", on="2026-05-01")
               .add(2, "benefits", None, live=True, claim="c1", role="DEPENDANT")
               .add(2, "schools", "OLD FLAT", on="2026-07-31"))
    assert records.place() == ["A:NEW HOUSE"] * 3


def test_an_ended_claim_binds_no_one():
    records = (Records()
               .add(0, "benefits", "NEW HOUSE", on="2026-01-31", claim="c1", role="CLAIMANT")
               .add(1, "benefits", "OLD FLAT", on="2026-01-31", claim="c1", role="PARTNER")
               .add(1, "electoral_register", "OLD FLAT"))
    assert records.place() == ["A:NEW HOUSE", "A:OLD FLAT"]


def test_recent_evidence_outvotes_stale_evidence_of_a_more_trusted_source():
    # The register (0.9) this year against benefits (1.0) three years ago: the register wins.
    homes = Records().add(0, "electoral_register", "THIS YEAR").add(0, "benefits", "YEARS AGO",
                                                                    on="2023-09-30").place()
    assert homes == ["A:THIS YEAR"]


def test_more_trusted_evidence_wins_between_records_of_one_date():
    homes = Records().add(0, "health", "GP ADDRESS").add(0, "electoral_register", "REGISTER ADDRESS").place()
    assert homes == ["A:REGISTER ADDRESS"]


def test_a_person_with_no_usable_address_is_a_household_of_their_own():
    homes = Records().add(0, "police", None).add(1, "health", None).place()
    assert homes == ["P:0", "P:1"]


def test_someone_known_only_from_lagging_records_follows_their_family_to_its_new_address():
    # The father is known only to his GP, at the flat the rest of his family has left.
    records = (Records()
               .add(0, "health", "OLD FLAT").add(0, "benefits", "NEW HOUSE", live=True, claim="c1", role="CLAIMANT")
               .add(1, "health", "OLD FLAT").add(1, "schools", "NEW HOUSE", on="2026-07-31")
               .add(2, "health", "OLD FLAT"))
    assert records.place() == ["A:NEW HOUSE"] * 3


def test_a_namesake_left_at_an_address_is_not_moved_by_another_family():
    records = (Records()
               .add(0, "health", "OLD FLAT").add(0, "benefits", "NEW HOUSE", live=True, claim="c1", role="CLAIMANT")
               .add(1, "health", "OLD FLAT", surname="ABERNETHY"))
    assert records.place() == ["A:NEW HOUSE", "A:OLD FLAT"]


@pytest.mark.parametrize(("year", "term", "end"), [("2025/26", "AUTUMN", "2025-12-31"),
                                                   ("2025/26", "SPRING", "2026-04-30"),
                                                   ("2025/26", "summer", "2026-07-31")])
def test_a_school_record_is_evidence_up_to_the_end_of_its_term(year, term, end):
    assert academic_term_end(pd.Series([year]), pd.Series([term])).iloc[0] == pd.Timestamp(end)


def test_a_blank_or_future_end_date_means_still_current_and_counts_as_of_the_as_of_date(schemas):
    frame = pd.DataFrame({"claim_end": pd.to_datetime(["2026-10-31", None, "2027-01-01", "2026-03-01"])})
    dates, current = evidence_dates(frame, schemas.contracts["benefits"], "claim_end", AS_OF)
    assert current.tolist() == [False, True, True, False]  # a claim ending on the as-of date is over
    assert dates.tolist() == [np.datetime64("2026-10-31"), np.datetime64("2026-10-31"),
                              np.datetime64("2026-10-31"), np.datetime64("2026-03-01")]


def test_a_place_keeps_its_name_whether_or_not_a_record_with_a_uprn_is_there():
    # October: the register (with a UPRN) and a GP record at one flat; November: the GP record alone.
    flat = "3|12|ACORN ROAD|LS1 2AB"
    october = pd.DataFrame({"address_key": [flat, flat]})
    november = pd.DataFrame({"address_key": [flat]})
    named_oct = place_names(october, HouseholdAssignment(household=np.array(["U:100"], dtype=object),
                                                         basis=np.array(["uprn"], dtype=object),
                                                         record_address=np.array(["U:100", "U:100"], dtype=object)))
    named_nov = place_names(november, HouseholdAssignment(household=np.array([f"A:{flat}"], dtype=object),
                                                          basis=np.array(["address"], dtype=object),
                                                          record_address=np.array([f"A:{flat}"], dtype=object)))
    assert named_oct.tolist() == named_nov.tolist() == [f"A:{flat}"]
