"""People to households: one address per person at the as-of date, then people grouped by address.

A person's records name several addresses (a GP registration years old, a police event last
spring, this year's register, a live benefit claim). Each record votes for its address with its
source's weight (schemas/linkage.yaml, `households`), halved for every half-life between its
evidence date and the as-of date, so recent and reliable evidence wins and stale addresses are
out-voted. The rows of one live benefit claim vote, strongly, for the claimant's address: the
claim unit (claimant, partner, dependants) binds a family.

Addresses are identified by UPRN where any record gives one (a record without a UPRN borrows the
UPRN that other records at the same parsed address carry), otherwise by the normalised address
including the flat. A person with no usable address forms a household of their own, flagged
`no_address`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config.contracts import SourceContract
from pipeline.engine import LOCAL, Engine
from pipeline.link.addresses import address_ids
from pipeline.link.settings import Households

TERM_END = {"AUTUMN": (0, 12, 31), "SPRING": (1, 4, 30), "SUMMER": (1, 7, 31)}  # year offset, month, day


@dataclass
class HouseholdAssignment:
    household: np.ndarray  # per person (index = person number): household id (address id or person marker)
    basis: np.ndarray  # per person: "uprn", "address" or "no_address"
    record_address: np.ndarray  # per record: its address id (as `address_ids`), None when unusable


def academic_term_end(year: pd.Series, term: pd.Series) -> pd.Series:
    """End date of a school term: '2025/26' AUTUMN -> 2025-12-31, SPRING -> 2026-04-30, SUMMER -> 2026-07-31."""
    start = pd.to_numeric(year.astype("string").str.slice(0, 4), errors="coerce")
    parts = term.astype("string").str.upper().map(TERM_END)
    known = start.notna() & parts.notna()
    out = pd.Series(pd.NaT, index=year.index, dtype="datetime64[ns]")
    if known.any():
        p = parts[known]
        out[known] = pd.to_datetime(pd.DataFrame({
            "year": start[known].astype(int) + p.map(lambda x: x[0]),
            "month": p.map(lambda x: x[1]), "day": p.map(lambda x: x[2])}))
    return out


def evidence_dates(frame: pd.DataFrame, contract: SourceContract, date: str | None,
                   as_of: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """The date each row's address was last known true (datetime64[D]), and whether the row is current.

    A named date column that is blank or after the as-of date means the row is still current (a
    live claim, an open case): its date is the as-of date. A claim that ended on the as-of date
    is not current. No column: the extract date.
    """
    as_of64 = np.datetime64(as_of, "D")
    if date is None:
        values = pd.to_datetime(frame[contract.extract_date])
    elif date == "academic_term":
        values = academic_term_end(frame["academic_year"], frame["term"])
    else:
        values = pd.to_datetime(frame[date])
    out = values.to_numpy("datetime64[D]")
    current = np.isnat(out) | (out > as_of64) if date not in (None, "academic_term") else np.zeros(len(out), bool)
    return np.where(np.isnat(out) | (out > as_of64), as_of64, out), current


def assign_households(records: pd.DataFrame, person: np.ndarray, evidence_date: np.ndarray, current: np.ndarray,
                      as_of: dt.date, settings: Households, ids: np.ndarray | None = None,
                      engine: Engine = LOCAL, rows_per_partition: int = 200_000) -> HouseholdAssignment:
    """Each person's address at the as-of date, by weighted, recency-decayed votes of their records.

    `person`: per record, a person number 0..P-1; `evidence_date` and `current`: per record, from
    `evidence_dates`.
    Returns, per person, the household id: the winning address id, or 'P:<person number>' for a
    person with no usable address. `ids`: the records' `address_ids`, when linking has them already.

    On a partitioned `engine` the votes are counted per partition of people (all of a person's votes
    in one) and families followed per partition of addresses (all the rows at one address in one):
    the same households, because each step only ever looks within one person or one address.
    """
    n_people = int(person.max()) + 1 if len(person) else 0
    ids = address_ids(records) if ids is None else ids
    vote_ids, vote = _votes(records, ids, evidence_date, current, as_of, settings)
    usable = pd.notna(vote_ids) & (vote > 0)
    votes = Votes(person[usable], vote_ids[usable], vote[usable])
    parts = _parts(engine, len(votes.person), rows_per_partition)
    which = votes.person % parts
    won = engine.map(winning_addresses, (votes.take(which == k) for k in range(parts)))
    household = np.array([f"P:{k}" for k in range(n_people)], dtype=object)
    for people, address in won:
        household[people] = address
    if settings.follow_family_from:
        household = follow_family(records, person, ids, household, settings.follow_family_from, engine, parts)
    prefix = pd.Series(household, dtype=object).str.slice(0, 2).to_numpy()
    kind = np.select([prefix == "U:", prefix == "A:"], ["uprn", "address"], default="no_address").astype(object)
    return HouseholdAssignment(household=household, basis=kind, record_address=ids)


def _parts(engine: Engine, rows: int, rows_per_partition: int) -> int:
    """How many partitions a step's rows are cut into: one in a single process."""
    return max(engine.workers * 2, math.ceil(rows / rows_per_partition), 1) if engine.partitioned else 1


def _votes(records: pd.DataFrame, ids: np.ndarray, evidence_date: np.ndarray, current: np.ndarray,
           as_of: dt.date, settings: Households) -> tuple[np.ndarray, np.ndarray]:
    """Per record, the address it votes for and its vote: its source's weight halved every half-life,
    or a live claim's rows voting for the claimant's address with the claim weight."""
    source = records["source"].astype(str).to_numpy()
    weight = pd.Series(source).map({s: e.weight for s, e in settings.evidence.items()}).fillna(0.0).to_numpy(
        np.float64)
    age = (np.datetime64(as_of, "D") - evidence_date).astype("timedelta64[D]").astype(np.float64)
    decay = np.exp2(-np.clip(age, 0, None) / settings.half_life_days)
    vote = weight * decay
    vote_ids = ids.copy()

    unit = settings.claim_unit
    if unit is not None and "unit_token" in records:
        claim = (source == unit.source) & records["unit_token"].notna().to_numpy()
        live = claim & current
        if live.any():
            frame = pd.DataFrame({"token": records["unit_token"].to_numpy()[live], "id": ids[live],
                                  "claimant": records["unit_role"].astype("string").str.upper().to_numpy()[live]
                                  == unit.claimant})
            lead = frame[frame["claimant"] & frame["id"].notna()].drop_duplicates("token")
            claim_address = frame["token"].map(dict(zip(lead["token"], lead["id"], strict=True)))
            rows = np.flatnonzero(live)
            has = claim_address.notna().to_numpy()
            vote_ids[rows[has]] = claim_address.to_numpy()[has]
            vote[rows[has]] = unit.claim_weight
    return vote_ids, vote


@dataclass(frozen=True)
class Votes:
    """Records' votes: per vote, the person, the address id voted for and the vote's weight."""

    person: np.ndarray
    id: np.ndarray
    vote: np.ndarray

    def take(self, mask: np.ndarray) -> Votes:
        return Votes(self.person[mask], self.id[mask], self.vote[mask])


def winning_addresses(votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """Per person voted for, the address with the most votes (ties: the smallest id): (people, addresses).

    A person's votes are added in record order, so the sums are the same however people are partitioned."""
    frame = pd.DataFrame({"person": votes.person, "id": votes.id, "vote": votes.vote})
    totals = frame.groupby(["person", "id"], sort=False)["vote"].sum().reset_index()
    totals = totals.sort_values(["person", "vote", "id"], ascending=[True, False, True]).drop_duplicates("person")
    return totals["person"].to_numpy(), totals["id"].to_numpy()


def follow_family(records: pd.DataFrame, person: np.ndarray, ids: np.ndarray, household: np.ndarray,
                  sources: list[str], engine: Engine = LOCAL, parts: int = 1) -> np.ndarray:
    """Move people known only from records that lag a move to where their family went.

    A family that moves leaves records behind at the old address: a GP registration, last
    year's register entry. A member known *only* from such sources stays placed at the old
    address, beside whoever lives there now. When other people with the same surname had records
    at that address and are now placed elsewhere (their fresher records say so), the member goes
    where most of them went. Everything is judged at one address at a time, so the rows can be
    cut by address (`parts`) once each person's "known only from lagging sources" is known.
    """
    surname = records["surname_canonical"].astype(object).to_numpy()
    usable = pd.notna(ids) & pd.notna(surname)
    fresh = np.zeros(len(household), dtype=bool)
    np.logical_or.at(fresh, person[usable], ~np.isin(records["source"].astype(str).to_numpy()[usable], sources))
    rows = AddressRows(person[usable], ids[usable], household[person[usable]], surname[usable],
                       ~fresh[person[usable]])
    which = pd.util.hash_array(rows.id.astype(str).astype(object)) % np.uint64(parts)
    moved = engine.map(family_moves, (rows.take(which == k) for k in range(parts)))
    out = household.copy()
    for people, to in moved:
        out[people] = to
    return out


@dataclass(frozen=True)
class AddressRows:
    """Records with an address and a surname: per row, the person, the address id, where the person is
    placed (`home`), the surname, and whether the person is known only from lagging sources."""

    person: np.ndarray
    id: np.ndarray
    home: np.ndarray
    surname: np.ndarray
    only_lagging: np.ndarray

    def take(self, mask: np.ndarray) -> AddressRows:
        return AddressRows(self.person[mask], self.id[mask], self.home[mask], self.surname[mask],
                           self.only_lagging[mask])


def family_moves(rows: AddressRows) -> tuple[np.ndarray, np.ndarray]:
    """At these addresses, the people known only from lagging records who follow their family, and where to."""
    frame = pd.DataFrame({"person": rows.person, "id": rows.id, "home": rows.home, "surname": rows.surname})
    away = frame[frame["id"] != frame["home"]]
    movers = away.drop_duplicates(["person", "id"]).groupby(["id", "surname", "home"]).size().reset_index(name="n")
    movers = movers.sort_values(["id", "surname", "n", "home"], ascending=[True, True, False, True])
    movers = movers.drop_duplicates(["id", "surname"])
    lagging = frame[rows.only_lagging & (frame["id"] == frame["home"]).to_numpy()]
    lagging = lagging.drop_duplicates(["person"]).merge(movers, on=["id", "surname"], suffixes=("", "_to"))
    return lagging["person"].to_numpy(), lagging["home_to"].to_numpy()


def place_names(records: pd.DataFrame, homes: HouseholdAssignment) -> np.ndarray:
    """Per person, what names the place their household lives at, the same from month to month.

    The household id is a UPRN where any record at the address has one (others borrow it), so it
    changes with the agencies whose records happen to be there: a GP registration alone has no UPRN.
    The place is therefore named by the most common address_key (flat, number, street, postcode) of
    the records at that address id (ties: the smallest), and by the id only where no record has one.
    """
    frame = pd.DataFrame({"id": homes.record_address, "address": records["address_key"].astype(object)}).dropna()
    counts = frame.groupby(["id", "address"]).size().rename("n").reset_index()
    counts = counts.sort_values(["id", "n", "address"], ascending=[True, False, True]).drop_duplicates("id")
    named = pd.Series(("A:" + counts["address"].astype(str)).to_numpy(), index=counts["id"].to_numpy())
    household = pd.Series(homes.household, dtype=object)
    return household.map(named).fillna(household).to_numpy(dtype=object)
