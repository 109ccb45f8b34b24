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
from pipeline.households import assign_households, evidence_dates
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


def link_prepared(prepared: list[Prepared], settings: LinkageSettings, as_of: dt.date, key: bytes) -> Linkage:
    """People and households from prepared sources (in source-name order)."""
    records = pd.concat([p.records for p in prepared], ignore_index=True)
    evidence_date = np.concatenate([p.evidence_date for p in prepared])
    current = np.concatenate([p.current for p in prepared])
    prepared.clear()
    people = link_people(records, settings)
    ident = people.ident
    person_number, anchors = pd.factorize(people.label, sort=True)
    person_key = keyed(key, "person", ident[anchors], "P")[person_number]
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

    counts = {"records": len(records), "people": int(person_number.max()) + 1 if len(records) else 0,
              "households": int(pd.Series(household_key).nunique()), "candidate_pairs": len(p),
              "linked_pairs": int((p["decision"] == "linked").sum()), "review_pairs": int(review_rows.sum()),
              "people_without_address": int((homes.basis == "no_address").sum())}
    return Linkage(record_links=links, pairs=pairs, review=review, model=people.model, counts=counts)
