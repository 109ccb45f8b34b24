"""OpenLineage events of a run (pipeline/audit/openlineage), built from a real run folder.

The spec schema `fixtures/openlineage-runevent.schema.json` is a verbatim copy of OpenLineage's
RunEvent schema as the project was given it (refresh the copy if the spec changes). It is JSON
Schema draft 2020-12 with internal $refs only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import validator_for

from pipeline.audit import openlineage as ol
from pipeline.config import ContractError
from pipeline.run import RunConfig, execute
from tests.conftest import FIXTURES, REPO, TINY

pytestmark = pytest.mark.usefixtures("preloaded_gx")

SPEC_SCHEMA = FIXTURES / "openlineage-runevent.schema.json"
REFUSED = {"electoral_register", "health", "police"}  # their gateways do not permit 'evaluation'
TABLES = {"households.parquet", "evidence.parquet", "record_links.parquet", "pairs.parquet",
          "quarantine.parquet", "quarantine.csv", "linkage_model.json", "key_history.parquet", "report.html",
          "restricted/record_tokens.parquet", "restricted/link_records.parquet"}
RUN_ID = ol.run_id_from("test_openlineage")
KEY = secrets.token_urlsafe(16)  # the lineage server's API key for this session, never one written in code


@contextlib.contextmanager
def _clean_openlineage_env() -> Iterator[pytest.MonkeyPatch]:
    """No OPENLINEAGE_* setting of the machine running the tests (a kill switch, a URL) applies."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.upper().startswith("OPENLINEAGE")]:
            mp.delenv(name)
        yield mp


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A real run on the tiny set, for the 'evaluation' purpose so that three sources are refused by
    their gateway (police, health, electoral register; allowed to be, so the run is partial) and three
    are used."""
    out = tmp_path_factory.mktemp("ol") / "run"
    execute(RunConfig(extracts=TINY, out=out, purpose="evaluation", allow_missing=tuple(sorted(REFUSED))))
    return out


def lineage(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "lineage.jsonl").read_text(encoding="utf-8").splitlines()]


def source_records(run: Path) -> list[dict]:
    return [r for r in lineage(run) if r["event"] == "source"]


def run_record(run: Path, event: str) -> dict:
    return next(r for r in lineage(run) if r["event"] == event)


def read_events(folder: Path) -> list[dict]:
    lines = (folder / "openlineage.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def settings():
    return ol.load_openlineage_config()


@pytest.fixture(scope="module")
def completed(run) -> list[dict]:
    """START and COMPLETE, as the real run wrote them into its own folder."""
    return read_events(run)


REASON = "no source could be used: police: data-sharing agreement DSA-POL-2025-007 expired on 2028-03-31"


@pytest.fixture(scope="module")
def failed(run, settings, schemas, tmp_path_factory) -> list[dict]:
    folder = tmp_path_factory.mktemp("ol-failed")
    run_id = ol.new_run_id()
    with _clean_openlineage_env():
        ol.start(folder, run_id, {"purpose": "identification"}, settings=settings)
        ol.fail(folder, run_id, REASON, source_records(run), schemas, settings=settings)
    return read_events(folder)


def inputs_by_source(event: dict) -> dict[str, dict]:
    return {i["inputFacets"][ol.GATEWAY_FACET]["source"]: i for i in event["inputs"]}


# --------------------------------------------------------------------------- order and outcome
def test_a_successful_run_writes_start_then_complete_to_openlineage_jsonl(completed, run):
    assert [e["eventType"] for e in completed] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in completed} == {run_record(run, "run_start")["run_id"]}
    assert {(e["job"]["namespace"], e["job"]["name"]) for e in completed} == {("supporting-families",
                                                                              "identify_families")}
    assert completed[0]["eventTime"] <= completed[1]["eventTime"]
    assert not [p for p in run.iterdir() if p.name.startswith("openlineage") and p.name != "openlineage.jsonl"]


def test_the_start_event_carries_the_run_parameters(completed):
    parameters = {p["key"]: p["value"] for p in completed[0]["run"]["facets"]["executionParameters"]["parameters"]}
    assert parameters["purpose"] == "evaluation" and parameters["rules"] == "supporting_families"  # the default
    assert parameters["as_of"] == "2026-10-31"


def test_a_failed_run_writes_start_then_fail_with_its_reason(failed, run):
    assert [e["eventType"] for e in failed] == ["START", "FAIL"]
    error = failed[1]["run"]["facets"]["errorMessage"]
    assert error["message"] == REASON and error["programmingLanguage"] == "PYTHON"
    assert "errorMessage" not in failed[0]["run"]["facets"]
    assert set(inputs_by_source(failed[1])) == {r["source"] for r in source_records(run)}


# --------------------------------------------------------------------------- the spec schema
def _format_checker() -> FormatChecker:
    """The draft's checkers, plus 'uri' (absolute: a scheme and no spaces), which jsonschema
    checks only when the optional rfc3987 package is installed."""
    checker = FormatChecker()

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        return not isinstance(value, str) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value) is not None

    return checker


def spec_validator() -> Draft202012Validator:
    schema = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert validator_for(schema) is Draft202012Validator
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


def test_the_spec_validator_rejects_an_event_breaking_the_schema(completed):
    broken = json.loads(json.dumps(completed[1]))
    broken["run"]["runId"] = "not-a-uuid"
    del broken["inputs"][0]["inputFacets"]["dataQualityMetrics"]["_schemaURL"]
    errors = list(spec_validator().iter_errors(broken))
    assert any("uuid" in e.message for e in errors) and any("_schemaURL" in e.message for e in errors)


def test_every_event_validates_against_the_openlineage_spec_schema(completed, failed):
    validator = spec_validator()
    for event in [*completed, *failed]:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(event)]
        assert errors == [], event["eventType"]


def test_a_partial_run_is_marked_so_in_its_complete_event_and_the_facet_validates(completed):
    facet = completed[1]["run"]["facets"][ol.RUN_STATUS_FACET]
    assert facet["status"] == "partial" and facet["requiredSourcesNotUsed"] == sorted(REFUSED)
    assert ol.RUN_STATUS_FACET not in completed[0]["run"]["facets"]  # START says nothing of the outcome
    Draft202012Validator.check_schema(ol.RUN_STATUS_FACET_SCHEMA)
    validator = Draft202012Validator(ol.RUN_STATUS_FACET_SCHEMA, format_checker=_format_checker())
    assert [e.message for e in validator.iter_errors(facet)] == []
    assert list(validator.iter_errors({**facet, "status": "mostly"}))


def test_the_gateway_facet_validates_against_its_own_schema(completed):
    validator = Draft202012Validator(ol.GATEWAY_FACET_SCHEMA, format_checker=_format_checker())
    Draft202012Validator.check_schema(ol.GATEWAY_FACET_SCHEMA)
    for dataset in completed[1]["inputs"]:
        facet = dataset["inputFacets"][ol.GATEWAY_FACET]
        assert [e.message for e in validator.iter_errors(facet)] == [], facet["source"]


# --------------------------------------------------------------------------- inputs
def test_each_input_carries_its_gateway_agreement_schema_and_data_quality(completed, run, schemas):
    records = {r["source"]: r for r in source_records(run)}
    inputs = inputs_by_source(completed[1])
    assert set(inputs) == set(records)
    for source, dataset in inputs.items():
        record = records[source]
        assert dataset["namespace"] == "file"
        assert dataset["name"] == str((TINY / f"{source}.csv").resolve())
        gateway = dataset["inputFacets"][ol.GATEWAY_FACET]
        assert gateway["_schemaURL"] == ol.GATEWAY_FACET_SCHEMA_URL
        assert gateway["gateway"]["agreement"] == {
            "reference": record["gateway"]["agreement"], "start": record["gateway"]["agreement_start"],
            "expires": record["gateway"]["agreement_expires"]}
        assert gateway["gateway"]["basis"] == record["gateway"]["basis"]
        assert gateway["sha256"] == record["sha256"] == dataset["facets"]["version"]["datasetVersion"]
        columns = {f["name"]: f["type"] for f in dataset["facets"]["schema"]["fields"]}
        assert columns == {n: c.type for n, c in schemas.contracts[source].columns.items()}
        assert dataset["inputFacets"]["dataQualityMetrics"]["bytes"] == record["bytes"]


def test_used_sources_carry_rows_read_and_each_gx_check_passed_or_failed(completed, run):
    records = {r["source"]: r for r in source_records(run) if r["used"]}
    inputs = inputs_by_source(completed[1])
    assert set(records) == {"benefits", "children_social_care", "schools"}
    for source, record in records.items():
        facets = inputs[source]["inputFacets"]
        assert facets["dataQualityMetrics"]["rowCount"] == record["rows_in"]
        assert facets[ol.GATEWAY_FACET]["admitted"] is True
        assert facets[ol.GATEWAY_FACET]["rowsQuarantined"] == record["rows_quarantined"]
        suite, *checks = facets["dataQualityAssertions"]["assertions"]
        assert suite["name"] == f"{source}_contract"
        assert suite["params"]["expectations"] == len(checks) == record["validation"]["expectations"]
        assert sorted(c["name"] for c in checks if not c["success"]) == sorted(record["validation"]["failed"])
    assert not inputs["schools"]["inputFacets"]["dataQualityAssertions"]["assertions"][0]["success"]


def test_refused_sources_appear_as_inputs_with_their_refusal(completed):
    inputs = inputs_by_source(completed[1])
    for source in REFUSED:
        facets = inputs[source]["inputFacets"]
        gateway = facets[ol.GATEWAY_FACET]
        assert gateway["admitted"] is False
        assert "does not permit the purpose 'evaluation'" in gateway["refusalReason"]
        assert gateway["gateway"]["agreement"]["reference"].startswith("DSA-")
        # never parsed: its rows were not counted, so no row count claims the file was empty
        assert "rowCount" not in facets["dataQualityMetrics"] and "rowsIn" not in gateway
        assert "dataQualityAssertions" not in facets
    assert all(inputs_by_source(completed[1])[s]["inputFacets"][ol.GATEWAY_FACET]["admitted"]
               for s in set(inputs) - REFUSED)


# --------------------------------------------------------------------------- outputs
def test_outputs_list_the_tables_with_their_row_counts(completed, run):
    outputs = {Path(o["name"]).relative_to(run.resolve()).as_posix(): o for o in completed[1]["outputs"]}
    assert set(outputs) == TABLES
    assert {o["name"] for o in outputs.values()} == {str(run.resolve() / name) for name in TABLES}
    link = next(r for r in lineage(run) if r.get("stage") == "link")
    score = next(r for r in lineage(run) if r.get("stage") == "score")
    expected = {"record_links.parquet": link["records"], "households.parquet": score["households"],
                "evidence.parquet": score["evidence_rows"],
                "quarantine.parquet": len(pd.read_parquet(run / "quarantine.parquet")),  # a row a failing column
                "pairs.parquet": len(pd.read_parquet(run / "pairs.parquet"))}
    for name, rows in expected.items():
        assert outputs[name]["outputFacets"]["outputStatistics"]["rowCount"] == rows, name
        assert "schema" in outputs[name]["facets"]
    model = outputs["linkage_model.json"]
    assert "rowCount" not in model["outputFacets"]["outputStatistics"]
    assert model["outputFacets"]["outputStatistics"]["size"] == (run / "linkage_model.json").stat().st_size
    ends = run_record(run, "run_end")["outputs"]
    assert {name: o["facets"]["version"]["datasetVersion"] for name, o in outputs.items()} == ends


def test_outputs_are_named_where_they_are_published(run, settings, schemas, tmp_path):
    """The run writes into a staging folder renamed into place: the event names the final path."""
    staging = tmp_path / ".run.partial-1"
    staging.mkdir()
    (staging / "households.parquet").write_bytes((run / "households.parquet").read_bytes())
    with _clean_openlineage_env():
        ol.complete(staging, RUN_ID, [], {"households.parquet": None}, schemas, settings=settings,
                    published_dir=tmp_path / "run")
    (output,) = read_events(staging)[0]["outputs"]
    assert output["name"] == str(tmp_path.resolve() / "run" / "households.parquet")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == len(pd.read_parquet(run / "households.parquet"))


# --------------------------------------------------------------------------- no personal data
def _leaves(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value


def test_no_event_holds_a_value_of_an_identifying_column(completed, failed, schemas):
    roles = {"forename", "preferred_forename", "middle_names", "surname", "address_line", "postcode", "uprn",
             "person_token", "unit_token"}
    identifying: set[str] = set()
    for path in TINY.glob("*.csv"):
        contract = schemas.contracts[path.stem]
        columns = [n for n, c in contract.columns.items() if c.role in roles]
        frame = pd.read_csv(path, dtype=str, usecols=lambda c, cols=columns: c in cols, keep_default_na=False)
        identifying |= {v for col in frame for v in frame[col] if len(v) > 2}
    assert len(identifying) > 30
    leaves = {leaf for event in [*completed, *failed] for leaf in _leaves(event)}
    assert leaves & identifying == set()


# --------------------------------------------------------------------------- HTTP
class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@contextlib.contextmanager
def lineage_server(status: int) -> Iterator[HTTPServer]:
    """A lineage server stand-in on a free loopback port, recording what it is sent."""
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    server.received, server.status = [], status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "openlineage.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def http_config(tmp_path: Path, port: int) -> ol.OpenLineageSettings:
    return ol.load_openlineage_config(write_config(tmp_path, f"""
namespace: supporting-families
job: identify_families
producer: urn:family-identification:pipeline
http: {{enabled: true, url: "http://127.0.0.1:{port}", endpoint: api/v1/lineage, api_key_env: OL_TEST_KEY, timeout: 2}}
"""))


@pytest.fixture
def http_env() -> Iterator[pytest.MonkeyPatch]:
    with _clean_openlineage_env() as mp:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            mp.delenv(name, raising=False)
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("OL_TEST_KEY", KEY)
        yield mp


def test_the_http_transport_sends_the_events_when_enabled(run, schemas, tmp_path, http_env):
    folder = tmp_path / "events"
    with lineage_server(status=201) as server:
        settings = http_config(tmp_path, server.server_address[1])
        ol.start(folder, RUN_ID, {"purpose": "identification"}, settings=settings)
        ol.complete(folder, RUN_ID, source_records(run), {}, schemas, settings=settings)
    sent = server.received  # type: ignore[attr-defined]
    assert [(path, auth, event["eventType"]) for path, auth, event in sent] == [
        ("/api/v1/lineage", f"Bearer {KEY}", "START"), ("/api/v1/lineage", f"Bearer {KEY}", "COMPLETE")]
    assert [event for _, _, event in sent] == read_events(folder)  # the same events as the file
    assert KEY not in (folder / "openlineage.jsonl").read_text(encoding="utf-8")


def test_http_is_off_in_the_shipped_configuration(settings):
    assert settings.http.enabled is False
    assert settings.path == REPO / "schemas" / "openlineage.yaml"


def test_a_lineage_server_refusing_events_does_not_stop_the_file(tmp_path, http_env, caplog):
    folder = tmp_path / "events"
    with lineage_server(status=400) as server:
        settings = http_config(tmp_path, server.server_address[1])
        ol.start(folder, RUN_ID, {}, settings=settings)
        ol.fail(folder, RUN_ID, "stopped", settings=settings)
    assert [e["eventType"] for e in read_events(folder)] == ["START", "FAIL"]
    assert len(server.received) == 2  # type: ignore[attr-defined]
    assert "not delivered" in caplog.text and KEY not in caplog.text


# --------------------------------------------------------------------------- configuration
GOOD = "namespace: supporting-families\njob: identify_families\nproducer: urn:family-identification:pipeline\n"


@pytest.mark.parametrize(("text", "key"), [
    (GOOD + "http: {enabeld: true}\n", "http.enabeld"),
    (GOOD.replace("namespace: supporting-families", "namespace: ''"), "namespace"),
    (GOOD + "http: {enabled: true}\n", "http.url"),
    (GOOD + "http: {enabled: true, url: 'ftp://lineage.example'}\n", "http.url"),
    (GOOD + "http: {api_key_env: 'sk-live 123'}\n", "http.api_key_env"),
    (GOOD.replace("urn:family-identification:pipeline", "family identification"), "producer"),
    ("namespace: [\n", "not valid YAML"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, key):
    path = write_config(tmp_path, text)
    with pytest.raises(ContractError) as caught:
        ol.load_openlineage_config(path)
    assert str(caught.value).startswith(f"{path}: {key}")


def test_an_unset_api_key_variable_stops_the_run_at_its_start(tmp_path):
    path = write_config(tmp_path, GOOD + "http: {enabled: true, url: 'http://127.0.0.1:9', api_key_env: OL_UNSET}\n")
    settings = ol.load_openlineage_config(path)
    with _clean_openlineage_env() as mp:
        mp.delenv("OL_UNSET", raising=False)
        with pytest.raises(ContractError, match=rf"^{re.escape(str(path))}: http.api_key_env: .*OL_UNSET"):
            ol.start(tmp_path / "events", RUN_ID, {}, settings=settings)
    assert not (tmp_path / "events" / "openlineage.jsonl").exists()


# --------------------------------------------------------------------------- run ids
def test_run_ids_are_uuids_fresh_or_derived_from_text(tmp_path, settings):
    assert ol.new_run_id() != ol.new_run_id()
    assert ol.run_id_from("flow-run-42") == ol.run_id_from("flow-run-42") != ol.run_id_from("flow-run-43")
    with pytest.raises(ValueError):
        ol.start(tmp_path, "run-1", {}, settings=settings)
    ol.start(tmp_path, RUN_ID, {}, event_time=dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC), settings=settings)
    assert read_events(tmp_path)[0]["eventTime"] == "2026-10-31T09:00:00+00:00"
