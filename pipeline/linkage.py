"""The linkage stage of a run: landed rows in, people and households with keyed ids out.

Produces the tables the run publishes:
- `record_links` (one row per accepted row: source, source_record_id, person_key, household_key,
  match_probability, household_basis), pseudonymous;
- `pairs` (scored candidate pairs: each side's record and person, the comparison levels, each
  feature's contribution, match weight, probability and the decision), pseudonymous, for analysts;
- `review` (pairs in the clerical-review band with both records' standardised identifying fields
  side by side), identifying, published only under restricted/.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.contracts import SourceContract
from pipeline.households import HouseholdAssignment, assign_households, evidence_dates
from pipeline.keys import keyed
from pipeline.link.model import FSModel
from pipeline.link.people import link_people, records_from_landed
from pipeline.link.settings import LinkageSettings

REVIEW_FIELDS = ["source", "source_record_id", "forename", "forename_alt", "middle_names", "surname", "dob", "sex",
                 "postcode", "flat", "house_number", "street", "uprn"]


@dataclass
class Linkage:
    record_links: pd.DataFrame
    pairs: pd.DataFrame
    review: pd.DataFrame
    model: FSModel
    counts: dict[str, int] = field(default_factory=dict)
    people: pd.DataFrame | None = None  # see `person_details`; names only with `identities`, never published
    addresses: pd.DataFrame | None = None  # identifying, only with `identities`: see `household_addresses`


@dataclass
class Prepared:
    """One source's rows as linkage needs them: standardised identity, and address evidence dates."""

    records: pd.DataFrame
    evidence_date: np.ndarray
    current: np.ndarray


def prepare_source(source: str, frame: pd.DataFrame, contract: SourceContract, settings: LinkageSettings,
                   as_of: dt.date) -> Prepared:
    """Standardise one landed source; the landed frame can be dropped afterwards (memory at scale)."""
    records = records_from_landed({source: frame}, {source: contract})
    rule = settings.households.evidence.get(source)
    dates, current = evidence_dates(frame, contract, rule.date if rule else None, as_of)
    return Prepared(records, dates, current)


def link_and_house(landed: dict[str, pd.DataFrame], contracts: dict[str, SourceContract],
                   settings: LinkageSettings, as_of: dt.date, key: bytes) -> Linkage:
    """People and households from the landed rows of every used source."""
    prepared = [prepare_source(s, landed[s], contracts[s], settings, as_of) for s in sorted(landed)]
    return link_prepared(prepared, settings, as_of, key)


def link_prepared(prepared: list[Prepared], settings: LinkageSettings, as_of: dt.date, key: bytes,
                  identities: bool = False) -> Linkage:
    """People and households from prepared sources (in source-name order); with `identities`, each
    person's name and each household's address too (for the caseworker export only: each costs a
    pass over every record, seconds at a million residents)."""
    records = pd.concat([p.records for p in prepared], ignore_index=True)
    evidence_date = np.concatenate([p.evidence_date for p in prepared])
    current = np.concatenate([p.current for p in prepared])
    prepared.clear()
    people = link_people(records, settings)
    ident = people.ident
    person_number, anchors = pd.factorize(people.label, sort=True)
    person_keys = keyed(key, "person", ident[anchors], "P")
    person_key = person_keys[person_number]
    homes = assign_households(records, person_number, evidence_date, current, as_of, settings.households)
    # A person without an address is a household of one, keyed by their person key.
    household_id = np.where(homes.basis == "no_address", "alone\x1f" + ident[anchors].astype(str),
                            homes.household.astype(str))
    household_key = keyed(key, "household", household_id, "H")

    links = pd.DataFrame({
        "source": records["source"].astype("string"),
        "source_record_id": records["source_record_id"].astype("string"),
        "person_key": pd.array(person_key, dtype="string"),
        "household_key": pd.array(household_key[person_number], dtype="string"),
        "match_probability": people.probability.astype(np.float64),
        "household_basis": pd.array(homes.basis[person_number], dtype="string"),
    })

    p = people.pairs
    i, j = p["i"].to_numpy(), p["j"].to_numpy()
    band = settings.model.review_threshold
    shown = (p["match_probability"].to_numpy() >= band) | (p["agency_id_relation"].to_numpy() == "same")
    pairs = p[shown].copy()
    si, sj = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    pairs.insert(0, "source_a", links["source"].to_numpy()[si])
    pairs.insert(1, "source_record_id_a", links["source_record_id"].to_numpy()[si])
    pairs.insert(2, "person_key_a", links["person_key"].to_numpy()[si])
    pairs.insert(3, "source_b", links["source"].to_numpy()[sj])
    pairs.insert(4, "source_record_id_b", links["source_record_id"].to_numpy()[sj])
    pairs.insert(5, "person_key_b", links["person_key"].to_numpy()[sj])
    pairs = pairs.drop(columns=["i", "j"]).reset_index(drop=True)
    for c in ("source_a", "source_record_id_a", "person_key_a", "source_b", "source_record_id_b", "person_key_b"):
        pairs[c] = pairs[c].astype("string")

    review_rows = (p["decision"] == "clerical review").to_numpy()
    ri, rj = i[review_rows], j[review_rows]
    review = pd.DataFrame({"match_probability": p["match_probability"].to_numpy()[review_rows],
                           "match_weight": p["match_weight"].to_numpy()[review_rows]})
    for side, idx in (("a", ri), ("b", rj)):
        fields = records.loc[idx, REVIEW_FIELDS].reset_index(drop=True)
        fields.columns = [f"{c}_{side}" for c in REVIEW_FIELDS]
        review = pd.concat([review, fields], axis=1)
        review[f"person_key_{side}"] = pd.array(person_key[idx], dtype="string")
    review = review.sort_values("match_probability", ascending=False, kind="stable").reset_index(drop=True)

    people_frame = person_details(records, person_number, person_keys, household_key, settings, names=identities)
    address_table = household_addresses(records, person_number, homes, household_key) if identities else None
    counts = {"records": len(records), "people": int(person_number.max()) + 1 if len(records) else 0,
              "households": int(pd.Series(household_key).nunique()), "candidate_pairs": len(p),
              "linked_pairs": int((p["decision"] == "linked").sum()), "review_pairs": int(review_rows.sum()),
              "people_without_address": int((homes.basis == "no_address").sum())}
    return Linkage(record_links=links, pairs=pairs, review=review, model=people.model, counts=counts,
                   people=people_frame, addresses=address_table)


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
