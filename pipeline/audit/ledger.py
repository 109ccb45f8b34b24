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

import datetime as dt
import fcntl
import hashlib
import os
from pathlib import Path

from pipeline.audit.lineage import ChainProblem, dumps, last_hash_in, parse_lines, seal, verify_chain
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


def run_folder(lineage: Path) -> tuple[Path, bool]:
    """The folder the run publishes to, and whether the lineage is already in it.

    A failed run's lineage sits in a staging folder (`.<out>.partial-<pid>`) that is never
    published, so the ledger names the folder the run was writing for instead.
    """
    folder = Path(lineage).resolve().parent
    staged = staged_for(folder)
    return (staged[0], False) if staged else (folder, True)


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
    folder, published = run_folder(lineage)
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
        "run": str(folder), "published": published and status in PUBLISHED, "out": params.get("out"),
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
        "openlineage_sha256": _sha256_or_none(lineage.parent / OPENLINEAGE),
    }


def _sha256_or_none(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def append_run(run_dir: Path, ledger: Path | None = None, status: str | None = None,
               reason: str | None = None) -> dict:
    """Append one chained summary of the run in `run_dir` (a run folder or its lineage file) to the ledger.

    Call it once per run, completed or failed (give status="failed" and the one-line reason;
    a failed run's staging lineage is accepted).
    """
    return append_record({"event": "run", **summarise(lineage_file(run_dir), status, reason)}, ledger)


def append_record(fields: dict, ledger: Path | None = None) -> dict:
    """Seal `fields` (which name their `event`) as the ledger's next record and append it; returns it as written.

    The one writer of the ledger, for runs and purges alike. The file is locked while the last
    hash is read and the record written, so two runs (or a run and a purge) finishing together
    still make one chain, and the record is synced to disk before this returns: a caller that
    deletes files after it (a purge) never deletes them unrecorded.
    """
    path = Path(ledger) if ledger is not None else ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            prev = last_hash_in(fh.read(), path)
            record = seal({"event": fields["event"], "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                           **fields}, prev)
            fh.seek(0, os.SEEK_END)
            fh.write(dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return record


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
    nothing, so it never supersedes the completed run before it.
    """
    latest: dict[str, tuple[int, dict]] = {}
    for i, r in enumerate(records, 1):
        if r.get("event") == "run" and r.get("status") in PUBLISHED and r.get("run"):
            latest[str(r["run"])] = (i, r)
    return latest
