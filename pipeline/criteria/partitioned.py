"""Scoring cut into partitions of households for an engine (`pipeline.engine`): the same households and evidence.

Every criterion is judged within one household, from its members' rows: so households can be scored
apart. A partition holds some households (by a hash of the household key, the same however the rows
are ordered), their members' links and people, and the landed rows of those members only. What the
rules read across the whole extract (the schools extract's most recent terms) is worked out once over
all rows and handed to every partition. The partitions' households and evidence are put back in the
order `pipeline.criteria.engine.score` gives them: households by key, evidence by its columns (each
evidence row is one fact, so the order is total).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.criteria.engine import EVIDENCE_COLUMNS, Membership, Scored, extract_terms, score
from pipeline.criteria.rules import RuleSet
from pipeline.engine import Engine


@dataclass(frozen=True)
class HouseholdPartition:
    """Some households, all of whose members' rows are here."""

    rules: RuleSet
    frames: dict[str, pd.DataFrame]
    membership: Membership
    as_of: dt.date
    terms: dict[int, list[int]] | None


def score_partition(part: HouseholdPartition) -> Scored:
    """One partition's households scored (`pipeline.criteria.engine.score`)."""
    return score(part.rules, part.frames, part.membership, part.as_of, part.terms)


def household_partitions(rules: RuleSet, frames: dict[str, pd.DataFrame], membership: Membership, as_of: dt.date,
                         parts: int) -> Iterator[HouseholdPartition]:
    """The households cut into `parts` partitions by a hash of their key; each partition taken as the engine asks."""
    links, people = membership.links, membership.people
    terms = extract_terms(frames, links)
    which = pd.util.hash_array(links["household_key"].astype(str).to_numpy(object)) % np.uint64(parts)
    for part in range(parts):
        mine = links[which == part]
        if not len(mine):
            continue
        members = people[people["person_key"].isin(mine["person_key"])]
        rows = {source: frame[frame["source_record_id"].isin(mine.loc[mine["source"] == source, "source_record_id"])]
                for source, frame in frames.items()}
        yield HouseholdPartition(rules, rows, Membership(links=mine, people=members), as_of, terms)


def score_partitioned(engine: Engine, rules: RuleSet, frames: dict[str, pd.DataFrame], membership: Membership,
                      as_of: dt.date, households_per_partition: int) -> Scored:
    """Households scored partition by partition on the engine, put back in `score`'s order."""
    households = membership.links["household_key"].nunique()
    parts = max(engine.workers * 2, math.ceil(households / households_per_partition), 1)
    done = engine.map(score_partition, household_partitions(rules, frames, membership, as_of, parts))
    if not done:
        return score(rules, frames, membership, as_of)
    h = pd.concat([d.households for d in done], ignore_index=True)
    h = h.sort_values("household_key", kind="stable", ignore_index=True)
    evidence = pd.concat([d.evidence for d in done], ignore_index=True)
    evidence = evidence.sort_values([*EVIDENCE_COLUMNS, "indicator"], kind="stable", ignore_index=True)
    return Scored(households=h, evidence=evidence)
