"""The tables linkage hands on, built from records, people and households.

- `pairs_table`: the scored candidate pairs an analyst reads (`pairs.parquet`), pseudonymous;
- `review_table`: pairs in the clerical-review band with both records' standardised identifying
  fields side by side (`restricted/clerical_review.parquet`), identifying;
- `person_details`: per person, the date of birth scoring needs (and with names, the caseworker
  export's), identifying, kept in memory;
- `household_addresses`: per household, the address its members' records give, identifying, for
  the caseworker export only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.candidates import pass_names
from pipeline.link.decisions import Decision
from pipeline.link.households import HouseholdAssignment
from pipeline.link.settings import BlockingPass, LinkageSettings

REVIEW_FIELDS = ["source", "source_record_id", "forename", "forename_alt", "middle_names", "surname", "dob", "sex",
                 "postcode", "flat", "house_number", "street", "uprn"]
SIDES = ("source", "source_record_id", "person_key")  # each pair's side a and b, in that order


def pairs_table(pairs: pd.DataFrame, links: pd.DataFrame, review_threshold: float,
                passes: list[BlockingPass]) -> pd.DataFrame:
    """The pairs worth showing (in or above the review band, or joined by an agency id), each side named,
    and the blocking passes that proposed each by name (`blocking_passes`, beside the bit mask `passes`).

    `pairs` are people's scored pairs (record positions i, j); `links` the record links, one row
    per record in the same positions.
    """
    shown = np.flatnonzero((pairs["match_probability"].to_numpy() >= review_threshold) |
                           (pairs["agency_id_relation"] == "same").to_numpy())
    # Built column by column from the shown rows, once each: a county shows millions of pairs, and a
    # copy of the shown frame, then of each column as it was inserted and converted, was the run's
    # late peak.
    columns: dict[str, object] = {}
    texts = {name: links[name].astype("string", copy=False).array for name in SIDES}
    for side, column in (("a", "i"), ("b", "j")):
        at = pairs[column].to_numpy()[shown]
        for name in SIDES:
            columns[f"{name}_{side}"] = texts[name].take(at)
    for name in pairs.columns.drop(["i", "j"]):
        values = pairs[name].array.take(shown)
        if name == "agency_id_relation":
            values = np.asarray(values, dtype=object)  # text in pairs.parquet
        columns[name] = values
        if name == "passes":
            columns["blocking_passes"] = pass_names(np.asarray(values, dtype=np.int64), passes)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(shown)), copy=False)


def review_table(pairs: pd.DataFrame, records: pd.DataFrame, person_key: np.ndarray) -> pd.DataFrame:
    """Pairs put to clerical review, both records' identifying fields side by side, strongest first."""
    rows = (pairs["decision"] == Decision.CLERICAL_REVIEW.label).to_numpy()
    review = pd.DataFrame({"match_probability": pairs["match_probability"].to_numpy()[rows],
                           "match_weight": pairs["match_weight"].to_numpy()[rows]})
    for side, column in (("a", "i"), ("b", "j")):
        idx = pairs[column].to_numpy()[rows]
        fields = records.loc[idx, REVIEW_FIELDS].reset_index(drop=True)
        fields.columns = [f"{c}_{side}" for c in REVIEW_FIELDS]
        review = pd.concat([review, fields], axis=1)
        review[f"person_key_{side}"] = pd.array(person_key[idx], dtype="string")
    return review.sort_values("match_probability", ascending=False, kind="stable").reset_index(drop=True)


def _mode_per_person(person: np.ndarray, values: pd.Series) -> pd.Series:
    """The most frequent non-blank value of each person's records (ties: the smallest), by person number."""
    frame = pd.DataFrame({"person": person, "value": values.to_numpy()}).dropna()
    counts = frame.groupby(["person", "value"], sort=False).size().reset_index(name="n")
    counts = counts.sort_values(["person", "n", "value"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates("person")
    return pd.Series(first["value"].to_numpy(), index=first["person"].to_numpy())


def person_details(records: pd.DataFrame, person_number: np.ndarray, person_key: np.ndarray,
                   household_key: np.ndarray, settings: LinkageSettings, names: bool = False) -> pd.DataFrame:
    """Per person: keys, the date of birth most of their records give, whether an undated record of an
    adults-only list (the register) says they are an adult, and with `names` their most recorded name.

    Scoring needs the date of birth (child or adult, age at an event); the caseworker export needs the
    name. Identifying: kept in memory, published only in the restricted caseworker export.
    """
    n = len(person_key)
    index = np.arange(n)
    dob = _mode_per_person(person_number, pd.to_datetime(records["dob"]))
    undated = (records["source"].isin(settings.identity.undated_means_adult) & records["dob"].isna()).to_numpy()
    undated_adult = np.zeros(n, dtype=bool)
    undated_adult[np.unique(person_number[undated])] = True
    frame = pd.DataFrame({
        "person_key": pd.array(person_key, dtype="string"),
        "household_key": pd.array(household_key, dtype="string"),
        "dob": pd.to_datetime(dob.reindex(index).to_numpy()),
        "undated_adult": undated_adult,
    })
    for column in ("forename", "surname") if names else ():
        frame[column] = _mode_per_person(person_number, records[column]).reindex(index).to_numpy(object)
    return frame


def household_addresses(records: pd.DataFrame, person_number: np.ndarray, homes: HouseholdAssignment,
                        household_key: np.ndarray) -> pd.DataFrame:
    """Per household: the address its members' records give for it (flat, number, street), postcode, UPRN."""
    at_home = records.loc[homes.record_address == homes.household[person_number]]
    at_home = at_home.assign(household_key=household_key[person_number[at_home.index.to_numpy()]])
    parts = at_home[["flat", "house_number", "street"]].astype("string").fillna("")
    at_home = at_home.assign(address=(parts["flat"] + " " + parts["house_number"] + " " + parts["street"])
                             .str.replace(r"\s+", " ", regex=True).str.strip())
    at_home = at_home[at_home["address"] != ""]
    counts = at_home.groupby(["household_key", "address", "postcode"], dropna=False).agg(
        n=("source", "size"), uprn=("uprn", "first")).reset_index()
    counts = counts.sort_values(["household_key", "n", "address"], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates("household_key")[["household_key", "address", "postcode", "uprn"]].reset_index(
        drop=True)
