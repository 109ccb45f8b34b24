"""`python -m pipeline purge`: remove what a retention period has run out on, and record it in the ledger.

What goes, and when: for each run the ledger lists (the latest completed run of each folder), the periods
of pipeline.audit.retention, counted from the run's processing date with the shortest period among the
sources it used. Once `identifying_days` have passed, restricted/ goes: every identifying copy (landed
rows, linkage records, record tokens, the clerical review and its form, the caseworker export, the
ingest cache), while the pseudonymous outputs stay and still verify against their hashes. Once
`run_days` have passed, the whole run folder goes. The ledger keeps the run's summary (no personal
data): what ran, from which files under which gateways, and now when and under which rule its data went.

Order, so that a crash never leaves a file deleted without a record: the `purge` record (who, when, the
run, the scope, every file with its SHA-256 as found, the rules) is appended to the ledger and synced to
disk first; then the files are removed; then `purge_completed` is appended. A purge cut short leaves a
`purge` record without its completion: `audit verify` accepts the files it names as gone and says the
purge was interrupted, and the next purge finishes it (a new `purge` record for what is left, then its
completion). The worst a crash can do is leave recorded files in place, visibly; never the reverse.

The ledger and every run folder are treated as hostile. A run is purged only when `audit verify` finds it
intact (a run tampered with is left for investigation: deleting it would destroy the evidence, and the
purge record would bless it), when its folder's path leads where the ledger says with no symbolic link on
the way, when it looks like a run folder, and when it holds neither the ledger nor another run the
ledger lists. Inside it nothing is followed: a symbolic link is removed as a link and its target is left
alone (pipeline.audit.removal). A run whose retention cannot be established is left, and named.

Who: the operator named by PIPELINE_OPERATOR, else the account's user name; never anyone the data is about.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pipeline.audit.ledger import append_record, latest_entries, read_ledger
from pipeline.audit.purged import PURGE, PURGE_COMPLETED, RecordedPurge, Scope, purge_problem, purges_of
from pipeline.audit.removal import Entry, NotAFolder, listing, remove
from pipeline.audit.retention import Period, RetentionUnknown, RunRetention, retention_of
from pipeline.audit.trail import AuditUsage, is_run_folder, listed_outputs, read_trail, run_records
from pipeline.audit.verify import verify_run
from pipeline.config.gateways import Gateway
from pipeline.publish import RESTRICTED

OPERATOR_ENV = "PIPELINE_OPERATOR"


class PurgeError(Exception):
    """The purge cannot start at all (the ledger is not intact, another purge holds it): nothing is removed."""


class Action(StrEnum):
    """What the purge did with one run."""

    KEPT = "kept"                          # no period has run out
    PURGED = "purged"
    WOULD_PURGE = "would purge"            # --dry-run
    FINISHED = "finished"                  # an interrupted purge of a whole run, found gone: completion recorded
    ALREADY = "already purged"             # a completed purge left nothing to remove
    NOTHING = "nothing to remove"          # due, but the run holds no restricted/ (and none it lists is missing)
    REFUSED = "refused"                    # left alone, with the reason: needs someone to look
    INCOMPLETE = "incomplete"              # recorded, but something could not be removed

    @property
    def needs_attention(self) -> bool:
        return self in (Action.REFUSED, Action.INCOMPLETE)


@dataclass(frozen=True)
class RunPurge:
    """The purge's outcome for one run: what it did, in which scope, under which rules, with which files."""

    run: str
    action: Action
    reason: str = ""  # why kept or refused; what was left
    scope: Scope | None = None
    period: Period | None = None
    since: dt.date | None = None  # the run's processing date, that the period counts from
    files: tuple[Entry, ...] = ()
    ledger_lines: tuple[int, ...] = ()

    def lines(self) -> list[str]:
        """The outcome as the terminal shows it: a line for the run, then its rules and files."""
        head = f"{self.run}: {self.action.value}"
        if self.scope is not None:
            head += f" {self.scope.what}"
        if self.action in (Action.PURGED, Action.WOULD_PURGE, Action.FINISHED):
            head += f" ({len(self.files)} files"
            head += f"; ledger lines {', '.join(map(str, self.ledger_lines))})" if self.ledger_lines else ")"
        if self.reason:
            head += f": {self.reason}"
        out = [head]
        if self.period is not None and self.action is not Action.KEPT:
            out.append(f"  due on {self.period.due} ({self.period.days} days from the run's processing date "
                       f"{self.since}), under:")
            out += [f"    {rule.text()}" for rule in self.period.rules]
        verb = "would remove" if self.action is Action.WOULD_PURGE else "removed"
        if self.action in (Action.PURGED, Action.WOULD_PURGE, Action.INCOMPLETE):
            out += [f"  {verb} {e.path}" + (" (a symbolic link: removed as a link, not followed)"
                                            if e.kind == "symlink" else "") for e in self.files]
        return out


@dataclass(frozen=True)
class PurgeResult:
    """Every run's outcome, on which processing date, by whom, and whether it was a dry run."""

    ledger: Path
    processing_date: dt.date
    who: str
    dry_run: bool
    runs: tuple[RunPurge, ...]

    @property
    def needs_attention(self) -> bool:
        """Whether a run was refused or left incomplete: the command exits 1."""
        return any(r.action.needs_attention for r in self.runs)

    def text(self) -> str:
        mode = "Dry run (nothing removed, nothing recorded)" if self.dry_run else "Purge"
        lines = [f"{mode} on {self.processing_date} by {self.who}, ledger {self.ledger}:"]
        if not self.runs:
            lines.append("  the ledger lists no completed run")
        for run in self.runs:
            lines += run.lines()
        counts = {a: sum(r.action is a for r in self.runs) for a in Action}
        lines.append("Summary: " + ", ".join(f"{n} {a.value}" for a, n in counts.items() if n) if self.runs
                     else "Summary: nothing to do")
        if any(r.action in (Action.PURGED, Action.FINISHED) for r in self.runs):
            lines.append(f"Check: python -m pipeline audit verify {self.ledger}")
        return "\n".join(lines)


def operator(environ: dict[str, str] | None = None) -> str:
    """Who purges: PIPELINE_OPERATOR (one line, at most 100 characters), else the account's user name."""
    env = os.environ if environ is None else environ
    named = " ".join(env.get(OPERATOR_ENV, "").split())[:100]
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def _one_purge_at_a_time(ledger: Path) -> Iterator[None]:
    """A lock beside the ledger held for the whole purge, so two purges never work on one run together."""
    ledger.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(ledger.with_name(f".{ledger.name}.purge-lock"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PurgeError(f"another purge is running on the ledger {ledger}; nothing purged") from None
        yield
    finally:
        os.close(fd)


def purge(ledger: Path, gateways: dict[str, Gateway], who: str, processing_date: dt.date | None = None, *,
          dry_run: bool = False) -> PurgeResult:
    """Purge every run the ledger lists whose retention has run out on `processing_date` (see the module).

    The processing date is today unless given (tests and backfills); the purge records say which.
    """
    ledger = Path(ledger)
    processing_date_given = processing_date is not None
    processing_date = processing_date or dt.date.today()
    outcomes: list[RunPurge] = []
    if ledger.is_file():
        with _one_purge_at_a_time(ledger):
            records, problem = read_trail(ledger)
            problem = problem or purge_problem(records)
            if problem is not None:
                raise PurgeError(f"the ledger {ledger} is not intact ({problem}); nothing purged: check it with "
                                 f"python -m pipeline audit verify {ledger}")
            runs = sorted(latest_entries(records).values(), key=lambda item: item[0])
            folders = [Path(str(entry["run"])) for _, entry in runs]
            context = _Context(ledger, gateways, processing_date, processing_date_given, who, dry_run, folders)
            outcomes = [context.run(line, entry, records) for line, entry in runs]
    return PurgeResult(ledger, processing_date, who, dry_run, tuple(outcomes))


@dataclass(frozen=True)
class _Context:
    """One purge's settings, shared by every run it judges."""

    ledger: Path
    gateways: dict[str, Gateway]
    day: dt.date
    day_given: bool
    who: str
    dry_run: bool
    folders: list[Path]  # every run folder the ledger lists: none may be inside the one purged

    def run(self, line: int, entry: dict, records: list[dict]) -> RunPurge:
        """Judge one run and purge what is due."""
        name = str(entry.get("run"))
        if not Path(name).is_absolute():
            return RunPurge(name, Action.REFUSED, "the ledger names no absolute path for it; nothing purged")
        try:
            retention = retention_of(entry, self.gateways)
        except RetentionUnknown as exc:
            return RunPurge(name, Action.REFUSED, f"{exc}; nothing purged")
        if retention.run.over(self.day):
            scope, period = Scope.RUN, retention.run
        elif retention.identifying.over(self.day):
            scope, period = Scope.RESTRICTED, retention.identifying
        else:
            return RunPurge(name, Action.KEPT, f"restricted/ due on {retention.identifying.due}, the whole run on "
                                               f"{retention.run.due}")
        purges = purges_of(records, line, entry)
        done = [p for p in purges if p.completed and p.scope in (scope, Scope.RUN)]
        folder = Path(name)
        if done and not os.path.lexists(folder / RESTRICTED if scope is Scope.RESTRICTED else folder):
            return RunPurge(name, Action.ALREADY, f"on {done[-1].processing_date} (ledger line {done[-1].line})",
                            done[-1].scope)
        begun = [p for p in purges if p.scope is Scope.RUN and not p.completed]
        if scope is Scope.RUN and not os.path.lexists(folder):
            return self._finish(name, begun, scope, period, retention)
        unsafe = self._unsafe(folder, resuming=scope is Scope.RUN and bool(begun))
        if unsafe:
            return RunPurge(name, Action.REFUSED, f"{unsafe}; nothing purged", scope, period, retention.processing_date)
        base, top, prefix = (folder, RESTRICTED, RESTRICTED) if scope is Scope.RESTRICTED else \
            (folder.parent, folder.name, "")
        if scope is Scope.RESTRICTED and not os.path.lexists(folder / RESTRICTED):
            return RunPurge(name, Action.NOTHING, "it holds no restricted/", scope)
        try:
            files = tuple(listing(base, top, prefix))
        except (NotAFolder, OSError) as exc:
            return RunPurge(name, Action.REFUSED, f"{exc}; nothing purged", scope, period, retention.processing_date)
        if self.dry_run:
            return RunPurge(name, Action.WOULD_PURGE, "", scope, period, retention.processing_date, files)
        return self._remove(name, line, entry, scope, period, retention, files, base, top, prefix)

    def _unsafe(self, folder: Path, resuming: bool) -> str | None:
        """Why `folder` must not be purged, or None.

        `resuming`: a whole-run purge cut short, whose trail may already be gone, so it cannot verify.
        """
        if os.path.realpath(folder) != str(folder):
            return f"its path does not lead to {folder} itself (a symbolic link on the way, or not a normal path)"
        if folder.is_symlink() or not folder.is_dir():
            return "it is not a folder"
        if Path(os.path.realpath(self.ledger)).is_relative_to(folder):
            return "it holds the ledger itself"
        inside = [f for f in self.folders if f != folder and f.is_relative_to(folder) and os.path.lexists(f)]
        if inside:
            return f"it holds another run the ledger lists ({inside[0]})"
        if resuming:
            return None
        if not is_run_folder(folder):
            return "it does not look like a run folder"
        verdict = verify_run(folder, self.ledger)
        if verdict.problem is not None:
            return (f"audit verify finds it not intact ({verdict.problem}); investigate first: purging would destroy "
                    f"the evidence")
        return None

    def _finish(self, name: str, begun: list[RecordedPurge], scope: Scope, period: Period,
                retention: RunRetention) -> RunPurge:
        """A run folder that is gone: the end of an interrupted purge (recorded), or a deletion no purge made."""
        if not begun:
            return RunPurge(name, Action.REFUSED, "its folder is gone and no purge recorded removing it (audit verify "
                                                  "reports it); nothing recorded", scope, period,
                            retention.processing_date)
        purge = begun[-1]
        if self.dry_run:
            return RunPurge(name, Action.WOULD_PURGE, f"record the end of the {purge.text()}", scope, period,
                            retention.processing_date)
        completed, _ = self._append({"event": PURGE_COMPLETED, "purge_line": purge.line,
                                     "purge_hash": purge.hash, "run": name,
                                     "scope": scope.value, "who": self.who, "removed": None,
                                     "note": "the run folder was found gone: the interrupted purge had removed it"})
        return RunPurge(name, Action.FINISHED, f"the interrupted purge at ledger line {purge.line} had removed it",
                        scope, period, retention.processing_date, ledger_lines=(completed,))

    def _remove(self, name: str, line: int, entry: dict, scope: Scope, period: Period, retention: RunRetention,
                files: tuple[Entry, ...], base: Path, top: str, prefix: str) -> RunPurge:
        """Record the purge, remove what it names, record its completion (see the module for why in this order)."""
        try:
            listed = {file for _, file, _ in listed_outputs(run_records(Path(name)))}
        except (AuditUsage, OSError):  # a whole-run purge resumed after its lineage went: nothing it lists to mark
            listed = set()
        intent = {
            "event": PURGE, "who": self.who, "processing_date": self.day.isoformat(),
            "processing_date_given": self.day_given, "run": name, "run_line": line, "run_id": entry.get("run_id"),
            "lineage_last_hash": entry.get("lineage_last_hash"),
            "run_processing_date": retention.processing_date.isoformat(),
            "run_processing_date_from": retention.dated_by, "scope": scope.value, "due": period.due.isoformat(),
            "rules": [rule.record() for rule in period.rules],
            "files": [{**f.record(), "listed": f.path in listed} for f in files]}
        purge_line, purge_hash = self._append(intent)
        removal = remove(base, top, prefix, list(files))
        if removal.left:
            return RunPurge(name, Action.INCOMPLETE, f"not removed: {'; '.join(removal.left)} (the purge stays "
                                                     f"recorded at ledger line {purge_line} without its completion; "
                                                     f"purge again once they can be)", scope, period,
                            retention.processing_date, files, (purge_line,))
        done_line, _ = self._append({"event": PURGE_COMPLETED, "purge_line": purge_line, "purge_hash": purge_hash,
                                     "run": name, "scope": scope.value, "who": self.who,
                                     "removed": len(removal.removed)})
        return RunPurge(name, Action.PURGED, "", scope, period, retention.processing_date, files,
                        (purge_line, done_line))

    def _append(self, fields: dict) -> tuple[int, str]:
        """Append a record to the ledger; its line (a run may append meanwhile: found by its hash) and its hash."""
        record = append_record(fields, self.ledger)
        records, _ = read_ledger(self.ledger)
        return next(i for i, r in enumerate(records, 1) if r.get("hash") == record["hash"]), record["hash"]

