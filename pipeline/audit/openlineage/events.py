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
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.constants import __version__ as CLIENT_VERSION
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run, execution_parameters_run, job_type_job, processing_engine_run
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider
from openlineage.client.transport.transport import Transport
from openlineage.client.uuid import generate_new_uuid

from pipeline import __version__
from pipeline.audit.openlineage.facets import (
    ORCHESTRATOR_FACET,
    RUN_STATUS_FACET,
    RunStatusRunFacet,
    input_datasets,
    orchestrator_facet,
    output_dataset,
)
from pipeline.audit.openlineage.settings import OpenLineageSettings, http_api_key, load_openlineage_config
from pipeline.config.files import ContractError
from pipeline.config.schemas import Schemas
from pipeline.publish import OPENLINEAGE

log = logging.getLogger(__name__)

RUN_ID_NAMESPACE = uuid.UUID("5f0c1d52-7a4e-5b8e-9c1a-3d2f6e8b4a17")  # for run_id_from(); never change it

# Settings for the client itself, over any openlineage.yml or OPENLINEAGE__ variables it would
# otherwise read: environment variable values and the git remote URL must never enter an event.
_CLIENT_CONFIG: dict[str, Any] = {
    "facets": {"environment_variables": [], "source_code_location": {"disabled": True}},
    "dataset": {"reducing_enabled": False},
    "filters": [],
}


# --------------------------------------------------------------------------- run ids
def new_run_id() -> str:
    """A fresh run id from the client (a time-ordered UUIDv7, as the OpenLineage spec recommends)."""
    return str(generate_new_uuid())


def run_id_from(text: str) -> str:
    """A deterministic run id (UUIDv5) from `text`, e.g. a scheduler's run id, so retries agree."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, text))


def _checked_run_id(run_id: str) -> str:
    return str(uuid.UUID(str(run_id)))


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
    return Path(run_dir) / OPENLINEAGE


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
          settings: OpenLineageSettings | None = None, orchestrator: Mapping[str, Any] | None = None) -> None:
    """The START event: job, run id, the run's parameters (as in lineage.jsonl's run_start) and, when
    an orchestrator started the run, its facet (run_start's `orchestrator` record).

    Raises ContractError when the lineage server is switched on but its key variable is unset,
    so a broken configuration stops the run at its start, not silently at its end.
    """
    settings = settings or load_openlineage_config()
    if settings.http.enabled:
        http_api_key(settings)
    facets = _start_facets(parameters, settings.producer)
    if orchestrator is not None:
        facets[ORCHESTRATOR_FACET] = orchestrator_facet(orchestrator, settings.producer)
    emit(_run_event(RunState.START, run_id, settings, event_time, facets), run_dir, settings)


def complete(run_dir: Path, run_id: str, sources: Iterable[Mapping[str, Any]], outputs: Mapping[str, str | None],
             schemas: Schemas, event_time: dt.datetime | None = None, settings: OpenLineageSettings | None = None,
             published_dir: Path | None = None, required_not_used: Iterable[str] = ()) -> None:
    """The COMPLETE event: every source offered (lineage.jsonl `source` records) and every output.

    `outputs` maps each output's path relative to the run folder to its SHA-256 (lineage.jsonl's
    run_end `outputs`); `schemas` gives each input its contract's columns and GX checks. A run that
    went on without required sources (`required_not_used`) is marked partial in its status facet.
    """
    settings = settings or load_openlineage_config()
    producer = settings.producer
    missing = list(required_not_used)
    status = RunStatusRunFacet(producer=producer, status="partial" if missing else "completed",
                               requiredSourcesNotUsed=missing)
    event = _run_event(RunState.COMPLETE, run_id, settings, event_time, {RUN_STATUS_FACET: status},
                       input_datasets(sources, schemas, producer),
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
                    input_datasets(sources, schemas, settings.producer)), run_dir, settings)
