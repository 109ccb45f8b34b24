"""`explain-pair`: why two records were linked, or were not, as a waterfall of the match weight.

A pair's match weight starts at the prior's weight and each comparison adds its own (pairs.parquet's
w_ columns); the sum gives the probability, the thresholds the decision, and the identity rules may
still refuse the link. `explain_pair` puts that together for one pair of a run, from the run's own
files: pairs.parquet, record_links.parquet and linkage_model.json (the model, passes and rules the run
used, never today's linkage.yaml). A pair that pairs.parquet does not list (never compared, or scored
below the review band) is worked out from `restricted/link_records.parquet` when it can be read: which
blocking pass would have needed what, or the weights recomputed with the run's model.

What it returns (`PairExplanation`) is pseudonymous: record ids, person keys, level meanings, weights,
pass and column names. The two records' standardised values are read only for `--values`, go only into
a chart under the run's restricted/, and never to the terminal.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.audit.trail import AuditUsage, first, is_run_folder, run_records
from pipeline.link.candidates import PassVerdict, pass_verdicts, proposed_between
from pipeline.link.decisions import Decision
from pipeline.link.document import MODEL_FILE, RunModel, read_model
from pipeline.link.model import FEATURES, LEVELS, OTHER_FLAT_LEVELS, score
from pipeline.link.people import adult_conflict, pair_levels
from pipeline.link.settings import LinkageSettings, load_linkage
from pipeline.publish import RESTRICTED

LINK_RECORDS = Path(RESTRICTED) / "link_records.parquet"
RECORD = re.compile(r"(?P<source>[a-z_]+):(?P<id>.+)")
# The standardised values a chart with --values shows, when link_records.parquet holds them.
VALUE_FIELDS = ("forename", "forename_alt", "middle_names", "surname", "dob", "sex", "postcode", "flat",
                "house_number", "street", "uprn")
HOW_TO_NAME = "name a record as SOURCE:SOURCE_RECORD_ID, e.g. health:HLT0000123 (as record_links.parquet lists it)"


@dataclass(frozen=True)
class RecordRef:
    """A record as the command line names it, `source:source_record_id`: the agency's row id, not personal data."""

    source: str
    record_id: str

    @classmethod
    def parse(cls, text: str) -> RecordRef:
        found = RECORD.fullmatch(text.strip())
        if found is None:
            raise AuditUsage(f"not a record: {text!r} ({HOW_TO_NAME})")
        return cls(found["source"], found["id"])

    def text(self) -> str:
        return f"{self.source}:{self.record_id}"


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: what it is, and what it adds to the match weight (bits)."""

    name: str  # prior, identity, family, sex, or an extra contribution (name_frequency)
    label: str  # the level as the model names it, or the prior as a probability
    weight: float


@dataclass(frozen=True)
class Thresholds:
    """The run's thresholds as probabilities, and as the weights a waterfall is drawn against."""

    match: float
    review: float
    cannot_link: float

    @staticmethod
    def weight(p: float) -> float:
        """The weight whose probability is `p`: log2(p / (1 - p))."""
        p = min(max(p, 1e-12), 1 - 1e-12)
        return math.log2(p / (1 - p))


@dataclass(frozen=True)
class PairExplanation:
    """Why two records of a run were linked or not: the waterfall when they were compared, the blocking
    passes, the decision, and each reason behind it, in words with pseudonymous names only."""

    run: Path
    a: RecordRef
    b: RecordRef
    person_a: str
    person_b: str
    as_of: str | None
    thresholds: Thresholds
    where: str  # whence the weights: "pairs.parquet", "restricted/link_records.parquet (recomputed)", or "" (none)
    decision: str  # pairs.parquet's decision, or what became of a pair it does not list
    steps: tuple[Step, ...] = ()
    passes: tuple[PassVerdict, ...] = ()  # with link_records: every pass's verdict; else the proposing passes
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    reviewer_decision: str | None = None
    values: pd.DataFrame | None = field(default=None, compare=False)  # identifying, only with `values=True`

    @property
    def compared(self) -> bool:
        return bool(self.steps)

    @property
    def match_weight(self) -> float:
        return sum(s.weight for s in self.steps)  # in the steps' order, as pairs.parquet adds its w_ columns

    @property
    def probability(self) -> float:
        return _probability(self.match_weight)

    @property
    def same_person(self) -> bool:
        return self.person_a == self.person_b

    def title(self) -> str:
        if not self.compared:
            return f"{self.a.text()} and {self.b.text()}: {self.decision}"
        return f"Why {self.a.text()} and {self.b.text()} were {'linked' if self.same_person else 'not linked'}"


# --------------------------------------------------------------------------- reading the run
def _run_model(run: Path) -> tuple[RunModel, LinkageSettings]:
    path = run / MODEL_FILE
    if not path.is_file():
        raise AuditUsage(f"{run} has no {MODEL_FILE} (not a linked run folder)")
    model = read_model(path)
    return model, model.settings(load_linkage())


def _person(run: Path, ref: RecordRef) -> str:
    """The person key of a record, or AuditUsage saying where the record went (quarantined, or not in the run)."""
    links = pd.read_parquet(run / "record_links.parquet", columns=["person_key"],
                            filters=[("source", "==", ref.source), ("source_record_id", "==", ref.record_id)])
    if len(links):
        return str(links["person_key"].iloc[0])
    quarantine = run / "quarantine.parquet"
    if quarantine.is_file():
        bad = pd.read_parquet(quarantine, columns=["row_number", "column"],
                              filters=[("source", "==", ref.source), ("source_record_id", "==", ref.record_id)])
        if len(bad):
            raise AuditUsage(f"{ref.text()} was quarantined (file line {int(bad['row_number'].iloc[0])}, column "
                           f"{', '.join(sorted(set(bad['column'])))}): a rejected row is never linked")
    raise AuditUsage(f"{ref.text()} is not a record of the run in {run} (record_links.parquet lists every accepted "
                   f"row; {HOW_TO_NAME})")


def _pair_row(run: Path, a: RecordRef, b: RecordRef) -> pd.Series | None:
    """The pair's row of pairs.parquet (either order), or None when it does not list the pair."""
    def side(x: RecordRef, y: RecordRef) -> list[tuple[str, str, str]]:
        return [("source_a", "==", x.source), ("source_record_id_a", "==", x.record_id),
                ("source_b", "==", y.source), ("source_record_id_b", "==", y.record_id)]

    rows = pd.read_parquet(run / "pairs.parquet", filters=[side(a, b), side(b, a)])
    return rows.iloc[0] if len(rows) else None


def _as_of(run: Path) -> str | None:
    """The run's as-of date, as its lineage records it."""
    return (first(run_records(run), "run_start").get("parameters") or {}).get("as_of")


def _link_records(run: Path) -> tuple[pd.DataFrame | None, str]:
    """restricted/link_records.parquet, or None and why it cannot be read (purged, or not yours to read)."""
    path = run / LINK_RECORDS
    if not path.is_file():
        return None, f"{LINK_RECORDS} is not there (purged, or a run from before it was kept)"
    try:
        return pd.read_parquet(path).reset_index(drop=True), ""
    except PermissionError:
        return None, f"{LINK_RECORDS} cannot be read by you (identifying data: readable by the run's owner alone)"


def _positions(records: pd.DataFrame, *refs: RecordRef) -> list[int]:
    at = pd.Series(np.arange(len(records)), index=pd.MultiIndex.from_arrays(
        [records["source"].astype(str), records["source_record_id"].astype(str)]))
    return [int(at[(r.source, r.record_id)]) for r in refs]


# --------------------------------------------------------------------------- the waterfall
def _steps(levels: dict[str, str | None], weights: dict[str, float], prior: float,
           prior_weight: float) -> tuple[Step, ...]:
    steps = [Step("prior", f"prior: {prior:.1%} of candidate pairs are one person", prior_weight)]
    for f in FEATURES:
        label = levels.get(f)
        steps.append(Step(f, f"{f}: {label}" if label else f"{f}: unknown (weighs nothing)", weights[f]))
    for name, w in weights.items():
        if name not in FEATURES:
            steps.append(Step(name, name.replace("_", " "), w))
    return tuple(steps)


def _steps_from_row(row: pd.Series, model: RunModel) -> tuple[Step, ...]:
    """The steps as pairs.parquet gives them (a run from before w_prior was a column: the model's prior weight)."""
    weights = {c.removeprefix("w_"): float(row[c]) for c in row.index if c.startswith("w_") and c != "w_prior"}
    levels = {f: (None if pd.isna(row[f"{f}_level"]) else str(row[f"{f}_level"])) for f in FEATURES}
    prior_weight = float(row["w_prior"]) if "w_prior" in row.index else model.model.prior_weight()
    return _steps(levels, weights, model.model.prior, prior_weight)


def recomputed(records: pd.DataFrame, i: int, j: int, run_model: RunModel,
                settings: LinkageSettings) -> tuple[Step, ...]:
    """The pair's steps as the run's model weighs it, compared afresh from the standardised records."""
    two = records.iloc[[i, j]].reset_index(drop=True)
    levels = pair_levels(two, pd.DataFrame({"i": [0], "j": [1]}), settings)
    scored = score(run_model.model, levels)
    named = {f: (LEVELS[f][int(levels[f].iloc[0])] if int(levels[f].iloc[0]) >= 0 else None) for f in FEATURES}
    weights = {f: float(scored[f"w_{f}"].iloc[0]) for f in FEATURES}
    return _steps(named, weights, run_model.model.prior, run_model.model.prior_weight())


# --------------------------------------------------------------------------- reasons
def pass_lines(verdicts: tuple[PassVerdict, ...], a: RecordRef, b: RecordRef) -> list[str]:
    """What each pass needed that the pair lacks: column names and blank sides, never values."""
    lines = []
    for v in verdicts:
        if v.proposed:
            lines.append(f"{v.name}: proposed them")
            continue
        wants = []
        for c in v.columns:
            if c.state == "differ":
                wants.append(f"the same {c.column} (theirs differ)")
            elif c.state == "blank":
                who = {"a": a.text(), "b": b.text(), "both": "both records"}[c.blank_on]
                wants.append(f"a {c.column} on {who} (blank)")
        if not wants and v.max_block is not None:
            wants.append(f"a block of at most {v.max_block} records (theirs holds {v.block_size})")
        lines.append(f"{v.name}: would need {' and '.join(wants)}")
    return lines


def _path(run: Path, person: str, a: RecordRef, b: RecordRef) -> list[str]:
    """The links of pairs.parquet joining a to b inside their person, as 'x -> y (p, decision)' steps."""
    pairs = pd.read_parquet(run / "pairs.parquet", columns=[
        "source_a", "source_record_id_a", "source_b", "source_record_id_b", "match_probability", "decision"],
        filters=[("person_key_a", "==", person), ("person_key_b", "==", person)])
    pairs = pairs[pairs["decision"].astype(str) == Decision.LINKED.label]
    graph: dict[str, list[tuple[str, float]]] = {}
    for r in pairs.itertuples(index=False):
        x, y = f"{r.source_a}:{r.source_record_id_a}", f"{r.source_b}:{r.source_record_id_b}"
        graph.setdefault(x, []).append((y, r.match_probability))
        graph.setdefault(y, []).append((x, r.match_probability))
    start, goal = a.text(), b.text()
    came: dict[str, tuple[str, float] | None] = {start: None}
    queue = deque([start])
    while queue:
        x = queue.popleft()
        for y, p in sorted(graph.get(x, []), key=lambda t: (-t[1], t[0])):
            if y not in came:
                came[y] = (x, p)
                queue.append(y)
    if goal not in came:
        return []
    steps, node = [], goal
    while came[node] is not None:
        prev, p = came[node]  # type: ignore[misc]
        steps.append(f"{prev} -> {node} ({p:.4f}, linked)")
        node = prev
    return steps[::-1]


def _exclusive_clash(run: Path, person_a: str, person_b: str, distinct: list[str]) -> str | None:
    """Both people hold a record of an agency that holds no duplicate ids: two ids, so two people."""
    links = pd.read_parquet(run / "record_links.parquet", columns=["source", "source_record_id", "person_key"],
                            filters=[("person_key", "in", [person_a, person_b])])
    links = links[links["source"].isin(distinct)]
    for source in sorted(set(links["source"])):
        mine = links[links["source"] == source]
        ids_a = sorted(mine.loc[mine["person_key"] == person_a, "source_record_id"].astype(str))
        ids_b = sorted(mine.loc[mine["person_key"] == person_b, "source_record_id"].astype(str))
        if ids_a and ids_b:
            return (f"their people already hold {source}:{ids_a[0]} and {source}:{ids_b[0]}, two ids of {source}, "
                    f"which holds no duplicates (identity.distinct_tokens): one person cannot hold both")
    return None


def _cannot_link(records: pd.DataFrame, person_a: str, person_b: str, run_model: RunModel,
                 settings: LinkageSettings) -> str | None:
    """A pair between the two people's records that the run found to be two people: below cannot_link_below, or
    two flats of one building (compared afresh with the run's model and passes)."""
    person = records["person_key"].astype(str).to_numpy()
    pairs = proposed_between(records, np.flatnonzero(person == person_a), np.flatnonzero(person == person_b),
                             settings.blocking)
    if not len(pairs):
        return None
    both = np.unique(np.concatenate([pairs["i"].to_numpy(), pairs["j"].to_numpy()]))
    local = pd.Series(np.arange(len(both)), index=both)
    sub = records.iloc[both].reset_index(drop=True)
    local_pairs = pd.DataFrame({"i": local[pairs["i"]].to_numpy(), "j": local[pairs["j"]].to_numpy()})
    levels = pair_levels(sub, local_pairs, settings)
    p = score(run_model.model, levels)["match_probability"].to_numpy()
    other_flat = np.isin(levels["family"].to_numpy(), OTHER_FLAT_LEVELS) & settings.model.other_flat_is_another_person
    bad = (p < settings.model.cannot_link_below) | other_flat
    if not bad.any():
        return None
    k = int(np.flatnonzero(bad)[np.argmin(p[bad])])
    x, y = (sub.iloc[int(local_pairs[c].iloc[k])] for c in ("i", "j"))
    what = "two flats of one building (other_flat_is_another_person)" if other_flat[k] else \
        f"probability {p[k]:.4f}, below cannot_link_below {settings.model.cannot_link_below}"
    return (f"{x['source']}:{x['source_record_id']} and {y['source']}:{y['source_record_id']}, one of each person, "
            f"were found to be two people ({what}): no person may hold both")


def _refusal(run: Path, row: pd.Series, person_a: str, person_b: str, restricted: _Restricted,
             run_model: RunModel, settings: LinkageSettings) -> list[str]:
    """Which rule refused a pair strong enough to link (pairs.parquet's 'refused: ...' decisions)."""
    if str(row["decision"]) == Decision.REFUSED_TOKENS_DIFFER.label:
        return [f"refused: two different ids of {row['source_a']}, an agency that holds no duplicate ids "
                f"(identity.distinct_tokens in linkage.yaml): two people, however alike"]
    family = str(row["family_level"]) if pd.notna(row["family_level"]) else ""
    if family.endswith("other flat of one building") and settings.model.other_flat_is_another_person:
        return ["refused: two flats of one building are two homes (thresholds.other_flat_is_another_person), "
                "whatever the names"]
    if _text(row.get("reviewer_decision")) == "NOT_MATCH":
        return ["refused: a clerical reviewer decided NOT_MATCH (two people); the decision is carried from month "
                "to month"]
    lead = "refused: joining would put two different people together: "
    clash = _exclusive_clash(run, person_a, person_b, settings.identity.distinct_tokens)
    if clash:
        return [lead + clash]
    if restricted.records is not None:
        found = _cannot_link(restricted.records, person_a, person_b, run_model, settings)
        if found:
            return [lead + found]
    unreadable = f" ({restricted.why})" if restricted.why else ""
    return [lead + "a record of one was found to be a different person from a record of the other (below "
            f"cannot_link_below, or a reviewer's NOT_MATCH){unreadable}"]


def _decision_reasons(row: pd.Series, thresholds: Thresholds) -> list[str]:
    """What the decision in pairs.parquet means for this pair, with its probability against the thresholds."""
    decision, p = str(row["decision"]), float(row["match_probability"])
    if decision == Decision.LINKED.label:
        if row.get("agency_id_relation") == "same":
            return ["linked: both records carry one agency's own id for the person (one person from the start)"]
        return [f"linked: probability {p:.4f} is at or above match_threshold {thresholds.match}"]
    if decision == Decision.SAME_PERSON_THROUGH_OTHER_LINKS.label:
        return [f"not linked directly (probability {p:.4f} below match_threshold {thresholds.match}), but one person "
                "through other links"]
    if decision == Decision.CLERICAL_REVIEW.label:
        return [f"not linked: probability {p:.4f} is in the review band ({thresholds.review} up to "
                f"{thresholds.match}), so the pair went to clerical review (restricted/clerical_review.parquet)"]
    if decision == Decision.NOT_LINKED.label:
        return [f"not linked: probability {p:.4f}"]
    return []  # refused: `_refusal` says by which rule


# --------------------------------------------------------------------------- the explanation
class _Restricted:
    """restricted/link_records.parquet, read only when an answer needs it (at a million residents it is large),
    once; `why` says why it cannot be read when it cannot."""

    def __init__(self, run: Path):
        self.run = run
        self._read = False
        self._records: pd.DataFrame | None = None
        self.why = ""

    @property
    def records(self) -> pd.DataFrame | None:
        if not self._read:
            self._records, self.why = _link_records(self.run)
            self._read = True
        return self._records

    def positions(self, *refs: RecordRef) -> list[int] | None:
        return _positions(self.records, *refs) if self.records is not None else None


def explain_pair(run: Path, a: RecordRef, b: RecordRef, values: bool = False) -> PairExplanation:
    """Why `a` and `b` were linked or not in the run folder `run`; AuditUsage for a folder or record that is not
    there. With `values`, the two records' standardised values (identifying) ride along for a restricted chart."""
    run = Path(run)
    if not is_run_folder(run):
        raise AuditUsage(f"{run} is not a run folder (no lineage.jsonl and households.parquet)")
    if a == b:
        raise AuditUsage(f"{a.text()} named twice: name two records")
    run_model, settings = _run_model(run)
    m = settings.model
    thresholds = Thresholds(m.match_threshold, m.review_threshold, m.cannot_link_below)
    person_a, person_b = _person(run, a), _person(run, b)
    restricted = _Restricted(run)
    shown = None
    if values:
        if restricted.records is None:
            raise AuditUsage(f"--values needs the records' standardised values, and {restricted.why}")
        shown = _values(restricted.records, restricted.positions(a, b))
    notes = [] if run_model.passes is not None else \
        [f"{MODEL_FILE} does not record the run's blocking passes: today's linkage.yaml is used"]
    base = {"run": run, "a": a, "b": b, "person_a": person_a, "person_b": person_b, "as_of": _as_of(run),
            "thresholds": thresholds, "values": shown}
    same = person_a == person_b
    through = _through(run, person_a, a, b) if same else []

    row = _pair_row(run, a, b)
    if row is not None:  # compared, and shown: the run's own weights
        decision = str(row["decision"])
        reasons = _decision_reasons(row, thresholds)
        if row.get("agency_id_relation") != "same":  # one agency id joins them whatever the weights say
            reasons += _prior_decides(_steps_from_row(row, run_model), thresholds)
        if decision.startswith("refused"):
            reasons += _refusal(run, row, person_a, person_b, restricted, run_model, settings)
        if bool(row.get("compared_across_a_move", False)):
            notes.append("compared across a known move: a linked person's records are at both their addresses, so "
                         "their places were weighed as one address")
        if decision != Decision.LINKED.label:
            reasons += through
        names = list(row["blocking_passes"]) if "blocking_passes" in row.index else []
        return PairExplanation(**base, where="pairs.parquet", decision=decision,
                               steps=_steps_from_row(row, run_model),
                               passes=tuple(PassVerdict(n, True, ()) for n in names), reasons=tuple(reasons),
                               notes=tuple(notes), reviewer_decision=_text(row.get("reviewer_decision")))

    records, positions = restricted.records, restricted.positions(a, b)
    if records is None or positions is None:
        reasons = [f"not in pairs.parquet, which lists every pair at or above review_threshold {thresholds.review} "
                   f"and every pair one agency id joins: they were never compared, or scored below it; "
                   f"{LINK_RECORDS} would tell which, but {restricted.why}"]
        return PairExplanation(**base, where="", decision="not in pairs.parquet", reasons=tuple(reasons + through),
                               notes=tuple(notes))
    verdicts = tuple(pass_verdicts(records, *positions, settings.blocking))
    if not any(v.proposed for v in verdicts):
        reasons = ["never compared: no blocking pass brought them together (records are compared only when they "
                   "agree on every column of one pass)"]
        return PairExplanation(**base, where="", decision="never compared", passes=verdicts,
                               reasons=tuple(reasons + through), notes=tuple(notes))
    steps = recomputed(records, *positions, run_model, settings)
    p = _probability(sum(s.weight for s in steps))
    two = records.iloc[positions].reset_index(drop=True)
    reasons = []
    if bool(adult_conflict(two, np.array([0]), np.array([1]), settings)[0]):
        age = settings.identity.undated_min_age
        reasons.append("birth date told apart: one record is of a source listing adults without a birth date "
                       f"(identity.undated_means_adult), the other of someone under {age} at its extract date")
    if p < thresholds.cannot_link:
        decision = "two people (below cannot_link_below)"
        reasons.append(f"not linked: probability {p:.4f} is below cannot_link_below {thresholds.cannot_link}: two "
                       "people, and no person may hold both records")
    else:
        decision = "not linked (below the review band)"
        reasons.append(f"not linked: probability {p:.4f} is below review_threshold {thresholds.review}, so the pair "
                       "is left out of pairs.parquet")
    notes.append(f"recomputed from {LINK_RECORDS} with the run's model (pairs.parquet lists only the pairs in or above "
                 "the review band); a move known to the run is not seen here")
    if settings.model.name_frequency_cap > 0:
        notes.append("the name-frequency adjustment (w_name_frequency) is not recomputed")
    return PairExplanation(**base, where=f"{LINK_RECORDS} (recomputed)", decision=decision, steps=steps,
                           passes=verdicts, reasons=tuple(reasons + through), notes=tuple(notes))


def _prior_decides(steps: tuple[Step, ...], thresholds: Thresholds) -> list[str]:
    """A line when the prior alone takes the pair over the match threshold (every comparison together weighs
    against it, or not enough to matter): the link then rests on how common links are, not on these records."""
    comparisons = sum(s.weight for s in steps[1:])
    line = Thresholds.weight(thresholds.match)
    if steps[0].weight + comparisons >= line and comparisons < line:
        return [f"the comparisons together add {comparisons:+.2f} bits, which alone would not link the pair: the "
                f"prior ({steps[0].weight:+.2f}) carries it over the threshold"]
    return []


def _probability(weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** -max(min(weight, 60.0), -60.0))


def _through(run: Path, person: str, a: RecordRef, b: RecordRef) -> list[str]:
    path = _path(run, person, a, b)
    if path:
        return [f"one person ({person}) through other links: " + "; ".join(path)]
    return [f"one person ({person}) through their agency's own id or links below the review band "
            "(pairs.parquet shows no chain of links between them)"]


def _text(value: object) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _values(records: pd.DataFrame | None, positions: list[int] | None) -> pd.DataFrame | None:
    """Field, a, b: the two records' standardised values (identifying), for the restricted chart only."""
    if records is None or positions is None:
        return None
    fields = [f for f in VALUE_FIELDS if f in records.columns]
    two = records.iloc[positions][fields]
    return pd.DataFrame({"field": fields, "a": [_cell(v) for v in two.iloc[0]], "b": [_cell(v) for v in two.iloc[1]]})


def _cell(value: object) -> str:
    if value is None or (not isinstance(value, str | list | tuple | np.ndarray) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


# --------------------------------------------------------------------------- the terminal
BAR_WIDTH = 36


def axis(explanation: PairExplanation) -> tuple[float, float]:
    """The weights a waterfall spans: every running total, zero and the match threshold, with a margin."""
    totals = np.cumsum([s.weight for s in explanation.steps]) if explanation.steps else np.zeros(1)
    marks = [0.0, Thresholds.weight(explanation.thresholds.match), *totals.tolist(),
             explanation.steps[0].weight if explanation.steps else 0.0]
    lo, hi = min(marks), max(marks)
    pad = max((hi - lo) * 0.05, 0.5)
    return math.floor(lo - pad), math.ceil(hi + pad)


def _bar(start: float, end: float, lo: float, hi: float, width: int = BAR_WIDTH) -> str:
    """A text bar from `start` to `end` on an axis from lo to hi: █ where the weight rises, ░ where it falls,
    │ at zero."""
    def col(x: float) -> int:
        return min(width - 1, max(0, round((x - lo) / (hi - lo) * (width - 1))))

    cells = [" "] * width
    zero = col(0.0)
    cells[zero] = "│"
    a, b = sorted((col(start), col(end)))
    if abs(end - start) > 1e-12:
        for k in range(a, b + 1):
            cells[k] = "█" if end >= start else "░"
    return "".join(cells)


def text(explanation: PairExplanation, chart: str | None = None) -> str:
    """The explanation for the terminal: pseudonymous (record ids, keys, level names, weights), never a value."""
    x = explanation
    people = f"one person, {x.person_a}" if x.same_person else f"two people, {x.person_a} and {x.person_b}"
    lines = [x.title(), f"  run {x.run.resolve()}" + (f" (as of {x.as_of})" if x.as_of else ""),
             f"  {x.a.text()} and {x.b.text()} are {people}"]
    if x.compared:
        proposing = [v.name for v in x.passes if v.proposed]
        lines.append(f"  compared: proposed by {len(proposing)} blocking pass{'' if len(proposing) == 1 else 'es'}: "
                     + "; ".join(proposing))
        lines += waterfall_lines(x)
        lines.append(f"  weights from {x.where}")
    elif x.passes:
        lines.append("  blocking passes:")
        lines += [f"    {line}" for line in pass_lines(x.passes, x.a, x.b)]
    lines.append(f"  decision: {x.decision}" + (f" (reviewer: {x.reviewer_decision})" if x.reviewer_decision else ""))
    lines += [f"  {r}" for r in x.reasons]
    lines += [f"  note: {n}" for n in x.notes]
    if chart is not None:
        lines.append(f"  chart: {chart}")
    return "\n".join(lines)


def waterfall_lines(x: PairExplanation) -> list[str]:
    """The waterfall in text: each step's weight and a bar from the running total before it to after it."""
    lo, hi = axis(x)
    width = max(len(s.label) for s in x.steps)
    scale = f"{lo:+.0f}".ljust(BAR_WIDTH - 4) + f"{hi:+.0f}".rjust(4)
    lines = [f"  {'step (weight in bits: log2 of the odds)':<{width}} {'bits':>7}  {scale}"]
    running = 0.0
    for s in x.steps:
        lines.append(f"  {s.label:<{width}} {s.weight:>+7.2f}  {_bar(running, running + s.weight, lo, hi)}")
        running += s.weight
    lines.append(f"  {'= match weight':<{width}} {x.match_weight:>+7.2f}  {_bar(0.0, x.match_weight, lo, hi)}")
    t = x.thresholds
    lines.append(f"  probability {x.probability:.4f} = 1 / (1 + 2^-match weight); linked from {t.match} (weight "
                 f"{Thresholds.weight(t.match):+.2f}), clerical review from {t.review} (weight "
                 f"{Thresholds.weight(t.review):+.2f})")
    return lines
