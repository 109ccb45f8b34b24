"""The order of a run's stages, each a step over the session: ingest, link, score, publish.

This is the single implementation behind every entry point (command line, Prefect flow,
schedule). The stages themselves are plain functions over data (`pipeline.ingest.source`,
`pipeline.link.stage`, `pipeline.criteria.stage`); a step here reads its inputs from the staging
folder, calls its stage, writes the stage's tables, keeps its lineage record and reports progress.

Sources are ingested one at a time (or side by side from a flow's threads), so a bad file stops
only its own source and memory holds one extract at a time. Everything is written into a staging
folder that becomes the output folder only when the run completes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.audit import openlineage
from pipeline.audit.ledger import COMPLETED, PARTIAL, append_run
from pipeline.audit.lineage import sha256_file
from pipeline.criteria.caseworker import to_csv
from pipeline.criteria.changes import change_counts, household_changes, month_of
from pipeline.criteria.engine import Membership
from pipeline.criteria.stage import score_stage
from pipeline.ingest import data_docs
from pipeline.ingest.source import Ingested, IngestOptions, SourceOutcome, Validation, ingest_source, landed_path
from pipeline.ingest.validate import QUARANTINE_COLUMNS, QuarantineCounts
from pipeline.laps import Laps
from pipeline.link.continuity import HISTORY_COLUMNS, Earlier, empty_history
from pipeline.link.document import MODEL_FILE, model_document
from pipeline.link.partitioned import prepare_sources
from pipeline.link.review import DECISIONS_FILE, decisions_csv, with_explain_commands
from pipeline.link.stage import link_sources, prepare_source
from pipeline.publish import LINEAGE, OPENLINEAGE, RESTRICTED, make_private, promote, write_bytes, write_parquet
from pipeline.report.html import REPORT_FILE, RunTables
from pipeline.report.html import build as build_report
from pipeline.run.config import RunConfig
from pipeline.run.failure import RunError, abort, go_on_without, tell_kept
from pipeline.run.orchestrator import Orchestrator
from pipeline.run.previous import KEY_HISTORY, LINK_RECORDS, TOKENS
from pipeline.run.result import QuarantineReason, RunResult
from pipeline.run.session import DOCS_DIR, Reporter, Session, open_run, silent
from pipeline.spreadsheet import frame_csv

QUARANTINE_CSV = "quarantine.csv"  # quarantine.parquet for a spreadsheet: research officers open it there
PUBLISHED = ("quarantine.parquet", QUARANTINE_CSV, "record_links.parquet", "pairs.parquet", "linkage_model.json",
             "households.parquet", "evidence.parquet")
REVIEW_FILE = Path(RESTRICTED) / "clerical_review.parquet"
CHANGES_FILE = "changes.parquet"
TOKENS_FILE = Path(RESTRICTED) / TOKENS  # keyed agency tokens, for next month's matching
LINK_RECORDS_FILE = Path(RESTRICTED) / LINK_RECORDS  # identifying: what next month's model step compares with
DECISIONS_PATH = Path(RESTRICTED) / DECISIONS_FILE
CASEWORKER_FILE = Path(RESTRICTED) / "caseworker_export.csv"


def execute(config: RunConfig, report: Reporter = silent, orchestrator: Orchestrator | None = None) -> RunResult:
    """Carry out one run; raise RunError with a one-line reason when it cannot be done.

    `orchestrator`: the scheduler that started the run, if one did (recorded in both trails).
    On a cluster (`--dask-local`, `--dask-scheduler`) the sources are ingested side by side on its workers.
    """
    session = open_run(config, report, orchestrator)
    try:
        if session.engine.partitioned:
            jobs = [ingest_job(session, source) for source in session.sources]
            for job, done in zip(jobs, session.engine.map(run_ingest_job, jobs), strict=True):
                record_ingest(session, job.source, done)
        else:
            for source in session.sources:
                ingest(session, source)
        finish_ingest(session)
        link(session)
        score_households(session)
        return publish(session)
    except BaseException as exc:
        tell_kept(report, abort(session, exc))
        raise


@dataclass(frozen=True)
class IngestJob:
    """One source's ingest as a worker needs it: plain data, so it can be sent to a Dask worker."""

    source: str
    path: Path | None
    refusal: str | None
    options: IngestOptions
    raise_io_errors: bool = False


def ingest_job(session: Session, source: str, io_errors: str = "record") -> IngestJob:
    """What `run_ingest_job` needs to ingest one source of this run, wherever it runs."""
    s = session
    return IngestJob(source, s.files[source], s.permitted[source], s.ingest_options,
                     raise_io_errors=io_errors == "raise")


def run_ingest_job(job: IngestJob) -> Ingested:
    """One source read, checked and landed in the staging folder (`pipeline.ingest.source.ingest_source`);
    it touches no session, so a worker process or another machine can carry it out."""
    t0 = time.perf_counter()
    done = ingest_source(job.source, job.path, job.refusal, job.options, raise_io_errors=job.raise_io_errors)
    done.seconds = time.perf_counter() - t0
    done.worker = dask_worker()
    return done


def dask_worker() -> str | None:
    """The address of the Dask worker this is running on, or None outside one."""
    distributed = sys.modules.get("distributed")  # never imported here: only a worker has it loaded already
    if distributed is None:
        return None
    try:
        return str(distributed.get_worker().address)
    except ValueError:
        return None


def ingest(session: Session, source: str, io_errors: str = "record") -> SourceOutcome:
    """One source's ingest (`pipeline.ingest.source`), its validation handed to GX; a bad file stops only it.

    Safe to call for several sources at once from threads: each writes only its own landed file
    and its own entries of the session. With `io_errors="raise"` a file that cannot be read raises
    its OSError so an orchestrator can retry (a network share that is briefly away) before recording it.
    """
    return record_ingest(session, source, run_ingest_job(ingest_job(session, source, io_errors)))


def record_ingest(session: Session, source: str, done: Ingested) -> SourceOutcome:
    """A source's ingest, wherever it ran, taken into the run: its validation handed to GX, its quarantined
    rows and outcome kept, a progress line said."""
    s = session
    path = s.files[source]
    if done.validation is not None:
        s.gx.submit_job(source, done.validation)
    if done.quarantine is not None and len(done.quarantine):
        s.quarantines[source] = done.quarantine
    outcome = s.outcomes[source] = done.outcome
    if outcome.used:
        reused = f"; ingest reused from {outcome.reused_from.text()}" if outcome.reused_from else ""
        kept_out = outcome.admission.text() if outcome.admission else ""
        reused += f"; not taken: {kept_out}" if kept_out else ""
        where = f" on worker {done.worker}" if done.worker else ""
        s.report(f"{s.elapsed()} {source}: {outcome.rows_in:,} rows, {outcome.rows_accepted:,} accepted, "
                 f"{outcome.rows_quarantined:,} quarantined ({done.seconds:.1f}s{where}{reused})")
    elif path is not None:
        s.report(f"{source}: refused: {outcome.reason} [{path.name}]")
    return outcome


def finish_ingest(session: Session) -> int:
    """quarantine.parquet (and the same rows as a formula-safe quarantine.csv) from every source's rejected
    rows; stop the run when no source is usable.

    Returns the number of sources used.
    """
    s = session
    missing = [src for src in s.files if src not in s.outcomes]
    if missing:
        raise RunError(f"sources not ingested: {', '.join(missing)}")
    parts = [s.quarantines[src] for src in s.files if src in s.quarantines]
    quarantine = (pd.concat(parts, ignore_index=True) if parts
                  else pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS}))
    s.quarantine = quarantine.astype({"source": "string", "row_number": "int64", "source_record_id": "string",
                                      "column": "string", "reason": "string"})
    write_parquet(s.quarantine, s.staging / "quarantine.parquet")
    write_bytes(frame_csv(s.quarantine), s.staging / QUARANTINE_CSV, mode=0o666)  # pseudonymous, as the Parquet
    outcomes = s.ordered_outcomes()
    if not any(o.used for o in outcomes):
        raise RunError("no source could be used: " + "; ".join(
            f"{o.source}: {o.reason}" for o in outcomes if o.file is not None))
    refused = [o for o in outcomes if o.status == "refused" and o.source not in s.config.allow_missing
               and s.schemas.contracts[o.source].required_source]
    if refused:  # as absent as a missing file: the families it would show would be lost silently
        raise RunError("required source(s) refused: " + "; ".join(f"{o.source}: {o.reason}" for o in refused)
                       + f" ({go_on_without([o.source for o in refused])})")
    return sum(o.used for o in outcomes)


def required_not_used(session: Session) -> list[SourceOutcome]:
    """Required sources the run goes on without (absent or refused, and allowed): the run is partial."""
    return [o for o in session.ordered_outcomes()
            if not o.used and session.schemas.contracts[o.source].required_source]


def used_sources(session: Session) -> list[str]:
    return sorted(o.source for o in session.ordered_outcomes() if o.used)


def link(session: Session) -> None:
    """Records to people to households; record_links, pairs, the model and the clerical review written."""
    s = session
    t0 = time.perf_counter()
    settings = s.configuration.linkage
    laps = Laps()
    if s.engine.partitioned:  # slices of each source standardised on the workers
        prepared = prepare_sources(s.engine, {src: s.staging / landed_path(src) for src in used_sources(s)},
                                   s.schemas.contracts, settings, s.as_of)
    else:
        prepared = []
        for source in used_sources(s):  # one landed frame in memory at a time
            frame = pd.read_parquet(s.staging / landed_path(source))
            prepared.append(prepare_source(source, frame, s.schemas.contracts[source], settings, s.as_of))
            del frame
    laps.lap("standardisation")
    s.report(f"{s.elapsed()} linking {sum(len(p.records) for p in prepared):,} records from {len(prepared)} sources")
    earlier = None
    if s.previous is not None:
        p = s.previous
        earlier = Earlier(links=p.links, households=p.households, history=p.key_history, as_of=p.as_of.isoformat(),
                          tokens=p.tokens, records=p.link_records)
    decisions = s.decisions
    linked = s.linked = link_sources(prepared, settings, s.as_of, s.key, identities=s.config.caseworker_export,
                                     earlier=earlier, decisions=decisions, engine=s.engine)
    writing = Laps()
    write_parquet(linked.record_links, s.staging / "record_links.parquet")
    write_parquet(linked.pairs, s.staging / "pairs.parquet")
    write_parquet(with_explain_commands(linked.review, s.config.out), s.staging / REVIEW_FILE)
    write_parquet(linked.tokens, s.staging / TOKENS_FILE)
    write_parquet(linked.link_records, s.staging / LINK_RECORDS_FILE)
    if decisions is not None:
        write_bytes(decisions_csv(decisions), s.staging / DECISIONS_PATH)
    (s.staging / MODEL_FILE).write_text(model_document(linked.model, settings), encoding="utf-8")
    seconds = round(time.perf_counter() - t0, 3)
    reviewed = {} if decisions is None else {"review_decisions": {
        "file": str(s.config.decisions) if s.config.decisions else None,
        "sha256": sha256_file(s.config.decisions) if s.config.decisions else None,
        "carried_from_previous_run": s.previous is not None and s.previous.decisions is not None,
        "decided_pairs": len(decisions.pairs), "undecided_rows": decisions.undecided, **(linked.decisions or {})}}
    counts = {k: v for k, v in asdict(linked.counts).items() if v is not None}  # people_carried: with --previous
    writing.lap("writing")
    steps = {**laps.seconds, **(linked.steps or {}), **writing.seconds}
    s.stages.write("stage", stage="link", seconds=seconds, steps=steps, **counts, **reviewed,
                   inputs=[str(landed_path(src)) for src in used_sources(s)],
                   outputs=["record_links.parquet", "pairs.parquet", "linkage_model.json", str(REVIEW_FILE),
                            str(TOKENS_FILE), str(LINK_RECORDS_FILE)])
    if linked.decisions is not None:
        d = linked.decisions
        s.report(f"{s.elapsed()} review decisions: {d['match_applied']:,} MATCH ({d['match_refused']:,} of them "
                 f"left apart by a harder rule: two agency ids, or a third record) and {d['not_match_applied']:,} "
                 f"NOT_MATCH applied; {d['stale']:,} stale (a record no longer there: not applied)")
    c = linked.counts
    s.report(f"{s.elapsed()} linked: {c.people:,} people in {c.households:,} households; "
             f"{c.review_pairs:,} pairs for clerical review ({seconds:.1f}s)")
    if c.people_carried is not None:
        s.report(f"{s.elapsed()} {c.carried_text()}")


def score_households(session: Session) -> None:
    """Households against the rule set; households, evidence (and the caseworker export) written."""
    s = session
    if s.linked is None:
        raise RunError("households cannot be scored before linking")
    t0 = time.perf_counter()
    rules = s.configuration.rules
    frames = {}
    for source in sorted(set(used_sources(s)) & set(rules.sources)):
        path = s.staging / landed_path(source)
        present = set(pq.read_schema(path).names)
        frames[source] = pd.read_parquet(path, columns=[c for c in rules.columns_needed(source) if c in present])
    scoring = s.scoring = score_stage(rules, frames, Membership(links=s.linked.record_links, people=s.linked.people),
                                      s.as_of, s.linked.addresses if s.config.caseworker_export else None,
                                      engine=s.engine,
                                      households_per_partition=s.configuration.linkage.partitions.households_per_partition)
    scoring.households = scoring.households.merge(s.linked.households, on="household_key", how="left",
                                                  validate="one_to_one")
    write_parquet(scoring.households, s.staging / "households.parquet")
    write_parquet(scoring.evidence, s.staging / "evidence.parquet")
    outputs = ["households.parquet", "evidence.parquet", KEY_HISTORY]
    write_parquet(key_history(s), s.staging / KEY_HISTORY)
    if s.previous is not None:
        s.changes = household_changes(month_of(scoring.households, s.linked.record_links),
                                      month_of(s.previous.households, s.previous.links), rules.columns,
                                      merged_now(s.linked.history))
        write_parquet(s.changes, s.staging / CHANGES_FILE)
        outputs.append(CHANGES_FILE)
    if scoring.caseworker is not None:
        write_bytes(to_csv(scoring.caseworker), s.staging / CASEWORKER_FILE)
        outputs.append(str(CASEWORKER_FILE))
    c = scoring.counts
    seconds = round(time.perf_counter() - t0, 3)
    s.stages.write("stage", stage="score", seconds=seconds, rule_set=rules.name, sources_assessed=sorted(frames),
                   households=c.households, families=c.families, eligible=c.eligible,
                   evidence_rows=c.evidence_rows, not_assessed=c.not_assessed,
                   inputs=["record_links.parquet", *[str(landed_path(src)) for src in sorted(frames)]],
                   outputs=outputs)
    s.report(f"{s.elapsed()} scored under {rules.name}: {c.families:,} families, {c.eligible:,} eligible "
             f"({seconds:.1f}s)")


def key_history(session: Session) -> pd.DataFrame:
    """Every key retired so far and its successor: the previous run's history and this run's retirements."""
    parts = [h for h in (session.previous.key_history if session.previous is not None else None,
                         session.linked.history) if h is not None and len(h)]
    frame = pd.concat(parts, ignore_index=True) if parts else empty_history()
    return frame[HISTORY_COLUMNS].astype("string")


def merged_now(history: pd.DataFrame | None) -> dict[str, str]:
    """Household keys this run retired by merging, and the key each went into."""
    if history is None or not len(history):
        return {}
    merged = history[(history["kind"] == "household") & (history["change"] == "merged")]
    return dict(zip(merged["retired_key"].astype(str), merged["successor_key"].astype(str), strict=True))


def _validations(session: Session) -> None:
    """Wait for Great Expectations and join each source's verdict to its outcome."""
    s = session
    try:
        validations = s.gx.finish()
        s.report(f"{s.elapsed()} Great Expectations: every source validated, Data Docs built")
    finally:
        s.gx.close()
    for outcome in s.ordered_outcomes():
        if outcome.source in validations:
            results = validations[outcome.source]
            outcome.validation = Validation(
                suite=f"{outcome.source}_contract", expectations=len(results),
                failed=sorted(o.check for o in results if not o.success), data_docs=f"{DOCS_DIR}/index.html")
    data_docs.present(s.staging / DOCS_DIR, s.ordered_outcomes())


def every_file(folder: Path) -> list[str]:
    """Every file the run wrote, relative and sorted, but the trails themselves (the lineage cannot hold
    its own hash; openlineage.jsonl is completed after the lineage is sealed) and GX's scratch folder.

    Listing them all is what lets `audit verify` see a landed file cut short, a review form altered
    or a page of the Data Docs replaced, and lets reuse refuse an earlier run's file that changed.
    """
    names = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and name not in (LINEAGE, OPENLINEAGE) \
                and not name.startswith(f"{RESTRICTED}/.gx"):
            names.append(name)
    return names


def run_result(session: Session) -> RunResult:
    """The run's typed result, from what its stages made (its `seconds` are set when it is published)."""
    s = session
    assert s.quarantine is not None and s.linked is not None and s.scoring is not None
    counts = s.quarantine.groupby(["source", "column", "reason"], sort=True).size()
    reasons = [QuarantineReason(str(src), str(c), str(r), int(n)) for (src, c, r), n in counts.items()]
    return RunResult(out=s.config.out, as_of=s.as_of, purpose=s.purpose, sources=s.ordered_outcomes(),
                     quarantine=QuarantineCounts.of(s.quarantine), seconds=0.0, reasons=reasons,
                     linkage=s.linked.counts, scoring=s.scoring.counts,
                     required_not_used=[o.source for o in required_not_used(s)],
                     changes=change_counts(s.changes) if s.changes is not None else None,
                     previous_as_of=s.previous.as_of if s.previous is not None else None, warnings=list(s.warnings))


def write_report(session: Session, result: RunResult) -> None:
    """report.html, from the result and the tables in memory, with its stage record (seconds, bytes).

    Written while Great Expectations' worker is still validating: the report needs none of its
    verdicts (the Data Docs give them), and the run waits for the worker anyway.
    """
    s = session
    assert s.quarantine is not None and s.linked is not None and s.scoring is not None
    t0 = time.perf_counter()
    tables = RunTables(quarantine=s.quarantine, pairs=s.linked.pairs, record_links=s.linked.record_links,
                       households=s.scoring.households, model=s.linked.model, thresholds=s.configuration.linkage.model,
                       rules=s.configuration.rules, processing_date=s.processing_date,
                       warning_days=s.schemas.settings.agreement_warning_days, code_version=s.code_version,
                       reviewer=s.linked.decisions,
                       previous_households=s.previous.households if s.previous is not None else None)
    page = build_report(result, tables)
    write_bytes(page, s.staging / REPORT_FILE)
    os.chmod(s.staging / REPORT_FILE, 0o644)  # not restricted: counts only, as readable as the other outputs
    seconds = round(time.perf_counter() - t0, 3)
    s.stages.write("stage", stage="report", seconds=seconds, bytes=len(page),
                   inputs=["quarantine.parquet", "record_links.parquet", "pairs.parquet", "linkage_model.json",
                           "households.parquet", *([CHANGES_FILE] if s.changes is not None else [])],
                   outputs=[REPORT_FILE])
    s.report(f"{s.elapsed()} run report written: {REPORT_FILE} ({len(page) / 1024:,.0f} KiB, {seconds:.1f}s)")


def publish(session: Session) -> RunResult:
    """Write the run report, wait for GX, complete the lineage, and move the staging folder into place."""
    s = session
    result = run_result(s)
    write_report(s, result)
    _validations(s)
    outcomes = s.ordered_outcomes()
    s.write_held_records()
    # Every file the run hands on is an output with its SHA-256, so `audit verify` (and a later run's
    # --previous) catches one altered afterwards: restricted ones included, by hash only.
    published = [*PUBLISHED, KEY_HISTORY, *([CHANGES_FILE] if s.changes is not None else []), REPORT_FILE,
                 str(TOKENS_FILE), str(LINK_RECORDS_FILE),
                 *([str(DECISIONS_PATH)] if s.decisions is not None else []),
                 *([str(CASEWORKER_FILE)] if s.config.caseworker_export else [])]
    outputs = {}
    for name in [*published, *(n for n in every_file(s.staging) if n not in published)]:
        outputs[name] = sha256_file(s.staging / name)
        s.lineage.write("output", file=name, sha256=outputs[name], bytes=(s.staging / name).stat().st_size)
    # run_end and OpenLineage name the run's products; the output records above list every file.
    products = {name: outputs[name] for name in published}
    seconds = time.perf_counter() - s.started
    missing = result.required_not_used
    status = PARTIAL if missing else COMPLETED
    s.lineage.write("run_end", status=status, seconds=round(seconds, 3), outputs=products,
                    sources_used=[o.source for o in outcomes if o.used],
                    sources_refused=[o.source for o in outcomes if not o.used and o.file is not None],
                    **({"required_sources_not_used": missing} if missing else {}))
    s.lineage.close()
    openlineage.complete(s.staging, s.run_id, [o.lineage_record() for o in outcomes], products, s.schemas,
                         settings=s.configuration.openlineage, published_dir=s.config.out,
                         required_not_used=missing)
    make_private(s.staging / RESTRICTED)
    # The ledger entry first, naming the folder the staging one becomes: a published run is always in the
    # ledger. When the move into place then fails, `promote` puts the earlier folder back and the failed
    # entry `abort` appends withdraws this one (pipeline.audit.ledger.append_run).
    append_run(s.staging)
    promote(s.staging, s.config.out)
    with contextlib.suppress(Exception):  # the run is published: stopping its cluster must not turn it into a failure
        s.close()
    result.seconds = seconds
    return result
