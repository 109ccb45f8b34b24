"""One source's ingest: gateway, read, checks, landing; a bad file stops only its own source.

`ingest_source` never raises for a bad file: whatever is wrong (no file, unreadable, refused by
its gateway, not the contracted extract, too many bad rows) becomes the outcome's reason, and the
other sources go on. Its result is typed: the outcome (what the lineage records of the source),
the quarantined rows, and the Great Expectations job the run hands to its validator.

A file an earlier completed run ingested under the same rules and code is taken from that run
(`pipeline.ingest.cache`) rather than read again.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline.config.gateways import Gateway
from pipeline.config.schemas import Schemas
from pipeline.ingest import cache
from pipeline.ingest.admission import Admission, SuppressionList, admit
from pipeline.ingest.checks import CheckSpec
from pipeline.ingest.gateways import agreement_refusal
from pipeline.ingest.gx import ValidationJob
from pipeline.ingest.read import RawExtract, SourceRefused, file_sha256, parse_extract
from pipeline.ingest.validate import Validated, validate
from pipeline.laps import Laps
from pipeline.publish import RESTRICTED, write_table

LANDED_DIR = Path(RESTRICTED) / "landed"  # identifying data: kept apart from pseudonymous outputs


def landed_path(source: str) -> Path:
    """Where a source's accepted rows are landed, relative to the run folder."""
    return LANDED_DIR / f"{source}.parquet"


@dataclass(frozen=True)
class FileFacts:
    """What reading the file found; absent from an outcome whose file was never parsed."""

    encoding: str | None
    encoding_note: str | None
    extra_columns_dropped: list[str]
    columns_dropped_by_gateway: list[str]
    optional_columns_absent: list[str]
    extract_date: dt.date | None

    @classmethod
    def of(cls, raw: RawExtract, validated: Validated) -> FileFacts:
        date = validated.extract_date.date() if validated.extract_date is not None else None
        return cls(raw.encoding, raw.encoding_note, raw.extra_columns, raw.dropped_by_gateway,
                   raw.missing_optional, date)

    @classmethod
    def from_record(cls, record: dict) -> FileFacts:
        """The facts an earlier run's lineage recorded for the same file (reused ingest)."""
        date = record.get("extract_date")
        return cls(record.get("encoding"), record.get("encoding_note"), list(record.get("extra_columns_dropped") or []),
                   list(record.get("columns_dropped_by_gateway") or []),
                   list(record.get("optional_columns_absent") or []),
                   dt.date.fromisoformat(date) if isinstance(date, str) else date)


@dataclass(frozen=True)
class Validation:
    """Great Expectations' verdict on the source's suite, joined to the outcome once GX is done."""

    suite: str
    expectations: int
    failed: list[str]
    data_docs: str


@dataclass
class SourceOutcome:
    """One source of a run as the lineage records it: used, or absent or refused with the reason."""

    source: str
    file: Path | None
    gateway: Gateway | None
    used: bool = False
    reason: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    facts: FileFacts | None = None
    seconds: dict[str, float] | None = None
    landed: Path | None = None
    ingest_key: str | None = None
    reused_from: Reuse | None = None
    validation: Validation | None = None
    admission: Admission | None = None  # rows the registry kept out (allowed rows, opt-outs), counted
    link_target: Path | None = None  # the file read, when the extracts folder held a symbolic link to it

    @property
    def status(self) -> str:
        """'used', 'absent' (no file supplied) or 'refused' (a file, not used)."""
        return "used" if self.used else ("absent" if self.file is None else "refused")

    def lineage_record(self) -> dict:
        """The lineage's `source` record: facts, counts, gateway and reason; never a cell's value."""
        record: dict = {"source": self.source, "file": str(self.file) if self.file else None, "sha256": self.sha256,
                        "bytes": self.bytes, "rows_in": self.rows_in, "rows_accepted": self.rows_accepted,
                        "rows_quarantined": self.rows_quarantined, "used": self.used, "reason": self.reason,
                        "gateway": self.gateway.record() if self.gateway else None}
        if self.facts is not None:
            record.update(vars(self.facts))
        if self.admission is not None:
            record.update(self.admission.record())
        if self.seconds is not None:
            record["seconds"] = self.seconds
        if self.link_target is not None:
            record["link_target"] = str(self.link_target)
        if self.landed is not None:
            record["landed"] = str(self.landed)
        if self.ingest_key is not None:
            record["ingest"] = {"key": self.ingest_key,
                                "reused_from": self.reused_from.record() if self.reused_from else None}
        if self.validation is not None:
            record["validation"] = vars(self.validation)
        return record


@dataclass
class Ingested:
    """The result of one source's ingest."""

    outcome: SourceOutcome
    quarantine: pd.DataFrame | None = None
    validation: ValidationJob | None = None
    seconds: float = 0.0  # how long it took, where it ran (set by the run's step)
    worker: str | None = None  # the Dask worker it ran on, if it ran on one


@dataclass(frozen=True)
class Reuse:
    """The earlier run whose ingest of the same file this source took (`pipeline.ingest.cache`).

    Named by run id and ledger line, which last; its folder only while it is somewhere else than
    this run's own output folder: a run with --force into the same folder replaces the very folder
    it reused from, and a lineage pointing there would point at itself.
    """

    run_id: str
    ledger_line: int
    folder: Path | None  # None: the folder this run replaced (the reused files live on in this run's own)

    def record(self) -> dict:
        return {"run_id": self.run_id, "ledger_line": self.ledger_line,
                "folder": str(self.folder) if self.folder else None, "replaced_by_this_run": self.folder is None}

    @classmethod
    def from_record(cls, record: dict) -> Reuse:
        """The reuse as the lineage's `ingest.reused_from` gives it (for `audit show`)."""
        folder = record.get("folder")
        return cls(run_id=str(record.get("run_id")), ledger_line=int(record.get("ledger_line") or 0),
                   folder=Path(folder) if folder else None)

    def text(self, full_id: bool = False) -> str:
        """'run 1a2b3c4d (ledger line 7), in /runs/2026-11-01' or '..., the earlier run in this folder, replaced
        by this run'; the whole run id where an auditor will look it up."""
        where = f"in {self.folder}" if self.folder else "the earlier run in this folder, replaced by this run"
        return f"run {self.run_id if full_id else self.run_id[:8]} (ledger line {self.ledger_line}), {where}"


@dataclass(frozen=True)
class IngestOptions:
    """What every source's ingest in one run shares."""

    schemas: Schemas
    as_of: dt.date
    staging: Path  # the run's staging folder, where accepted rows are landed
    processing_date: dt.date = field(default_factory=dt.date.today)  # each agreement must be in force on it
    suppressions: dict[str, SuppressionList] = field(default_factory=dict)  # opt-out lists, by source
    max_bad_share: float | None = None
    reuse: bool = True
    code_version: str = ""
    ledger: Path | None = None  # where earlier runs are found for reuse
    replaces: Path | None = None  # the resolved output folder this run will replace (--force), if any


def land(validated: Validated, path: Path) -> None:
    """Accepted rows as typed Parquet: dates as date32, counts as int64, flags as bool."""
    table = pa.Table.from_pandas(validated.accepted, preserve_index=False)
    fields = [pa.field(f.name, pa.date32()) if pa.types.is_timestamp(f.type) else f for f in table.schema]
    write_table(table.cast(pa.schema(fields, metadata=table.schema.metadata)), path)


def ingest_source(source: str, path: Path | None, refusal: str | None, options: IngestOptions,
                  raise_io_errors: bool = False) -> Ingested:
    """Gateway, ingest, validation and landing of one source; never raises for a bad file.

    `refusal` is the gateway's purpose refusal, decided before the as-of date was known. A file
    that cannot be read is recorded as refused, or with `raise_io_errors` its OSError is raised
    so an orchestrator can retry (a network share that is briefly away).
    """
    schemas = options.schemas
    contract = schemas.contracts[source]
    gateway = schemas.gateways.get(source)
    outcome = SourceOutcome(source, path, gateway)
    if path is None:
        outcome.reason = "no file supplied (allowed missing)" if contract.required_source \
            else "no file supplied (optional source)"
        return Ingested(outcome)
    if path.is_symlink():  # followed, as a council's inbox may link to a share; the lineage says where it led
        outcome.link_target = Path(os.path.realpath(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        if raise_io_errors:
            raise
        outcome.reason = f"file could not be read: {exc.strerror}"
        return Ingested(outcome)
    outcome.sha256, outcome.bytes = file_sha256(data), len(data)
    if refusal is None and gateway is not None:
        refusal = agreement_refusal(gateway, options.processing_date, options.as_of)
    if refusal is not None:
        outcome.reason = refusal
        return Ingested(outcome)
    laps = Laps()
    suppression = options.suppressions.get(source)
    # The opt-out list shapes what lands, so a changed list never reuses an earlier run's ingest.
    key = cache.ingest_key(outcome.sha256 + (suppression.sha256 if suppression else ""), source, schemas.root,
                           options.max_bad_share, options.code_version)
    cached = cache.find(source, key, options.ledger, landed_path(source)) if options.reuse else None
    if cached is not None:
        return _reuse(cached, outcome, key, options, laps)
    try:
        raw = parse_extract(data, path, contract, gateway,
                            max_record_lines=schemas.settings.max_record_lines)
    except SourceRefused as exc:
        outcome.reason = f"unreadable file: {exc}"
        return Ingested(outcome)
    del data
    raw, outcome.admission = admit(raw, gateway, suppression)
    laps.lap("read")
    return _checked(raw, outcome, key, options, laps)


def _checked(raw: RawExtract, outcome: SourceOutcome, key: str, options: IngestOptions, laps: Laps) -> Ingested:
    """Validate a parsed file, then land it and keep its cache entry, or refuse it whole."""
    source = outcome.source
    validated = validate(raw, options.schemas.contracts[source], options.schemas, options.max_bad_share)
    laps.lap("checks")
    specs = [CheckSpec.of(c) for c in validated.checks]
    if validated.refused:
        job = ValidationJob(specs, views=validated.views)
    else:  # the check views of a usable source are kept as its cache entry, and GX reads them from there
        cache.store(options.staging, source, key, specs, validated.views, validated.quarantine)
        job = ValidationJob(specs, views_file=options.staging / cache.views_file(source))
    laps.lap("great_expectations_queued")
    outcome.seconds = laps.seconds
    outcome.facts = FileFacts.of(raw, validated)
    outcome.rows_in, outcome.rows_quarantined = validated.rows_in, validated.rows_quarantined
    if validated.refused:
        outcome.reason = validated.refused
        return Ingested(outcome, validated.quarantine, job)
    land(validated, options.staging / landed_path(source))
    laps.lap("land")
    outcome.used, outcome.rows_accepted = True, validated.rows_accepted
    outcome.landed, outcome.ingest_key = landed_path(source), key
    return Ingested(outcome, validated.quarantine, job)


def _reuse(cached: cache.Cached, outcome: SourceOutcome, key: str, options: IngestOptions, laps: Laps) -> Ingested:
    """This source as an earlier run ingested the same file: its landed rows, quarantine and check views."""
    source, staging = outcome.source, options.staging
    cache.link_or_copy(cached.landed, staging / landed_path(source))
    cache.carry(cached.folder, staging, source)
    laps.lap("reused")
    record = cached.record
    outcome.facts = FileFacts.from_record(record)
    outcome.rows_in, outcome.rows_accepted = int(record["rows_in"]), int(record["rows_accepted"])
    outcome.rows_quarantined = int(record["rows_quarantined"])
    if "rows_received" in record:
        outcome.admission = Admission(int(record["rows_received"]), dict(record["rows_outside_gateway_by_rule"]),
                                      int(record["rows_suppressed"]), record["suppression_list"])
    outcome.seconds, outcome.used, outcome.landed = laps.seconds, True, landed_path(source)
    outcome.ingest_key = key
    outcome.reused_from = Reuse(run_id=cached.run_id, ledger_line=cached.ledger_line,
                                folder=None if cached.folder == options.replaces else cached.folder)
    job = ValidationJob(cached.checks, views_file=staging / cache.views_file(source))
    return Ingested(outcome, cached.quarantine, job)
