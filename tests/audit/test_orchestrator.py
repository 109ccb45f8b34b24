"""A run started by an orchestrator says so in its lineage, its OpenLineage START event and `audit show`.

Someone holding a run folder can then find the scheduler's own record of the run (a Prefect flow
run's logs and state), and a run from the command line carries no such claim.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from pipeline.audit import openlineage as ol
from pipeline.audit.show import show
from pipeline.run import RunConfig, execute
from pipeline.run.orchestrator import Orchestrator
from tests.audit.test_openlineage import _format_checker, spec_validator
from tests.conftest import TINY

pytestmark = pytest.mark.usefixtures("preloaded_gx")

BY_PREFECT = Orchestrator(kind="prefect", flow_run_id="0e9a4b6c-3f1d-4c55-9b7e-2a1f0d6c8e31",
                          flow_run_name="amber-heron", deployment="identify_families/monthly")


@pytest.fixture(scope="module")
def orchestrated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("orchestrated") / "run"
    execute(RunConfig(extracts=TINY, out=out), orchestrator=BY_PREFECT)
    return out


def _first(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8").splitlines()[0])


def test_run_start_records_the_orchestrator_and_its_flow_run(orchestrated):
    start = _first(orchestrated / "lineage.jsonl")
    assert start["event"] == "run_start"
    assert start["orchestrator"] == {"kind": "prefect", "flow_run_id": BY_PREFECT.flow_run_id,
                                     "flow_run_name": "amber-heron", "deployment": "identify_families/monthly"}


def test_the_start_event_carries_the_orchestrator_facet_valid_against_its_schema_and_the_spec(orchestrated):
    start = _first(orchestrated / "openlineage.jsonl")
    facet = start["run"]["facets"][ol.ORCHESTRATOR_FACET]
    assert facet["_schemaURL"] == ol.ORCHESTRATOR_FACET_SCHEMA_URL
    assert (facet["kind"], facet["flowRunId"], facet["flowRunName"], facet["deployment"]) == (
        "prefect", BY_PREFECT.flow_run_id, "amber-heron", "identify_families/monthly")
    Draft202012Validator.check_schema(ol.ORCHESTRATOR_FACET_SCHEMA)
    validator = Draft202012Validator(ol.ORCHESTRATOR_FACET_SCHEMA, format_checker=_format_checker())
    assert [e.message for e in validator.iter_errors(facet)] == []
    assert list(validator.iter_errors({**facet, "flowRunId": 7}))
    assert [e.message for e in spec_validator().iter_errors(start)] == []


def test_a_flow_run_started_by_hand_has_no_deployment_and_its_facet_still_validates(tmp_path):
    by_hand = Orchestrator(kind="prefect", flow_run_id="5b2c", flow_run_name="quiet-otter")
    ol.start(tmp_path, ol.new_run_id(), {}, orchestrator=by_hand.record())
    written = _first(tmp_path / "openlineage.jsonl")["run"]["facets"][ol.ORCHESTRATOR_FACET]
    assert "deployment" not in written and written["flowRunName"] == "quiet-otter"  # None is left out
    validator = Draft202012Validator(ol.ORCHESTRATOR_FACET_SCHEMA, format_checker=_format_checker())
    assert [e.message for e in validator.iter_errors(written)] == []


def test_audit_show_names_the_flow_run_on_one_line(orchestrated):
    lines = [line for line in show(orchestrated).splitlines() if "amber-heron" in line]
    assert lines == [f"  started by prefect flow run amber-heron ({BY_PREFECT.flow_run_id}), "
                     "deployment identify_families/monthly"]


def test_a_run_from_the_command_line_claims_no_orchestrator(tiny_run):
    assert "orchestrator" not in _first(tiny_run.out / "lineage.jsonl")
    assert ol.ORCHESTRATOR_FACET not in _first(tiny_run.out / "openlineage.jsonl")["run"]["facets"]
    assert "started by" not in show(tiny_run.out)
