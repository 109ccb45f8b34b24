"""`audit show`: a plain-text account of one run for an auditor, from its lineage."""

from __future__ import annotations

from pathlib import Path

from pipeline.audit.ledger import FAILED, PARTIAL
from pipeline.audit.lineage import sha256_file
from pipeline.audit.trail import first, ledger_entry, listed_outputs, output_status, run_records
from pipeline.audit.verify import verify_run
from pipeline.engine import EngineFacts
from pipeline.ingest.source import Reuse


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _gateway_lines(gateway: dict | None) -> list[str]:
    if not gateway:
        return ["    gateway: none declared"]
    return [f"    gateway: {gateway.get('citation')} ({gateway.get('statute')}, {gateway.get('section')})",
            f"      agreement {gateway.get('agreement')}, in force {gateway.get('agreement_start')} to "
            f"{gateway.get('agreement_expires')}; controller: {gateway.get('controller')}",
            f"      purposes permitted: {', '.join(gateway.get('purposes') or [])}",
            f"      basis: {gateway.get('basis')}", *_lawful_basis_lines(gateway)]


def _lawful_basis_lines(gateway: dict) -> list[str]:
    """The registry's lawful basis as the run recorded it (runs before the registry held it show none)."""
    lines = []
    if gateway.get("route"):
        lines.append(f"      route: {gateway['route']}; {gateway.get('url')}")
    if isinstance(gateway.get("article_6"), dict):
        lines.append(f"      {gateway['article_6'].get('text')}")
    for name in ("article_9", "article_10"):
        c = gateway.get(name)
        if isinstance(c, dict):
            lines.append(f"      {c.get('article')}; {c.get('schedule_1')}; policy document {c.get('policy_document')}")
    for label, key in (("DPIA", "dpia"), ("approval", "approval"), ("reg 107 purpose", "register_purpose"),
                       ("retention", "retention"), ("signed off", "signed_off")):
        if gateway.get(key):
            lines.append(f"      {label}: {gateway[key]}")
    return lines


def _source_lines(r: dict) -> list[str]:
    state = "used" if r.get("used") else ("absent" if r.get("file") is None else "refused")
    lines = [f"  {r.get('source')}: {state}" + (f": {r.get('reason')}" if r.get("reason") else "")]
    if r.get("file") is not None:
        lines.append(f"    file {r.get('file')} ({_n(r.get('bytes'))} bytes), SHA-256 {r.get('sha256')}")
    lines.extend(_gateway_lines(r.get("gateway")))
    if r.get("file") is not None:
        lines.append(f"    rows: {_n(r.get('rows_in'))} in, {_n(r.get('rows_accepted'))} accepted, "
                     f"{_n(r.get('rows_quarantined'))} quarantined")
    reused = (r.get("ingest") or {}).get("reused_from")
    if isinstance(reused, dict):
        lines.append(f"    ingest reused (the file unchanged) from {Reuse.from_record(reused).text(full_id=True)}")
    v = r.get("validation")
    if v:
        failed = ", ".join(v.get("failed") or []) or "none"
        lines.append(f"    validation: suite {v.get('suite')}, {v.get('expectations')} expectations; "
                     f"failed: {failed} (Data Docs: {v.get('data_docs')})")
    dropped = r.get("columns_dropped_by_gateway")
    if dropped:
        lines.append(f"    columns dropped by the gateway: {', '.join(dropped)}")
    return lines


def _stage_lines(r: dict) -> list[str]:
    skip = {"event", "at", "hash", "prev_hash", "stage", "seconds", "inputs", "outputs"}
    counts = "; ".join(f"{k} {_n(v) if not isinstance(v, list) else ', '.join(map(str, v)) or 'none'}"
                       for k, v in sorted(r.items()) if k not in skip)
    return [f"  {r.get('stage')}: {r.get('seconds')}s; {counts}",
            f"    in: {', '.join(r.get('inputs') or []) or 'none'}",
            f"    out: {', '.join(r.get('outputs') or []) or 'none'}"]


def _orchestrator_line(record: dict | None) -> list[str]:
    """Which orchestrator's run this was (a Prefect flow run, to look up in its UI); none for a command line run."""
    if not record:
        return []
    deployment = f", deployment {record.get('deployment')}" if record.get("deployment") else ""
    return [f"  started by {record.get('kind')} flow run {record.get('flow_run_name')} "
            f"({record.get('flow_run_id')}){deployment}"]


def _engine_lines(record: dict | None) -> list[str]:
    """Where the heavy stages ran: this process, or a Dask cluster and each of its workers."""
    if not record:
        return []
    facts = EngineFacts.from_record(record)
    return [f"  ran in {facts.text()}", *(f"    worker {w.name} at {w.address}: {w.threads} thread(s), memory limit "
                                          f"{'none' if w.memory_limit is None else f'{w.memory_limit / 2**30:.1f} GiB'}"
                                          for w in facts.workers)]


def _rules_lines(params: dict) -> list[str]:
    path = Path(str(params.get("rules_file")))
    now = "the file is gone"
    if path.is_file():
        now = "the file is unchanged" if sha256_file(path) == params.get("rules_sha256") \
            else "the file has CHANGED since the run"
    return [f"  {params.get('rules')}: {path}", f"    SHA-256 {params.get('rules_sha256')} ({now})"]


def show(run_dir: Path, ledger: Path | None = None) -> str:
    """A plain-text account of one run for an auditor: who, when, what went in, what came out, and whether it holds."""
    run_dir = Path(run_dir)
    records = run_records(run_dir)
    start, end = first(records, "run_start"), first(records, "run_end")
    params = start.get("parameters") or {}
    verdict = verify_run(run_dir, ledger)
    entry = ledger_entry(run_dir, ledger)
    run_status = _status(end, entry[1] if entry else None)
    lines = [f"Run {run_dir.resolve()}",
             f"  audit trail: {verdict}",
             f"  started {start.get('at')}, ended {end.get('at')} ({end.get('seconds')}s)",
             f"  status {run_status}",
             f"  run by {start.get('user')} on {start.get('host')}; code version {start.get('code_version')}; "
             f"Python {start.get('python')}",
             *_orchestrator_line(start.get("orchestrator")),
             *_engine_lines(params.get("engine")),
             "Parameters"]
    lines += [f"  {k}: {v}" for k, v in sorted(params.items())
              if k not in ("rules", "rules_file", "rules_sha256", "engine")]
    lines += ["Rule set", *_rules_lines(params), "Sources"]
    for r in records:
        if r.get("event") == "source":
            lines += _source_lines(r)
    lines.append("Stages")
    for r in records:
        if r.get("event") == "stage":
            lines += _stage_lines(r)
    lines.append("Outputs")
    shown: set[str] = set()
    for line, name, sha in listed_outputs(records):
        if name in shown:
            continue
        shown.add(name)
        status = output_status(run_dir, name, sha)
        purge = next((p for p in verdict.purges if status == "missing" and p.covers(name)), None)
        lines.append(f"  {name}  SHA-256 {sha}  ({purge.brief() if purge else status}; lineage line {line})")
    lines += _previous_lines(run_dir, params.get("previous_run"))
    lines += ["End",
              f"  status {run_status}",
              f"  sources used: {', '.join(end.get('sources_used') or []) or 'none'}; "
              f"refused: {', '.join(end.get('sources_refused') or []) or 'none'}"]
    return "\n".join(lines)


def _previous_lines(run_dir: Path, previous: object) -> list[str]:
    """Which run this one carried on from, and what changed since (changes.parquet's counts)."""
    if not isinstance(previous, dict):
        return []
    from pipeline.criteria.changes import change_counts, paragraph

    lines = ["Previous run", f"  carried on from run {previous.get('run_id')} in {previous.get('folder')} "
                             f"(as of {previous.get('as_of')}, rules {previous.get('rule_set')})"]
    changes = run_dir / "changes.parquet"
    if changes.is_file():
        import pandas as pd

        lines.append(f"  {paragraph(change_counts(pd.read_parquet(changes)), str(previous.get('as_of')))}")
    return lines


def _status(end: dict, entry: dict | None = None) -> str:
    """'completed', 'partial: without the required source(s) health' or 'failed: <its reason>'.

    A trail sealed as complete whose publication then failed (the ledger append, or the move into
    place) is the ledger entry's failure, not the completion its run_end claims.
    """
    status = str(end.get("status", "no run_end: the run never finished"))
    if entry is not None and entry.get("status") == FAILED and end.get("status") != FAILED:
        return f"{FAILED}: {entry.get('reason')} (after its trail was sealed as {status}: nothing was published)"
    if end.get("status") == PARTIAL:
        missing = ", ".join(end.get("required_sources_not_used") or [])
        return f"{status}: completed WITHOUT the required source(s) {missing}; their criteria were not assessed"
    if end.get("reason"):
        return f"{status}: {end['reason']}" + (" (before anything was written)" if end.get("stage") == "start" else "")
    return status
