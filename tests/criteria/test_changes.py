"""changes.parquet: what happened to each family since the previous month, one row per change."""

from __future__ import annotations

import pandas as pd

from pipeline.criteria.changes import change_counts, household_changes, month_of, paragraph

CRITERIA = ["crime_asb", "education"]


def month(households: list[tuple[str, bool, bool | None, bool | None, str | None]],
          members: dict[str, str]) -> object:
    """(household key, eligible, crime_asb, education, address key) per household; person → household."""
    frame = pd.DataFrame(households, columns=["household_key", "eligible", "crime_asb", "education", "address_key"])
    frame = frame.astype({"crime_asb": "boolean", "education": "boolean"})
    links = pd.DataFrame({"person_key": list(members), "household_key": list(members.values())})
    return month_of(frame, links)


BEFORE = month([("H1", False, True, False, "A1"), ("H2", True, True, True, "A2"), ("H3", False, None, False, "A3")],
               {"Pa": "H1", "Pb": "H1", "Pc": "H2", "Pd": "H3"})


def changes(now, merged=None) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in household_changes(now, BEFORE, CRITERIA, merged or {}).itertuples(index=False)]


def test_a_family_that_became_eligible_says_which_criteria_it_now_meets():
    now = month([("H1", True, True, True, "A1"), ("H2", True, True, True, "A2"), ("H3", False, None, False, "A3")],
                {"Pa": "H1", "Pb": "H1", "Pc": "H2", "Pd": "H3"})
    assert changes(now) == [("H1", "newly_eligible", "now met: education")]


def test_moves_joins_leaves_new_and_ended_households_are_each_a_row():
    now = month([("H1", False, True, False, "A9"), ("H2", False, True, False, "A2"), ("H4", False, False, False, "A3")],
                {"Pa": "H1", "Pb": "H1", "Pbaby": "H1", "Pc": "H2", "Pnew": "H4", "Pd2": "H4"})
    assert changes(now) == [
        ("H1", "moved", "another address this month"),
        ("H1", "joined", "1 member joined"),
        ("H2", "no_longer_eligible", "no longer met: education"),
        ("H3", "ended", "none of its 1 members is in this household now"),
        ("H4", "new", "2 members, none of them in a household last month"),
    ]


def test_a_household_merged_into_another_ends_naming_it():
    now = month([("H1", False, True, False, "A1"), ("H2", True, True, True, "A2")],
                {"Pa": "H1", "Pb": "H1", "Pc": "H2", "Pd": "H2"})
    rows = changes(now, merged={"H3": "H2"})
    assert ("H3", "ended", "merged into H2") in rows and ("H2", "joined", "1 member joined") in rows


def test_the_months_changes_are_said_in_one_line():
    now = month([("H1", True, True, True, "A1")], {"Pa": "H1", "Pb": "H1"})
    counts = change_counts(household_changes(now, BEFORE, CRITERIA, {}))
    assert paragraph(counts, "2026-10-31") == (
        "since the previous run (as of 2026-10-31): 0 new households, 2 ended, 1 newly eligible, "
        "0 no longer eligible, 0 moved, 0 with someone joining, 0 with someone leaving")
