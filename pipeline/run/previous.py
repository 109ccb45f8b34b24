"""The previous month's run, as `--previous` names it: read, checked, and never trusted blindly.

An earlier run folder is hostile input like any extract: it may have been edited, cut short,
made with another key or by another rule set. It is used only when its audit trail is intact (its
lineage chain, its output files' SHA-256, restricted files it hands on included, and its ledger
entry: `pipeline.audit.verify`), it still holds its restricted/ files (a run whose identifying data a
retention purge removed is refused, naming the purge: carrying keys on from its pseudonymous tables
alone would drop the reviewers' decisions and the model step without a word), it
completed, and it was made with this run's key; a different rule set is allowed with a warning
(criteria then change by definition). Only pseudonymous tables are read: record_links,
households and key_history, and from restricted/ only the reviewers' decisions (record ids and
MATCH / NOT_MATCH), so that a decided pair stays decided, the keyed agency tokens of each record
(never the tokens themselves), so that people are found again when an agency re-issues record ids,
and each record's standardised identity (link_records.parquet: names, birth date, address), so that
this run's model can find again a person that neither record ids nor tokens do. Those are
identifying: they are read into memory for matching and nothing of them is logged or written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.audit.ledger import PUBLISHED
from pipeline.audit.lineage import parse_lines
from pipeline.audit.trail import listed_outputs
from pipeline.audit.verify import verify_gone, verify_run
from pipeline.link.continuity import RECORD_KEY, empty_history
from pipeline.link.review import DECISIONS_FILE, Decisions, ReviewFormError, read_decisions
from pipeline.publish import LINEAGE, RESTRICTED
from pipeline.run.failure import RunError

KEY_HISTORY = "key_history.parquet"
TOKENS = "record_tokens.parquet"  # under restricted/
LINK_RECORDS = "link_records.parquet"  # under restricted/: identifying


@dataclass(frozen=True)
class PreviousRun:
    """What this run takes from the previous month's: who was who, which families, and since when."""

    folder: Path
    run_id: str
    as_of: dt.date
    rule_set: str
    links: pd.DataFrame  # source, source_record_id, person_key, household_key, person_first_seen
    households: pd.DataFrame  # household_key, members, eligible, the criteria, address_key, first_seen
    key_history: pd.DataFrame  # pipeline.link.continuity.HISTORY_COLUMNS
    decisions: Decisions | None = None  # every reviewer's decision applied so far (restricted/review_decisions.csv)
    tokens: pd.DataFrame | None = None  # restricted/record_tokens.parquet: keyed agency tokens per record
    link_records: pd.DataFrame | None = None  # restricted/link_records.parquet: identifying, for the model step

    def record(self) -> dict:
        """For the lineage's run_start and the OpenLineage START: which run this one follows."""
        return {"folder": str(self.folder), "run_id": self.run_id, "as_of": self.as_of.isoformat(),
                "rule_set": self.rule_set}


def load_previous(folder: Path, fingerprint: str, rule_set: str, as_of: dt.date) -> tuple[PreviousRun, list[str]]:
    """The previous run in `folder`, and warnings; RunError naming the folder and what is wrong with it."""
    folder = Path(folder)
    where = f"--previous {folder}"
    if not (folder / LINEAGE).is_file():
        gone = verify_gone(folder)
        if gone is not None and gone.problem is None:
            raise RunError(f"{where} is no longer there: {gone.purges[-1].brief()}; name a later run, or run without "
                           f"--previous to begin a new chain of keys")
        raise RunError(f"{where} is not a run's output folder (no {LINEAGE})")
    verdict = verify_run(folder)
    if verdict.problem is not None:
        raise RunError(f"{where} cannot be trusted: {verdict.problem}")
    if verdict.purges:
        # Its pseudonymous tables are still there, but carrying keys on without the identifying files would
        # quietly lose the reviewers' decisions and find fewer people again: refused, not half done.
        raise RunError(f"{where} no longer holds its identifying data ({verdict.purges[-1].brief()}): its people "
                       f"cannot be found again without {RESTRICTED}/{LINK_RECORDS}, {TOKENS} and {DECISIONS_FILE}. "
                       f"Name a later run that still holds them, or run without --previous to begin a new chain "
                       f"of keys (first-seen dates and key history start again)")
    records, _ = parse_lines((folder / LINEAGE).read_text(encoding="utf-8"))
    start, end = records[0], records[-1]
    if end.get("status") not in PUBLISHED:
        raise RunError(f"{where} did not complete (status {end.get('status')})")
    if start.get("key_fingerprint") is None:
        raise RunError(f"{where} records no key fingerprint (it was made before monthly operation); run "
                       f"without --previous once to start the chain")
    if start["key_fingerprint"] != fingerprint:
        raise RunError(f"{where} was made with another pseudonymisation key ({start['key_fingerprint']}, this "
                       f"run's is {fingerprint}): its keys cannot be carried on")
    params = start.get("parameters") or {}
    previous_as_of = dt.date.fromisoformat(str(params.get("as_of")))
    if previous_as_of > as_of:
        raise RunError(f"{where} is as of {previous_as_of}, after this run's {as_of}")
    warnings = []
    if params.get("rules") != rule_set:
        warnings.append(f"--previous {folder} was scored under {params.get('rules')}, this run under {rule_set}: "
                        f"eligibility changes may come from the rules, not the families")
    try:
        links = pd.read_parquet(folder / "record_links.parquet")
        households = pd.read_parquet(folder / "households.parquet")
        history = pd.read_parquet(folder / KEY_HISTORY) if (folder / KEY_HISTORY).is_file() else None
    except (OSError, ValueError) as exc:
        raise RunError(f"{where}: its tables cannot be read ({type(exc).__name__})") from None
    tokens = None
    if _handed_on(folder, TOKENS, records, where):
        try:
            tokens = pd.read_parquet(folder / RESTRICTED / TOKENS, columns=["source", "source_record_id", "token_key"])
        except (OSError, ValueError, KeyError) as exc:
            raise RunError(f"{where}: its record tokens cannot be read ({type(exc).__name__})") from None
    link_records = None
    if _handed_on(folder, LINK_RECORDS, records, where):
        try:
            link_records = pd.read_parquet(folder / RESTRICTED / LINK_RECORDS)
        except (OSError, ValueError) as exc:
            raise RunError(f"{where}: its linkage records cannot be read ({type(exc).__name__})") from None
        lacking = sorted(set(RECORD_KEY) - set(link_records.columns))
        if lacking:
            raise RunError(f"{where}: its linkage records lack {', '.join(lacking)}")
    decisions = None
    if _handed_on(folder, DECISIONS_FILE, records, where):
        try:
            decisions = read_decisions(folder / RESTRICTED / DECISIONS_FILE)
        except ReviewFormError as exc:
            raise RunError(f"{where}: its review decisions cannot be read: {exc}") from None
    return PreviousRun(folder=folder.resolve(), run_id=str(start.get("run_id")), as_of=previous_as_of,
                       rule_set=str(params.get("rules")), links=links, households=households,
                       key_history=history if history is not None else empty_history(),
                       decisions=decisions, tokens=tokens, link_records=link_records), warnings


def _handed_on(folder: Path, name: str, records: list[dict], where: str) -> bool:
    """Whether the run handed on restricted/`name`: there, and listed as an output (so `verify_run`
    has checked its SHA-256). A file there that the lineage does not list is refused, never read."""
    path = f"{RESTRICTED}/{name}"
    if not (folder / path).is_file():
        return False
    if path not in {file for _, file, _ in listed_outputs(records)}:
        raise RunError(f"{where}: {path} is not one the run wrote (its lineage does not list it)")
    return True
