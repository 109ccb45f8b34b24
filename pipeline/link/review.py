"""Clerical review that stays decided: the reviewer's form, and their decisions applied in later runs.

A run puts the pairs it is unsure of to a reviewer (restricted/clerical_review.parquet). The
reviewer gets them as a form they can fill in a spreadsheet (`review_form`: both records side by
side, and the columns decision MATCH / NOT_MATCH, reviewer, reviewed_on, note). A later run given
the filled form (`--decisions FILE`) applies each decision as must-link or cannot-link.

Decisions name records (source and source_record_id), not people or keys, so they survive from
month to month while the agencies keep their records. A decision whose records are not both in
this run is *stale*: reported, never applied to other records. A decided pair is not put to
review again. The form is identifying (names, dates of birth, addresses): it is written under
restricted/, readable by its owner alone, and nothing of it but counts and its SHA-256 reaches
the lineage.
"""

from __future__ import annotations

import csv
import io
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.link.tables import REVIEW_FIELDS

MATCH, NOT_MATCH = "MATCH", "NOT_MATCH"
RECORD_COLUMNS = ["source_a", "source_record_id_a", "source_b", "source_record_id_b"]
FILLED_IN = ["decision", "reviewer", "reviewed_on", "note"]


class ReviewFormError(Exception):
    """A decisions file that cannot be applied: the message names the file, row and column."""


EXPLAIN_COLUMN = "explain_pair"  # per pair, the command that shows why the model weighed it as it did


def explain_commands(review: pd.DataFrame, run: Path) -> pd.Series:
    """Per review pair, the `explain-pair` command line for it in the run folder `run` (quoted for a shell).

    A reviewer unsure of a pair sees the waterfall behind its probability (and with --values, both records
    in a chart kept under restricted/) by pasting one line.
    """
    folder = shlex.quote(str(Path(run).resolve()))
    commands = [f"python -m pipeline explain-pair {shlex.quote(f'{sa}:{ia}')} {shlex.quote(f'{sb}:{ib}')} "
                f"--run {folder}"
                for sa, ia, sb, ib in zip(review["source_a"].astype(str), review["source_record_id_a"].astype(str),
                                          review["source_b"].astype(str), review["source_record_id_b"].astype(str),
                                          strict=True)]
    return pd.Series(commands, index=review.index, dtype="string")


def with_explain_commands(review: pd.DataFrame, run: Path) -> pd.DataFrame:
    """The review pairs with their `explain-pair` command lines (restricted/clerical_review.parquet)."""
    return review.assign(**{EXPLAIN_COLUMN: explain_commands(review, run)})


def review_form(review: pd.DataFrame, run: Path | None = None) -> bytes:
    """The clerical review pairs as a CSV form: what to fill in first, then both records side by side, and
    last the command that explains each pair (for the run folder `run` when given: where the form's reader
    finds the run, which may have moved since it was written)."""
    fields = [f"{f}_{side}" for f in REVIEW_FIELDS for side in ("a", "b")]
    if run is not None:
        review = with_explain_commands(review, run)
    form = review.reindex(columns=["match_probability", *fields, *([EXPLAIN_COLUMN] if EXPLAIN_COLUMN in review
                                                                   else [])]).copy()
    for column in reversed(FILLED_IN):
        form.insert(0, column, "")
    form.insert(0, "pair", np.arange(1, len(form) + 1))
    form["match_probability"] = form["match_probability"].round(4)
    return form.to_csv(index=False, lineterminator="\n").encode("utf-8")


@dataclass(frozen=True)
class Decisions:
    """The decided pairs of a form, and what it held."""

    pairs: pd.DataFrame  # RECORD_COLUMNS + decision (MATCH or NOT_MATCH)
    rows: int
    undecided: int


DECISIONS_FILE = "review_decisions.csv"  # under restricted/: every decision so far, carried from run to run


def decisions_csv(decisions: Decisions) -> bytes:
    """The decisions a run applied, for the next run to apply again (record ids and decisions only)."""
    return decisions.pairs.to_csv(index=False, lineterminator="\n").encode("utf-8")


def combined(earlier: Decisions | None, given: Decisions | None) -> Decisions | None:
    """Earlier months' decisions with this month's form; a pair decided again takes the newer decision."""
    parts = [d for d in (earlier, given) if d is not None]
    if not parts:
        return None
    pairs = pd.concat([d.pairs for d in parts], ignore_index=True)
    ordered = pairs.assign(a=pairs["source_a"] + "\x1f" + pairs["source_record_id_a"],
                           b=pairs["source_b"] + "\x1f" + pairs["source_record_id_b"])
    lo, hi = ordered[["a", "b"]].min(axis=1), ordered[["a", "b"]].max(axis=1)
    keep = ~pd.DataFrame({"lo": lo, "hi": hi}).duplicated(keep="last").to_numpy()
    return Decisions(pairs=pairs[keep].reset_index(drop=True), rows=sum(d.rows for d in parts),
                     undecided=sum(d.undecided for d in parts))


def read_decisions(path: Path) -> Decisions:
    """A filled-in form; ReviewFormError naming the file, row and column of the first thing wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewFormError(f"decisions file {path} cannot be read ({type(exc).__name__})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in (*RECORD_COLUMNS, "decision") if c not in (reader.fieldnames or [])]
    if missing:
        raise ReviewFormError(f"{path}: no column {missing[0]} (is it the form `review export` wrote?)")
    rows, undecided = [], 0
    for line, row in enumerate(reader, 2):
        decision = (row.get("decision") or "").strip().upper().replace(" ", "_")
        if not decision:
            undecided += 1
            continue
        if decision not in (MATCH, NOT_MATCH):
            raise ReviewFormError(f"{path}: row {line}, column decision: {row['decision']!r} is not "
                                  f"{MATCH}, {NOT_MATCH} or blank")
        for column in RECORD_COLUMNS:
            if not (row.get(column) or "").strip():
                raise ReviewFormError(f"{path}: row {line}, column {column}: blank (the pair's records are needed)")
        rows.append({**{c: row[c].strip() for c in RECORD_COLUMNS}, "decision": decision})
    pairs = pd.DataFrame(rows, columns=[*RECORD_COLUMNS, "decision"])
    # The last decision on a pair stands (a reviewer may correct themselves further down the sheet).
    pairs = pairs.drop_duplicates(RECORD_COLUMNS, keep="last").reset_index(drop=True)
    return Decisions(pairs=pairs, rows=len(rows) + undecided, undecided=undecided)


@dataclass(frozen=True)
class Applied:
    """Decisions as record positions of this run: must-link and cannot-link pairs, and how many were stale."""

    must: pd.DataFrame  # i, j
    cannot: pd.DataFrame  # i, j
    stale: int
    match_held: int | None = None  # MATCH pairs that ended as one person (others broke a harder rule)

    def held(self, label: np.ndarray) -> Applied:
        """The same decisions, counting the MATCH pairs that did end in one person under `label`."""
        together = label[self.must["i"].to_numpy()] == label[self.must["j"].to_numpy()]
        return Applied(must=self.must, cannot=self.cannot, stale=self.stale, match_held=int(together.sum()))

    def counts(self) -> dict[str, int]:
        """What the lineage and the terminal say: applied, held, stale (no values, only counts)."""
        held = len(self.must) if self.match_held is None else self.match_held
        return {"match_applied": len(self.must), "match_held": held,
                "match_refused": len(self.must) - held, "not_match_applied": len(self.cannot), "stale": self.stale}


def apply_to(decisions: Decisions, records: pd.DataFrame) -> Applied:
    """Each decided pair as positions in `records` (source, source_record_id); stale when a record is gone."""
    position = pd.Series(np.arange(len(records)), index=pd.MultiIndex.from_arrays(
        [records["source"].astype(str).to_numpy(), records["source_record_id"].astype(str).to_numpy()]))
    position = position[~position.index.duplicated()]
    pairs = decisions.pairs
    i = position.reindex(pd.MultiIndex.from_arrays([pairs["source_a"], pairs["source_record_id_a"]])).to_numpy()
    j = position.reindex(pd.MultiIndex.from_arrays([pairs["source_b"], pairs["source_record_id_b"]])).to_numpy()
    found = ~(np.isnan(i.astype(float)) | np.isnan(j.astype(float)))
    frame = pd.DataFrame({"i": i[found].astype(np.int64), "j": j[found].astype(np.int64),
                          "decision": pairs["decision"].to_numpy()[found]})
    return Applied(must=frame.loc[frame["decision"] == MATCH, ["i", "j"]].reset_index(drop=True),
                   cannot=frame.loc[frame["decision"] == NOT_MATCH, ["i", "j"]].reset_index(drop=True),
                   stale=int((~found).sum()))


def reviewer_decision(i: np.ndarray, j: np.ndarray, applied: Applied | None) -> pd.Series:
    """Per candidate pair (i, j), the reviewer's MATCH or NOT_MATCH (either order), else missing."""
    out = pd.Series(pd.NA, index=range(len(i)), dtype="string")
    if applied is None or not len(i):
        return out
    width = np.int64(max(int(np.max(i)), int(np.max(j)), *applied.must.max(), *applied.cannot.max(), 0) + 1)
    pair = np.minimum(i, j).astype(np.int64) * width + np.maximum(i, j)
    for frame, word in ((applied.must, MATCH), (applied.cannot, NOT_MATCH)):
        a, b = frame["i"].to_numpy(np.int64), frame["j"].to_numpy(np.int64)
        out[np.isin(pair, np.minimum(a, b) * width + np.maximum(a, b))] = word
    return out
