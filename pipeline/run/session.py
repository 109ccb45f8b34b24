"""One run in progress: what its stages share, from opening the staging folder to publishing it.

`open_run` loads and checks everything the run depends on (schemas/, the rule set, the key, the
extracts folder) before anything is written, decides the as-of date, opens the staging folder,
the lineage, the OpenLineage trail and the Great Expectations worker, and returns the `Session`
the stages of `pipeline.run.stages` work over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import pandas as pd

from pipeline.audit import openlineage
from pipeline.audit.ledger import ledger_path
from pipeline.audit.lineage import LineageWriter, sha256_file
from pipeline.config.files import ContractError
from pipeline.config.gateways import Purpose
from pipeline.config.names import closest, did_you_mean
from pipeline.config.schemas import Schemas, load_schemas
from pipeline.criteria.rules import RuleSet, RuleSetNotFound, load_rule_set
from pipeline.criteria.stage import Scoring
from pipeline.engine import LOCAL, Engine, open_engine
from pipeline.ingest.admission import (
    SUPPRESSIONS_DIR,
    SuppressionList,
    SuppressionListError,
    read_suppression_list,
    suppression_path,
)
from pipeline.ingest.gateways import lapse_warnings, registry_refusal
from pipeline.ingest.gx import BackgroundGX
from pipeline.ingest.read import peek_extract_date
from pipeline.ingest.source import IngestOptions, SourceOutcome
from pipeline.keys import MissingKey, key_fingerprint, key_warnings, load_key
from pipeline.link.review import Decisions, ReviewFormError, combined, read_decisions
from pipeline.link.settings import LINKAGE_FILE, LinkageSettings, load_linkage
from pipeline.link.stage import Linkage
from pipeline.publish import LINEAGE, RESTRICTED, OutputExists, check_apart, check_output, discard, staging_dir
from pipeline.run.config import RunConfig
from pipeline.run.failure import RunError, go_on_without, record_abandoned, record_unstarted
from pipeline.run.orchestrator import Orchestrator, lineage_fields
from pipeline.run.previous import PreviousRun, load_previous

DOCS_DIR = "data_docs"

Reporter = Callable[[str], None]


def silent(_: str) -> None:
    return None


@dataclass(frozen=True)
class Configuration:
    """Everything under schemas/ a run reads, loaded and cross-checked once at its start."""

    schemas: Schemas
    rules: RuleSet
    linkage: LinkageSettings
    openlineage: openlineage.OpenLineageSettings


def load_configuration(config: RunConfig) -> Configuration:
    """schemas/, the run's rule set, linkage and OpenLineage settings; RunError naming the file and key."""
    root = config.schemas_root
    try:
        schemas = load_schemas(root)
        linkage = load_linkage(root / LINKAGE_FILE, sources=list(schemas.contracts))
        lineage_settings = openlineage.load_openlineage_config(root / "openlineage.yaml")
    except ContractError as exc:
        raise RunError(f"broken configuration: {exc}") from None
    try:
        rules = load_rule_set(config.rules, schemas.contracts, root)
    except RuleSetNotFound as exc:
        raise RunError(str(exc)) from None
    except ContractError as exc:  # the rule file named, and the key at fault
        raise RunError(f"rule set {config.rules} (--rules) is not valid: {exc}") from None
    return Configuration(schemas=schemas, rules=rules, linkage=linkage, openlineage=lineage_settings)


class Deferred:
    """Lineage records held back so the trail stays in order: run start, sources, stages, run end."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict]] = []

    def write(self, event: str, **fields: object) -> None:
        self.records.append((event, fields))


@dataclass
class Session:
    """One run in progress. Every entry point (the command line's `execute`, the Prefect flow's tasks)
    drives the same stage functions over a session: `open_run`, `ingest` for each source (any
    order, or at once from several threads), `finish_ingest`, `link`, `score_households`,
    `publish`; `abort` on failure."""

    config: RunConfig
    configuration: Configuration
    key: bytes
    purpose: str
    files: dict[str, Path | None]
    permitted: dict[str, str | None]  # per source, its registry refusal (None: permitted)
    suppressions: dict[str, SuppressionList]  # per source with an opt-out list beside the extracts
    as_of: dt.date
    processing_date: dt.date  # the day the run counts as run on (each agreement must be in force then)
    staging: Path
    lineage: LineageWriter
    gx: BackgroundGX
    report: Reporter
    started: float
    run_id: str
    code_version: str
    outcomes: dict[str, SourceOutcome] = field(default_factory=dict)
    quarantines: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: pd.DataFrame | None = None
    stages: Deferred = field(default_factory=Deferred)
    linked: Linkage | None = None
    scoring: Scoring | None = None
    previous: PreviousRun | None = None  # the previous month's run (--previous), checked
    changes: pd.DataFrame | None = None  # changes.parquet, with --previous
    decisions: Decisions | None = None  # a reviewer's filled-in form (--decisions), read and checked
    held_written: bool = False  # the held source and stage records are in the lineage (write_held_records)
    warnings: list[str] = field(default_factory=list)  # said before the run starts: lapsing agreements, ...
    engine: Engine = LOCAL  # where the heavy stages run (pipeline.engine): this process or a Dask cluster
    closing: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)  # the engine, stopped by close()

    def close(self) -> None:
        """Stop what the run started for itself (a local Dask cluster, its spill folder); safe to call twice."""
        self.closing.close()

    @property
    def schemas(self) -> Schemas:
        return self.configuration.schemas

    @property
    def sources(self) -> list[str]:
        return list(self.files)

    @property
    def ingest_options(self) -> IngestOptions:
        c = self.config
        return IngestOptions(schemas=self.schemas, as_of=self.as_of, processing_date=self.processing_date,
                             staging=self.staging,
                             suppressions=self.suppressions, max_bad_share=c.max_bad_share, reuse=c.reuse_ingest,
                             code_version=self.code_version,
                             ledger=ledger_path(), replaces=c.out.resolve() if c.out.is_dir() else None)

    def write_held_records(self) -> None:
        """The source and stage records held back until now, into the lineage, once.

        A run that completes writes them at publish, after Great Expectations has reported; a run
        that fails writes what it has before its failed run_end, so its kept trail still shows
        which files came in under which gateway and what was refused.
        """
        if self.held_written:
            return
        self.held_written = True
        for outcome in self.ordered_outcomes():
            self.lineage.write("source", **outcome.lineage_record())
        for event, fields in self.stages.records:
            self.lineage.write(event, **fields)

    def ordered_outcomes(self) -> list[SourceOutcome]:
        return [self.outcomes[s] for s in self.files if s in self.outcomes]

    def elapsed(self) -> str:
        """The progress lines' clock: seconds since the run started."""
        return f"[{time.perf_counter() - self.started:6.1f}s]"


def source_files(config: RunConfig, schemas: Schemas, report: Reporter) -> dict[str, Path | None]:
    """Each source's file in the extracts folder (None when absent); RunError when a required one is missing.

    Files that are not `<source>.csv` are ignored, and named: an extract sent under another name
    (`Police_Extract_Oct2026.csv`) is the likeliest reason a required one is missing, so the
    error suggests it; when the run goes on, a warning lists what was left out.
    """
    folder = config.extracts
    if not folder.exists():
        raise RunError(f"extracts folder {folder} does not exist (--extracts)")
    if not folder.is_dir():
        raise RunError(f"--extracts {folder} is a file; give the folder that holds the <source>.csv files")
    files: dict[str, Path | None] = {}
    missing_required = []
    for source, contract in sorted(schemas.contracts.items()):
        path = folder / f"{source}.csv"
        files[source] = path if path.is_file() else None
        if files[source] is None and contract.required_source and source not in config.allow_missing:
            missing_required.append(source)
    expected = {f"{source}.csv" for source in schemas.contracts} | {SUPPRESSIONS_DIR}
    ignored = sorted(p.name for p in folder.iterdir() if p.name not in expected and not p.name.startswith("."))
    if missing_required:
        names = ", ".join(f"{s}.csv{_sent_as(s, ignored, list(schemas.contracts))}" for s in missing_required)
        others = f"; the folder also holds, not read: {', '.join(ignored)}" if ignored else ""
        raise RunError(f"required extract(s) missing from {folder}: {names}{others} "
                       f"({go_on_without(missing_required)})")
    if ignored:
        report(f"warning: not read from {folder} (not named <source>.csv for a known source): {', '.join(ignored)}")
    for path in (p for p in files.values() if p is not None and p.is_symlink()):
        report(f"note: {path.name} is a symbolic link; read from {os.path.realpath(path)} (the lineage records it)")
    return files


def suppression_lists(extracts: Path, schemas: Schemas, files: dict[str, Path | None],
                      permitted: dict[str, str | None]) -> dict[str, SuppressionList]:
    """Each permitted source's opt-out list from `suppressions/<source>.csv`, read before any extract.

    A list that cannot be applied refuses its source (`permitted` gains the reason): data that may
    hold opted-out people never comes in unfiltered. A list the registry requires and nobody sent
    refuses its source too; one it declares but does not require is simply absent (the sender
    applies the opt-out before sending, as the entry's `opt_out` records).
    """
    out = {}
    for source, path in files.items():
        gateway = schemas.gateways.get(source)
        if path is None or permitted[source] is not None or gateway is None or gateway.suppression is None:
            continue
        listed = suppression_path(extracts, source)
        if not listed.is_file():
            if gateway.suppression.required:
                permitted[source] = (f"the registry requires a {gateway.suppression.name} list and none was "
                                     f"supplied ({SUPPRESSIONS_DIR}/{source}.csv)")
            continue
        try:
            out[source] = read_suppression_list(listed, source, gateway.suppression)
        except SuppressionListError as exc:
            permitted[source] = str(exc)
    return out


def _sent_as(source: str, ignored: list[str], sources: list[str]) -> str:
    """' (is Police_Extract.csv it? rename it police.csv)' when an ignored file looks like this source's."""
    for name in ignored:
        if closest(Path(name).stem, sources) == source:
            return f" (is {name} it? rename it {source}.csv)"
    return ""


def check_names(config: RunConfig, schemas: Schemas) -> None:
    """RunError naming the flag when `--purpose` or `--allow-missing` names something unknown.

    Checked before the files: a mistyped purpose would otherwise refuse every source's gateway
    and surface as a puzzle about extract dates.
    """
    purposes = list(get_args(Purpose))
    if config.purpose is not None and config.purpose not in purposes:
        raise RunError(f"unknown purpose '{config.purpose}' (--purpose){did_you_mean(config.purpose, purposes)}; "
                       f"the purposes are {', '.join(purposes)}")
    sources = sorted(schemas.contracts)
    for name in config.allow_missing:
        if name not in schemas.contracts:
            raise RunError(f"unknown source '{name}' (--allow-missing){did_you_mean(name, sources)}; "
                           f"the sources are {', '.join(sources)}")


def as_of_date(config: RunConfig, schemas: Schemas, files: dict[str, Path | None],
               permitted: dict[str, str | None], processing_date: dt.date) -> tuple[dt.date, list[str]]:
    """The given as-of date, else the latest extract date of the files a gateway permits; and warnings.

    One file's wrong date must not move or stop the whole run: an extract dated after the
    processing date refuses its own source (`permitted` gains the reason) and takes no part in
    choosing the as-of date; and an as-of date that only one source's files reach is warned of,
    naming that source, since every other source is then counted back from a day it did not see.
    """
    peeked = {s: peek_extract_date(p, schemas.contracts[s]) for s, p in files.items()
              if p is not None and permitted[s] is None}
    for source, date in peeked.items():
        if date is not None and date > processing_date:
            permitted[source] = (f"extract_date {date.isoformat()} is after the processing date "
                                 f"{processing_date.isoformat()}: the file cannot be as of a day that has not come")
    dates = {s: d for s, d in peeked.items() if d is not None and permitted[s] is None}
    warnings = []
    if config.as_of is None and len(dates) > 1:
        latest = max(dates.values())
        at_latest = sorted(s for s, d in dates.items() if d == latest)
        if len(at_latest) == 1:
            others = max(d for d in dates.values() if d != latest)
            warnings.append(f"the as-of date {latest.isoformat()} comes from {at_latest[0]} alone; the other sources "
                            f"are as of {others.isoformat()} or earlier: give --as-of to choose")
    as_of = config.as_of or max(dates.values(), default=None)
    if as_of is None:
        raise RunError("no as-of date: no usable extract_date in the supplied files (give --as-of)")
    return as_of, warnings


def run_parameters(config: RunConfig, configuration: Configuration, as_of: dt.date, purpose: str,
                   processing_date: dt.date) -> dict:
    """The run's parameters as its run_start record and OpenLineage START event give them."""
    rules = configuration.rules
    return {
        "extracts": str(config.extracts), "out": str(config.out), "rules": rules.name,
        "rules_file": str(rules.path), "rules_sha256": sha256_file(rules.path),
        "caseworker_export": config.caseworker_export,
        "as_of": as_of, "as_of_given": config.as_of is not None, "purpose": purpose,
        "processing_date": processing_date, "processing_date_given": config.processing_date is not None,
        "allow_missing": list(config.allow_missing), "max_bad_share": config.max_bad_share
        if config.max_bad_share is not None else configuration.schemas.settings.max_bad_share,
    }


@dataclass(frozen=True)
class Preflight:
    """What a run checks before it writes anything: its configuration, key, files and as-of date."""

    configuration: Configuration
    key: bytes
    purpose: str
    files: dict[str, Path | None]
    permitted: dict[str, str | None]
    as_of: dt.date
    processing_date: dt.date
    suppressions: dict[str, SuppressionList] = field(default_factory=dict)
    previous: PreviousRun | None = None
    decisions: Decisions | None = None
    warnings: tuple[str, ...] = ()


def read_review_decisions(path: Path | None) -> Decisions | None:
    """The reviewer's filled-in form, or None; RunError naming the file, row and column when it is not right."""
    if path is None:
        return None
    try:
        return read_decisions(path)
    except ReviewFormError as exc:
        raise RunError(f"--decisions: {exc}") from None


def preflight(config: RunConfig, report: Reporter = silent) -> Preflight:
    """Load and check the configuration, key, flags and extracts folder; RunError when the run cannot start."""
    configuration = load_configuration(config)
    schemas = configuration.schemas
    try:
        key = load_key()
    except MissingKey as exc:
        raise RunError(str(exc)) from None
    key_said = key_warnings()
    purpose = config.purpose or schemas.settings.default_purpose
    check_names(config, schemas)
    try:
        check_apart(config.out, config.extracts)  # before the files are read: a wrong --out is said at once
        check_output(config.out, config.force)
    except OutputExists as exc:
        raise RunError(str(exc)) from None
    files = source_files(config, schemas, report)
    permitted = {s: registry_refusal(schemas.gateways.get(s), purpose) for s in files}
    suppressions = suppression_lists(config.extracts, schemas, files, permitted)
    processing_date = config.processing_date or dt.date.today()
    as_of, as_of_said = as_of_date(config, schemas, files, permitted, processing_date)
    if as_of > processing_date:
        raise RunError(f"as-of date {as_of.isoformat()} is after the processing date {processing_date.isoformat()}: "
                       "a run cannot count back from a day that has not come (--processing-date is for tests and "
                       "backfills)")
    usable = [s for s in files if permitted[s] is None]
    warnings = key_said + as_of_said + lapse_warnings(schemas.gateways, usable, processing_date,
                                                      schemas.settings.agreement_warning_days)
    previous = None
    if config.previous is not None:
        previous, said = load_previous(config.previous, key_fingerprint(key), configuration.rules.name, as_of)
        warnings += said
    for warning in warnings:
        report(f"warning: {warning}")
    return Preflight(configuration=configuration, key=key, purpose=purpose, files=files, permitted=permitted,
                     suppressions=suppressions, as_of=as_of, processing_date=processing_date, warnings=tuple(warnings),
                     previous=previous,
                     decisions=combined(previous.decisions if previous is not None else None,
                                        read_review_decisions(config.decisions)))


def open_run(config: RunConfig, report: Reporter = silent, orchestrator: Orchestrator | None = None) -> Session:
    """Check everything the run depends on (`preflight`), open the staging folder and the trails.

    `orchestrator`, when one started the run, is recorded in run_start and the OpenLineage START event.

    Raises RunError before anything is written when the run cannot start; even then the run is
    in the ledger, failed with its reason (`record_unstarted`), so an auditor sees every attempt.
    """
    started = time.perf_counter()
    run_id = openlineage.new_run_id()
    try:
        checked = preflight(config, report)
        configuration = checked.configuration
        try:
            staging = staging_dir(config.out, config.force,
                                  on_abandoned=lambda folder: record_abandoned(folder, configuration.openlineage))
        except OutputExists as exc:
            raise RunError(str(exc)) from None
    except BaseException as exc:
        record_unstarted(config, run_id, exc, started, orchestrator)
        raise
    lineage = LineageWriter(staging / LINEAGE)
    closing = contextlib.ExitStack()
    try:
        context = LineageWriter.run_context()
        parameters = run_parameters(config, configuration, checked.as_of, checked.purpose, checked.processing_date)
        started_by = lineage_fields(orchestrator)
        if checked.previous is not None:
            parameters["previous_run"] = checked.previous.record()
        engine = closing.enter_context(open_engine(**config.engine_options))  # an EngineError is the run's reason
        facts = engine.facts()  # in run_start and the OpenLineage START event's parameters: where the run ran
        parameters["engine"] = facts.record()
        if facts.kind != "local":
            report(f"engine: {facts.text()}")
        lineage.write("run_start", run_id=run_id, parameters=parameters, key_fingerprint=key_fingerprint(checked.key),
                      warnings=list(checked.warnings), **context, **started_by)
        openlineage.start(staging, run_id, parameters, settings=configuration.openlineage,
                          orchestrator=started_by.get("orchestrator"))
        gx = BackgroundGX(staging / DOCS_DIR, dt.datetime.combine(checked.as_of, dt.time()),
                          staging / RESTRICTED / ".gx")
    except BaseException as exc:
        with contextlib.suppress(Exception):
            closing.close()
        lineage.close()
        discard(staging)
        record_unstarted(config, run_id, exc, started, orchestrator)
        raise
    return Session(config=config, configuration=configuration, key=checked.key, purpose=checked.purpose,
                   files=checked.files, permitted=checked.permitted, suppressions=checked.suppressions,
                   as_of=checked.as_of, staging=staging,
                   lineage=lineage, gx=gx, report=report, started=started, run_id=run_id, previous=checked.previous,
                   decisions=checked.decisions, processing_date=checked.processing_date,
                   warnings=list(checked.warnings), code_version=str(context["code_version"]), engine=engine,
                   closing=closing)
