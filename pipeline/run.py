"""One run of the pipeline, from the extracts folder to the output folder.

This is the single implementation behind every entry point (command line, Prefect flow,
schedule). So far it ingests, checks gateways, validates and lands each source, and writes
`quarantine.parquet`, `lineage.jsonl` and the Data Docs; linkage and scoring come after.

Sources are handled one at a time, so a bad file stops only its own source and memory holds
one extract at a time. Everything is written into a staging folder that becomes the output
folder only when the run completes.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import ingest_cache
from pipeline import openlineage_events as openlineage
from pipeline.caseworker import export_rows, to_csv
from pipeline.contracts import SCHEMAS_DIR, ContractError, Schemas, SourceContract, load_schemas
from pipeline.criteria.engine import Membership, score
from pipeline.criteria.rules import RuleSet, available_rule_sets, load_rule_set
from pipeline.gateways import agreement_refusal, purpose_refusal
from pipeline.gx_validation import BackgroundGX, CheckSpec
from pipeline.ingest import SourceRefused, file_sha256, parse_extract
from pipeline.keys import MissingKey, load_key
from pipeline.ledger import append_run, ledger_path
from pipeline.lineage import LineageWriter, sha256_file
from pipeline.link.settings import LINKAGE_PATH, LinkageSettings, load_linkage
from pipeline.linkage import Linkage, link_prepared, prepare_source
from pipeline.publish import OutputExists, discard, promote, staging_dir, write_bytes, write_parquet, write_table
from pipeline.standardise import OUTPUT_COLUMNS
from pipeline.validate import QUARANTINE_COLUMNS, Validated, validate

RULE_SETS = tuple(available_rule_sets())  # shipped: phase1, phase2, supporting_families; or a rule file's path
LANDED_DIR = Path("restricted") / "landed"  # identifying data: kept apart from pseudonymous outputs
DOCS_DIR = "data_docs"
PEEK_BYTES = 256 * 1024


class RunError(Exception):
    """The run could not be carried out; the message is the one-line reason for the user."""


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM): the run fails, recording why, and publishes nothing."""


def public_reason(exc: BaseException) -> str:
    """A failure's reason fit to show and log: a RunError's own message, else only the exception's type.

    An unexpected exception's message may quote a data value (a name, a date of birth), and a
    reason is printed, logged by Prefect and kept in the audit trail.
    """
    if isinstance(exc, RunError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, Terminated):
        return "terminated (the process was sent SIGTERM)"
    return f"internal error ({type(exc).__name__})"


@dataclass
class RunConfig:
    extracts: Path
    out: Path
    rules: str = "phase2"
    as_of: dt.date | None = None
    purpose: str | None = None
    allow_missing: tuple[str, ...] = ()
    force: bool = False
    max_bad_share: float | None = None
    schemas_root: Path = SCHEMAS_DIR
    caseworker_export: bool = False
    reuse_ingest: bool = True  # take an unchanged file's ingest from an earlier run (pipeline.ingest_cache)


@dataclass
class SourceOutcome:
    source: str
    file: Path | None
    used: bool
    reason: str | None
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    record: dict = field(default_factory=dict)


@dataclass
class RunResult:
    out: Path
    as_of: dt.date
    purpose: str
    sources: list[SourceOutcome]
    quarantine_rows: int
    seconds: float
    reasons: list[tuple[str, str, str, int]] = field(default_factory=list)  # source, column, reason, rows
    linkage: dict[str, int] = field(default_factory=dict)  # records, people, households, pairs, ...
    scoring: dict = field(default_factory=dict)  # rule set, families, eligible, per-criterion counts


Reporter = Callable[[str], None]


def _silent(_: str) -> None:
    return None


# --------------------------------------------------------------------------- as-of date
def peek_extract_date(path: Path, contract: SourceContract) -> dt.date | None:
    """The most common extract_date among a file's first records, without reading it all.

    Every row carries the same extract_date (a contract rule checks it in full later); the
    run needs the date before it decides which agreements are in force.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(PEEK_BYTES)
    except OSError:
        return None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = head.decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if len(rows) < 2:
        return None
    header = [h.strip().lower() for h in rows[0]]
    column = contract.extract_date
    if column not in header:
        return None
    i = header.index(column)
    fmt = contract.columns[column].date_format
    values = pd.Series([r[i].strip() for r in rows[1:-1] or rows[1:] if len(r) > i])
    dates = pd.to_datetime(values, format=fmt, errors="coerce").dropna()
    if dates.empty:
        return None
    return dates.mode().min().date()


# --------------------------------------------------------------------------- landing
def land(validated: Validated, path: Path) -> None:
    """Accepted rows as typed Parquet: dates as date32, counts as int64, flags as bool."""
    table = pa.Table.from_pandas(validated.accepted, preserve_index=False)
    fields = [pa.field(f.name, pa.date32()) if pa.types.is_timestamp(f.type) else f for f in table.schema]
    write_table(table.cast(pa.schema(fields, metadata=table.schema.metadata)), path)


# --------------------------------------------------------------------------- the run
def _source_files(config: RunConfig, schemas: Schemas, report: Reporter) -> dict[str, Path | None]:
    if not config.extracts.is_dir():
        raise RunError(f"extracts folder {config.extracts} does not exist")
    files: dict[str, Path | None] = {}
    missing_required = []
    for source, contract in sorted(schemas.contracts.items()):
        path = config.extracts / f"{source}.csv"
        if path.is_file():
            files[source] = path
        else:
            files[source] = None
            if contract.required_source and source not in config.allow_missing:
                missing_required.append(source)
    if missing_required:
        names = ", ".join(f"{s}.csv" for s in missing_required)
        flags = " ".join(f"--allow-missing {s}" for s in missing_required)
        raise RunError(f"required extract(s) missing from {config.extracts}: {names} "
                       f"(to go on without them and leave their criteria not assessed: {flags})")
    unknown = sorted(p.name for p in config.extracts.glob("*.csv") if p.stem not in schemas.contracts)
    for name in unknown:
        report(f"warning: {name} is not a known source and was ignored")
    return files


def _gateway_record(schemas: Schemas, source: str) -> dict | None:
    gateway = schemas.gateways.get(source)
    return gateway.record() if gateway else None


@dataclass
class Session:
    """One run in progress: what the stages share, from opening the staging folder to publishing it.

    Every entry point (the command line's `execute`, the Prefect flow's tasks) drives the same
    stage functions over a session: `open_run`, `ingest_source` for each source (any order, or at
    once from several threads), `finish_ingest`, `link`, `score`, `publish`; `abort` on failure.
    """

    config: RunConfig
    schemas: Schemas
    rules: RuleSet
    linkage: LinkageSettings
    key: bytes
    purpose: str
    files: dict[str, Path | None]
    permitted: dict[str, str | None]
    as_of: dt.date
    staging: Path
    lineage: LineageWriter
    gx: BackgroundGX
    report: Reporter
    started: float
    run_id: str
    openlineage: openlineage.OpenLineageSettings
    code_version: str = ""
    outcomes: dict[str, SourceOutcome] = field(default_factory=dict)
    quarantines: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: pd.DataFrame | None = None
    stages: _Deferred = field(default_factory=lambda: _Deferred())
    linked: Linkage | None = None
    scoring: dict = field(default_factory=dict)

    @property
    def sources(self) -> list[str]:
        return list(self.files)

    def ordered_outcomes(self) -> list[SourceOutcome]:
        return [self.outcomes[s] for s in self.files if s in self.outcomes]


def execute(config: RunConfig, report: Reporter = _silent) -> RunResult:
    """Carry out one run; raise RunError with a one-line reason when it cannot be done."""
    session = open_run(config, report)
    try:
        for source in session.sources:
            ingest_source(session, source)
        finish_ingest(session)
        link(session)
        score_households(session)
        return publish(session)
    except BaseException as exc:
        abort(session, exc)
        raise


def open_run(config: RunConfig, report: Reporter = _silent) -> Session:
    """Load and check the configuration, key and files, open the staging folder and the lineage.

    Raises RunError before anything is written when the run cannot start.
    """
    started = time.perf_counter()
    try:
        schemas = load_schemas(config.schemas_root)
        rules = load_rule_set(config.rules, schemas.contracts, config.schemas_root)
        linkage = load_linkage(config.schemas_root / LINKAGE_PATH.name, columns=OUTPUT_COLUMNS,
                               sources=list(schemas.contracts))
        lineage_events = openlineage.load_openlineage_config(config.schemas_root / "openlineage.yaml")
    except ContractError as exc:
        raise RunError(f"broken configuration: {exc}") from None
    try:
        key = load_key()
    except MissingKey as exc:
        raise RunError(str(exc)) from None
    purpose = config.purpose or schemas.settings.default_purpose
    files = _source_files(config, schemas, report)
    permitted = {s: purpose_refusal(schemas.gateways.get(s), purpose) for s in files}
    peeked = [peek_extract_date(p, schemas.contracts[s]) for s, p in files.items()
              if p is not None and permitted[s] is None]
    as_of = config.as_of or max((d for d in peeked if d is not None), default=None)
    if as_of is None:
        raise RunError("no as-of date: no usable extract_date in the supplied files (give --as-of)")
    try:
        staging = staging_dir(config.out, config.force,
                              on_abandoned=lambda folder: record_abandoned(folder, lineage_events))
    except OutputExists as exc:
        raise RunError(str(exc)) from None
    run_id = openlineage.new_run_id()
    parameters = {
        "extracts": str(config.extracts), "out": str(config.out), "rules": rules.name,
        "rules_file": str(rules.path), "rules_sha256": sha256_file(rules.path),
        "caseworker_export": config.caseworker_export,
        "as_of": as_of, "as_of_given": config.as_of is not None, "purpose": purpose,
        "allow_missing": list(config.allow_missing), "max_bad_share": config.max_bad_share
        if config.max_bad_share is not None else schemas.settings.max_bad_share,
    }
    lineage = LineageWriter(staging / "lineage.jsonl")
    try:
        context = LineageWriter.run_context()
        lineage.write("run_start", run_id=run_id, parameters=parameters, **context)
        openlineage.start(staging, run_id, parameters, settings=lineage_events)
        gx = BackgroundGX(staging / DOCS_DIR, dt.datetime.combine(as_of, dt.time()), staging / "restricted" / ".gx")
    except BaseException:
        lineage.close()
        discard(staging)
        raise
    return Session(config=config, schemas=schemas, rules=rules, linkage=linkage, key=key, purpose=purpose,
                   files=files, permitted=permitted, as_of=as_of, staging=staging, lineage=lineage, gx=gx,
                   report=report, started=started, run_id=run_id, openlineage=lineage_events,
                   code_version=str(context["code_version"]))


def ingest_source(session: Session, source: str, io_errors: str = "record") -> SourceOutcome:
    """Gateway, ingest, validation and landing of one source; a bad file stops only this source.

    Safe to call for several sources at once from threads: each writes only its own landed file
    and its own entries of the session. A file that cannot be read is recorded as refused
    (`io_errors="record"`), or with "raise" its OSError is raised so an orchestrator can retry
    (a network share that is briefly away) before recording it.
    """
    s = session
    t0 = time.perf_counter()
    path = s.files[source]
    outcome, quarantine = _one_source(source, path, s.schemas, s.purpose, s.as_of, s.permitted[source],
                                      s.config, s.gx, s.staging, raise_io_errors=io_errors == "raise",
                                      code_version=s.code_version)
    if quarantine is not None and len(quarantine):
        s.quarantines[source] = quarantine
    s.outcomes[source] = outcome
    seconds = time.perf_counter() - t0
    if outcome.used:
        s.report(f"[{time.perf_counter() - s.started:6.1f}s] {source}: {outcome.rows_in:,} rows, "
                 f"{outcome.rows_accepted:,} accepted, {outcome.rows_quarantined:,} quarantined ({seconds:.1f}s)")
    elif path is not None:
        s.report(f"{source}: refused: {outcome.reason} [{path.name}]")
    return outcome


def finish_ingest(session: Session) -> dict[str, int]:
    """quarantine.parquet from every source's rejected rows; stop the run when no source is usable."""
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
    outcomes = s.ordered_outcomes()
    if not any(o.used for o in outcomes):
        raise RunError("no source could be used: " + "; ".join(
            f"{o.source}: {o.reason}" for o in outcomes if o.file is not None))
    return {"used": sum(o.used for o in outcomes), "quarantined": len(s.quarantine)}


def link(session: Session) -> dict[str, int]:
    """Records to people to households; record_links, pairs, the model and the clerical review written."""
    s = session
    s.linked = _link_stage(s.staging, s.stages, s.schemas, s.linkage, s.key, s.as_of, s.ordered_outcomes(),
                           s.report, s.started, identities=s.config.caseworker_export)
    return dict(s.linked.counts)


def score_households(session: Session) -> dict:
    """Households against the rule set; households, evidence (and the caseworker export) written."""
    s = session
    if s.linked is None:
        raise RunError("households cannot be scored before linking")
    s.scoring = _score_stage(s.staging, s.stages, s.rules, s.linked, s.as_of, s.ordered_outcomes(),
                             s.config.caseworker_export, s.report, s.started)
    return s.scoring


def publish(session: Session) -> RunResult:
    """Wait for GX, complete the lineage, and move the staging folder into place as the output folder."""
    s = session
    try:
        validations = s.gx.finish()
        s.report(f"[{time.perf_counter() - s.started:6.1f}s] Great Expectations: every source validated, "
                 "Data Docs built")
    finally:
        s.gx.close()
    outcomes = s.ordered_outcomes()
    for outcome in outcomes:
        if outcome.source in validations:
            results = validations[outcome.source]
            outcome.record["validation"] = {
                "suite": f"{outcome.source}_contract", "expectations": len(results),
                "failed": sorted(o.check for o in results if not o.success), "data_docs": f"{DOCS_DIR}/index.html"}
        s.lineage.write("source", **outcome.record)
    for event, fields in s.stages.records:
        s.lineage.write(event, **fields)
    published = [*PUBLISHED, *([str(CASEWORKER_FILE)] if s.config.caseworker_export else [])]
    outputs = {}
    for name in published:
        outputs[name] = sha256_file(s.staging / name)
        s.lineage.write("output", file=name, sha256=outputs[name], bytes=(s.staging / name).stat().st_size)
    seconds = time.perf_counter() - s.started
    s.lineage.write("run_end", status="completed", seconds=round(seconds, 3), outputs=outputs,
                    sources_used=[o.source for o in outcomes if o.used],
                    sources_refused=[o.source for o in outcomes if not o.used and o.file is not None])
    s.lineage.close()
    openlineage.complete(s.staging, s.run_id, [o.record for o in outcomes], outputs, s.schemas,
                         settings=s.openlineage, published_dir=s.config.out)
    assert s.quarantine is not None and s.linked is not None
    counts = s.quarantine.groupby(["source", "column", "reason"], sort=True).size()
    reasons = [(str(src), str(c), str(r), int(n)) for (src, c, r), n in counts.items()]
    append_run(s.staging)  # names the folder the staging one becomes: a published run is always in the ledger
    promote(s.staging, s.config.out)
    return RunResult(out=s.config.out, as_of=s.as_of, purpose=s.purpose, sources=outcomes,
                     quarantine_rows=len(s.quarantine), seconds=seconds, reasons=reasons, linkage=s.linked.counts,
                     scoring=s.scoring)


def abort(session: Session, exc: BaseException) -> Path | None:
    """A failed run: FAIL with its reason in both trails, nothing published, earlier outputs untouched.

    The run's lineage gets a failed run_end, its OpenLineage trail a FAIL event; both files (no
    personal data) are kept under the ledger's `failed/<run id>/` folder and the ledger gets a
    chained summary of the failure, so an auditor sees the failed run too. Then the staging
    folder, with every partial output, is removed. Each step is guarded: recording a failure
    must never hide it. Returns the folder the failed trails were kept in.
    """
    s = session
    reason = public_reason(exc)
    with contextlib.suppress(Exception):
        s.gx.close()
    kept = None
    try:
        if not s.lineage.closed:
            s.lineage.write("run_end", status="failed", reason=reason,
                            seconds=round(time.perf_counter() - s.started, 3))
            s.lineage.close()
        openlineage.fail(s.staging, s.run_id, reason, [o.record for o in s.ordered_outcomes()], s.schemas,
                         settings=s.openlineage)
        kept = keep_failed_trails(s.staging, s.run_id)
        append_run(kept, status="failed", reason=reason)
    except Exception as recording:  # the run's own failure is what the caller must see
        s.report(f"warning: the failure could not be fully recorded ({type(recording).__name__})")
    finally:
        discard(s.staging)
    return kept


def keep_failed_trails(folder: Path, run_id: str) -> Path:
    """Copy a failed run's trails (no personal data) out of its staging folder, which is then removed."""
    kept = ledger_path().parent / "failed" / run_id
    kept.mkdir(parents=True, exist_ok=True)
    for name in ("lineage.jsonl", openlineage.events_path(folder).name):
        if (folder / name).exists():
            shutil.copy2(folder / name, kept / name)
    return kept


ABANDONED = "abandoned: the run's process ended before it finished (killed, or the machine stopped)"


def record_abandoned(folder: Path, settings: openlineage.OpenLineageSettings) -> Path | None:
    """Record a killed run, found by the next run for the same output folder, as failed in both trails.

    A killed process records nothing itself; its staging folder (never published) still holds its
    lineage and OpenLineage START. They are kept as a failed run's trails are (`abort`), each
    completed with the failure, and the ledger gets the failed run's summary.
    """
    lineage_file = folder / "lineage.jsonl"
    if not lineage_file.exists():
        return None
    try:
        with open(lineage_file, encoding="utf-8") as fh:
            first = json.loads(fh.readline() or "{}")
        run_id = first.get("run_id") or openlineage.run_id_from(str(folder))
        kept = keep_failed_trails(folder, run_id)
        writer = LineageWriter(kept / "lineage.jsonl")
        writer.write("run_end", status="failed", reason=ABANDONED)
        writer.close()
        openlineage.fail(kept, run_id, ABANDONED, settings=settings)
        append_run(kept, status="failed", reason=ABANDONED)
        return kept
    except (OSError, ValueError):  # a trail too broken to complete: the folder is removed all the same
        return None


class _Deferred:
    """Lineage records held back so the trail stays in order: run start, sources, stages, run end."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict]] = []

    def write(self, event: str, **fields: object) -> None:
        self.records.append((event, fields))


PUBLISHED = ("quarantine.parquet", "record_links.parquet", "pairs.parquet", "linkage_model.json",
             "households.parquet", "evidence.parquet")
REVIEW_FILE = Path("restricted") / "clerical_review.parquet"
CASEWORKER_FILE = Path("restricted") / "caseworker_export.csv"


def _link_stage(staging: Path, lineage: _Deferred, schemas: Schemas, settings: LinkageSettings, key: bytes,
                as_of: dt.date, outcomes: list[SourceOutcome], report: Reporter, started: float,
                identities: bool = False) -> Linkage:
    """Link the landed rows of the used sources into people and households; publish the tables."""
    t0 = time.perf_counter()
    used = [o.source for o in outcomes if o.used]
    prepared = []
    for source in sorted(used):  # one landed frame in memory at a time
        frame = pd.read_parquet(staging / LANDED_DIR / f"{source}.parquet")
        prepared.append(prepare_source(source, frame, schemas.contracts[source], settings, as_of))
        del frame
    report(f"[{time.perf_counter() - started:6.1f}s] linking {sum(len(p.records) for p in prepared):,} records "
           f"from {len(prepared)} sources")
    result = link_prepared(prepared, settings, as_of, key, identities=identities)
    write_parquet(result.record_links, staging / "record_links.parquet")
    write_parquet(result.pairs, staging / "pairs.parquet")
    write_parquet(result.review, staging / REVIEW_FILE)
    model = {"prior": result.model.prior, "thresholds": settings.model.model_dump(),
             "training_pairs": result.model.labelled, "levels": result.model.table().to_dict(orient="records")}
    (staging / "linkage_model.json").write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    seconds = round(time.perf_counter() - t0, 3)
    lineage.write("stage", stage="link", seconds=seconds, **result.counts,
                  inputs=[str(LANDED_DIR / f"{s}.parquet") for s in used],
                  outputs=["record_links.parquet", "pairs.parquet", "linkage_model.json", str(REVIEW_FILE)])
    c = result.counts
    report(f"[{time.perf_counter() - started:6.1f}s] linked: {c['people']:,} people in {c['households']:,} "
           f"households; {c['review_pairs']:,} pairs for clerical review ({seconds:.1f}s)")
    return result


def _score_stage(staging: Path, lineage: _Deferred, rules: RuleSet, linked: Linkage, as_of: dt.date,
                 outcomes: list[SourceOutcome], caseworker_export: bool, report: Reporter, started: float) -> dict:
    """Households against the rule set: households.parquet, evidence.parquet, and the export if asked for."""
    t0 = time.perf_counter()
    used = {o.source for o in outcomes if o.used}
    frames = {}
    for source in sorted(used & set(rules.sources)):
        path = staging / LANDED_DIR / f"{source}.parquet"
        present = set(pq.read_schema(path).names)
        frames[source] = pd.read_parquet(path, columns=[c for c in rules.columns_needed(source) if c in present])
    scored = score(rules, frames, Membership(links=linked.record_links, people=linked.people), as_of)
    write_parquet(scored.households, staging / "households.parquet")
    write_parquet(scored.evidence, staging / "evidence.parquet")
    h = scored.households
    families = h["children"] > 0
    by_criterion = {c: {"households": int(h[c].fillna(False).sum()),
                        "eligible_families": int((h[c].fillna(False) & h["eligible"]).sum()),
                        "assessed": bool(h[c].notna().all()) if len(h) else rules.criteria[c].assessable}
                    for c in rules.criteria}
    counts = {"rule_set": rules.name, "title": rules.title, "households": len(h), "families": int(families.sum()),
              "eligible": int(h["eligible"].sum()), "evidence_rows": len(scored.evidence),
              "by_criterion": by_criterion,
              "not_assessed": [c for c, v in by_criterion.items() if not v["assessed"]]}
    counts["examples"] = _examples(h, scored.evidence, rules)
    outputs = ["households.parquet", "evidence.parquet"]
    if caseworker_export:
        rows = export_rows(h, linked.people, linked.addresses, rules, as_of)
        write_bytes(to_csv(rows), staging / CASEWORKER_FILE)
        outputs.append(str(CASEWORKER_FILE))
        counts["caseworker_rows"] = len(rows)
    seconds = round(time.perf_counter() - t0, 3)
    lineage.write("stage", stage="score", seconds=seconds, rule_set=rules.name, sources_assessed=sorted(frames),
                  households=len(h), families=counts["families"], eligible=counts["eligible"],
                  evidence_rows=len(scored.evidence), not_assessed=counts["not_assessed"],
                  inputs=["record_links.parquet", *[str(LANDED_DIR / f"{s}.parquet") for s in sorted(frames)]],
                  outputs=outputs)
    report(f"[{time.perf_counter() - started:6.1f}s] scored under {rules.name}: {counts['families']:,} families, "
           f"{counts['eligible']:,} eligible ({seconds:.1f}s)")
    return counts


def _examples(households: pd.DataFrame, evidence: pd.DataFrame, rules: RuleSet, n: int = 3) -> list[dict]:
    """A few eligible families and one piece of evidence per met criterion, for the closing summary.

    Pseudonymous keys and event details only; the families with most problems come first.
    """
    eligible = households[households["eligible"]].sort_values(["problems", "household_key"], ascending=[False, True])
    out = []
    for row in eligible.head(n).itertuples(index=False):
        rows = evidence[evidence["household_key"] == row.household_key]
        first = rows.drop_duplicates("criterion").set_index("criterion")
        out.append({"household_key": row.household_key, "members": int(row.members), "children": int(row.children),
                    "problems": int(row.problems),
                    "evidence": [(c, str(first.loc[c, "source"]), str(first.loc[c, "detail"]),
                                  int((rows["criterion"] == c).sum())) for c in rules.criteria if c in first.index]})
    return out


def _one_source(source: str, path: Path | None, schemas: Schemas, purpose: str, as_of: dt.date,
                refusal: str | None, config: RunConfig, gx: BackgroundGX, staging: Path,
                raise_io_errors: bool = False, code_version: str = "") -> tuple[SourceOutcome, pd.DataFrame | None]:
    """Gateway, ingest, validation and landing of one source; never raises for a bad file.

    A file an earlier completed run ingested under the same rules and code is reused from that
    run (`pipeline.ingest_cache`) rather than read again.
    """
    contract = schemas.contracts[source]
    gateway = schemas.gateways.get(source)
    record: dict = {"source": source, "file": str(path) if path else None, "sha256": None, "bytes": None,
                    "rows_in": 0, "rows_accepted": 0, "rows_quarantined": 0, "used": False,
                    "reason": None, "gateway": _gateway_record(schemas, source)}
    if path is None:
        record["reason"] = "no file supplied (allowed missing)" if contract.required_source \
            else "no file supplied (optional source)"
        return SourceOutcome(source, None, False, record["reason"], record=record), None
    try:
        data = path.read_bytes()
    except OSError as exc:
        if raise_io_errors:
            raise
        record["reason"] = f"file could not be read: {exc.strerror}"
        return SourceOutcome(source, path, False, record["reason"], record=record), None
    record["sha256"] = file_sha256(data)
    record["bytes"] = len(data)
    if refusal is None and gateway is not None:
        refusal = agreement_refusal(gateway, as_of)
    if refusal is not None:
        record["reason"] = refusal
        return SourceOutcome(source, path, False, refusal, record=record), None
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 3)
        clock = now

    key = ingest_cache.ingest_key(record["sha256"], source, config.schemas_root, config.max_bad_share, code_version)
    landed = LANDED_DIR / f"{source}.parquet"
    cached = ingest_cache.find(source, key, ledger_path(), landed) if config.reuse_ingest else None
    if cached is not None:
        return _reuse(cached, record, key, gx, staging, landed, seconds, lap)
    try:
        raw = parse_extract(data, path, contract, gateway)
    except SourceRefused as exc:
        record["reason"] = f"unreadable file: {exc}"
        return SourceOutcome(source, path, False, record["reason"], record=record), None
    del data
    lap("read")
    validated = validate(raw, contract, schemas, config.max_bad_share)
    lap("checks")
    # GX's outcome joins the record at the end. The check views of a usable source are kept as its
    # ingest cache entry, and GX reads them from there.
    if validated.refused:
        gx.submit(source, validated.checks, validated.views)
    else:
        specs = [CheckSpec.of(c) for c in validated.checks]
        ingest_cache.store(staging, source, key, specs, validated.views, validated.quarantine)
        gx.submit_file(source, specs, staging / ingest_cache.CACHE_DIR / source / "views.pkl")
    lap("great_expectations_queued")
    record["seconds"] = seconds
    record.update({
        "encoding": raw.encoding, "encoding_note": raw.encoding_note,
        "extra_columns_dropped": raw.extra_columns, "columns_dropped_by_gateway": raw.dropped_by_gateway,
        "optional_columns_absent": raw.missing_optional,
        "extract_date": validated.extract_date.date() if validated.extract_date is not None else None,
        "rows_in": validated.rows_in, "rows_accepted": validated.rows_accepted,
        "rows_quarantined": validated.rows_quarantined,
    })
    if validated.refused:
        record["reason"] = validated.refused
        return (SourceOutcome(source, path, False, validated.refused, validated.rows_in, 0,
                              validated.rows_quarantined, record), validated.quarantine)
    land(validated, staging / landed)
    lap("land")
    record["used"] = True
    record["landed"] = str(landed)
    record["ingest"] = {"key": key, "reused_from": None}
    return (SourceOutcome(source, path, True, None, validated.rows_in, validated.rows_accepted,
                          validated.rows_quarantined, record), validated.quarantine)


REUSED_FIELDS = ("encoding", "encoding_note", "extra_columns_dropped", "columns_dropped_by_gateway",
                 "optional_columns_absent", "extract_date", "rows_in", "rows_accepted", "rows_quarantined")


def _reuse(cached: ingest_cache.Cached, record: dict, key: str, gx: BackgroundGX, staging: Path, landed: Path,
           seconds: dict[str, float], lap: Callable[[str], None]) -> tuple[SourceOutcome, pd.DataFrame]:
    """This source as an earlier run ingested the same file: its landed rows, quarantine and check views."""
    source = record["source"]
    ingest_cache.link_or_copy(cached.landed, staging / landed)
    ingest_cache.carry(cached.folder, staging, source)
    gx.submit_file(source, cached.checks, staging / ingest_cache.CACHE_DIR / source / "views.pkl")
    lap("reused")
    record.update({k: cached.record.get(k) for k in REUSED_FIELDS})
    record.update({"seconds": seconds, "used": True, "landed": str(landed),
                   "ingest": {"key": key, "reused_from": str(cached.folder)}})
    return (SourceOutcome(source, Path(record["file"]), True, None, int(record["rows_in"]),
                          int(record["rows_accepted"]), int(record["rows_quarantined"]), record), cached.quarantine)
