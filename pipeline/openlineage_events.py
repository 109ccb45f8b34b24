"""OpenLineage events of a run: START, then COMPLETE or FAIL, in `<run folder>/openlineage.jsonl`.

`lineage.jsonl` is the auditors' own trail; these events say the same things (which files went
in under which gateway, which tables came out) in the OpenLineage standard, so a lineage server
such as Marquez can show them beside other systems' lineage. They are written with the
openlineage-python client: its file transport in append mode writes exactly the one file, one
event a line (no subclass needed), and its HTTP transport sends the same events to a server when
`schemas/openlineage.yaml` switches it on.

Inputs are the source files offered to the run, used or refused: each carries the standard
schema facet (its contract's columns and types), version facet (the file's SHA-256), data-quality
facets (rows read; Great Expectations checks passed and failed by name) and our own gateway facet
(the legal gateway, the agreement, whether the file was let in or why not). Outputs are the
run's published tables with their row counts. Like `lineage.jsonl`, no event holds personal
data: only paths, hashes, counts, gateway metadata and column names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attr
import pyarrow.parquet as pq
from openlineage.client import OpenLineageClient
from openlineage.client.constants import __version__ as CLIENT_VERSION
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    InputDatasetFacet,
    data_quality_assertions_dataset,
    data_quality_metrics_input_dataset,
    dataset_version_dataset,
    error_message_run,
    execution_parameters_run,
    job_type_job,
    output_statistics_output_dataset,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider
from openlineage.client.transport.transport import Transport
from openlineage.client.uuid import generate_new_uuid
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pipeline import __version__
from pipeline.checks import compile_checks
from pipeline.contracts import SCHEMAS_DIR, ContractError, Schemas, _parse, _read_yaml

log = logging.getLogger(__name__)
DataQualityMetricsInputDatasetFacet = data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet

CONFIG_PATH = SCHEMAS_DIR / "openlineage.yaml"
EVENTS_FILE = "openlineage.jsonl"
GATEWAY_FACET = "familyIdentification_gateway"  # custom facets carry their producer's prefix
GATEWAY_FACET_SCHEMA_URL = (
    "urn:family-identification:openlineage:GatewayInputDatasetFacet:1-0-0#/$defs/GatewayInputDatasetFacet"
)
RUN_ID_NAMESPACE = uuid.UUID("5f0c1d52-7a4e-5b8e-9c1a-3d2f6e8b4a17")  # for run_id_from(); never change it

# Settings for the client itself, over any openlineage.yml or OPENLINEAGE__ variables it would
# otherwise read: environment variable values and the git remote URL must never enter an event.
_CLIENT_CONFIG: dict[str, Any] = {
    "facets": {"environment_variables": [], "source_code_location": {"disabled": True}},
    "dataset": {"reducing_enabled": False},
    "filters": [],
}


# --------------------------------------------------------------------------- configuration
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(_Strict):
    """The lineage server. Holds the NAME of the key's environment variable, never the key."""

    enabled: bool = False
    url: str | None = Field(None, validate_default=True)
    endpoint: str = "api/v1/lineage"
    api_key_env: str | None = None
    timeout: float = Field(5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("enabled"):
                raise ValueError("a URL is required when enabled is true")
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("must be the name of an environment variable (never the key itself)")
        return value


class OpenLineageSettings(_Strict):
    """What `schemas/openlineage.yaml` declares; `path` is kept so later errors can name the file."""

    namespace: str = Field(min_length=1)
    job: str = Field(min_length=1)
    producer: str
    http: HttpSettings = HttpSettings()
    path: Path = CONFIG_PATH

    @field_validator("producer")
    @classmethod
    def _absolute_uri(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value):
            raise ValueError("must be an absolute URI (e.g. https://... or urn:...)")
        return value


def load_openlineage_config(path: Path = CONFIG_PATH) -> OpenLineageSettings:
    """Read and check the OpenLineage settings; a broken file raises ContractError naming file and key."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ContractError(f"{path}: expected a mapping (namespace, job, producer, http)")
    if "path" in data:
        raise ContractError(f"{path}: path: not a setting of this file")
    return _parse(OpenLineageSettings, path, {**data, "path": path})  # type: ignore[return-value]


def http_api_key(settings: OpenLineageSettings) -> str | None:
    """The lineage server's API key, read from the environment variable the file names."""
    name = settings.http.api_key_env
    if not name:
        return None
    key = os.environ.get(name)
    if not key:
        raise ContractError(f"{settings.path}: http.api_key_env: environment variable {name} is not set")
    return key


# --------------------------------------------------------------------------- run ids
def new_run_id() -> str:
    """A fresh run id from the client (a time-ordered UUIDv7, as the OpenLineage spec recommends)."""
    return str(generate_new_uuid())


def run_id_from(text: str) -> str:
    """A deterministic run id (UUIDv5) from `text`, e.g. a scheduler's run id, so retries agree."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, text))


def _checked_run_id(run_id: str) -> str:
    return str(uuid.UUID(str(run_id)))


# --------------------------------------------------------------------------- our facet
@attr.define
class GatewayAgreement:
    reference: str
    start: str
    expires: str


@attr.define
class GatewayDeclaration:
    """The gateway as schemas/gateways.yaml declares it (all declared text, no personal data)."""

    citation: str
    statute: str
    section: str
    basis: str
    controller: str
    purposes: list[str]
    agreement: GatewayAgreement


@attr.define(kw_only=True)
class GatewayInputDatasetFacet(InputDatasetFacet):
    """Under which gateway and agreement a source file was offered, and whether it was let in.

    An input facet, not a dataset facet: admission is a fact about this run's use of the file.
    `gateway` is absent when none is declared for the source (which is itself the refusal).
    """

    # Fields are camelCase, as in OpenLineage's own facets.
    source: str
    admitted: bool
    refusalReason: str | None = None
    gateway: GatewayDeclaration | None = None
    sha256: str | None = None
    bytes: int | None = None
    extractDate: str | None = None
    rowsIn: int | None = None
    rowsAccepted: int | None = None
    rowsQuarantined: int | None = None
    columnsDroppedByGateway: list[str] = attr.field(factory=list)
    extraColumnsDropped: list[str] = attr.field(factory=list)
    optionalColumnsAbsent: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return GATEWAY_FACET_SCHEMA_URL


_STRINGS = {"type": "array", "items": {"type": "string"}}
GATEWAY_FACET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": GATEWAY_FACET_SCHEMA_URL.split("#")[0],
    "$ref": "#/$defs/GatewayInputDatasetFacet",
    "$defs": {
        "GatewayInputDatasetFacet": {
            "type": "object",
            "additionalProperties": False,
            "required": ["_producer", "_schemaURL", "source", "admitted"],
            "properties": {
                "_producer": {"type": "string"},
                "_schemaURL": {"type": "string", "const": GATEWAY_FACET_SCHEMA_URL},
                "source": {"type": "string"},
                "admitted": {"type": "boolean"},
                "refusalReason": {"type": "string"},
                "gateway": {"$ref": "#/$defs/Gateway"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "bytes": {"type": "integer", "minimum": 0},
                "extractDate": {"type": "string", "format": "date"},
                "rowsIn": {"type": "integer", "minimum": 0},
                "rowsAccepted": {"type": "integer", "minimum": 0},
                "rowsQuarantined": {"type": "integer", "minimum": 0},
                "columnsDroppedByGateway": _STRINGS,
                "extraColumnsDropped": _STRINGS,
                "optionalColumnsAbsent": _STRINGS,
            },
        },
        "Gateway": {
            "type": "object",
            "additionalProperties": False,
            "required": ["citation", "statute", "section", "basis", "controller", "purposes", "agreement"],
            "properties": {
                "citation": {"type": "string"},
                "statute": {"type": "string"},
                "section": {"type": "string"},
                "basis": {"type": "string"},
                "controller": {"type": "string"},
                "purposes": _STRINGS,
                "agreement": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["reference", "start", "expires"],
                    "properties": {
                        "reference": {"type": "string"},
                        "start": {"type": "string", "format": "date"},
                        "expires": {"type": "string", "format": "date"},
                    },
                },
            },
        },
    },
}
"""The JSON Schema of `GatewayInputDatasetFacet`, for publishing at its schema URL and for the tests."""


# --------------------------------------------------------------------------- inputs
def _text(value: Any) -> str | None:
    """Dates (in-process records) and strings (records read back from lineage.jsonl) alike."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _gateway_declaration(gateway: Mapping[str, Any] | None) -> GatewayDeclaration | None:
    if not gateway:
        return None
    return GatewayDeclaration(
        citation=gateway["citation"], statute=gateway["statute"], section=gateway["section"],
        basis=gateway["basis"], controller=gateway["controller"], purposes=list(gateway["purposes"]),
        agreement=GatewayAgreement(reference=gateway["agreement"], start=_text(gateway["agreement_start"]),
                                   expires=_text(gateway["agreement_expires"])))


def _was_read(record: Mapping[str, Any]) -> bool:
    """Whether the file's rows were counted: a source refused by its gateway is never parsed,
    and its rows_in of 0 would wrongly say the file was empty."""
    return "encoding" in record


def gateway_facet(record: Mapping[str, Any], producer: str) -> GatewayInputDatasetFacet:
    """Our facet from a lineage.jsonl `source` record."""
    read = _was_read(record)
    return GatewayInputDatasetFacet(
        producer=producer, source=record["source"], admitted=bool(record.get("used")),
        refusalReason=record.get("reason"), gateway=_gateway_declaration(record.get("gateway")),
        sha256=record.get("sha256"), bytes=record.get("bytes"), extractDate=_text(record.get("extract_date")),
        rowsIn=record.get("rows_in") if read else None,
        rowsAccepted=record.get("rows_accepted") if read else None,
        rowsQuarantined=record.get("rows_quarantined") if read else None,
        columnsDroppedByGateway=list(record.get("columns_dropped_by_gateway") or []),
        extraColumnsDropped=list(record.get("extra_columns_dropped") or []),
        optionalColumnsAbsent=list(record.get("optional_columns_absent") or []))


def _contract_schema(source: str, schemas: Schemas, producer: str) -> schema_dataset.SchemaDatasetFacet | None:
    contract = schemas.contracts.get(source)
    if contract is None:
        return None
    fields = [schema_dataset.SchemaDatasetFacetFields(name=name, type=col.type,
                                                      description=f"role: {col.role}" if col.role else None)
              for name, col in contract.columns.items()]
    return schema_dataset.SchemaDatasetFacet(producer=producer, fields=fields)


def _metrics(record: Mapping[str, Any], producer: str) -> DataQualityMetricsInputDatasetFacet:
    return DataQualityMetricsInputDatasetFacet(
        producer=producer, rowCount=record.get("rows_in") if _was_read(record) else None,
        bytes=record.get("bytes"), fileCount=1, columnMetrics={})


def _contract_checks(record: Mapping[str, Any], schemas: Schemas | None) -> list[tuple[str, str, str]]:
    """(name, column, kind) of every check GX ran on the file, recompiled from its contract.

    lineage.jsonl keeps only the failed checks' names and how many there were; the checks that
    ran follow from the contract and the columns present, as in `validate`. If the recompiled
    list does not agree with the record, it is not used (an empty list) rather than guessed.
    """
    if schemas is None or record["source"] not in schemas.contracts:
        return []
    contract = schemas.contracts[record["source"]]
    validation = record.get("validation") or {}
    absent = set(record.get("optional_columns_absent") or []) | set(record.get("columns_dropped_by_gateway") or [])
    checks = compile_checks(contract, schemas.formats, schemas.settings.text_max_length,
                            set(contract.columns) - absent)
    names = {c.name for c in checks}
    if len(checks) != validation.get("expectations") or not set(validation.get("failed", [])) <= names:
        return []
    return [(c.name, c.column, c.kind) for c in checks]


def _assertions(record: Mapping[str, Any], schemas: Schemas | None,
                producer: str) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet | None:
    """The GX suite's outcome, then each check passed or failed by name."""
    validation = record.get("validation")
    if not validation:
        return None
    Assertion = data_quality_assertions_dataset.Assertion
    failed = set(validation.get("failed", []))
    suite = Assertion(
        assertion="expectation_suite", name=validation.get("suite"), success=not failed,
        description="Great Expectations suite generated from the source contract",
        params={"expectations": validation.get("expectations"), "failed": len(failed),
                "dataDocs": validation.get("data_docs")})
    checks = _contract_checks(record, schemas)
    if checks:
        each = [Assertion(assertion=kind, name=name, column=column, success=name not in failed)
                for name, column, kind in checks]
    else:  # only the failures are known by name
        each = [Assertion(assertion="contract_check", name=name, success=False) for name in sorted(failed)]
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        producer=producer, assertions=[suite, *each])


def input_dataset(record: Mapping[str, Any], schemas: Schemas | None, producer: str) -> InputDataset:
    """One source file offered to the run (a lineage.jsonl `source` record), used or refused.

    Named by its absolute path; a relative `file` is taken from the current folder, as the run did.
    """
    facets: dict[str, Any] = {}
    schema = _contract_schema(record["source"], schemas, producer) if schemas is not None else None
    if schema is not None:
        facets["schema"] = schema
    if record.get("sha256"):
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            producer=producer, datasetVersion=record["sha256"])
    input_facets: dict[str, Any] = {GATEWAY_FACET: gateway_facet(record, producer),
                                    "dataQualityMetrics": _metrics(record, producer)}
    assertions = _assertions(record, schemas, producer)
    if assertions is not None:
        input_facets["dataQualityAssertions"] = assertions
    return InputDataset(namespace="file", name=str(Path(record["file"]).resolve()), facets=facets,
                        inputFacets=input_facets)


def _inputs(sources: Iterable[Mapping[str, Any]], schemas: Schemas | None, producer: str) -> list[InputDataset]:
    """Every source with a file; a source without one was never offered, so is no dataset."""
    return [input_dataset(r, schemas, producer) for r in sources if r.get("file")]


# --------------------------------------------------------------------------- outputs
def output_dataset(run_dir: Path, name: str, sha256: str | None, producer: str,
                   published_dir: Path | None = None) -> OutputDataset:
    """One output table: read from `run_dir`, named where it is published.

    The run writes into a staging folder renamed into place at the end, so `published_dir`
    (the final folder) names the dataset when the event is written before the rename.
    Row counts and columns come from Parquet metadata only, never the rows.
    """
    local = Path(run_dir) / name
    facets: dict[str, Any] = {}
    if sha256:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(producer=producer,
                                                                               datasetVersion=sha256)
    output_facets: dict[str, Any] = {}
    if local.is_file():
        rows = None
        if local.suffix == ".parquet":
            meta = pq.read_metadata(local)
            rows = meta.num_rows
            facets["schema"] = schema_dataset.SchemaDatasetFacet(producer=producer, fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f.name, type=str(f.type))
                for f in meta.schema.to_arrow_schema()])
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            producer=producer, rowCount=rows, size=local.stat().st_size, fileCount=1)
    published = Path(published_dir if published_dir is not None else run_dir).resolve() / name
    return OutputDataset(namespace="file", name=str(published), facets=facets, outputFacets=output_facets)


# --------------------------------------------------------------------------- events
def _event_time(when: dt.datetime | None) -> str:
    """RFC 3339 with an offset; a naive time is taken as local time."""
    return (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat()


def _job(settings: OpenLineageSettings) -> Job:
    return Job(namespace=settings.namespace, name=settings.job, facets={
        "jobType": job_type_job.JobTypeJobFacet(producer=settings.producer, processingType="BATCH",
                                                integration="FAMILY_IDENTIFICATION", jobType="JOB")})


def _parameter_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.dumps(value, sort_keys=True, default=str)


def _start_facets(parameters: Mapping[str, Any], producer: str) -> dict[str, Any]:
    return {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            producer=producer, name="family-identification", version=__version__,
            openlineageAdapterVersion=CLIENT_VERSION),
        "executionParameters": execution_parameters_run.ExecutionParametersRunFacet(producer=producer, parameters=[
            execution_parameters_run.ExecutionParameter(key=str(k), value=_parameter_value(v))
            for k, v in sorted(parameters.items())]),
    }


def _run_event(state: RunState, run_id: str, settings: OpenLineageSettings, when: dt.datetime | None,
               run_facets: dict[str, Any], inputs: list[InputDataset] | None = None,
               outputs: list[OutputDataset] | None = None) -> RunEvent:
    return RunEvent(eventType=state, eventTime=_event_time(when), producer=settings.producer,
                    run=Run(runId=_checked_run_id(run_id), facets=run_facets), job=_job(settings),
                    inputs=inputs or [], outputs=outputs or [])


def events_path(run_dir: Path) -> Path:
    return Path(run_dir) / EVENTS_FILE


def _client(transport: Transport) -> OpenLineageClient:
    return OpenLineageClient(transport=transport, config=_CLIENT_CONFIG)


def _http_transport(settings: OpenLineageSettings) -> HttpTransport:
    key = http_api_key(settings)
    auth = ApiKeyTokenProvider({"apiKey": key}) if key else TokenProvider({})
    http = settings.http
    return HttpTransport(HttpConfig(url=str(http.url), endpoint=http.endpoint, timeout=http.timeout, auth=auth))


def emit(event: RunEvent, run_dir: Path, settings: OpenLineageSettings) -> None:
    """Append `event` to the run's openlineage.jsonl and, when enabled, send it to the server.

    The file is the record, so it is written first and a failure to write it raises. A lineage
    server that is down (or a key variable unset since the run started) must not stop families
    being identified, nor lose a FAIL event: an HTTP failure is logged as a warning and the run goes on.
    """
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    _client(FileTransport(FileConfig(log_file_path=str(events_path(run_dir)), append=True))).emit(event)
    if settings.http.enabled:
        _send(event, settings)


def _send(event: RunEvent, settings: OpenLineageSettings) -> None:
    try:
        http = _http_transport(settings)
    except (ContractError, ValueError) as exc:
        log.warning("OpenLineage %s event not sent to %s: %s", event.eventType.value, settings.http.url, exc)
        return
    try:
        _client(http).emit(event)
    except Exception as exc:  # any delivery failure is only reported
        log.warning("OpenLineage %s event not delivered to %s: %s", event.eventType.value, settings.http.url, exc)
    finally:
        http.close()


def start(run_dir: Path, run_id: str, parameters: Mapping[str, Any], event_time: dt.datetime | None = None,
          settings: OpenLineageSettings | None = None) -> None:
    """The START event: job, run id, the run's parameters (as in lineage.jsonl's run_start).

    Raises ContractError when the lineage server is switched on but its key variable is unset,
    so a broken configuration stops the run at its start, not silently at its end.
    """
    settings = settings or load_openlineage_config()
    if settings.http.enabled:
        http_api_key(settings)
    emit(_run_event(RunState.START, run_id, settings, event_time, _start_facets(parameters, settings.producer)),
         run_dir, settings)


def complete(run_dir: Path, run_id: str, sources: Iterable[Mapping[str, Any]], outputs: Mapping[str, str | None],
             schemas: Schemas, event_time: dt.datetime | None = None, settings: OpenLineageSettings | None = None,
             published_dir: Path | None = None) -> None:
    """The COMPLETE event: every source offered (lineage.jsonl `source` records) and every output.

    `outputs` maps each output's path relative to the run folder to its SHA-256 (lineage.jsonl's
    run_end `outputs`); `schemas` gives each input its contract's columns and GX checks.
    """
    settings = settings or load_openlineage_config()
    producer = settings.producer
    event = _run_event(RunState.COMPLETE, run_id, settings, event_time, {}, _inputs(sources, schemas, producer),
                       [output_dataset(run_dir, name, sha, producer, published_dir)
                        for name, sha in sorted(outputs.items())])
    emit(event, run_dir, settings)


def fail(run_dir: Path, run_id: str, reason: str, sources: Iterable[Mapping[str, Any]] = (),
         schemas: Schemas | None = None, event_time: dt.datetime | None = None,
         settings: OpenLineageSettings | None = None) -> None:
    """The FAIL event: the one-line reason (errorMessage facet) and the sources known so far.

    `reason` must hold no personal data: pass a RunError's message, or for an unexpected error
    its type name, never a traceback or an exception text that may quote a cell.
    """
    settings = settings or load_openlineage_config()
    facets = {"errorMessage": error_message_run.ErrorMessageRunFacet(
        producer=settings.producer, message=reason, programmingLanguage="PYTHON")}
    emit(_run_event(RunState.FAIL, run_id, settings, event_time, facets,
                    _inputs(sources, schemas, settings.producer)), run_dir, settings)
