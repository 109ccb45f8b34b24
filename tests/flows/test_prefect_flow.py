"""The identify_families flow: one run as Prefect tasks, and a schedule firing on a real server.

One real Prefect server per test session (it takes ~15 s to start, so it is started when these
tests are collected: tests/conftest.py), on a free loopback port, with its state in a temporary
PREFECT_HOME; the deployment is served by `python -m flows.serve` as a research officer would, in
a subprocess, from the module's first test on, so that its schedule fires while the others run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from flows.serve import stop
from tests.conftest import REPO, TINY

COMPARED = ("record_links.parquet", "pairs.parquet", "households.parquet", "evidence.parquet", "quarantine.parquet",
            "linkage_model.json")
EVERY_MINUTE = "* * * * *"


@pytest.fixture(scope="module")
def cli_run(tiny_run) -> Path:
    """The command line's run of the tiny set, which every flow run must reproduce byte for byte."""
    return tiny_run.out


@pytest.fixture(scope="module")
def server(prefect_server) -> dict:
    return prefect_server


@pytest.fixture(scope="module")
def served(server, tmp_path_factory):
    """`python -m flows.serve` against the server, scheduled every minute so a scheduled run fires in the test."""
    out_root = tmp_path_factory.mktemp("runs")
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = dict(server["env"], PREFECT_API_URL=server["url"], PREFECT_RUNNER_POLL_FREQUENCY="2")
    with open(log, "wb") as fh:
        process = subprocess.Popen([sys.executable, "-m", "flows.serve", "--inbox", str(TINY), "--out-root",
                                    str(out_root), "--cron", EVERY_MINUTE], cwd=REPO, env=env, stdout=fh,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield {"out_root": out_root, "log": log, "env": env, "process": process, "started": dt.date.today()}
    finally:
        stop(process)


def _with_api(url: str, coro_fn):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            return await coro_fn(client)

    with temporary_settings(updates={PREFECT_API_URL: url}):
        return asyncio.run(go())


def _wait_for(predicate, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def _deployment(client):
    from prefect.exceptions import ObjectNotFound

    async def read():
        try:
            return await client.read_deployment_by_name("identify_families/monthly")
        except ObjectNotFound:
            return None
    return read()


def _same_outputs(a: Path, b: Path) -> list[str]:
    return [name for name in COMPARED if (a / name).read_bytes() != (b / name).read_bytes()]


def test_the_deployment_is_registered_with_its_schedule_and_parameters(served, server):
    deployment = _wait_for(lambda: _with_api(server["url"], _deployment), 90, "the deployment", served["log"])
    assert [(s.schedule.cron, s.active) for s in deployment.schedules] == [(EVERY_MINUTE, True)]
    assert deployment.parameters == {"extracts": str(TINY), "out_root": str(served["out_root"]),
                                     "rules": "phase2"}


def test_the_flow_run_from_the_command_line_gives_the_same_outputs_as_the_pipeline(cli_run, server, tmp_path):
    out = tmp_path / "flow"
    env = dict(server["env"], PREFECT_API_URL=server["url"])
    done = subprocess.run([sys.executable, "-m", "flows.identify_families", "--extracts", str(TINY), "--out",
                           str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _same_outputs(out, cli_run) == []


def test_a_file_read_that_fails_once_is_retried_and_the_run_completes(server, cli_run, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.identify_families import identify_families

    real_read = Path.read_bytes
    attempts = {"police": 0}

    def flaky(self: Path) -> bytes:
        if self.name == "police.csv":
            attempts["police"] += 1
            if attempts["police"] == 1:
                raise OSError(5, "Input/output error")  # a network share dropping out for a moment
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", flaky)
    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        out = identify_families(extracts=str(TINY), out=str(tmp_path / "run"))
    assert attempts["police"] == 2
    assert _same_outputs(Path(out), cli_run) == []


def test_a_run_without_a_required_source_ends_completed_but_named_partial(server, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.identify_families import PARTIAL, identify_families

    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    (extracts / "health.csv").unlink()
    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        state = identify_families(extracts=str(extracts), out=str(tmp_path / "run"), allow_missing=["health"],
                                  return_state=True)
    assert state.is_completed() and state.name == PARTIAL
    assert state.message == "partial: went on without health"
    assert state.result() == str(tmp_path / "run")
    flow_run = _with_api(server["url"], lambda client: client.read_flow_run(state.state_details.flow_run_id))
    assert (flow_run.state.type.value, flow_run.state.name) == ("COMPLETED", PARTIAL)  # as the UI shows it


def test_run_now_through_the_server_runs_the_deployment_and_leaves_artifacts_without_personal_data(served, server):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    _wait_for(lambda: _with_api(server["url"], _deployment), 90, "the deployment", served["log"])
    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        flow_run = run_deployment("identify_families/monthly", timeout=240, poll_interval=2)
    assert flow_run.state.type.value == "COMPLETED", flow_run.state.message

    async def artifacts(client):
        return await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])))

    found = {a.key: a for a in _with_api(server["url"], artifacts)}
    assert set(found) == {"run-summary", "sources"}
    summary = str(found["run-summary"].data) + str(found["sources"].data)
    assert "Sources" in summary and "eligible" in summary and "police" in summary
    names = set()
    for path in TINY.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        names |= {v for c in frame.columns if "name" in c or c in ("dob", "address", "address_line_1")
                  for v in frame[c] if len(v) > 3}
    assert len(names) > 20
    leaked = sorted(v for v in names if v in summary)
    assert leaked == [], "identifying values in the artifacts"


def test_a_scheduled_run_fires_on_the_server_and_publishes_a_dated_folder(served, server, cli_run):
    async def scheduled_done(client):
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

        runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=["COMPLETED", "FAILED", "CRASHED"]))))
        return [r for r in runs if r.auto_scheduled]

    runs = _wait_for(lambda: _with_api(server["url"], scheduled_done), 180, "a scheduled run to finish",
                     served["log"])
    assert runs[0].state.type.value == "COMPLETED", runs[0].state.message
    folders = [p for p in served["out_root"].iterdir() if not p.name.startswith(".")]
    days = {served["started"].isoformat(), dt.date.today().isoformat()}  # a run may cross midnight
    assert folders and all(p.name[:10] in days for p in folders), folders
    assert _same_outputs(sorted(folders)[0], cli_run) == []


def test_no_result_is_persisted_into_prefects_storage(server, served):
    """Nothing a task returned (it holds the run's data) is in Prefect's result storage or its records."""
    from prefect.settings import PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    _wait_for(lambda: _with_api(server["url"], _finished_runs), 240, "a finished flow run", served["log"])
    with temporary_settings(updates={PREFECT_HOME: server["home"]}):
        storage = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    assert storage.is_relative_to(server["home"])  # where the served runs would have written results
    assert not storage.exists() or not [p for p in storage.rglob("*") if p.is_file()]
    task_runs = _with_api(server["url"], lambda client: client.read_task_runs())
    assert task_runs and all(t.state is not None and t.state.data is None for t in task_runs), \
        [t.name for t in task_runs if t.state is not None and t.state.data is not None]


async def _finished_runs(client):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

    return await client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
        type=FlowRunFilterStateType(any_=["COMPLETED"]))))
