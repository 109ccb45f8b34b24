"""Reading a run's trail as the audit commands do: its records, the outputs it lists, its ledger entry.

Everything in `pipeline.audit` reads the lineage, the ledger, households.parquet and evidence.parquet
only: nothing under restricted/ is read for display, and no message names a person (household keys
are pseudonymous; evidence details carry event dates and codes).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.audit.ledger import LINEAGE, latest_entries, ledger_path, read_ledger
from pipeline.audit.lineage import ChainProblem, parse_lines, sha256_file, verify_chain

OK, BAD, USAGE = 0, 1, 2  # exit codes: intact or answered; tampered; not a run, ledger or household
RUN_MARKERS = (LINEAGE, "households.parquet", "quarantine.parquet")


class AuditUsage(Exception):
    """The command cannot be answered (not a run folder or ledger, unknown household): exit 2."""


def first(records: list[dict], event: str) -> dict:
    """The trail's first record of `event` (run_start, run_end), or an empty one."""
    return next((r for r in records if r.get("event") == event), {})


def read_trail(path: Path) -> tuple[list[dict], ChainProblem | None]:
    """The records of a lineage or ledger file and its first problem: unreadable line, broken chain."""
    records, problem = parse_lines(Path(path).read_text(encoding="utf-8"))
    return records, problem or verify_chain(records)


def run_records(run_dir: Path) -> list[dict]:
    """The run folder's lineage records (those before any unreadable line); exit 2 when it is not a run."""
    lineage = Path(run_dir) / LINEAGE
    if not lineage.is_file():
        raise AuditUsage(f"{run_dir} is not a run folder (no lineage.jsonl)")
    records, _ = parse_lines(lineage.read_text(encoding="utf-8"))
    return records


def listed_outputs(records: list[dict]) -> list[tuple[int, str, str | None]]:
    """Each (line, file, SHA-256) the trail lists as an output: `output` records and run_end's outputs."""
    listed = []
    for i, r in enumerate(records, 1):
        if r.get("event") == "output" and r.get("file"):
            listed.append((i, str(r["file"]), r.get("sha256")))
        elif r.get("event") == "run_end":
            listed.extend((i, str(name), sha) for name, sha in sorted((r.get("outputs") or {}).items()))
    return listed


def output_status(run_dir: Path, name: str, sha256: str | None) -> str:
    """'matches', 'changed', 'missing' or 'outside the run folder' for one listed output file."""
    root = run_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        return "outside the run folder"
    if not path.is_file():
        return "missing"
    return "matches" if sha256_file(path) == sha256 else "changed"


def ledger_entry(run_dir: Path, ledger: Path | None = None) -> tuple[int, dict] | None:
    """The ledger's entry for this run folder, if the ledger exists and has one (see `entry_in`)."""
    path = ledger if ledger is not None else ledger_path()
    if not path.is_file():
        return None
    records, _ = read_ledger(path)
    return entry_in(records, run_dir)


def entry_in(records: list[dict], run_dir: Path) -> tuple[int, dict] | None:
    """The line and record of this run folder's entry among the ledger's `records`.

    For a published folder, its latest completed or partial run (the one the folder must still
    hold); for a failed run's kept trail (the ledger's failed/<run id>/), that failed run's entry.
    """
    folder = str(Path(run_dir).resolve())
    published = latest_entries(records).get(folder)
    if published is not None:
        return published
    failed = [(i, r) for i, r in enumerate(records, 1) if r.get("event") == "run" and r.get("run") == folder]
    return failed[-1] if failed else None


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in RUN_MARKERS)
