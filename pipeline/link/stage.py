"""The linkage stage: landed rows in, people and households with keyed ids out.

`prepare_source` standardises one landed source (so the run holds one landed frame at a time);
`link_sources` links the prepared sources into people (`pipeline.link.people`), places people in
households (`pipeline.link.households`), keys both (`pipeline.keys`) and returns the tables the
run publishes (`pipeline.link.tables`) with the stage's counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config.contracts import SourceContract
from pipeline.engine import LOCAL, Engine
from pipeline.keys import keyed
from pipeline.laps import Laps
from pipeline.link.continuity import (
    RECORD_KEY,
    Earlier,
    Matcher,
    carry_households,
    carry_people,
    link_record_columns,
    newcomers_apart,
)
from pipeline.link.decisions import Decision
from pipeline.link.households import HouseholdAssignment, assign_households, evidence_dates, place_names
from pipeline.link.model import FSModel
from pipeline.link.people import People, link_people
from pipeline.link.postcodes import BORROWED, borrow_postcodes
from pipeline.link.review import Decisions
from pipeline.link.settings import LinkageSettings
from pipeline.link.standardise import records_from_landed
from pipeline.link.tables import household_addresses, pairs_table, person_details, review_table


@dataclass(frozen=True)
class LinkCounts:
    """What the stage made, for the lineage, the summary and the Prefect artifacts."""

    records: int
    people: int
    households: int
    candidate_pairs: int
    shown_pairs: int  # rows of pairs.parquet: pairs in or above the review band, or joined by an agency id
    linked_pairs: int
    review_pairs: int
    people_without_address: int
    postcodes_borrowed: int  # records without a postcode that took the one records at their address give
    # With a previous run: people who took an earlier key by each step (record_id, agency_token,
    # linkage_model), and people given a new key (new_key). Counts only.
    people_carried: dict[str, int] | None = None

    def carried_text(self) -> str | None:
        """Who kept last month's key, by the step that found them, in one line; None without a previous run."""
        c = self.people_carried
        if c is None:
            return None
        return (f"kept last month's key: {c['record_id']:,} people by record id, {c['agency_token']:,} by agency "
                f"token, {c['linkage_model']:,} by the linkage model; {c['new_key']:,} people with a new key")


@dataclass
class Linkage:
    """The stage's result: the published tables, the model, the counts, and two identifying frames
    kept in memory for scoring and the caseworker export."""

    record_links: pd.DataFrame
    pairs: pd.DataFrame
    review: pd.DataFrame
    model: FSModel
    counts: LinkCounts
    people: pd.DataFrame  # see `person_details`; names only with `identities`, never published
    addresses: pd.DataFrame | None = None  # identifying, only with `identities`: see `household_addresses`
    households: pd.DataFrame | None = None  # household_key, address_key, first_seen (one row a household)
    history: pd.DataFrame | None = None  # keys retired by this run (continuity.HISTORY_COLUMNS)
    decisions: dict[str, int] | None = None  # a reviewer's decisions applied, and stale (review.Applied.counts)
    tokens: pd.DataFrame | None = None  # source, source_record_id, token_key: restricted/record_tokens.parquet
    # Identifying: each record's standardised identity and person key (continuity.link_record_columns),
    # restricted/link_records.parquet, what next month's model step compares with; and postcode_borrowed.
    link_records: pd.DataFrame | None = None
    steps: dict[str, float] | None = None  # seconds per step of the stage, for its lineage record


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
    return link_sources(prepared, settings, as_of, key)


def _household_ids(people: People, anchors: np.ndarray, homes: HouseholdAssignment) -> np.ndarray:
    """Per person, what the household key is made of: the address, or for a person without one the
    person's anchor (a household of one)."""
    return np.where(homes.basis == "no_address", "alone\x1f" + people.ident[anchors].astype(str),
                    homes.household.astype(str))


def token_keys(records: pd.DataFrame, key: bytes) -> np.ndarray:
    """Per record, a keyed hash of its agency's person token (None without one): how a person is found
    again next month when an agency has re-issued its record ids. Never the token itself."""
    token = records["person_token"].astype(object)
    has = token.notna().to_numpy() & (token.astype(str).to_numpy() != "")
    out = np.full(len(records), None, dtype=object)
    if has.any():
        out[has] = keyed(key, "token", (records["source"].astype(str) + "\x1f" + token.astype(str)).to_numpy()[has],
                         "T")
    return out


def _mapped(values: np.ndarray, mapping: dict[str, str]) -> np.ndarray:
    return pd.Series(values, dtype=object).map(mapping).to_numpy(dtype=object)


def _keys(people: People, records: pd.DataFrame, person_number: np.ndarray, anchors: np.ndarray,
          homes: HouseholdAssignment, key: bytes, as_of: str, earlier: Earlier | None, tokens: np.ndarray,
          settings: LinkageSettings, earlier_person: np.ndarray | None = None) -> Keys:
    """Person and household keys, per person: fresh ones, or with `earlier` the ones these people had
    (found by record id, agency token, then this run's model: `continuity.carry_people`).

    A fresh household key is a keyed hash of its founding member (the smallest person key), never
    of its address: a family arriving where another lived gets a key of its own.
    """
    person_keys = keyed(key, "person", people.ident[anchors], "P")
    history = []
    person_first = np.full(len(person_keys), as_of, dtype=object)
    carried_by = None
    if earlier is not None:
        carried = carry_people(records["source"], records["source_record_id"], person_keys[person_number], earlier,
                               as_of, lambda v: keyed(key, "person", v, "P"), tokens,
                               Matcher(records, people.model, settings), earlier_person)
        carried_by = carried.steps
        person_keys = _mapped(person_keys, carried.keys)
        person_first = _mapped(person_keys, carried.first_seen)
        history.append(carried.history)
    living_together = _household_ids(people, anchors, homes)
    if earlier is not None:
        adult = ~_known_children(records, person_number, len(person_keys), as_of)
        living_together = newcomers_apart(person_keys, living_together, earlier, adult)
    groups, _ = pd.factorize(pd.Series(living_together), sort=True)
    # The smallest person key of each group, through sorted codes (a groupby min on strings is slow).
    codes, uniques = pd.factorize(pd.Series(person_keys, dtype=object), sort=True)
    founders = uniques.to_numpy(dtype=object)[pd.Series(codes).groupby(groups).transform("min").to_numpy()]
    household_key = keyed(key, "household", founders, "H")
    household_first = np.full(len(household_key), as_of, dtype=object)
    places = keyed(key, "address", place_names(records, homes).astype(str), "A")
    address_key = np.where(homes.basis == "no_address", None, places)
    if earlier is not None:
        carried = carry_households(person_keys, household_key, earlier, as_of,
                                   lambda v: keyed(key, "household", v, "H"), address_key, adult)
        household_key = _mapped(household_key, carried.keys)
        household_first = _mapped(household_key, carried.first_seen)
        history.append(carried.history)
    return Keys(person=person_keys, person_first_seen=person_first, household=household_key,
                household_first_seen=household_first, address=address_key,
                history=pd.concat(history, ignore_index=True) if history else None, people_carried=carried_by)


def _known_children(records: pd.DataFrame, person_number: np.ndarray, n_people: int, as_of: str) -> np.ndarray:
    """Per person: does any record give a birth date under 18 years before `as_of`?"""
    dob = pd.to_datetime(records["dob"])
    cutoff = pd.Timestamp(as_of) - pd.DateOffset(years=18)  # 29 February falls back to the 28th
    child = np.zeros(n_people, dtype=bool)
    np.logical_or.at(child, person_number, (dob > cutoff).to_numpy(dtype=bool))  # NaT compares False
    return child


@dataclass(frozen=True)
class Keys:
    """Per person of this run: its key and first_seen, its household's key and first_seen, its address key."""

    person: np.ndarray
    person_first_seen: np.ndarray
    household: np.ndarray
    household_first_seen: np.ndarray
    address: np.ndarray
    history: pd.DataFrame | None
    people_carried: dict[str, int] | None = None  # continuity.Carried.steps, with a previous run

    def households(self) -> pd.DataFrame:
        """household_key, address_key, first_seen: one row a household."""
        frame = pd.DataFrame({"household_key": pd.array(self.household, dtype="string"),
                              "address_key": pd.array(self.address, dtype="string"),
                              "first_seen": pd.array(self.household_first_seen, dtype="string")})
        return frame.drop_duplicates("household_key").sort_values("household_key", ignore_index=True)


def link_sources(prepared: list[Prepared], settings: LinkageSettings, as_of: dt.date, key: bytes,
                 identities: bool = False, earlier: Earlier | None = None,
                 decisions: Decisions | None = None, engine: Engine = LOCAL) -> Linkage:
    """People and households from prepared sources (in source-name order); with `identities`, each
    person's name and each household's address too (for the caseworker export only: each costs a
    pass over every record, seconds at a million residents). `engine`: where candidate pairs are made
    and compared (`pipeline.link.partitioned`)."""
    laps = Laps()
    records = borrow_postcodes(pd.concat([p.records for p in prepared], ignore_index=True))  # across sources
    evidence_date = np.concatenate([p.evidence_date for p in prepared])
    current = np.concatenate([p.current for p in prepared])
    prepared.clear()
    earlier_person = earlier.person_of(records["source"], records["source_record_id"]) if earlier else None
    laps.lap("gather")
    people = link_people(records, settings, decisions, earlier_person, engine, laps)
    person_number, anchors = pd.factorize(people.label, sort=True)
    homes = assign_households(records, person_number, evidence_date, current, as_of, settings.households,
                              people.address_ids, engine, settings.partitions.records_per_partition)
    laps.lap("households")
    tokens = token_keys(records, key)
    keys = _keys(people, records, person_number, anchors, homes, key, as_of.isoformat(), earlier, tokens, settings,
                 earlier_person)
    laps.lap("keys")
    person_keys, household_key = keys.person, keys.household

    links = pd.DataFrame({
        "source": records["source"].astype("string"),
        "source_record_id": records["source_record_id"].astype("string"),
        "person_key": pd.array(person_keys[person_number], dtype="string"),
        "household_key": pd.array(household_key[person_number], dtype="string"),
        "match_probability": people.probability.astype(np.float64),
        "household_basis": pd.array(homes.basis[person_number], dtype="string"),
        "person_first_seen": pd.array(keys.person_first_seen[person_number], dtype="string"),
    })
    pairs = pairs_table(people.pairs, links, settings.model.review_threshold, settings.blocking)
    undecided = people.pairs if "reviewer_decision" not in people.pairs else \
        people.pairs[people.pairs["reviewer_decision"].isna().to_numpy()]  # a decided pair is not asked again
    review = review_table(undecided, records, person_keys[person_number])
    decisions = people.pairs["decision"]
    counts = LinkCounts(
        records=len(records), people=int(person_number.max()) + 1 if len(records) else 0,
        households=int(pd.Series(household_key).nunique()), candidate_pairs=len(people.pairs), shown_pairs=len(pairs),
        linked_pairs=int((decisions == Decision.LINKED.label).sum()), review_pairs=len(review),
        people_without_address=int((homes.basis == "no_address").sum()),
        postcodes_borrowed=int(records[BORROWED].sum()), people_carried=keys.people_carried)
    return Linkage(
        tokens=pd.DataFrame({"source": links["source"], "source_record_id": links["source_record_id"],
                             "token_key": pd.array(tokens, dtype="string")}),
        decisions=people.applied.counts() if people.applied is not None else None,
        record_links=links, pairs=pairs, review=review, model=people.model, counts=counts,
        people=person_details(records, person_number, person_keys, household_key, settings, names=identities),
        addresses=household_addresses(records, person_number, homes, household_key) if identities else None,
        households=keys.households(), history=keys.history, link_records=_link_records(records, links, settings),
        steps=_finished(laps))


def _finished(laps: Laps) -> dict[str, float]:
    laps.lap("tables")
    return laps.seconds


def _link_records(records: pd.DataFrame, links: pd.DataFrame, settings: LinkageSettings) -> pd.DataFrame:
    """restricted/link_records.parquet: per record (record_links' order), what the model step compares,
    and whether its postcode was borrowed (`pipeline.link.postcodes`)."""
    columns = link_record_columns(settings)
    return pd.concat([links[RECORD_KEY], records[[*columns[len(RECORD_KEY):], BORROWED]]], axis=1)

