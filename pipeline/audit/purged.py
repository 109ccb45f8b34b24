"""What the ledger records as purged: how `audit verify` tells a lawful deletion from tampering.

`python -m pipeline purge` (pipeline.audit.purge) writes two records per deletion into the ledger,
chained like every other: `purge` before it deletes anything (who, when, the run, the scope, every file
with its SHA-256, the retention rules), then `purge_completed` once everything it named is gone. A file
that a run lists but that is missing is accounted for only when a `purge` record of that very run names
it; after a completed purge nothing may be in its scope again (restricted/, or the whole folder).

A purge record is tied to one run entry (its ledger line, run id and the last hash of its lineage), so it
never covers a later run written into the same folder, and `purge_problem` checks that each record is
what the purge command would have written: tied to a run recorded before it, due by its own figures, and
(for a completion) to a purge record before it. Records edited after the fact break the ledger's chain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

PURGE, PURGE_COMPLETED = "purge", "purge_completed"  # ledger events


class Scope(StrEnum):
    """What a purge removes: the identifying copies under restricted/, or the whole run folder."""

    RESTRICTED = "restricted"
    RUN = "run"

    @property
    def what(self) -> str:
        return "restricted/" if self is Scope.RESTRICTED else "the whole run"


@dataclass(frozen=True)
class RecordedPurge:
    """One `purge` record of a run, and whether its `purge_completed` followed."""

    line: int  # the ledger line of the `purge` record
    hash: str  # and its hash, which its completion names
    scope: Scope
    processing_date: str
    at: str
    who: str
    rules: tuple[str, ...]  # each rule as "source: rule (N days)"
    files: frozenset[str]  # what it named for removal, relative to the run folder
    completed_line: int | None

    @property
    def completed(self) -> bool:
        return self.completed_line is not None

    def covers(self, name: str) -> bool:
        """Whether this purge named the file `name` (relative to the run folder) for removal."""
        return name in self.files

    def brief(self) -> str:
        """The purge in a few words, its rules left to the ledger line named."""
        done = "purged" if self.completed else "purge begun (interrupted)"
        return f"{self.scope.what} {done} on {self.processing_date} under its retention rule (ledger line {self.line})"

    def text(self) -> str:
        """The purge with every rule it was made under: what `audit verify` reports."""
        rules = "; ".join(self.rules)
        if self.completed:
            return f"{self.scope.what} purged on {self.processing_date} under {rules} (ledger line {self.line})"
        return (f"purge of {self.scope.what} begun on {self.processing_date} under {rules} (ledger line {self.line}) "
                f"was interrupted: run `python -m pipeline purge` to finish it")


def _rule_text(rule: object) -> str:
    if not isinstance(rule, dict):
        return str(rule)
    return f"{rule.get('source')}: {rule.get('rule')} ({rule.get('days')} days)"


def purges_of(records: list[dict], run_line: int, entry: dict) -> list[RecordedPurge]:
    """The purges the ledger records of the run entered at `run_line` (1-based), in ledger order."""
    completions = {(r.get("purge_line"), r.get("purge_hash")): i for i, r in enumerate(records, 1)
                   if r.get("event") == PURGE_COMPLETED}
    found = []
    for i, r in enumerate(records, 1):
        if i <= run_line or r.get("event") != PURGE or not _names_run(r, run_line, entry):
            continue
        try:
            scope = Scope(r.get("scope"))
        except ValueError:
            continue  # not a purge this code writes; purge_problem names it
        found.append(RecordedPurge(
            line=i, hash=str(r.get("hash")), scope=scope, processing_date=str(r.get("processing_date")),
            at=str(r.get("at")),
            who=str(r.get("who")), rules=tuple(_rule_text(x) for x in r.get("rules") or []),
            files=frozenset(str(f.get("path")) for f in r.get("files") or [] if isinstance(f, dict)),
            completed_line=completions.get((i, r.get("hash")))))
    return found


def _names_run(record: dict, run_line: int, entry: dict) -> bool:
    return (record.get("run_line") == run_line and record.get("run") == entry.get("run")
            and record.get("run_id") == entry.get("run_id")
            and record.get("lineage_last_hash") == entry.get("lineage_last_hash"))


def purge_problem(records: list[dict]) -> str | None:
    """The first purge or completion record that is not what `python -m pipeline purge` writes, named by line.

    A purge must name a run entered on an earlier line (same folder, run id and lineage), have a known
    scope, list its files and rules, and be due by its own figures (its processing date on or after the
    run's processing date plus the days of its rules); a completion must name an earlier purge record by
    line and hash. A correctly chained record forged at the end of the ledger is caught here unless it
    is consistent in every one of these, and then only a copy of the ledger's head kept elsewhere shows it.
    """
    for i, r in enumerate(records, 1):
        if r.get("event") == PURGE:
            line = r.get("run_line")
            run = records[line - 1] if isinstance(line, int) and 0 < line < i else None
            if run is None or run.get("event") != "run" or not _names_run(r, line, run):
                return f"ledger line {i} (purge): names no run recorded before it"
            if r.get("scope") not in set(Scope) or not isinstance(r.get("files"), list) or not r.get("rules"):
                return f"ledger line {i} (purge): not a purge record (scope, files or rules missing)"
            early = _early(r)
            if early:
                return f"ledger line {i} (purge): {early}"
        elif r.get("event") == PURGE_COMPLETED:
            line = r.get("purge_line")
            purge = records[line - 1] if isinstance(line, int) and 0 < line < i else None
            if purge is None or purge.get("event") != PURGE or purge.get("hash") != r.get("purge_hash"):
                return f"ledger line {i} (purge_completed): names no purge recorded before it"
    return None


def _early(record: dict) -> str | None:
    """Why the purge was not yet due by its own figures, or None when it was."""
    try:
        day = dt.date.fromisoformat(str(record.get("processing_date")))
        since = dt.date.fromisoformat(str(record.get("run_processing_date")))
        days = min(int(rule["days"]) for rule in record["rules"])
    except (ValueError, TypeError, KeyError):
        return "its dates or rules cannot be read"
    due = since + dt.timedelta(days=days)
    if day < due:
        return (f"removed {Scope(record['scope']).what} on {day} though its retention ran until {due} "
                f"({days} days from {since})")
    return None
