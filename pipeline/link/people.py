"""Records to people: candidates, comparison, model, constrained clustering, one call.

`link_people` takes the standardised records of every used source (one frame, positions are
record numbers) and returns each record's person (a cluster label), the confidence of the link
that joined it, and every scored candidate pair with its decision, so an analyst can see who was
linked to whom and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from pipeline.engine import LOCAL, Engine
from pipeline.laps import Laps
from pipeline.link.addresses import address_ids
from pipeline.link.birthdates import birth_numbers
from pipeline.link.cluster import cluster_records, encode_exclusive, group_first, two_people_pairs
from pipeline.link.compare import compare_pairs
from pipeline.link.decisions import LABELS, decide
from pipeline.link.identity import from_agency_without_duplicates, token_groups
from pipeline.link.membership import is_in
from pipeline.link.model import (
    IDENTITY,
    LEVELS,
    NAME_CLOSE_OR_SAME,
    ONE_SLIP_APART,
    OTHER_FLAT_LEVELS,
    PLACE_OTHER_FLAT,
    PLACE_SAME_ADDRESS,
    PLACE_WIDTH,
    FSModel,
    comparison_levels,
    match_probability,
    name_frequency_weight,
    score,
    train,
)
from pipeline.link.partitioned import compare_candidates
from pipeline.link.review import Applied, Decisions, apply_to, reviewer_decision
from pipeline.link.settings import LinkageSettings

AGENCY_ID_RELATIONS = ("same", "different", "none")  # one agency's one id, two of its ids, no such verdict
MOVER_MAX_ADDRESSES = 6  # a person with records at more addresses than this tells of no one move


@dataclass
class People:
    label: np.ndarray  # per record: its person, as the position of the person's anchor record
    probability: np.ndarray  # per record: confidence of the link that joined it (1.0 for the anchor)
    pairs: pd.DataFrame  # scored candidate pairs: i, j, passes, levels, contributions, decision
    model: FSModel
    ident: np.ndarray  # per record: record_ident (anchors and keys are made of it)
    applied: Applied | None = None  # a reviewer's decisions, as this run's record positions
    address_ids: np.ndarray | None = None  # per record, its address id (`address_ids`), when linking made them


def effective_tokens(records: pd.DataFrame, one_row_per_person: list[str]) -> pd.Series:
    """The person token per record; for sources whose every row is a person, the row's own id."""
    token = records["person_token"].astype(object)
    own = records["source"].isin(one_row_per_person).to_numpy()
    token = token.where(~own, "row:" + records["source_record_id"].astype(str))
    return token.where(token.notna() & (token.astype(str) != ""), None)


def adult_conflict(records: pd.DataFrame, i: np.ndarray, j: np.ndarray, settings: LinkageSettings) -> np.ndarray:
    """Pairs where an undated record of an adults-only source meets a child: not one person.

    The register lists adults without a birth date, so a blank date there means "an adult",
    and a record of anyone under `undated_min_age` at that extract's date cannot be them.
    """
    sources = settings.identity.undated_means_adult
    if not sources:
        return np.zeros(len(i), dtype=bool)
    undated = (records["source"].isin(sources) & records["dob"].isna()).to_numpy()
    extract = pd.to_datetime(records["extract_date"]).to_numpy("datetime64[D]")
    dob = pd.to_datetime(records["dob"]).to_numpy("datetime64[D]")
    years = settings.identity.undated_min_age

    def child_at(child: np.ndarray, when: np.ndarray) -> np.ndarray:
        born = dob[child]
        return ~np.isnat(born) & ~np.isnat(when) & (born > when - np.timedelta64(round(years * 365.25), "D"))

    return (undated[i] & child_at(j, extract[i])) | (undated[j] & child_at(i, extract[j]))


def pair_levels(records: pd.DataFrame, pairs: pd.DataFrame, settings: LinkageSettings) -> pd.DataFrame:
    """The model's levels of each pair (i, j) of records, as linking weighs them: compared, an undated
    adult against a child told apart, cut into levels."""
    features = compare_pairs(records, pairs)
    features.loc[adult_conflict(records, pairs["i"].to_numpy(), pairs["j"].to_numpy(), settings), "dob"] = 0.0
    return comparison_levels(features)  # the features go: at millions of pairs they hold gigabytes


def training_labels(both: np.ndarray, same: np.ndarray, distinct: np.ndarray, levels: pd.DataFrame) -> np.ndarray:
    """Per pair: 1 one person (one agency token), 0 two people (two tokens of one agency), -1 unknown.

    Different tokens of an agency that holds duplicates are two people too, except where forename
    and birth date agree or are one slip apart (a forename spelt a little differently, a birth date
    swapped or one part off): those are most likely its duplicates, a patient registered twice with
    a typo the second time. Counted as two people, they would teach the model that a mistyped date
    with the same name is two people. `distinct`: the pair's agency is one that holds no duplicates.
    """
    label = np.full(len(both), -1, dtype=np.int8)
    label[same] = 1
    label[both & ~same & (distinct | ~np.isin(levels["identity"].to_numpy(), ONE_SLIP_APART))] = 0
    return label


def record_ident(records: pd.DataFrame) -> np.ndarray:
    """Each record's identity as text, 'source \\x1f source_record_id': what anchors and keys are made of."""
    return (records["source"].astype(str) + "\x1f" + records["source_record_id"].astype(str)).to_numpy()


@dataclass
class _Compared:
    """Candidate pairs, compared and scored by the trained model, with what the decisions need."""

    pairs: pd.DataFrame  # i, j, passes
    levels: pd.DataFrame  # the model's feature levels per pair
    model: FSModel
    extra: dict[str, np.ndarray]  # further contributions to the match weight (name frequency)
    both: np.ndarray  # per pair: both records of one agency, each with a token
    same: np.ndarray  # per pair: ... and the token is the same
    exclusive_pair: np.ndarray  # per pair: two tokens of an agency that holds no duplicates
    other_flat: np.ndarray  # per pair: two flats of one building, never one person (if the settings say so)
    groups: np.ndarray  # per record: its agency-token group
    exclusive: np.ndarray  # per record: its token id where its agency holds no duplicates

    @property
    def i(self) -> np.ndarray:
        return self.pairs["i"].to_numpy()

    @property
    def j(self) -> np.ndarray:
        return self.pairs["j"].to_numpy()


def _compare(records: pd.DataFrame, settings: LinkageSettings, engine: Engine = LOCAL,
             laps: Laps | None = None) -> _Compared:
    """Candidates, their comparison levels, the model trained on agency tokens, the tokens' verdicts.

    On a cluster (`engine`) the pairs are made and compared partition by partition
    (`pipeline.link.partitioned`) and the model is trained from the partitions' level counts added up:
    the same pairs, levels and model as in one process."""
    token = effective_tokens(records, settings.identity.one_row_per_person)
    laps = laps or Laps()
    compared = compare_candidates(engine, records, token, settings, laps)
    pairs, levels, both, same = compared.pairs, compared.levels, compared.both, compared.same
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()

    source = records["source"].astype(str).to_numpy()
    distinct = from_agency_without_duplicates(source, i, settings.identity.distinct_tokens)
    label = training_labels(both, same, distinct, levels)
    model = train(compared.counts)
    groups = token_groups(records.assign(person_token=token))
    extra = {}
    if settings.model.name_frequency_cap > 0:
        full = (records["forename_canonical"].astype(object) + " " + records["surname_canonical"].astype(object))
        extra["name_frequency"] = name_frequency_weight(full.to_numpy(dtype=object), groups, i, j, label,
                                                        settings.model.name_frequency_cap)
    # Two flats of one building are two homes: records there are never one person (a rule, not
    # left to the model, whose weight for this rare level rests on few training pairs).
    other_flat = np.isin(levels["family"].to_numpy(), OTHER_FLAT_LEVELS) \
        if settings.model.other_flat_is_another_person else np.zeros(len(pairs), dtype=bool)
    exclusive = encode_exclusive(source, token.fillna("").astype(str).to_numpy(),
                                 set(settings.identity.distinct_tokens))
    laps.lap("model")
    return _Compared(pairs, levels, model, extra, both, same, both & ~same & distinct, other_flat, groups, exclusive)


@dataclass
class _Clustered:
    label: np.ndarray  # per record: its person (anchor position)
    scored: pd.DataFrame  # per pair: contributions, match weight and probability
    moved: np.ndarray  # per pair: compared as if at one address, across a known move
    links: pd.DataFrame  # the links (i, j, p) clustering was offered
    address_ids: np.ndarray | None = None  # per record, `address_ids` where moves were followed


def _cluster(records: pd.DataFrame, c: _Compared, settings: LinkageSettings, ident: np.ndarray,
             applied: Applied | None = None, earlier_person: np.ndarray | None = None) -> _Clustered:
    """People from the strong links, then again for each pass that finds pairs split by a move.

    With `earlier_person` (per record, the person it belonged to last month, or None), pairs of one
    earlier person's records now at two addresses are compared across a move from the start.
    """
    m = settings.model
    i, j = c.i, c.j

    # Between links of equal probability, the one whose forenames agree better is taken first: an undated
    # register record that matches a brother and sister equally (Paul, Paula) goes to the one it names.
    identity = c.levels["identity"].to_numpy()
    forename = identity // (IDENTITY.nb + 1)
    alike = np.where((identity >= 0) & (forename < IDENTITY.na), forename, -1).astype(np.int8)  # -1 unknown

    def links_at(p: np.ndarray) -> pd.DataFrame:
        keep = (p >= m.match_threshold) & ~c.exclusive_pair & ~c.other_flat
        strong = pd.DataFrame({"i": i[keep], "j": j[keep], "p": p[keep], "alike": alike[keep]})
        if applied is None:
            return strong
        must = applied.must.assign(p=1.0, alike=np.int8(IDENTITY.na))  # a reviewer's MATCH comes first
        return pd.concat([strong, must], ignore_index=True)

    start, birth, order = group_first(c.groups), birth_numbers(records), ident_order(ident)
    # A low probability says "two people" only where the comparison could tell them apart: both records
    # give a forename and a birth date. An undated register record scores low against its own person's
    # records at an old address (a move, a misspelt surname) for want of evidence, not against it.
    told = IDENTITY.known(identity) >= 0

    def cluster(p: np.ndarray) -> np.ndarray:
        two = two_people_pairs(start, i, j, p, m.cannot_link_below) & told
        cannot = pd.DataFrame({"i": i, "j": j})[two | c.other_flat]
        if applied is not None:
            cannot = pd.concat([cannot, applied.cannot], ignore_index=True)  # a reviewer's NOT_MATCH
        return anchor_labels(order, cluster_records(len(records), c.groups, c.exclusive, links_at(p), cannot, birth))

    moved = np.zeros(len(c.pairs), dtype=bool)
    ids = address_ids(records) if m.follow_moves or earlier_person is not None else None
    if earlier_person is not None:
        moved = moved_since_last_month(ids, earlier_person, i, j, c.levels["family"].to_numpy())
        _as_one_address(c, moved)
    label = cluster(match_probability(c.model, c.levels, extra=c.extra))
    for _ in range(m.follow_moves):  # each pass may reveal further moves
        family = c.levels["family"].to_numpy()
        found = (moved_between(ids, label, i, j, family) | moved_together(ids, label, i, j, identity, family)) & ~moved
        if not found.any():
            break
        moved |= found
        _as_one_address(c, found)
        label = cluster(match_probability(c.model, c.levels, extra=c.extra))
    scored = score(c.model, c.levels, extra=c.extra)  # the table, once, for pairs.parquet
    return _Clustered(label, scored, moved, links_at(scored["match_probability"].to_numpy()), ids)


def _as_one_address(c: _Compared, pairs: np.ndarray) -> None:
    """Compare these pairs as if their records were at one address (the move between them is known)."""
    if not pairs.any():
        return
    family = c.levels["family"].to_numpy().copy()
    family[pairs] = (family[pairs] // PLACE_WIDTH) * PLACE_WIDTH + PLACE_SAME_ADDRESS
    c.levels["family"] = family.astype(c.levels["family"].dtype)


@dataclass(frozen=True)
class _AcrossAddresses:
    """Candidate pairs seen by their two records' addresses: what the three ways of finding a move read."""

    codes: np.ndarray  # per record: its address as a number, -1 without one
    ci: np.ndarray  # per pair: record i's address number
    cj: np.ndarray  # per pair: record j's
    width: np.int64  # more than any address number: low * width + high names a pair of addresses
    key: np.ndarray  # per pair: its two addresses as one number, either order
    across: np.ndarray  # per pair: two known, different addresses, not two flats of one building


def _across_addresses(ids: np.ndarray, i: np.ndarray, j: np.ndarray, family: np.ndarray) -> _AcrossAddresses:
    codes, _ = pd.factorize(pd.Series(ids, dtype=object), use_na_sentinel=True)
    codes = codes.astype(np.int64)
    ci, cj = codes[i], codes[j]
    width = np.int64(max(int(codes.max(initial=0)) + 1, 1))
    across = (family % PLACE_WIDTH < PLACE_OTHER_FLAT) & (ci >= 0) & (cj >= 0) & (ci != cj)
    return _AcrossAddresses(codes, ci, cj, width, np.minimum(ci, cj) * width + np.maximum(ci, cj), across)


def moved_since_last_month(ids: np.ndarray, earlier_person: np.ndarray, i: np.ndarray, j: np.ndarray,
                           family: np.ndarray) -> np.ndarray:
    """Pairs at two different addresses whose records were one person last month.

    Agencies take up a move at different times: the month after, a person's GP record may be at the
    new address and their register entry still at the old one, and nothing in the two records links
    them any more. Last month's run did, so the pair is compared as across a known move: the names
    and dates must still agree for the link to stand.
    """
    before = pd.Series(earlier_person, dtype=object)
    same = (before.iloc[i].to_numpy(dtype=object) == before.iloc[j].to_numpy(dtype=object)) & before.iloc[i].notna(
    ).to_numpy()
    return same & _across_addresses(ids, i, j, family).across


def _pairs_table(c: _Compared, done: _Clustered, settings: LinkageSettings) -> pd.DataFrame:
    """Every scored candidate pair: passes, levels, contributions, probability, agency ids and decision."""
    p = done.scored["match_probability"].to_numpy()
    together = done.label[c.i] == done.label[c.j]
    decision = decide(p, c.same, together, c.exclusive_pair, c.other_flat, settings.model)
    # One frame over the arrays as they are (copy=False): copying the pairs and then joining the
    # scores (a concat) held three copies of tens of millions of rows at once, the run's peak.
    columns: dict[str, object] = {name: c.pairs[name].to_numpy() for name in c.pairs.columns}
    for f in LEVELS:
        columns[f"{f}_level"] = pd.Categorical.from_codes(c.levels[f].to_numpy().clip(-1), categories=list(LEVELS[f]))
    columns.update({name: done.scored[name].to_numpy() for name in done.scored.columns})
    # A categorical over millions of pairs (np.select of strings made a fixed-width text array of them all);
    # pairs.parquet writes it as text, as before (tables.pairs_table).
    relation = np.select([c.same, c.both], [0, 1], default=2).astype(np.int8)
    columns["agency_id_relation"] = pd.Categorical.from_codes(relation, categories=list(AGENCY_ID_RELATIONS))
    columns["decision"] = pd.Categorical.from_codes(decision, categories=list(LABELS))
    columns["compared_across_a_move"] = done.moved
    return pd.DataFrame(columns, index=c.pairs.index, copy=False)


def link_people(records: pd.DataFrame, settings: LinkageSettings, decisions: Decisions | None = None,
                earlier_person: np.ndarray | None = None, engine: Engine = LOCAL, laps: Laps | None = None) -> People:
    """Link standardised records (with an `extract_date` column) into people; a reviewer's decisions
    (`pipeline.link.review`) are must-link and cannot-link; `earlier_person` (per record, last month's
    person key or None) lets records split by an agency's late take-up of a move be compared across it."""
    records = records.reset_index(drop=True)
    ident = record_ident(records)
    laps = laps or Laps()
    compared = _compare(records, settings, engine, laps)
    applied = apply_to(decisions, records) if decisions is not None else None
    done = _cluster(records, compared, settings, ident, applied, earlier_person)
    applied = applied.held(done.label) if applied is not None else None
    probability = _joining_probability(len(records), done.label, compared.groups, done.links)
    laps.lap("clustering")
    pairs = _pairs_table(compared, done, settings)
    laps.lap("pairs_table")
    if applied is not None:
        pairs["reviewer_decision"] = reviewer_decision(compared.i, compared.j, applied).to_numpy()
    return People(label=done.label, probability=probability, pairs=pairs, model=compared.model, ident=ident,
                  applied=applied, address_ids=done.address_ids)


def moved_between(ids: np.ndarray, label: np.ndarray, i: np.ndarray, j: np.ndarray, family: np.ndarray) -> np.ndarray:
    """Pairs at two different addresses that a linked person has records at both of.

    A family that moves leaves stale records behind (a GP registration, last year's register).
    Once one member is linked across the two addresses, the move is known, and another pair of
    records split between the same two addresses is compared as if at one address. Only pairs
    whose place disagrees are touched.
    """
    at = _across_addresses(ids, i, j, family)
    frame = pd.DataFrame({"c": label, "a": at.codes})
    frame = frame[frame["a"] >= 0].drop_duplicates()
    several = frame.groupby("c")["a"].transform("size")
    frame = frame[(several >= 2) & (several <= MOVER_MAX_ADDRESSES)]  # a person seen at a handful of addresses
    both = frame.merge(frame, on="c")
    both = both[both["a_x"] < both["a_y"]]
    known = np.unique(both["a_x"].to_numpy(np.int64) * at.width + both["a_y"].to_numpy(np.int64))
    return at.across & is_in(at.key, known)


def moved_together(ids: np.ndarray, label: np.ndarray, i: np.ndarray, j: np.ndarray, identity: np.ndarray,
                   family: np.ndarray) -> np.ndarray:
    """Pairs at two different addresses between which two or more people's names have moved together.

    A couple moves: their GP registrations stay at the old address, this year's register lists them
    at the new one, and no agency knows both. Each person alone is a name at another address, which is
    what namesakes look like. But when two different people at one address each share their full name
    (and no birth date says otherwise) with a different person at one other address, a household has
    moved between the two, and the pairs across them are compared as if at one address. One person
    alone (a namesake) never makes a move known, nor do two addresses where one name is given two
    birth dates (two families with the same names).

    A name "shared" is a forename and a surname each the same or one slip apart (the comparison's
    "close" level, Jaro-Winkler >= 0.92): a GP registration typed PRYA CHOPRA is still PRIYA CHOPRA of
    the register, and a move of two people should not hang on both being spelt alike by two agencies.
    """
    at = _across_addresses(ids, i, j, family)
    key = at.key
    birth = identity % (IDENTITY.nb + 1)
    forename, surname = identity // (IDENTITY.nb + 1), family // PLACE_WIDTH
    full_name = at.across & np.isin(forename, NAME_CLOSE_OR_SAME) & np.isin(surname, NAME_CLOSE_OR_SAME)
    namesake = full_name & (birth != 0) & (label[i] != label[j])  # no birth date against, not one person already
    low = np.where(at.ci <= at.cj, label[i], label[j])  # the person on each address's side
    high = np.where(at.ci <= at.cj, label[j], label[i])
    names = pd.DataFrame({"key": key[namesake], "low": low[namesake], "high": high[namesake]})
    people = names.groupby("key").agg(low=("low", "nunique"), high=("high", "nunique"))
    known = people.index[(people["low"] >= 2) & (people["high"] >= 2)].to_numpy()
    # A name at both addresses with two birth dates is two families sharing names (a LAURA and a GEORGE
    # SMITH in each), not one family that moved: such a pair of addresses is never a move.
    namesakes_apart = np.unique(key[full_name & (birth == 0)])
    return at.across & is_in(key, known) & ~is_in(key, namesakes_apart)


def ident_order(ident: np.ndarray) -> np.ndarray:
    """Record positions in the order of their `record_ident` (stable: equal idents keep row order).

    Sorted once per run and read by every `anchor_labels`: sorting millions of strings per clustering
    pass was seconds each time. Arrow compares UTF-8 bytes, which orders text as Python does (by code
    point), in C++.
    """
    return pc.sort_indices(pa.array(ident, type=pa.string())).to_numpy().astype(np.int64)


def anchor_labels(order: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Relabel each cluster by its anchor: the record with the smallest `record_ident` (`order` is
    `ident_order`; of equal idents, the first row).

    Independent of row order, so a person keeps their key when an agency reorders its file.
    """
    clusters, first = np.unique(label[order], return_index=True)  # each cluster's first record in ident order
    return order[first][np.searchsorted(clusters, label)]


def _joining_probability(n: int, label: np.ndarray, groups: np.ndarray, links: pd.DataFrame) -> np.ndarray:
    """Per record, the probability of the link joining it to its person (1.0 for the anchor).

    The links kept inside each person form a graph; its maximum spanning tree, rooted at the
    person's anchor (smallest record), gives each record one parent, and the record's value is
    the probability of that edge. Rows sharing an agency token are joined with probability 1.
    """
    li, lj, lp = links["i"].to_numpy(), links["j"].to_numpy(), links["p"].to_numpy()
    keep = label[li] == label[lj]
    first = group_first(groups)
    member = first != np.arange(n)
    ei = np.concatenate([li[keep], first[member]])
    ej = np.concatenate([lj[keep], np.flatnonzero(member)])
    ep = np.concatenate([lp[keep], np.ones(int(member.sum()))])
    edges = pd.DataFrame({"a": np.minimum(ei, ej), "b": np.maximum(ei, ej), "p": ep})
    edges = edges.groupby(["a", "b"], as_index=False)["p"].max()
    anchors = np.unique(label)
    root = n
    a = np.concatenate([edges["a"].to_numpy(), np.full(len(anchors), root)])
    b = np.concatenate([edges["b"].to_numpy(), anchors])
    w = np.concatenate([2.0 - edges["p"].to_numpy(), np.full(len(anchors), 1e-9)])
    graph = coo_matrix((w, (a, b)), shape=(n + 1, n + 1)).tocsr()
    tree = minimum_spanning_tree(graph)
    _, parent = breadth_first_order(tree, root, directed=False)
    parent = parent[:n]
    out = np.ones(n)
    has = (parent >= 0) & (parent != root)
    if has.any():  # with no index at all scipy gives back a sparse matrix, which 2.0 - cannot take
        sym = (tree + tree.T).tocsr()
        out[has] = 2.0 - np.asarray(sym[parent[has], np.flatnonzero(has)]).ravel()
    return np.clip(out, 0.0, 1.0)
