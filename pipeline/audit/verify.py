"""`audit verify`: a run folder (its lineage chain and shape, its output files' SHA-256, its ledger
entry) or the cross-run ledger (its chain, and that every completed run it lists is still in its folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.audit.ledger import DEFAULT_LEDGER, FAILED, LINEAGE, latest_entries
from pipeline.audit.lineage import ChainProblem, parse_lines, sha256_file
from pipeline.audit.trail import (
    BAD,
    OK,
    AuditUsage,
    is_run_folder,
    ledger_entry,
    listed_outputs,
    output_status,
    read_trail,
)


@dataclass
class Verdict:
    """What `verify` found: the first problem (None when intact) and the one-line account either way."""

    problem: str | None
    account: str

    @property
    def code(self) -> int:
        return OK if self.problem is None else BAD

    def __str__(self) -> str:
        return self.account if self.problem is None else f"not intact: {self.problem}"


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


def _output_problem(run_dir: Path, records: list[dict]) -> tuple[str | None, int]:
    """The first listed output file that is missing or no longer has its recorded SHA-256."""
    listed = listed_outputs(records)
    checked: set[str] = set()
    for line, name, sha in listed:
        if name in checked:
            continue
        checked.add(name)
        status = output_status(run_dir, name, sha)
        if status != "matches":
            what = {"changed": "has changed since the run (its SHA-256 differs from the lineage's)",
                    "missing": "is missing"}.get(status, "is outside the run folder")
            return f"output file {name} (listed at lineage line {line}) {what}", len(checked)
    return None, len(checked)


def _ledger_problem(run_dir: Path, records: list[dict], ledger: Path | None) -> tuple[str | None, str]:
    """Whether the lineage is the one the ledger recorded: a trail rewritten with a recomputed chain is caught here."""
    found = ledger_entry(run_dir, ledger)
    if found is None:
        return None, "no ledger entry for this folder"
    line, entry = found
    if records[-1].get("hash") != entry.get("lineage_last_hash"):
        return (f"ledger line {line} records a different trail for this folder: its last hash differs "
                f"(the run was replaced or its lineage rewritten)"), ""
    if sha256_file(run_dir / LINEAGE) != entry.get("lineage_sha256"):
        return f"ledger line {line}: lineage.jsonl is not byte-identical to the file the ledger recorded", ""
    return None, f"matches ledger line {line}"


def verify_run(run_dir: Path, ledger: Path | None = None) -> Verdict:
    """The run folder's lineage chain and shape, its output files, and its ledger entry."""
    lineage = run_dir / LINEAGE
    if not lineage.is_file():
        return Verdict(f"{lineage}: missing", "")
    records, problem = read_trail(lineage)
    problem = problem or _shape_problem(records)
    if problem is not None:
        return Verdict(f"{lineage}: {problem}", "")
    failed = records[-1].get("status") == FAILED  # published nothing: the outputs its stages named never were
    outputs_problem, outputs = (None, 0) if failed else _output_problem(run_dir, records)
    if outputs_problem:
        return Verdict(f"{run_dir}: {outputs_problem}", "")
    ledger_problem, ledger_note = _ledger_problem(run_dir, records, ledger)
    if ledger_problem:
        return Verdict(f"{run_dir}: {ledger_problem}", "")
    outputs_note = "a failed run: nothing was published" if failed else \
        f"{outputs} output files match their SHA-256"
    return Verdict(None, f"intact: {len(records)} records; {outputs_note}; {ledger_note}")


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
    return None


def verify_ledger(path: Path) -> Verdict:
    """The ledger's chain, then each folder's latest completed run, in ledger order."""
    records, problem = read_trail(path)
    if problem is not None:
        return Verdict(f"{path}: {problem}", "")
    runs = sorted(latest_entries(records).values(), key=lambda item: item[0])
    for line, entry in runs:
        found = _run_problem(line, entry)
        if found:
            return Verdict(f"{path}: {found}", "")
    head = records[-1]["hash"] if records else "none"
    return Verdict(None, f"intact: {len(records)} records; {len(runs)} completed run folders present and unchanged; "
                         f"head {head} (keep a copy elsewhere: cutting the newest entries is detectable only "
                         f"against it)")


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
    raise AuditUsage(f"{path} is neither a run folder nor a ledger")
