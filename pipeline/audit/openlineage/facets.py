"""The datasets of a run's OpenLineage events and their facets, from the lineage's own records.

Inputs are the source files offered to the run, used or refused: each carries the standard schema
facet (its contract's columns and types), version facet (the file's SHA-256), data-quality facets
(rows read; Great Expectations checks passed and failed by name) and our own gateway facet (the
legal gateway, the agreement, whether the file was let in or why not). Outputs are the run's
published tables with their row counts, from Parquet metadata only, never the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attr
import pyarrow.parquet as pq
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    InputDatasetFacet,
    RunFacet,
    data_quality_assertions_dataset,
    data_quality_metrics_input_dataset,
    dataset_version_dataset,
    output_statistics_output_dataset,
    schema_dataset,
)

from pipeline.config.schemas import Schemas
from pipeline.ingest.checks import compile_checks

DataQualityMetricsInputDatasetFacet = data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet
GATEWAY_FACET = "familyIdentification_gateway"  # custom facets carry their producer's prefix
GATEWAY_FACET_SCHEMA_URL = (
    "urn:family-identification:openlineage:GatewayInputDatasetFacet:1-0-0#/$defs/GatewayInputDatasetFacet"
)


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

RUN_STATUS_FACET = "familyIdentification_runStatus"
RUN_STATUS_FACET_SCHEMA_URL = "urn:family-identification:openlineage:RunStatusRunFacet:1-0-0#/$defs/RunStatusRunFacet"


@attr.define(kw_only=True)
class RunStatusRunFacet(RunFacet):
    """Whether a completed run had every required source, or is partial: it went on without some.

    OpenLineage's COMPLETE says the job finished; a partial run's figures leave out the families its
    missing sources would have shown, so a lineage tool must be able to tell the two apart.
    """

    status: str  # "completed" or "partial"
    requiredSourcesNotUsed: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return RUN_STATUS_FACET_SCHEMA_URL


def run_facet_schema(url: str, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one of our run facets, at `url` (`urn:...#/$defs/<Name>`): no other keys allowed."""
    name = url.rsplit("/", 1)[-1]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url.split("#")[0], "$ref": f"#/$defs/{name}",
        "$defs": {name: {"type": "object", "additionalProperties": False,
                         "required": ["_producer", "_schemaURL", *required],
                         "properties": {"_producer": {"type": "string"},
                                        "_schemaURL": {"type": "string", "const": url}, **properties}}},
    }


RUN_STATUS_FACET_SCHEMA = run_facet_schema(
    RUN_STATUS_FACET_SCHEMA_URL, ["status", "requiredSourcesNotUsed"],
    {"status": {"enum": ["completed", "partial"]}, "requiredSourcesNotUsed": _STRINGS})

ORCHESTRATOR_FACET = "familyIdentification_orchestrator"
ORCHESTRATOR_FACET_SCHEMA_URL = (
    "urn:family-identification:openlineage:OrchestratorRunFacet:1-0-0#/$defs/OrchestratorRunFacet"
)


@attr.define(kw_only=True)
class OrchestratorRunFacet(RunFacet):
    """The orchestrator that started the run and its own id for it (a Prefect flow run), on START.

    A lineage tool then links this run to the scheduler's record of it (logs, state, who started it).
    """

    kind: str  # "prefect"
    flowRunId: str
    flowRunName: str
    deployment: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return ORCHESTRATOR_FACET_SCHEMA_URL


ORCHESTRATOR_FACET_SCHEMA = run_facet_schema(
    ORCHESTRATOR_FACET_SCHEMA_URL, ["kind", "flowRunId", "flowRunName"],
    {"kind": {"type": "string"}, "flowRunId": {"type": "string"}, "flowRunName": {"type": "string"},
     "deployment": {"type": "string"}})


def orchestrator_facet(record: Mapping[str, Any], producer: str) -> OrchestratorRunFacet:
    """The facet from run_start's `orchestrator` record (kind, flow_run_id, flow_run_name, deployment)."""
    return OrchestratorRunFacet(producer=producer, kind=str(record["kind"]), flowRunId=str(record["flow_run_id"]),
                                flowRunName=str(record["flow_run_name"]), deployment=_text(record.get("deployment")))


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


def input_datasets(sources: Iterable[Mapping[str, Any]], schemas: Schemas | None, producer: str) -> list[InputDataset]:
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
