"""The identify_families flow: one run as Prefect tasks, and a schedule firing on a real server.

One real Prefect server per test session (it takes ~15 s to start, so it is started when these
tests are collected: tests/conftest.py), on a free loopback port, with its state in a temporary
PREFECT_HOME; the deployment is served by `python -m flows.serve` as a research officer would, in
a subprocess, from the module's first test on, so that its schedule fires while the others run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from flows.serve import stop
from tests.conftest import REPO, TINY
from tests.support import lineage

COMPARED = ("record_links.parquet", "pairs.parquet", "households.parquet", "evidence.parquet", "quarantine.parquet",
            "quarantine.csv", "linkage_model.json", "report.html")
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


def test_the_deployment_is_registered_with_its_schedule_in_london_time_and_its_parameters(served, server):
    deployment = _wait_for(lambda: _with_api(server["url"], _deployment), 90, "the deployment", served["log"])
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in deployment.schedules] == [
        (EVERY_MINUTE, "Europe/London", True)]  # not UTC: 06:00 stays 06:00 across the clock change
    assert deployment.parameters == {"extracts": str(TINY), "out_root": str(served["out_root"]),
                                     "rules": "supporting_families"}


def _typed(prop: dict) -> bool:
    """A type the run form can show: its own, or one for each alternative of an optional parameter."""
    return "type" in prop or (bool(prop.get("anyOf")) and all("type" in p for p in prop["anyOf"]))


def test_every_parameter_in_the_run_form_has_a_description_and_a_type_and_only_the_folders_are_required(
        served, server):
    deployment = _wait_for(lambda: _with_api(server["url"], _deployment), 90, "the deployment", served["log"])
    schema = deployment.parameter_openapi_schema
    properties = schema["properties"]
    assert len(properties) == 17  # RunConfig's 16 options and out_root
    assert [name for name, p in properties.items() if not p.get("description")] == []
    assert [name for name, p in properties.items() if not _typed(p)] == []
    assert schema["required"] == ["extracts", "out_root"]  # out is an override, not an alternative to guess
    assert "out_root" in properties["out"]["description"]
    assert all(rules in properties["rules"]["description"] for rules in ("phase1", "phase2", "supporting_families"))
    assert properties["as_of"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert properties["allow_missing"]["type"] == "array" and properties["allow_missing"]["default"] == []
    assert (properties["max_bad_share"]["anyOf"][0]["minimum"], properties["max_bad_share"]["anyOf"][0]["maximum"]) \
        == (0, 1)
    assert properties["caseworker_export"]["description"].startswith("WRITES IDENTIFYING DATA")


def test_the_schedules_time_zone_is_london_unless_told_otherwise(tmp_path):
    from flows.serve import deployment, main

    def zone(**how) -> str:
        return deployment(TINY, tmp_path, **how).schedules[0].schedule.timezone

    assert (zone(), zone(timezone="Europe/Dublin")) == ("Europe/London", "Europe/Dublin")
    with pytest.raises(SystemExit) as usage:
        main(["--timezone", "London", "--inbox", str(tmp_path / "in"), "--out-root", str(tmp_path / "runs")])
    assert usage.value.code == 2 and not (tmp_path / "in").exists()


def test_the_ui_of_a_server_on_another_port_is_told_where_its_api_is(tmp_path, monkeypatch):
    import flows.serve

    started = {}
    monkeypatch.setattr(flows.serve.subprocess, "Popen", lambda args, **how: started.update(args=args, **how))
    monkeypatch.delenv("PREFECT_UI_API_URL", raising=False)
    flows.serve.start_server(4321, tmp_path / "server.log")
    assert started["args"][-2:] == ["--port", "4321"]
    assert started["env"]["PREFECT_UI_API_URL"] == "http://127.0.0.1:4321/api"  # not the default port's


def test_the_flow_on_an_existing_dask_cluster_ingests_on_its_workers_and_gives_the_same_outputs(
        cli_run, server, tmp_path):
    """A cluster started apart from the run (as `dask scheduler` / `dask worker` would be), named by address: the
    ingest tasks run on its workers through prefect-dask's task runner, and the outputs are the command line's."""
    import distributed

    from pipeline.engine.dask import dask_engine

    env = dict(server["env"], PREFECT_API_URL=server["url"])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        out = tmp_path / "flow"
        done = subprocess.run([sys.executable, "-m", "flows.identify_families", "--extracts", str(TINY), "--out",
                               str(out), "--dask-scheduler", cluster.scheduler_address], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        with dask_engine(cluster.scheduler_address, None, None) as engine:
            workers = {w.address for w in engine.facts().workers}
    assert _same_outputs(out, cli_run) == []
    [engine_record] = [r["parameters"]["engine"] for r in lineage(out) if r["event"] == "run_start"]
    assert engine_record["cluster"] == "existing" and engine_record["scheduler"] == cluster.scheduler_address
    assert {w["address"] for w in engine_record["workers"]} == workers
    ran_on = set(re.findall(r"quarantined \([0-9.]+s on worker (tcp://[0-9.:]+)", done.stderr))
    assert ran_on and ran_on <= workers


def test_serving_an_empty_inbox_says_what_to_put_in_it(tmp_path):
    from flows.serve import inbox_hint

    hint = inbox_hint(tmp_path)
    assert hint and "police.csv" in hint and "health.csv" in hint
    assert f"cp sample_data/extracts/*.csv {tmp_path}/" in hint
    (tmp_path / "police.csv").write_text("record_id\n", encoding="utf-8")
    assert inbox_hint(tmp_path) is None


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
        out = identify_families(extracts=str(TINY), out_root=str(tmp_path), out=str(tmp_path / "run"))
    assert attempts["police"] == 2
    assert _same_outputs(Path(out), cli_run) == []


class _ChangingDict(dict):
    """A dict another thread is adding to: iterating it fails, as a session's dicts may while a source ingests."""

    def items(self):
        raise RuntimeError("dictionary changed size during iteration")

    __iter__ = items


@dataclass
class _SessionMidIngest:
    outcomes: _ChangingDict


def test_the_session_is_handed_to_each_task_as_it_is_never_walked_by_prefect(server):
    from prefect import flow
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.identify_families import _result, _task

    @_task("hand back")
    def hand_back(session, source=None):
        return session

    @flow(persist_result=False)
    def over_one_session() -> bool:
        session = _SessionMidIngest(outcomes=_ChangingDict(police=1))
        return all(_result(hand_back, session, source) is session for source in ("police", "schools"))

    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        assert over_one_session()


def test_a_month_under_out_root_carries_on_from_the_newest_run_there(server, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.identify_families import identify_families

    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        first = identify_families(extracts=str(TINY), out_root=str(tmp_path / "runs"))
        second = identify_families(extracts=str(TINY), out_root=str(tmp_path / "runs"))
    start = json.loads((Path(second) / "lineage.jsonl").read_text().splitlines()[0])
    assert start["parameters"]["previous_run"]["folder"] == str(Path(first).resolve())
    assert (Path(second) / "changes.parquet").is_file()


def test_a_run_without_a_required_source_ends_completed_but_named_partial(server, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.identify_families import PARTIAL, identify_families

    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    (extracts / "health.csv").unlink()
    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        state = identify_families(extracts=str(extracts), out_root=str(tmp_path), out=str(tmp_path / "run"),
                                  allow_missing=["health"], return_state=True)
    assert state.is_completed() and state.name == PARTIAL
    assert state.message == "partial: went on without health"
    assert state.result() == str(tmp_path / "run")
    flow_run = _with_api(server["url"], lambda client: client.read_flow_run(state.state_details.flow_run_id))
    assert (flow_run.state.type.value, flow_run.state.name) == ("COMPLETED", PARTIAL)  # as the UI shows it


def test_a_refused_source_s_ingest_task_is_named_refused_with_its_reason(server, tmp_path):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.identify_families import PARTIAL, REFUSED, identify_families

    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    (extracts / "schools.csv").write_bytes(b"")
    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        state = identify_families(extracts=str(extracts), out_root=str(tmp_path), out=str(tmp_path / "run"),
                                  allow_missing=["schools"], return_state=True)
    assert state.name == PARTIAL
    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    tasks = _with_api(server["url"], lambda client: client.read_task_runs(flow_run_filter=run_filter))
    ingests = {t.name: t.state for t in tasks if t.name.startswith("ingest ")}
    assert (ingests["ingest schools"].type.value, ingests["ingest schools"].name) == ("COMPLETED", REFUSED)
    assert ingests["ingest schools"].message == "schools refused: unreadable file: file is empty"
    assert {s.name for name, s in ingests.items() if name != "ingest schools"} == {"Completed"}


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
    assert set(found) == {"run-summary", "sources", "headline-figures", "run-report", "output-folder"}
    link = re.fullmatch(r"\[(.+)\]\((file://.+)\)", found["output-folder"].data)  # [folder](file:///folder)
    assert link, found["output-folder"].data
    out = Path(link[1])
    assert link[2] == out.as_uri() and out.parent == served["out_root"] and (out / "households.parquet").is_file()
    assert f"Output folder: [`{out}`]({out.as_uri()})" in found["run-summary"].data
    for linked in (out / "report.html", out / "data_docs" / "index.html", out / "lineage.jsonl"):
        assert linked.is_file() and f"]({linked.as_uri()})" in found["run-summary"].data
    assert found["run-report"].data == f"[{out / 'report.html'}]({(out / 'report.html').as_uri()})"
    figures = {r["figure"]: r["value"] for r in json.loads(found["headline-figures"].data)}
    links = pd.read_parquet(out / "record_links.parquet")
    households = pd.read_parquet(out / "households.parquet")
    assert (figures["people"], figures["households"]) == (links["person_key"].nunique(), len(households))
    assert figures["eligible families"] == int(households["eligible"].sum())
    assert figures["rows accepted"] == len(links)
    start = json.loads((out / "lineage.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert start["orchestrator"] == {"kind": "prefect", "flow_run_id": str(flow_run.id),
                                     "flow_run_name": flow_run.name, "deployment": "identify_families/monthly"}
    summary = str(found["run-summary"].data) + str(found["sources"].data) + str(found["headline-figures"].data)
    assert "Sources" in summary and "eligible" in summary and "police" in summary
    names = set()
    for path in TINY.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        names |= {v for c in frame.columns if "name" in c or c in ("dob", "address", "address_line_1")
                  for v in frame[c] if len(v) > 3}
    assert len(names) > 20
    leaked = sorted(v for v in names if v in summary)
    assert leaked == [], "identifying values in the artifacts"


def _storage(server) -> Path:
    """Where a served flow run would pickle results and exceptions: the server's PREFECT_HOME's local storage."""
    from prefect.settings import PREFECT_HOME, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    with temporary_settings(updates={PREFECT_HOME: server["home"]}):
        storage = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    assert storage.is_relative_to(server["home"])
    return storage


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_a_failed_run_shows_its_reason_as_its_state_message_with_no_traceback_and_nothing_stored(
        served, server, tmp_path):
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    inbox = tmp_path / "inbox"
    shutil.copytree(TINY, inbox)
    (inbox / "health.csv").unlink()  # a required source the agency has not sent
    stored_before = _files(_storage(server))
    _wait_for(lambda: _with_api(server["url"], _deployment), 90, "the deployment", served["log"])
    with temporary_settings(updates={PREFECT_API_URL: server["url"]}):
        flow_run = run_deployment("identify_families/monthly", parameters={"extracts": str(inbox)}, timeout=240,
                                  poll_interval=2)
    reason = flow_run.state.message
    assert flow_run.state.type.value == "FAILED" and flow_run.state.name == "Failed"
    assert reason.startswith(f"required extract(s) missing from {inbox}: health.csv; the folder also holds, not "
                             "read: README.md (to go on without them") and "\n" not in reason

    async def logs(client):
        return await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))

    def finished() -> list[str] | None:
        messages = [log.message for log in _with_api(server["url"], logs)]
        return messages if any("Finished in state Failed" in m for m in messages) else None

    messages = _wait_for(finished, 60, "the failed run's logs", served["log"])
    assert [m for m in messages if "Traceback" in m or "NoneType: None" in m] == []
    finished_lines = {m for m in messages if m.startswith("Finished in state Failed")}  # the task's and the flow's
    assert finished_lines == {f"Finished in state Failed({reason!r})"}
    assert _files(_storage(server)) - stored_before == set()  # no pickled exception, no result


def test_the_command_line_takes_an_output_root_and_prints_a_failed_runs_reason_on_one_line(server, tmp_path):
    env = dict(server["env"], PREFECT_API_URL=server["url"])
    nowhere = tmp_path / "nowhere"
    done = subprocess.run([sys.executable, "-m", "flows.identify_families", "--extracts", str(nowhere),
                           "--out-root", str(tmp_path / "runs")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.splitlines()[-1] == f"error: extracts folder {nowhere} does not exist (--extracts)"
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("outputs", [[], ["--out", "a", "--out-root", "b"]])
def test_the_command_line_needs_exactly_one_of_out_and_out_root(outputs, capsys):
    from flows.identify_families import main

    with pytest.raises(SystemExit) as usage:
        main(["--extracts", str(TINY), *outputs])
    assert usage.value.code == 2 and "exactly one of --out" in capsys.readouterr().err


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
    _wait_for(lambda: _with_api(server["url"], _finished_runs), 240, "a finished flow run", served["log"])
    assert _files(_storage(server)) == set()  # where the served runs would have written results
    task_runs = _with_api(server["url"], lambda client: client.read_task_runs())
    assert task_runs and all(t.state is not None and t.state.data is None for t in task_runs), \
        [t.name for t in task_runs if t.state is not None and t.state.data is not None]


async def _finished_runs(client):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

    return await client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
        type=FlowRunFilterStateType(any_=["COMPLETED"]))))
