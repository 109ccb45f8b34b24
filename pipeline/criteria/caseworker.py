"""The caseworker export: eligible families with the identifying details a caseworker needs to act.

Written only when a run is asked for it (`--caseworker-export`), only under restricted/, and headed
with its protective marking. Every other output carries pseudonymous keys only.

Names and addresses come from partner agencies' free text, so the file is written formula-safe
(`pipeline.spreadsheet`: a cell a spreadsheet would run as a formula is neutralised), as every CSV a
person opens is.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipeline.criteria.engine import ADULT_AGE, age_on
from pipeline.criteria.rules import RuleSet
from pipeline.spreadsheet import safe_csv

MARKING = "OFFICIAL-SENSITIVE"
HEADER_LINE = (f"{MARKING}: personal data of families identified for the Supporting Families programme. "
               "Share only with the family's lead practitioner under the data-sharing agreement.")
COLUMNS = ["household_key", "person_key", "forename", "surname", "date_of_birth", "age", "child",
           "address", "postcode", "uprn", "criteria_met", "problems", "rule_set"]


def export_rows(households: pd.DataFrame, people: pd.DataFrame, addresses: pd.DataFrame, rules: RuleSet,
                as_of: dt.date) -> pd.DataFrame:
    """One row per member of each eligible family, ordered by household then person key."""
    eligible = households[households["eligible"]]
    met = eligible[["household_key"]].copy()
    met_flags = eligible[list(rules.criteria)].fillna(False).to_numpy(bool)
    met["criteria_met"] = ["; ".join(c for c, m in zip(rules.criteria, row, strict=True) if m) for row in met_flags]
    met["problems"] = eligible["problems"].to_numpy()
    members = people.merge(met, on="household_key", how="inner").merge(addresses, on="household_key", how="left")
    dob = pd.to_datetime(members["dob"])
    age = age_on(dob, as_of)
    out = pd.DataFrame({
        "household_key": members["household_key"], "person_key": members["person_key"],
        "forename": members["forename"], "surname": members["surname"],
        "date_of_birth": dob.dt.strftime("%Y-%m-%d"), "age": age.astype("string"),
        "child": (age < ADULT_AGE).map({True: "yes", False: "no"}),
        "address": members["address"], "postcode": members["postcode"], "uprn": members["uprn"],
        "criteria_met": members["criteria_met"], "problems": members["problems"], "rule_set": rules.name,
    })
    return out.sort_values(["household_key", "person_key"], kind="stable").reset_index(drop=True)[COLUMNS]


def to_csv(rows: pd.DataFrame) -> bytes:
    """The marked, injection-safe CSV (UTF-8 with a byte-order mark, so spreadsheets read accents)."""
    return safe_csv(COLUMNS, rows[COLUMNS].itertuples(index=False, name=None), HEADER_LINE)
