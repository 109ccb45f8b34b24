"""The cross-run ledger: one chained summary record per run, so a deleted or replaced run shows.

A run's own `lineage.jsonl` proves nothing once the whole run folder is gone or swapped for
another, and whoever rewrites a whole lineage file can recompute its chain. The ledger, kept
outside the run folders, records each run's folder, status, inputs, outputs and the SHA-256 and
last hash of its lineage, chained exactly as the lineage is (pipeline.audit.lineage). `audit verify`
checks it and every completed run it lists.

Besides a `run` record per run, `python -m pipeline purge` appends `purge` and `purge_completed`
records (pipeline.audit.purge), sealed by the same `append_record`, so a deletion that a retention
period called for is as much part of the chain as the run it removed.

Like the lineage, the ledger holds no personal data: paths, hashes, counts, names of sources
and gateways. Its default place is `var/ledger/ledger.jsonl` in the project; set
`PIPELINE_LEDGER` to keep it elsewhere (tests use a temporary file).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import os
from pathlib import Path

from pipeline.audit.lineage import ChainProblem, dumps, last_hash_in, parse_lines, seal, sha256_file, verify_chain
from pipeline.config.files import PROJECT
from pipeline.publish import LINEAGE, OPENLINEAGE, staged_for

LEDGER_ENV = "PIPELINE_LEDGER"
COMPLETED, PARTIAL, FAILED = "completed", "partial", "failed"  # a run's status; the first two publish a folder
PUBLISHED = (COMPLETED, PARTIAL)
DEFAULT_LEDGER = PROJECT / "var" / "ledger" / "ledger.jsonl"


def ledger_path(environ: dict[str, str] | None = None) -> Path:
    """The ledger file: `PIPELINE_LEDGER` when set, else var/ledger/ledger.jsonl in the project."""
    env = os.environ if environ is None else environ
    value = env.get(LEDGER_ENV)
    return Path(value).expanduser() if value else DEFAULT_LEDGER


def lineage_file(path: Path) -> Path:
    """A run folder's lineage file; a path to a lineage file itself is taken as it is."""
    path = Path(path)
    if path.is_dir():
        return path / LINEAGE
    return path if path.suffix == ".jsonl" else path / LINEAGE


def run_folder(lineage: Path) -> Path:
    """The folder the run publishes to.

    A run's lineage is summarised while it is still in its staging folder (`.<out>.partial-<pid>`):
    a completed run's entry is sealed before the folder is moved into place, so the ledger names
    the folder the run is writing for.
    """
    folder = Path(lineage).resolve().parent
    staged = staged_for(folder)
    return staged[0] if staged else folder


def _sources(records: list[dict]) -> list[dict]:
    """Each source offered to the run: name, file, SHA-256, gateway and agreement, used or not."""
    out = []
    for r in records:
        if r.get("event") != "source":
            continue
        gateway = r.get("gateway") or {}
        out.append({"source": r.get("source"), "file": r.get("file"), "sha256": r.get("sha256"),
                    "gateway": gateway.get("citation"), "agreement": gateway.get("agreement"),
                    "used": r.get("used"), "reason": r.get("reason")})
    return out


def _outputs(records: list[dict]) -> dict[str, str]:
    """Output files and their SHA-256, from `output` records and the run_end record."""
    outputs: dict[str, str] = {}
    for r in records:
        if r.get("event") == "output" and r.get("file"):
            outputs[str(r["file"])] = r.get("sha256")
        elif r.get("event") == "run_end":
            outputs.update(r.get("outputs") or {})
    return dict(sorted(outputs.items()))


def summarise(lineage: Path, status: str | None = None, reason: str | None = None) -> dict:
    """The ledger's summary of one run, from its lineage file (which may be missing or empty for a failed run)."""
    lineage = Path(lineage)
    folder = run_folder(lineage)
    data = lineage.read_bytes() if lineage.is_file() else None
    records, unreadable = parse_lines(data.decode("utf-8", errors="replace")) if data is not None else ([], None)
    start = next((r for r in records if r.get("event") == "run_start"), {})
    end = next((r for r in records if r.get("event") == "run_end"), {})
    params = start.get("parameters") or {}
    problem = unreadable or verify_chain(records)
    status = status or end.get("status") or "incomplete"
    return {
        # A failed run's trail is kept under the ledger (failed/<run id>/): that is its "run" folder,
        # and `out` is the folder it was writing for, where nothing was published.
        "run": str(folder), "published": status in PUBLISHED, "out": params.get("out"),
        "run_id": start.get("run_id") or start.get("hash"),
        "status": status, "reason": reason or end.get("reason"),
        "started": start.get("at"), "ended": end.get("at") or (records[-1].get("at") if records else None),
        "code_version": start.get("code_version"), "user": start.get("user"), "host": start.get("host"),
        "rules": params.get("rules"), "rules_file": params.get("rules_file"),
        "rules_sha256": params.get("rules_sha256"), "as_of": params.get("as_of"), "purpose": params.get("purpose"),
        # The day the run ran: what its retention periods count from.
        "processing_date": params.get("processing_date"),
        "sources": _sources(records), "outputs": _outputs(records),
        "lineage_sha256": hashlib.sha256(data).hexdigest() if data is not None else None,
        "lineage_records": len(records),
        "lineage_last_hash": records[-1].get("hash") if records else None,
        "lineage_intact": data is not None and problem is None,
        # The OpenLineage trail cannot list itself in the lineage (it is written after), so the ledger seals it.
        "openlineage_sha256": sha256_file(events) if (events := lineage.parent / OPENLINEAGE).is_file() else None,
    }



def append_run(run_dir: Path, ledger: Path | None = None, status: str | None = None,
               reason: str | None = None) -> dict:
    """Append one chained summary of the run in `run_dir` (a run folder or its lineage file) to the ledger.

    Call it once per run, completed or failed (give status="failed" and the one-line reason;
    a failed run's staging lineage is accepted). A run's completed entry is appended before its
    folder is moved into place, so a published run is always in the ledger; a run that fails after
    that (the move itself fails, or the process is killed in between) then gets its failed entry
    as well, naming the completed one it withdraws (`withdraws`: that record's hash).
    """
    lineage = lineage_file(run_dir)
    summary = summarise(lineage, status, reason)
    if summary["status"] == FAILED:
        withdrawn = _sealed_entry(lineage, summary["run_id"], ledger)
        if withdrawn:
            summary["withdraws"] = withdrawn
    return append_record({"event": "run", **summary}, ledger)


def _sealed_entry(lineage: Path, run_id: object, ledger: Path | None) -> str | None:
    """The hash of the ledger's completed entry for this failed run's own trail, if it has one.

    The entry is the same run's (its id) with a last hash that is a record of this trail: the
    trail sealed as complete, which a killed run's kept copy continues with its failed run_end.
    """
    path = Path(ledger) if ledger is not None else ledger_path()
    if not run_id or not lineage.is_file() or not path.is_file():
        return None
    trail = {r.get("hash") for r in parse_lines(lineage.read_text(encoding="utf-8"))[0]}
    records, _ = read_ledger(path)
    return next((str(r["hash"]) for r in reversed(records) if r.get("event") == "run"
                 and r.get("status") in PUBLISHED and r.get("run_id") == run_id
                 and r.get("lineage_last_hash") in trail), None)


def append_record(fields: dict, ledger: Path | None = None) -> dict:
    """Seal `fields` (which name their `event`) as the ledger's next record and append it; returns it as written.

    The one writer of the ledger, for runs and purges alike. The file is locked while the last
    hash is read and the record written, so two runs (or a run and a purge) finishing together
    still make one chain, and the record is synced to disk before this returns: a caller that
    deletes files after it (a purge) never deletes them unrecorded.

    A record is appended whole or not at all: when the write or the sync fails (a full disk part way
    through the line), the file is cut back to where it ended, so no torn line is left to stop every
    later append and make the ledger unverifiable. The file is unbuffered, so nothing of a failed
    write is still queued to be written when it closes.
    """
    path = Path(ledger) if ledger is not None else ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b", buffering=0) as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            text = fh.read().decode("utf-8")
            prev = last_hash_in(text, path)
            record = seal({"event": fields["event"], "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                           **fields}, prev)
            _append_whole(fh, (dumps(record) + "\n").encode("utf-8"), os.fstat(fh.fileno()).st_size)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return record


def _append_whole(fh: io.FileIO, line: bytes, end: int) -> None:
    """Write `line` at the end of the locked, unbuffered file `fh` and sync it; on any failure cut the file
    back to `end` (its size before) and raise."""
    try:
        written = 0
        while written < len(line):  # a raw write may take part of the line
            written += fh.write(line[written:])
        os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):  # the append's own error is the one to report
            fh.truncate(end)
            os.fsync(fh.fileno())
        raise


def read_ledger(path: Path) -> tuple[list[dict], ChainProblem | None]:
    """The ledger's records and the first unreadable line (a ChainProblem), if any."""
    return parse_lines(Path(path).read_text(encoding="utf-8"))


def latest_run_under(root: Path, ledger: Path | None = None) -> Path | None:
    """The newest completed (or partial) run the ledger lists in a folder directly under `root`, still there.

    A scheduled deployment writes each month into a new dated folder under one root; the month
    before is the newest such run, found here rather than by folder names (which anyone can make).
    """
    path = Path(ledger) if ledger is not None else ledger_path()
    if not path.is_file():
        return None
    records, _ = read_ledger(path)
    root = Path(root).resolve()
    for _, entry in sorted(latest_entries(records).values(), key=lambda e: e[0], reverse=True):
        folder = Path(str(entry["run"]))
        if folder.parent == root and (folder / LINEAGE).is_file():
            return folder
    return None


def latest_entries(records: list[dict]) -> dict[str, tuple[int, dict]]:
    """Per run folder, the line and record of its latest completed run: the one its folder must still hold.

    A folder replaced by a later run with --force has a later entry; a failed run publishes
    nothing, so it never supersedes the completed run before it. A completed entry that a failed
    one withdraws (the run was never moved into place, see `append_run`) is passed over: the folder
    still holds the run before.
    """
    withdrawn = {r["withdraws"] for r in records if r.get("event") == "run" and r.get("withdraws")}
    latest: dict[str, tuple[int, dict]] = {}
    for i, r in enumerate(records, 1):
        if r.get("event") == "run" and r.get("status") in PUBLISHED and r.get("run") \
                and r.get("hash") not in withdrawn:
            latest[str(r["run"])] = (i, r)
    return latest
