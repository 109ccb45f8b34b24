"""Identities that last from month to month: this run's people and households take the keys they had.

A run links its records afresh; each person and household it finds gets a fresh key (a keyed
hash of what founds it). Given the previous month's run (`--previous`), those fresh keys are
replaced by the keys the same people and families had there, so a caseworker following a key
finds the same family next month.

People are matched through their records: a record kept by its agency keeps its (source,
source_record_id), so a person of this run whose records were a person's last month is that
person. A person's previous key goes to its *heir*, the person of this run holding most of its
earlier records (when one earlier person splits in two, the larger part keeps the key). A person
who is heir to two earlier keys (two records found to be one person) keeps the older key, by
first_seen, and the other is retired as merged into it (`key_history.parquet`). A key is never
given to anyone but its heir, and a fresh key that happens to equal any earlier key is derived
again, so no key ever names two people.

A person none of whose records persist is found, in this order, (1) through their records' source
and record id, (2) through a keyed hash of an agency's person token (an agency that re-issued its
record ids), and (3) by this run's linkage model: what is left of this run's people (matched by
neither) is compared with what is left of the previous run's (no heir), record with record, on the
same blocking passes and model as linking; a pair of people whose records match at or above the
match threshold is one person, one to one, the strongest match first (`model_overlap`). Only
leftovers are compared: a month's few, never the whole population again.

Households follow their members the same way: an earlier household key goes to the household of
this run holding most of its continuing members, and a household heir to several keeps the one
with most continuing members, then the oldest. A household whose people are all new gets a new
key, also at an address another family has left: the key names the family, `address_key` the place.

Agencies take up a new address at different times, so in the month after a move some of a family
may still be listed at the old flat while the rest are at the new one. Three rules follow from
that (`RANKING`, in this order):

1. when the old flat also holds an adult nobody knew last month, and some of the family now live
   elsewhere or at most half of them are still listed there, the family has gone and others have
   come: the part left there is passed over (the key follows the part living elsewhere, or, if
   none, the flat's household gets a new key);
2. a part made only of the family's children, at a new address, is where the family went
   (children do not move alone; schools take up a move sooner than the GP list and the register);
3. otherwise (a partner leaving, a baby born) the part with most continuing members keeps the key;
   of two parts equal in that, the one still at the family's address (the home a partner left),
   then the larger, then the smaller key.

And when the whole family is still listed at the old flat, newcomers who arrived there together
(two or more people nobody knew last month, one of them an adult) are a household of their own,
with their own key, at the same address; a lone newcomer (a new partner, a lodger) joins the
household, since nothing yet tells the two apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from pipeline.link.birthdates import birth_numbers_of, two_people
from pipeline.link.candidates import cross_pairs
from pipeline.link.compare import compared_columns
from pipeline.link.model import OTHER_FLAT_LEVELS, FSModel, score
from pipeline.link.people import pair_levels
from pipeline.link.settings import LinkageSettings
from pipeline.link.standardise import OUTPUT_COLUMNS

KeyMaker = Callable[[np.ndarray], np.ndarray]  # fresh values → keys, for keys derived again after a clash
HISTORY_COLUMNS = ["kind", "retired_key", "successor_key", "change", "as_of"]
# How a person of this run came by an earlier person's key, in the order the steps are tried.
STEPS = ("record_id", "agency_token", "linkage_model")
RECORD_KEY = ["source", "source_record_id", "person_key"]
_NEVER_KEPT = ("person_token", "unit_token")  # an agency's tokens are handed on keyed only (record_tokens.parquet)


def link_record_columns(settings: LinkageSettings) -> list[str]:
    """What `restricted/link_records.parquet` keeps of each record: its source, id and person key, and
    the standardised identity columns the model step compares and blocks on (no more)."""
    needed = {*compared_columns(), *(c for p in settings.blocking for c in p.columns), "dob", "extract_date"}
    identity = [c for c in [*OUTPUT_COLUMNS, "extract_date"]
                if c in needed and c not in (*RECORD_KEY, *_NEVER_KEPT)]
    return [*RECORD_KEY, *identity]


def empty_history() -> pd.DataFrame:
    """key_history.parquet before any key was retired."""
    return pd.DataFrame({c: pd.Series(dtype="string") for c in HISTORY_COLUMNS})


@dataclass(frozen=True)
class Carried:
    """Per fresh key of this run, its final key and since when it has been seen; and the keys retired."""

    keys: dict[str, str]
    first_seen: dict[str, str]  # final key → ISO date it first appeared
    history: pd.DataFrame  # HISTORY_COLUMNS
    steps: dict[str, int] = field(default_factory=dict)  # people carried by each of STEPS, and new_key


RANKING = (("children_went_ahead", False), ("n", False), ("at_home", False), ("size", False),
           ("fresh", True))  # (column, ascending): how the heir of an earlier key is chosen


def _heirs(overlap: pd.DataFrame, size: pd.Series, evidence: pd.DataFrame | None = None) -> pd.DataFrame:
    """For each earlier key, the fresh key that inherits it, by `RANKING`: a part of only children at a
    new address, then most shared members (or records), then the part still at the family's address,
    then the larger fresh group, then the smaller key. A part passed over never inherits.

    `overlap` has columns fresh, previous, n; `evidence` (optional, aligned with it) the boolean columns
    passed_over, children_went_ahead, at_home (see `_household_evidence`); `size` each fresh group's size.
    """
    flags = evidence if evidence is not None else pd.DataFrame(
        False, index=overlap.index, columns=["passed_over", "children_went_ahead", "at_home"])
    ranked = pd.concat([overlap, flags], axis=1).assign(size=overlap["fresh"].map(size).to_numpy())
    ranked = ranked[~ranked["passed_over"].to_numpy(dtype=bool)]
    ranked = ranked.sort_values(["previous", *(c for c, _ in RANKING)], ascending=[True, *(a for _, a in RANKING)],
                                kind="stable")
    return ranked.drop_duplicates("previous")[["fresh", "previous", "n"]]


def carry_keys(overlap: pd.DataFrame, size: pd.Series, previous_first_seen: dict[str, str], taken: set[str],
               as_of: str, kind: str, rekey: KeyMaker, evidence: pd.DataFrame | None = None) -> Carried:
    """Final keys for this run's fresh keys, from what each shares with the previous run's keys.

    `overlap`: fresh, previous, n. `size`: members (or records) per fresh key, every fresh key of
    this run. `previous_first_seen`: each previous key's first_seen. `taken`: every key ever used
    before (previous and retired ones), which a new key must not equal. `evidence`: see `_heirs`.
    """
    heirs = _heirs(overlap, size, evidence)
    heirs = heirs.assign(first_seen=heirs["previous"].map(previous_first_seen).fillna(as_of).to_numpy())
    # A fresh key heir to several earlier keys keeps one: a person the oldest key (then the one with most records),
    # a household the one with most continuing members (then the oldest); then the smallest key.
    order = ["first_seen", "n"] if kind == "person" else ["n", "first_seen"]
    oldest_first, most_first = True, False
    ascending = {"first_seen": oldest_first, "n": most_first}
    chosen = heirs.sort_values(["fresh", *order, "previous"], ascending=[True, *(ascending[c] for c in order), True],
                               kind="stable")
    kept = chosen.drop_duplicates("fresh")
    merged = chosen[~chosen.index.isin(kept.index)]
    keys = dict(zip(kept["fresh"], kept["previous"], strict=True))
    first_seen = dict(zip(kept["previous"], kept["first_seen"], strict=True))
    new = sorted(set(size.index) - set(keys))
    if new:
        fresh = np.asarray(new, dtype=object)
        clash = pd.Series(fresh, dtype=object).isin(taken).to_numpy()  # hashed: np.isin sorts object arrays
        final = fresh.copy()
        if clash.any():  # a fresh key equal to a key used before (the founding record was someone else's)
            final[clash] = rekey(np.char.add(fresh[clash].astype(str), "\x1f" + as_of))
        keys.update(zip(new, final, strict=True))
        first_seen.update(dict.fromkeys(final, as_of))
    history = pd.DataFrame({
        "kind": kind, "retired_key": merged["previous"].to_numpy(dtype=object),
        "successor_key": [keys[f] for f in merged["fresh"]], "change": "merged", "as_of": as_of})
    return Carried(keys=keys, first_seen=first_seen, history=history[HISTORY_COLUMNS])


def overlap_of(fresh: pd.Series, previous: pd.Series) -> pd.DataFrame:
    """fresh, previous, n: how many items (records, or members) each pair of fresh and earlier keys share."""
    both = pd.DataFrame({"fresh": fresh.to_numpy(dtype=object), "previous": previous.to_numpy(dtype=object)})
    both = both.dropna()
    return both.groupby(["fresh", "previous"], sort=True).size().rename("n").reset_index()


@dataclass(frozen=True)
class Earlier:
    """The previous run's pseudonymous tables, as linking needs them (`pipeline.run.previous` reads them)."""

    links: pd.DataFrame  # source, source_record_id, person_key, household_key[, person_first_seen]
    households: pd.DataFrame  # household_key[, first_seen]
    history: pd.DataFrame  # HISTORY_COLUMNS
    as_of: str  # ISO date
    tokens: pd.DataFrame | None = None  # source, source_record_id, token_key (keyed agency person tokens)
    records: pd.DataFrame | None = None  # link_record_columns per record (restricted/link_records.parquet)

    def taken(self, kind: str) -> set[str]:
        """Every key of `kind` used before: in the previous run, or retired earlier."""
        column = "person_key" if kind == "person" else "household_key"
        retired = self.history.loc[self.history["kind"] == kind, "retired_key"]
        return set(self.links[column].dropna().astype(str)) | set(retired.dropna().astype(str))

    def person_of(self, source: pd.Series, record_id: pd.Series) -> np.ndarray:
        """Per record of this run, the person key its (source, record id) had last month, or None."""
        theirs = pd.Series(self.links["person_key"].astype(object).to_numpy(), index=pd.MultiIndex.from_arrays(
            [self.links["source"].astype(str).to_numpy(), self.links["source_record_id"].astype(str).to_numpy()]))
        theirs = theirs[~theirs.index.duplicated()]
        mine = pd.MultiIndex.from_arrays([source.astype(str).to_numpy(), record_id.astype(str).to_numpy()])
        return theirs.reindex(mine).to_numpy(dtype=object)

    def person_first_seen(self) -> dict[str, str]:
        first = self.links.get("person_first_seen")
        if first is None:
            return dict.fromkeys(self.links["person_key"].astype(str), self.as_of)
        frame = pd.DataFrame({"k": self.links["person_key"].astype(str), "f": first.astype(str)})
        return dict(zip(*frame.drop_duplicates("k").T.to_numpy(), strict=True))

    def household_first_seen(self) -> dict[str, str]:
        first = self.households.get("first_seen")
        keys = self.households["household_key"].astype(str)
        values = first.astype(str) if first is not None else pd.Series(self.as_of, index=keys.index)
        return dict(zip(keys, values, strict=True))


@dataclass(frozen=True)
class Matcher:
    """What the model step compares with: this run's standardised records (positions are record
    numbers, as for `fresh_person`), the model this run trained, and its linkage settings."""

    records: pd.DataFrame
    model: FSModel
    settings: LinkageSettings


def carry_people(record_source: pd.Series, record_id: pd.Series, fresh_person: np.ndarray, earlier: Earlier,
                 as_of: str, rekey: KeyMaker, token_key: np.ndarray | None = None,
                 matcher: Matcher | None = None, earlier_person: np.ndarray | None = None) -> Carried:
    """Final person keys: each fresh person takes the key of the earlier person whose records it holds.

    Records are matched by source and record id; a person none of whose records persist is matched
    by an agency's person token (`token_key`, keyed, per record; None where a record has none), so
    an agency that re-issued its record ids still finds its people; and a person matched by neither
    is compared by the linkage model (`matcher`) with the earlier people no one took
    (`earlier.records`). `Carried.steps` counts the people each step carried. `earlier_person`:
    `earlier.person_of` these records, when the caller has it already.
    """
    mine = pd.DataFrame({"source": record_source.astype(str).to_numpy(), "fresh": fresh_person})
    before = earlier.person_of(record_source, record_id) if earlier_person is None else earlier_person
    overlap = overlap_of(mine["fresh"], pd.Series(before, dtype=object)).assign(step="record_id")
    if token_key is not None and earlier.tokens is not None:
        unmatched = ~mine["fresh"].isin(overlap["fresh"]).to_numpy()
        by_token = _token_overlap(mine[unmatched].assign(token=token_key[unmatched]), earlier)
        overlap = pd.concat([overlap, by_token.assign(step="agency_token")], ignore_index=True)
    if matcher is not None and earlier.records is not None:
        unmatched = ~mine["fresh"].isin(overlap["fresh"]).to_numpy()
        unclaimed = earlier.records[~earlier.records["person_key"].astype(str).isin(overlap["previous"]).to_numpy()]
        by_model = model_overlap(matcher, np.flatnonzero(unmatched), fresh_person[unmatched], unclaimed)
        overlap = pd.concat([overlap, by_model.assign(step="linkage_model")], ignore_index=True)
    size = mine.groupby("fresh").size()
    carried = carry_keys(overlap[["fresh", "previous", "n"]], size, earlier.person_first_seen(),
                         earlier.taken("person"), as_of, "person", rekey)
    final = pd.Series(carried.keys, dtype=object)
    kept = final.index[final.isin(set(earlier.links["person_key"].astype(str))).to_numpy()]
    by_step = overlap.drop_duplicates("fresh").set_index("fresh")["step"].reindex(kept).value_counts()
    steps = {step: int(by_step.get(step, 0)) for step in STEPS} | {"new_key": len(final) - len(kept)}
    return replace(carried, steps=steps)


def model_overlap(matcher: Matcher, rows: np.ndarray, fresh: np.ndarray, theirs: pd.DataFrame) -> pd.DataFrame:
    """fresh, previous, n: people of this run matched, one to one, with earlier people by the linkage model.

    `rows`: positions in `matcher.records` of the records of this run's people left unmatched,
    `fresh` their fresh person keys; `theirs`: the records of the earlier people left without an
    heir (`link_record_columns`). Only pairs of one side's record and the other's are proposed (the
    blocking passes of linking) and scored (its comparisons and model); a pair at or above the
    match threshold, and not in two flats of one building when linking forbids that, is evidence
    that its two people are one, `n` counting such pairs. Each person of either side is matched at
    most once, the strongest match first: the highest match weight of any pair, then the most
    pairs, then the smaller keys. The name-frequency adjustment, when configured, is not applied.
    """
    empty = pd.DataFrame({"fresh": pd.Series(dtype=object), "previous": pd.Series(dtype=object),
                          "n": pd.Series(dtype="int64")})
    if not len(rows) or not len(theirs):
        return empty
    settings = matcher.settings
    columns = ["source", *link_record_columns(settings)[len(RECORD_KEY):]]  # source and the identity columns
    mine = matcher.records.iloc[rows].reset_index(drop=True)
    theirs = theirs.reset_index(drop=True)
    # A column the earlier run did not keep (another linkage.yaml) is unknown there: it blocks and agrees on nothing.
    other = pd.DataFrame({c: theirs[c] if c in theirs else pd.Series(pd.NA, index=theirs.index, dtype=mine[c].dtype)
                          for c in columns})
    both = pd.concat([mine[columns], other], ignore_index=True)
    pairs = cross_pairs(both, len(mine), settings.blocking)
    if not len(pairs):
        return empty
    levels = pair_levels(both, pairs, settings)
    scored = score(matcher.model, levels)
    strong = scored["match_probability"].to_numpy() >= settings.model.match_threshold
    if settings.model.other_flat_is_another_person:
        strong &= ~np.isin(levels["family"].to_numpy(), OTHER_FLAT_LEVELS)
    i, j = pairs["i"].to_numpy()[strong], pairs["j"].to_numpy()[strong] - len(mine)
    found = pd.DataFrame({"fresh": np.asarray(fresh, dtype=object)[i],
                          "previous": theirs["person_key"].astype(str).to_numpy(dtype=object)[j],
                          "weight": scored["match_weight"].to_numpy()[strong]})
    found = found[~_other_births(found, pd.DataFrame({"person": np.asarray(fresh, dtype=object), "dob": mine["dob"]}),
                                 pd.DataFrame({"person": theirs["person_key"].astype(str).to_numpy(dtype=object),
                                               "dob": theirs["dob"]}))]
    per = found.groupby(["fresh", "previous"], sort=True)["weight"].agg(["max", "size"]).reset_index()
    return one_to_one(per.rename(columns={"max": "weight", "size": "n"}))[["fresh", "previous", "n"]]


def births_disagree(dob: pd.Series, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Pairs whose birth dates are both known and differ in more than one of year, month and day (and
    are not a day-month swap): not one person, however close the names (`birthdates.two_people`, the
    rule clustering keeps within a month).

    Across months this is a veto: the people the model compares are the ones record ids and tokens
    left, often a newcomer in the flat a namesake left; a key is a caseworker's handle on one person.
    """
    number = birth_numbers_of(dob)
    return two_people(number[i], number[j])


def _other_births(found: pd.DataFrame, mine: pd.DataFrame, theirs: pd.DataFrame) -> np.ndarray:
    """Per row of `found` (fresh, previous): does any birth date of the one person disagree with any of
    the other's (`births_disagree`)? Judged between people, not the matched pair of records: a register
    entry has no birth date, yet the GP record beside it has one."""
    if not len(found):
        return np.zeros(0, dtype=bool)
    a = mine.dropna(subset=["dob"]).drop_duplicates().rename(columns={"person": "fresh"})
    b = theirs.dropna(subset=["dob"]).drop_duplicates().rename(columns={"person": "previous"})
    pairs = found[["fresh", "previous"]].drop_duplicates().merge(a, on="fresh").merge(b, on="previous")
    if not len(pairs):
        return np.zeros(len(found), dtype=bool)
    dob = pd.concat([pairs["dob_x"], pairs["dob_y"]], ignore_index=True)
    n = len(pairs)
    pairs["clash"] = births_disagree(dob, np.arange(n), np.arange(n, 2 * n))
    clash = pairs.groupby(["fresh", "previous"])["clash"].any()
    vetoed = set(clash[clash].index)
    return np.fromiter(((f, p) in vetoed for f, p in zip(found["fresh"], found["previous"], strict=True)),
                       dtype=bool, count=len(found))


def one_to_one(scored: pd.DataFrame) -> pd.DataFrame:
    """The rows of `scored` (fresh, previous, weight, n) a greedy matching keeps, strongest first.

    Strongest: the highest weight, then the highest n, then the smaller fresh and previous keys (so
    a tie is broken the same way every run). A row is kept when neither of its keys was kept with
    a stronger row. Computed in rounds: a row that is the strongest left of both its keys is the
    one the greedy order would keep; those go, with every other row of their keys, and so on.
    """
    ranked = scored.sort_values(["weight", "n", "fresh", "previous"], ascending=[False, False, True, True],
                                kind="stable", ignore_index=True)
    kept = []
    while len(ranked):
        best = ranked[~ranked["fresh"].duplicated().to_numpy() & ~ranked["previous"].duplicated().to_numpy()]
        kept.append(best)
        ranked = ranked[~ranked["fresh"].isin(best["fresh"]).to_numpy()
                        & ~ranked["previous"].isin(best["previous"]).to_numpy()]
    return pd.concat(kept, ignore_index=True) if kept else ranked


def _token_overlap(mine: pd.DataFrame, earlier: Earlier) -> pd.DataFrame:
    """fresh, previous, n through agency person tokens, for records whose ids did not persist."""
    tokens = earlier.tokens.merge(earlier.links[["source", "source_record_id", "person_key"]],
                                  on=["source", "source_record_id"])
    theirs = pd.DataFrame({"source": tokens["source"].astype(str), "token": tokens["token_key"].astype(str),
                           "previous": tokens["person_key"].astype(str)}).drop_duplicates(["source", "token"])
    joined = mine.dropna(subset=["token"]).merge(theirs, on=["source", "token"], how="inner")
    return overlap_of(joined["fresh"], joined["previous"])


def carry_households(person: np.ndarray, fresh_household: np.ndarray, earlier: Earlier, as_of: str,
                     rekey: KeyMaker, address: np.ndarray | None = None, adult: np.ndarray | None = None) -> Carried:
    """Final household keys: each fresh household takes the key of the earlier household of most of its people.

    `person` and `fresh_household` are per person of this run (final person keys); `address` (address
    keys) and `adult` (not known to be a child), when given, let a family's key leave the old flat
    that strangers have moved into (see the module's docstring).
    """
    before = earlier.links.drop_duplicates("person_key").set_index("person_key")["household_key"].astype(str)
    people = pd.DataFrame({"person": person, "fresh": fresh_household})
    previous = people["person"].map(before)
    size = people.groupby("fresh").size()
    overlap = overlap_of(people["fresh"], previous)
    return carry_keys(overlap, size, earlier.household_first_seen(), earlier.taken("household"), as_of, "household",
                      rekey, _household_evidence(overlap, people, previous, earlier, address, adult))


def _household_evidence(overlap: pd.DataFrame, people: pd.DataFrame, previous: pd.Series, earlier: Earlier,
                        address: np.ndarray | None, adult: np.ndarray | None) -> pd.DataFrame | None:
    """Per overlap row (fresh household, earlier household), what says where the earlier family went:

    - at_home: the fresh household is at the earlier family's address;
    - passed_over: it is at that address, with an adult nobody knew last month, while some of the
      family live elsewhere or at most half of them are still here (strangers have moved into the
      flat the family left, where a stale record of one of them lingers);
    - children_went_ahead: it is elsewhere and holds only children of that family and nobody else
      (children do not move on their own: a school takes up a move before the GP list and the register).
    """
    if address is None or adult is None or "address_key" not in earlier.households:
        return None
    adult = np.asarray(adult, dtype=bool)
    stranger = previous.isna().to_numpy() & adult
    with_stranger = set(people.loc[stranger, "fresh"])
    place = pd.Series(address, dtype=object).groupby(people["fresh"].to_numpy()).first()
    old_place = earlier.households.set_index("household_key")["address_key"].astype(object)
    here, there = overlap["fresh"].map(place), overlap["previous"].map(old_place)
    known = here.notna().to_numpy() & there.notna().to_numpy()
    at_old = known & (here.astype("string").fillna("").to_numpy(dtype=object)
                      == there.astype("string").fillna("").to_numpy(dtype=object))
    elsewhere = known & ~at_old
    some_away = pd.Series(elsewhere).groupby(overlap["previous"].to_numpy()).transform("any").to_numpy()
    was = earlier.links.drop_duplicates("person_key").groupby("household_key").size()
    remnant = 2 * overlap["n"].to_numpy() <= overlap["previous"].map(was).fillna(0).to_numpy()
    # Fresh households made only of children of one earlier family.
    members = pd.DataFrame({"fresh": people["fresh"].to_numpy(), "previous": previous.to_numpy(dtype=object),
                            "child": ~adult})
    only = members.groupby("fresh").agg(children=("child", "all"), families=("previous", "nunique"),
                                        known=("previous", "count"), size=("child", "size"))
    children_only = set(only.index[only["children"] & (only["families"] == 1) & (only["known"] == only["size"])])
    return pd.DataFrame({
        "passed_over": at_old & (some_away | remnant) & overlap["fresh"].isin(with_stranger).to_numpy(),
        "children_went_ahead": elsewhere & overlap["fresh"].isin(children_only).to_numpy(),
        "at_home": at_old,
    }, index=overlap.index)


def newcomers_apart(person: np.ndarray, group: np.ndarray, earlier: Earlier, adult: np.ndarray) -> np.ndarray:
    """Per person, who they live with: `group`, except that newcomers who arrived together where people
    of last month are still listed form a group of their own (see the module's docstring).

    `person`: final person keys; `group`: per person, what the fresh household is made of; `adult`:
    not known to be a child.
    """
    frame = pd.DataFrame({"group": pd.Series(group, dtype=object).astype(str),
                          "new": ~pd.Series(person, dtype=object).isin(set(earlier.links["person_key"])).to_numpy()})
    frame["new_adult"] = frame["new"].to_numpy() & np.asarray(adult, dtype=bool)
    by = frame.groupby("group")
    together = (by["new"].transform("sum") >= 2) & by["new_adult"].transform("any") & ~by["new"].transform("all")
    apart = (frame["new"] & together).to_numpy()
    label = frame["group"].to_numpy(dtype=object)
    return np.where(apart, label + "\x1fnewcomers", label)
