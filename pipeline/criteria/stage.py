"""The scoring stage: linked households against a rule set, with the counts and examples a run reports.

`score_stage` takes the landed rows of the assessed sources, who each row is (the linkage's record
links and people) and the rule set, and returns the households, the evidence, the caseworker
export's rows when asked for, and the stage's counts, by criterion too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from pipeline.criteria.caseworker import export_rows
from pipeline.criteria.engine import Membership, score
from pipeline.criteria.partitioned import score_partitioned
from pipeline.criteria.rules import Approximation, RuleSet
from pipeline.engine import LOCAL, Engine

EXAMPLES = 3  # eligible families shown in a run's closing summary


@dataclass(frozen=True)
class CriterionCount:
    households: int  # households meeting it
    eligible_families: int  # eligible families meeting it
    assessed: bool  # False: its source was absent or refused, or it cannot be assessed from these sources


@dataclass(frozen=True)
class ExampleEvidence:
    criterion: str
    source: str
    detail: str
    rows: int  # evidence rows (facts) of the household for this criterion (the first is shown)


@dataclass(frozen=True)
class Example:
    """An eligible family for the closing summary: pseudonymous key, counts, one piece of evidence per criterion."""

    household_key: str
    members: int
    children: int
    problems: int
    evidence: list[ExampleEvidence]


@dataclass(frozen=True)
class ScoreCounts:
    rule_set: str
    title: str
    households: int
    families: int  # households with a child
    eligible: int
    evidence_rows: int
    by_criterion: dict[str, CriterionCount]
    examples: list[Example]
    caseworker_rows: int | None = None  # people in the caseworker export, when one was asked for
    # What each criterion (and the eligibility rule) stands for in the framework and how the rule set reads it:
    # the summaries print them so nobody takes a count of "crime_asb" for a count of the framework's need.
    approximations: tuple[Approximation, ...] = ()

    @property
    def not_assessed(self) -> list[str]:
        return [c for c, v in self.by_criterion.items() if not v.assessed]


@dataclass
class Scoring:
    households: pd.DataFrame
    evidence: pd.DataFrame
    counts: ScoreCounts
    caseworker: pd.DataFrame | None = None  # identifying: the caseworker export's rows


def by_criterion(households: pd.DataFrame, rules: RuleSet) -> dict[str, CriterionCount]:
    """Per criterion: households and eligible families meeting it, and whether it could be assessed."""
    h = households
    return {c: CriterionCount(households=int(h[c].fillna(False).sum()),
                              eligible_families=int((h[c].fillna(False) & h["eligible"]).sum()),
                              assessed=bool(h[c].notna().all()) if len(h) else rules.criteria[c].assessable)
            for c in rules.criteria}


def examples(households: pd.DataFrame, evidence: pd.DataFrame, rules: RuleSet, n: int = EXAMPLES) -> list[Example]:
    """A few eligible families and one piece of evidence per met criterion, the most problems first.

    Pseudonymous keys and event details only.
    """
    eligible = households[households["eligible"]].sort_values(["problems", "household_key"], ascending=[False, True])
    out = []
    for row in eligible.head(n).itertuples(index=False):
        rows = evidence[evidence["household_key"] == row.household_key]
        first = rows.drop_duplicates("criterion").set_index("criterion")
        out.append(Example(
            household_key=str(row.household_key), members=int(row.members), children=int(row.children),
            problems=int(row.problems),
            evidence=[ExampleEvidence(c, str(first.loc[c, "source"]), str(first.loc[c, "detail"]),
                                      int((rows["criterion"] == c).sum()))
                      for c in rules.criteria if c in first.index]))
    return out


def score_stage(rules: RuleSet, frames: dict[str, pd.DataFrame], membership: Membership, as_of: dt.date,
                addresses: pd.DataFrame | None = None, engine: Engine = LOCAL,
                households_per_partition: int = 50_000) -> Scoring:
    """Households and evidence under `rules`; with `addresses` (and names in `membership.people`),
    the caseworker export's rows too. On a cluster (`engine`) households are scored partition by
    partition (`pipeline.criteria.partitioned`), with the same result."""
    scored = score(rules, frames, membership, as_of) if not engine.partitioned else \
        score_partitioned(engine, rules, frames, membership, as_of, households_per_partition)
    h = scored.households
    caseworker = export_rows(h, membership.people, addresses, rules, as_of) if addresses is not None else None
    counts = ScoreCounts(
        rule_set=rules.name, title=rules.title, households=len(h), families=int((h["children"] > 0).sum()),
        eligible=int(h["eligible"].sum()), evidence_rows=len(scored.evidence), by_criterion=by_criterion(h, rules),
        examples=examples(h, scored.evidence, rules),
        caseworker_rows=len(caseworker) if caseworker is not None else None,
        approximations=tuple(rules.approximations()))
    return Scoring(households=h, evidence=scored.evidence, counts=counts, caseworker=caseworker)
