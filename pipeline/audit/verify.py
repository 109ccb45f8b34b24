"""`audit verify`: a run folder (its lineage chain and shape, its output files' SHA-256, its ledger
entry) or the cross-run ledger (its chain, and that every completed run it lists is still in its folder).

Retention is part of both: a file or folder that `python -m pipeline purge` removed under a recorded
`purge` (pipeline.audit.purged) is accounted for and reported as purged, on which day and under which
rule; one missing without such a record is still "not intact", and so is one back after its purge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.audit.ledger import DEFAULT_LEDGER, FAILED, LINEAGE, latest_entries, ledger_path, read_ledger
from pipeline.audit.lineage import ChainProblem, parse_lines, sha256_file
from pipeline.audit.purged import RecordedPurge, Scope, purge_problem, purges_of
from pipeline.audit.trail import (
    BAD,
    OK,
    AuditUsage,
    entry_in,
    is_run_folder,
    listed_outputs,
    output_status,
    read_trail,
)
from pipeline.publish import OPENLINEAGE, RESTRICTED


@dataclass
class Verdict:
    """What `verify` found: the first problem (None when intact) and the one-line account either way.

    `purges` are the recorded purges the verdict relied on (a run's own), `notes` one line per purged
    run of a ledger, printed under the account.
    """

    problem: str | None
    account: str
    purges: tuple[RecordedPurge, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def code(self) -> int:
        return OK if self.problem is None else BAD

    def __str__(self) -> str:
        if self.problem is not None:
            return f"not intact: {self.problem}"
        return "\n".join([self.account, *(f"  {note}" for note in self.notes)])


def _shape_problem(records: list[dict]) -> ChainProblem | None:
    """A published run's trail starts with run_start and ends with its one run_end.

    The chain alone cannot show records cut from the end, nor a forged, correctly chained
    record appended after run_end: this catches both.
    """
    if not records:
        return ChainProblem(1, None, "the lineage is empty")
    if records[0].get("event") != "run_start":
        return ChainProblem(1, records[0].get("event"), "the trail does not start with run_start")
    for i, r in enumerate(records[1:], 2):
        if r.get("event") == "run_start":
            return ChainProblem(i, "run_start", "a second run_start (inserted)")
        if r.get("event") == "run_end" and i < len(records):
            return ChainProblem(i + 1, records[i].get("event"), "after run_end (inserted)")
    if records[-1].get("event") != "run_end":
        n = len(records)
        return ChainProblem(n, records[-1].get("event"), f"the trail ends at line {n} without run_end: records were "
                                                         "removed from its end, or the run never completed")
    return None


def _in_scope(purge: RecordedPurge, name: str) -> bool:
    """Whether `name` (relative to the run folder) lies in what the purge removes."""
    return purge.scope is Scope.RUN or name.startswith(f"{RESTRICTED}/")


def standing(purges: list[RecordedPurge]) -> list[RecordedPurge]:
    """Per scope, the purge that stands: the latest completed one, else the latest begun (an interrupted one)."""
    out = []
    for scope in Scope:
        mine = [p for p in purges if p.scope is scope]
        done = [p for p in mine if p.completed]
        if mine:
            out.append((done or mine)[-1])
    return out


def _output_problem(run_dir: Path, records: list[dict],
                    purges: list[RecordedPurge]) -> tuple[str | None, int, int]:
    """The first listed output file that is missing or no longer has its recorded SHA-256; and how many match
    and how many a recorded purge removed.

    A missing file is accounted for only by a purge that named it; one present again after a completed
    purge of its scope is named.
    """
    listed = listed_outputs(records)
    checked: set[str] = set()
    matching = purged = 0
    for line, name, sha in listed:
        if name in checked:
            continue
        checked.add(name)
        status = output_status(run_dir, name, sha)
        done = next((p for p in purges if p.completed and _in_scope(p, name)), None)
        if done is not None and status != "missing":
            return f"output file {name} (listed at lineage line {line}) is present again after {done.text()}", 0, 0
        if status == "missing" and any(p.covers(name) for p in purges):
            purged += 1
            continue
        if status != "matches":
            what = {"changed": "has changed since the run (its SHA-256 differs from the lineage's)",
                    "missing": "is missing"}.get(status, "is outside the run folder")
            return f"output file {name} (listed at lineage line {line}) {what}", 0, 0
        matching += 1
    return None, matching, purged


def _purge_records_problem(purges: list[RecordedPurge], ledger: Path) -> str | None:
    """Whether the purge records relied on can be: the ledger's chain and its purge records intact."""
    if not purges:
        return None
    records, problem = read_trail(ledger)
    problem = problem or purge_problem(records)
    if problem is not None:
        return f"the ledger {ledger}, whose purge records account for removed files, is not intact: {problem}"
    return None


def _back_problem(run_dir: Path, purges: list[RecordedPurge]) -> str | None:
    """Whether anything is back in the scope of a completed purge: the run folder, or restricted/."""
    for p in purges:
        if p.completed and p.scope is Scope.RUN and os.path.lexists(run_dir):
            return f"the run folder is present again after {p.text()}"
        if p.completed and os.path.lexists(run_dir / RESTRICTED):
            return f"{RESTRICTED}/ is present again after {p.text()}"
    return None


def _ledger_problem(run_dir: Path, records: list[dict], found: tuple[int, dict] | None) -> tuple[str | None, str]:
    """Whether the lineage is the one the ledger recorded: a trail rewritten with a recomputed chain is caught here."""
    if found is None:
        return None, "no ledger entry for this folder"
    line, entry = found
    if records[-1].get("hash") != entry.get("lineage_last_hash"):
        return (f"ledger line {line} records a different trail for this folder: its last hash differs "
                f"(the run was replaced or its lineage rewritten)"), ""
    if sha256_file(run_dir / LINEAGE) != entry.get("lineage_sha256"):
        return f"ledger line {line}: lineage.jsonl is not byte-identical to the file the ledger recorded", ""
    changed = _events_problem(run_dir, entry)
    if changed:
        return f"ledger line {line}: {changed}", ""
    return None, f"matches ledger line {line}"


def _events_problem(run_dir: Path, entry: dict) -> str | None:
    """Whether openlineage.jsonl is the file the ledger sealed (entries from before the ledger sealed it: no check)."""
    if "openlineage_sha256" not in entry:
        return None
    path = run_dir / OPENLINEAGE
    recorded = entry["openlineage_sha256"]
    if not path.is_file():
        return f"{OPENLINEAGE} is missing" if recorded else None
    if sha256_file(path) != recorded:
        return f"{OPENLINEAGE} is not byte-identical to the file the ledger recorded"
    return None


def _ledger_of(ledger: Path | None) -> tuple[Path, list[dict]]:
    path = Path(ledger) if ledger is not None else ledger_path()
    return path, (read_ledger(path)[0] if path.is_file() else [])


def verify_gone(run_dir: Path, ledger: Path | None = None) -> Verdict | None:
    """The verdict on a run folder no longer there (or half removed, its lineage gone) when the ledger records
    a purge of the whole run; None when it records none, and the folder's absence is then no purge's doing."""
    ledger, records = _ledger_of(ledger)
    found = entry_in(records, run_dir)
    whole = [p for p in purges_of(records, *found) if p.scope is Scope.RUN] if found else []
    if not whole:
        return None
    problem = _purge_records_problem(whole, ledger) or _back_problem(run_dir, whole)
    if problem is not None:
        return Verdict(f"{run_dir}: {problem}", "")
    return Verdict(None, f"intact: {standing(whole)[0].text()}; the run is recorded at ledger line {found[0]}",
                   purges=tuple(whole))


def verify_run(run_dir: Path, ledger: Path | None = None) -> Verdict:
    """The run folder's lineage chain and shape, its output files (and its purges), and its ledger entry."""
    lineage = run_dir / LINEAGE
    if not lineage.is_file():
        return verify_gone(run_dir, ledger) or Verdict(f"{lineage}: missing", "")
    records, problem = read_trail(lineage)
    problem = problem or _shape_problem(records)
    if problem is not None:
        return Verdict(f"{lineage}: {problem}", "")
    ledger, ledger_records = _ledger_of(ledger)
    found = entry_in(ledger_records, run_dir)
    # Published nothing, so the outputs its stages named never were: a failed run_end, or a trail sealed
    # as complete whose publication then failed (its kept trail's ledger entry says failed).
    failed = FAILED in (records[-1].get("status"), found[1].get("status") if found else None)
    purges = [] if failed or found is None else purges_of(ledger_records, *found)
    outputs_problem = _purge_records_problem(purges, ledger)
    outputs, purged = 0, 0
    if outputs_problem is None and not failed:
        outputs_problem, outputs, purged = _output_problem(run_dir, records, purges)
    outputs_problem = outputs_problem or _back_problem(run_dir, purges)
    if outputs_problem:
        return Verdict(f"{run_dir}: {outputs_problem}", "")
    ledger_problem, ledger_note = _ledger_problem(run_dir, records, found)
    if ledger_problem:
        return Verdict(f"{run_dir}: {ledger_problem}", "")
    outputs_note = "a failed run: nothing was published" if failed else \
        f"{outputs} output files match their SHA-256"
    purge_notes = [p.text() for p in standing(purges)]
    if purged:
        purge_notes[0] = f"{purged} listed output files removed: {purge_notes[0]}"
    return Verdict(None, "; ".join([f"intact: {len(records)} records", outputs_note, *purge_notes, ledger_note]),
                   purges=tuple(purges))


def _run_problem(line: int, entry: dict) -> str | None:
    """Whether the folder a completed ledger entry names still holds that run's lineage."""
    folder = Path(str(entry["run"]))
    lineage = folder / LINEAGE
    if not folder.is_dir():
        return f"ledger line {line}: run folder {folder} no longer exists (the run was deleted)"
    if not lineage.is_file():
        return f"ledger line {line}: run folder {folder} has no lineage.jsonl (deleted)"
    records, _ = parse_lines(lineage.read_text(encoding="utf-8"))
    last = records[-1].get("hash") if records else None
    if last != entry.get("lineage_last_hash"):
        return (f"ledger line {line}: run folder {folder} holds a different trail (its last hash differs): "
                f"the run was replaced or its lineage rewritten")
    if sha256_file(lineage) != entry.get("lineage_sha256"):
        return f"ledger line {line}: run folder {folder}: lineage.jsonl has changed since the ledger entry"
    changed = _events_problem(folder, entry)
    return f"ledger line {line}: run folder {folder}: {changed}" if changed else None


def verify_ledger(path: Path) -> Verdict:
    """The ledger's chain and purge records, then each folder's latest completed run, in ledger order.

    A run the ledger records as purged whole must be gone; one purged of restricted/ must still hold its
    lineage, and no restricted/. Each purged run is named under the account, with its day and rule.
    """
    records, problem = read_trail(path)
    problem = problem or purge_problem(records)
    if problem is not None:
        return Verdict(f"{path}: {problem}", "")
    runs = sorted(latest_entries(records).values(), key=lambda item: item[0])
    present, notes = 0, []
    for line, entry in runs:
        folder = Path(str(entry["run"]))
        purges = standing(purges_of(records, line, entry))
        whole = next((p for p in purges if p.scope is Scope.RUN), None)
        restricted = next((p for p in purges if p.scope is Scope.RESTRICTED), None)
        if whole is not None and whole.completed and os.path.lexists(folder):
            found = f"ledger line {line}: run folder {folder} is present again after {whole.text()}"
        elif whole is not None:
            notes.append(f"{folder}: {whole.text()}")
            continue
        else:
            found = _run_problem(line, entry)
        if found is None and restricted is not None and restricted.completed \
                and os.path.lexists(folder / RESTRICTED):
            found = f"ledger line {line}: run folder {folder}: {RESTRICTED}/ is present again after {restricted.text()}"
        if found:
            return Verdict(f"{path}: {found}", "")
        present += 1
        if restricted is not None:
            notes.append(f"{folder}: {restricted.text()}")
    head = records[-1]["hash"] if records else "none"
    gone = len(runs) - present
    purged = f"; {gone} purged whole under their retention" if gone else ""
    return Verdict(None, f"intact: {len(records)} records; {present} completed run folders present and unchanged"
                         f"{purged}; head {head} (keep a copy elsewhere: cutting the newest entries is detectable "
                         f"only against it)", notes=tuple(notes))


def verify(path: Path, ledger: Path | None = None) -> Verdict:
    """Verify a run folder (or its lineage.jsonl) or the ledger (its file, or the folder holding it)."""
    path = Path(path)
    if path.is_file() and path.name == LINEAGE:
        return verify_run(path.parent, ledger)
    if is_run_folder(path):
        return verify_run(path, ledger)
    if path.is_dir() and (path / DEFAULT_LEDGER.name).is_file():
        return verify_ledger(path / DEFAULT_LEDGER.name)
    if path.is_file() and path.suffix == ".jsonl":
        return verify_ledger(path)
    gone = None if path.is_file() else verify_gone(path, ledger)
    if gone is not None:
        return gone
    raise AuditUsage(f"{path} is neither a run folder nor a ledger")
