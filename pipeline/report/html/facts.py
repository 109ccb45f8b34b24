"""What the run report shows, as typed facts computed from the run's own results and tables.

Each function takes data the run already holds in memory (the tables it publishes, the linkage
model, the sources' outcomes) and returns frozen dataclasses of counts and labels (sources, columns,
criteria, decisions, the registry's words): no function here returns a key, a name, a date of birth
or an address, so nothing the report draws can. The tables are the ones the run publishes, so every
number can be checked against `pairs.parquet`, `record_links.parquet`, `households.parquet`, ...
(tests/report/test_run_report.py does). Every ordering is fixed (by name, by count then name), so
the same run gives the same report.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.audit.explain import not_assessed_reason
from pipeline.criteria.rules import RuleSet
from pipeline.link.decisions import LABELS
from pipeline.link.model import FSModel
from pipeline.link.settings import Model
from pipeline.report.gateways import agreement_status
from pipeline.report.headlines import Flow, rows_of

if TYPE_CHECKING:  # pipeline.run imports the report to write it
    from pipeline.ingest.source import SourceOutcome
    from pipeline.run.result import RunResult

SIZE_CAP = 10  # sizes from here up are one bar ("10+"): a handful of very large clusters would hide the rest
OVERLAPS_SHOWN = 15  # combinations of criteria drawn in the overlap chart; the rest are counted together
WEIGHT_BIN = 0.5  # match-weight histogram: bins this wide, on the weight scale (log2 odds)
REVIEW_BINS = 6


def weight_of(probability: float) -> float:
    """A threshold given as a probability, on the match-weight scale: log2 of its odds."""
    return math.log2(probability / (1 - probability))


# --------------------------------------------------------------------------- the run at a glance
@dataclass(frozen=True)
class SourceFacts:
    """One source offered to the run: what came of it, its rows, its gateway and agreement on the day."""

    source: str
    status: str  # used | refused | absent
    reason: str  # why refused or absent ("" when used)
    rows_received: int  # rows in the file before the registry's allowed rows and opt-outs
    not_taken: int  # rows the registry kept out (outside the gateway's allowed rows, opted out)
    accepted: int
    quarantined: int
    refused: int  # rows read from a file that was refused whole
    gateway: str  # statute and section ("" when none is declared)
    agreement: str  # the data-sharing agreement's reference
    agreement_status: str  # in force until ..., EXPIRING in N days, EXPIRED, ...


def source_facts(outcomes: list[SourceOutcome], processing_date: dt.date, warning_days: int) -> tuple[SourceFacts, ...]:
    out = []
    for o in outcomes:
        rows = rows_of(o)
        out.append(SourceFacts(
            source=o.source, status=o.status, reason=o.reason or "", rows_received=rows.received,
            not_taken=rows.not_taken, accepted=rows.accepted, quarantined=rows.quarantined, refused=rows.refused,
            gateway=o.gateway.citation if o.gateway else "",
            agreement=o.gateway.agreement.reference if o.gateway else "",
            agreement_status=agreement_status(o.gateway, processing_date, warning_days)))
    return tuple(out)


@dataclass(frozen=True)
class RunFacts:
    """The run itself: its dates, purpose and rule set, and whether it is partial (and without what)."""

    as_of: dt.date
    processing_date: dt.date
    purpose: str
    rule_set: str
    rule_title: str
    code_version: str
    partial: bool
    went_without: tuple[str, ...]
    warnings: tuple[str, ...]


# --------------------------------------------------------------------------- data quality
@dataclass(frozen=True)
class Reason:
    """Rows of one source quarantined for one reason in one column."""

    source: str
    column: str
    reason: str
    rows: int


@dataclass(frozen=True)
class QualityFacts:
    """Rows quarantined by source and column (distinct rows), and every reason with its rows."""

    by_column: tuple[tuple[str, str, int], ...]  # (source, column, rows), most rows first
    reasons: tuple[Reason, ...]  # most rows first, then source, column, reason
    bad_rows: int
    entries: int


def quality_facts(quarantine: pd.DataFrame) -> QualityFacts:
    """From quarantine.parquet's rows: each failing column of a row is one entry."""
    q = quarantine
    by_column = (q.groupby(["source", "column"], sort=True)["row_number"].nunique() if len(q)
                 else pd.Series(dtype="int64"))
    columns = sorted(((str(s), str(c), int(n)) for (s, c), n in by_column.items()), key=lambda r: (-r[2], r[0], r[1]))
    counts = q.groupby(["source", "column", "reason"], sort=True).size() if len(q) else pd.Series(dtype="int64")
    reasons = sorted((Reason(str(s), str(c), str(r), int(n)) for (s, c, r), n in counts.items()),
                     key=lambda r: (-r.rows, r.source, r.column, r.reason))
    bad = len(q[["source", "row_number"]].drop_duplicates()) if len(q) else 0
    return QualityFacts(by_column=tuple(columns), reasons=tuple(reasons), bad_rows=bad, entries=len(q))


# --------------------------------------------------------------------------- linkage
@dataclass(frozen=True)
class Histogram:
    """Counts per bin (bins[i] to bins[i + 1]) for each of several series, on one set of bins."""

    bins: tuple[float, ...]
    counts: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class Level:
    """One comparison level of the model: how often pairs of one person (m) and of two people (u) fall in it."""

    feature: str
    level: int
    meaning: str
    m: float
    u: float
    weight: float


@dataclass(frozen=True)
class Thresholds:
    review: float  # probabilities
    match: float

    @property
    def review_weight(self) -> float:
        return weight_of(self.review)

    @property
    def match_weight(self) -> float:
        return weight_of(self.match)


@dataclass(frozen=True)
class LinkageFacts:
    thresholds: Thresholds
    candidate_pairs: int  # every pair the blocking passes proposed and the model scored
    shown_pairs: int  # rows of pairs.parquet
    decisions: dict[str, int]  # pairs.parquet's pairs per decision, in the decisions' order
    weights: Histogram  # pairs.parquet's match weights per decision
    review: Histogram  # the clerical review band's pairs by match probability
    prior: float
    training: dict[str, int]  # labelled pairs that trained the model
    levels: tuple[Level, ...]
    sources: tuple[str, ...]
    people_in: tuple[int, ...]  # people with a record in each source
    together: tuple[tuple[int, ...], ...]  # together[a][b]: people with records in both a and b
    person_sizes: dict[str, int]  # records per person: "1", "2", ... "10+"
    household_sizes: dict[str, int]  # members per household
    reviewer: dict[str, int] | None = None  # a reviewer's decisions applied this run (MATCH, NOT_MATCH, stale)


def _sizes(values: pd.Series) -> dict[str, int]:
    """How many of each size, sizes of SIZE_CAP and more counted together."""
    capped = np.minimum(values.to_numpy(dtype=np.int64), SIZE_CAP)
    counts = np.bincount(capped, minlength=SIZE_CAP + 1) if len(capped) else np.zeros(SIZE_CAP + 1, dtype=np.int64)
    top = max((k for k in range(1, SIZE_CAP + 1) if counts[k]), default=1)
    return {(f"{k}+" if k == SIZE_CAP else str(k)): int(counts[k]) for k in range(1, top + 1)}


def weight_histogram(pairs: pd.DataFrame, thresholds: Thresholds) -> Histogram:
    """pairs.parquet's match weights in WEIGHT_BIN bins, per decision; the bins span both thresholds."""
    w = pairs["match_weight"].to_numpy(dtype=np.float64)
    finite = w[np.isfinite(w)]
    low = min(float(finite.min()), thresholds.review_weight) if len(finite) else thresholds.review_weight
    high = max(float(finite.max()), thresholds.match_weight) if len(finite) else thresholds.match_weight
    start, stop = math.floor(low / WEIGHT_BIN) * WEIGHT_BIN, math.ceil(high / WEIGHT_BIN + 1e-9) * WEIGHT_BIN
    bins = np.round(np.arange(start, stop + WEIGHT_BIN / 2, WEIGHT_BIN), 6)
    decision = pairs["decision"].astype(str).to_numpy()
    counts = {}
    for label in LABELS:
        chosen = w[(decision == label) & np.isfinite(w)]
        if len(chosen):
            counts[label] = tuple(int(n) for n in np.histogram(chosen, bins=bins)[0])
    return Histogram(bins=tuple(float(b) for b in bins), counts=counts)


def review_histogram(pairs: pd.DataFrame, thresholds: Thresholds) -> Histogram:
    """The pairs put to clerical review, by match probability across the band."""
    bins = np.round(np.linspace(thresholds.review, thresholds.match, REVIEW_BINS + 1), 6)
    p = pairs.loc[pairs["decision"].astype(str) == "clerical review", "match_probability"].to_numpy(np.float64)
    return Histogram(bins=tuple(float(b) for b in bins),
                     counts={"clerical review": tuple(int(n) for n in np.histogram(p, bins=bins)[0])})


def link_rates(record_links: pd.DataFrame) -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Sources, people with a record in each, and people with records in both of each pair of sources.

    Keys are numbered by hashing (pd.factorize), not sorting: np.unique over 120,000 keys took two
    thirds of the report's build at 20,000 households (benchmarks/bench_report.py --profile).
    """
    s_code, sources = pd.factorize(record_links["source"].astype(str), sort=True)
    p_code, people = pd.factorize(record_links["person_key"])
    present = np.zeros((len(people), len(sources)), dtype=np.int64)
    present[p_code, s_code] = 1
    both = present.T @ present
    return (tuple(str(s) for s in sources), tuple(int(n) for n in np.diag(both)),
            tuple(tuple(int(n) for n in row) for row in both))


def linkage_facts(pairs: pd.DataFrame, record_links: pd.DataFrame, households: pd.DataFrame, model: FSModel,
                  thresholds: Model, candidate_pairs: int, reviewer: dict[str, int] | None = None) -> LinkageFacts:
    t = Thresholds(review=thresholds.review_threshold, match=thresholds.match_threshold)
    decisions = pairs["decision"].astype(str).value_counts()
    levels = tuple(Level(str(r.feature), int(r.level), str(r.meaning), float(r.m), float(r.u), float(r.weight))
                   for r in model.table().itertuples(index=False))
    sources, people_in, together = link_rates(record_links)
    return LinkageFacts(
        thresholds=t, candidate_pairs=candidate_pairs, shown_pairs=len(pairs),
        decisions={label: int(decisions.get(label, 0)) for label in LABELS},
        weights=weight_histogram(pairs, t), review=review_histogram(pairs, t), prior=float(model.prior),
        training=dict(sorted(model.labelled.items())), levels=levels, sources=sources, people_in=people_in,
        together=together, person_sizes=_sizes(record_links.groupby("person_key", sort=False).size()),
        household_sizes=_sizes(households["members"]), reviewer=dict(reviewer) if reviewer else None)


# --------------------------------------------------------------------------- households
@dataclass(frozen=True)
class CriterionFacts:
    name: str
    households: int  # households meeting it
    families: int  # families (households with a child) meeting it
    eligible_families: int
    assessed: bool
    counts_as_problem: bool


@dataclass(frozen=True)
class Overlap:
    """Families meeting exactly this combination of criteria, and how many of them are eligible."""

    criteria: tuple[str, ...]
    families: int
    eligible: int


@dataclass(frozen=True)
class NotAssessed:
    criterion: str
    reason: str  # absent or refused sources, a withheld column, or declared unassessable
    note: str  # the rule file's own note on what the criterion approximates ("" when it gives none)


@dataclass(frozen=True)
class HouseholdFacts:
    rule_set: str
    title: str
    households: int
    families: int
    eligible: int
    by_problems: tuple[tuple[int, int, int], ...]  # (problems, families, eligible families)
    criteria: tuple[CriterionFacts, ...]
    overlaps: tuple[Overlap, ...]  # the most common combinations among families meeting any criterion
    other_overlaps: Overlap | None  # the rest, counted together (criteria: the number of combinations, as ())
    families_meeting_any: int
    not_assessed: tuple[NotAssessed, ...] = field(default_factory=tuple)


def household_facts(households: pd.DataFrame, rules: RuleSet, sources: dict[str, dict]) -> HouseholdFacts:
    """From households.parquet's rows, the rule set, and the sources' lineage records (for why not assessed)."""
    h = households
    family = (h["children"] > 0).to_numpy()
    eligible = h["eligible"].fillna(False).to_numpy(dtype=bool)
    problems = h["problems"].to_numpy(dtype=np.int64)
    top = int(problems[family].max()) if family.any() else 0
    by_problems = tuple((k, int((family & (problems == k)).sum()), int((family & eligible & (problems == k)).sum()))
                        for k in range(top + 1))
    met = {c: h[c].fillna(False).to_numpy(dtype=bool) for c in rules.criteria}
    criteria = tuple(CriterionFacts(name=c, households=int(met[c].sum()), families=int((met[c] & family).sum()),
                                    eligible_families=int((met[c] & family & eligible).sum()),
                                    assessed=bool(h[c].notna().all()) if len(h) else rules.criteria[c].assessable,
                                    counts_as_problem=rules.criteria[c].counts_as_problem)
                     for c in rules.criteria)
    overlaps, other, meeting_any = _overlaps(met, family, eligible, list(rules.criteria))
    notes = {a.name: a.approximation for a in rules.approximations()}
    not_assessed = tuple(NotAssessed(c.name, not_assessed_reason(c.name, rules, sources), notes.get(c.name, ""))
                         for c in criteria if not c.assessed)
    return HouseholdFacts(rule_set=rules.name, title=rules.title, households=len(h), families=int(family.sum()),
                          eligible=int((family & eligible).sum()), by_problems=by_problems, criteria=criteria,
                          overlaps=overlaps, other_overlaps=other, families_meeting_any=meeting_any,
                          not_assessed=not_assessed)


def _overlaps(met: dict[str, np.ndarray], family: np.ndarray, eligible: np.ndarray,
              order: list[str]) -> tuple[tuple[Overlap, ...], Overlap | None, int]:
    """Families by the exact set of criteria they meet (UpSet's intersections), the commonest first."""
    if not order:
        return (), None, 0
    bits = np.zeros(len(family), dtype=np.int64)
    for i, c in enumerate(order):
        bits |= met[c].astype(np.int64) << i
    chosen = family & (bits > 0)
    if not chosen.any():
        return (), None, 0
    codes, counts = np.unique(bits[chosen], return_counts=True)
    eligible_counts = {int(c): int(n) for c, n in zip(*np.unique(bits[chosen & eligible], return_counts=True),
                                                      strict=True)}
    combos = [Overlap(tuple(c for i, c in enumerate(order) if code >> i & 1), int(n), eligible_counts.get(int(code), 0))
              for code, n in zip(codes.tolist(), counts.tolist(), strict=True)]
    combos.sort(key=lambda o: (-o.families, -len(o.criteria), [order.index(c) for c in o.criteria]))
    shown, rest = combos[:OVERLAPS_SHOWN], combos[OVERLAPS_SHOWN:]
    other = Overlap((), sum(o.families for o in rest), sum(o.eligible for o in rest)) if rest else None
    return tuple(shown), other, int(chosen.sum())


# --------------------------------------------------------------------------- changes
@dataclass(frozen=True)
class ChangeFacts:
    """With --previous: changes.parquet's rows per kind, and last month's households and eligible families."""

    previous_as_of: dt.date
    counts: dict[str, int]
    households: int  # this run's
    eligible: int
    previous_households: int | None = None
    previous_eligible: int | None = None


def change_facts(result: RunResult, previous_households: pd.DataFrame | None) -> ChangeFacts | None:
    if result.changes is None or result.previous_as_of is None:
        return None
    before = previous_households
    score = result.scoring
    return ChangeFacts(previous_as_of=result.previous_as_of, counts=dict(result.changes),
                       households=score.households if score else 0, eligible=score.eligible if score else 0,
                       previous_households=len(before) if before is not None else None,
                       previous_eligible=int(before["eligible"].fillna(False).astype(bool).sum())
                       if before is not None else None)


# --------------------------------------------------------------------------- the whole report
@dataclass(frozen=True)
class ReportFacts:
    run: RunFacts
    headline: tuple[tuple[str, object], ...]  # (figure, value), as the Prefect table artifact gives them
    sources: tuple[SourceFacts, ...]
    flow: Flow
    quality: QualityFacts
    linkage: LinkageFacts
    households: HouseholdFacts
    changes: ChangeFacts | None
