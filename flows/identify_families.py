"""The `identify_families` Prefect flow: one run of the pipeline, a task per stage.

    python -m flows.identify_families --extracts DIR --out-root DIR   # a new dated folder under DIR
    python -m flows.identify_families --extracts DIR --out DIR [options of `python -m pipeline run`]

The tasks call the stage steps of `pipeline.run.stages` over one session, exactly as the command
line does, so outputs are byte-identical; the flow only orders them, runs the sources' ingest
side by side, retries file reads, and leaves a summary and a table of sources as artifacts.

Hygiene: task results are never persisted (they hold the run's data in memory; Prefect would
pickle them into its storage), nothing is cached by Prefect, and logs and artifacts carry
counts, gateways and reasons only. A run that cannot finish is not an exception to Prefect: the
flow returns a Failed state whose message is the one-line reason (a RunError's message, or an
unexpected error's type), so the UI shows the reason where it shows the state, the log holds no
traceback for a user's error, and no exception is pickled into Prefect's result storage.

The parameters' descriptions in the UI come from RunConfig (`Option.description`), written into
the flow's docstring as the Google-style `Args:` section Prefect reads into the parameter schema.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

from prefect import Task, flow, get_run_logger, runtime, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import FailedRun, MissingContextError
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote
from prefect_dask import DaskTaskRunner
from pydantic import Field

import flows  # noqa: F401  (PREFECT_HOME under var/ before Prefect is imported)
from pipeline.audit.ledger import latest_run_under
from pipeline.cli import PARTIAL_EXIT
from pipeline.criteria.rules import DEFAULT_RULE_SET
from pipeline.ingest.source import Ingested
from pipeline.publish import dated_output
from pipeline.report.headlines import headline_figures
from pipeline.report.markdown import output_links, sources_table, summary_markdown
from pipeline.run import RunConfig, RunError, RunResult, public_reason, stages
from pipeline.run.failure import abort
from pipeline.run.orchestrator import Orchestrator
from pipeline.run.session import Session
from pipeline.run.session import open_run as open_session


class ARTIFACTS:
    """The names of the run's Prefect artifacts (what the UI lists and tests look up)."""

    SUMMARY = "run-summary"
    SOURCES_TABLE = "sources"
    HEADLINES = "headline-figures"
    REPORT_LINK = "run-report"
    FOLDER_LINK = "output-folder"


READ_RETRIES = 2
REFUSED = "Refused"  # the name of a refused source's ingest task's Completed state
PARTIAL = "Partial"  # the name of a partial run's Completed state
OUT_ROOT = ("Folder under which each run writes a new folder named for its day (out_root/2026-12-01; a second "
            "run that day gets out_root/2026-12-01-2), so no run replaces an earlier one.")
DESCRIPTION = ("Identify families from one folder of extracts; each run writes a new folder named for its day under "
               "out_root (or exactly the folder `out`). A run that went on without a required source ends "
               "Completed, named Partial; a run that cannot finish ends Failed with its one-line reason.")
T = TypeVar("T")


class _NoTracebackForAReturnedFailure(logging.Filter):
    """Drop the engine's "exited with unexpected exception" traceback for a flow run that returned its Failed
    state: a deployment's engine re-raises the state as FailedRun and logs it, though nothing went wrong
    but the run's own one-line reason, which the state message already gives."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, FailedRun) and record.msg == "Engine execution exited with unexpected exception")


class _NoEmptyTraceback(logging.Filter):
    """A task that returned Failed is logged with exc_info but no exception, which prints "NoneType: None"
    under the reason; the line says nothing, so it goes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info == (None, None, None):
            record.exc_info = None
        return True


logging.getLogger("prefect.flow_runs").addFilter(_NoTracebackForAReturnedFailure())
logging.getLogger("prefect.task_runs").addFilter(_NoEmptyTraceback())


def report(line: str) -> None:
    """Progress lines to the run's Prefect log (counts only), or standard error outside a run."""
    try:
        get_run_logger().info(line)
    except MissingContextError:
        print(line, file=sys.stderr, flush=True)


def _retry_on_io_error(task, task_run, state) -> bool:
    """Retry a task only when a file could not be read or written, not for bad data or configuration."""
    try:
        state.result()
    except OSError:
        return True
    except BaseException:
        return False
    return False


def _refusing_user_errors(fn: Callable[..., T]) -> Callable[..., T | State]:
    """A task body whose RunError (a user's error: its message is the reason) ends the task Failed with that
    one line: raised, Prefect would log a traceback and keep the exception."""
    @functools.wraps(fn)
    def body(*args: Any, **kwargs: Any) -> T | State:
        try:
            return fn(*args, **kwargs)
        except RunError as exc:
            return Failed(message=str(exc), data=exc)  # the caller's .result() raises it again, in memory only
    return body


def _task(name: str, **options):
    def decorate(fn):
        return task(name=name, persist_result=False, cache_policy=NO_CACHE, **options)(_refusing_user_errors(fn))
    return decorate


@_task("open run")
def open_run(config: RunConfig, orchestrator: Orchestrator | None) -> Session:
    return open_session(config, report, orchestrator)


@_task("ingest", task_run_name="ingest {job.source}", retries=READ_RETRIES, retry_delay_seconds=2,
       retry_condition_fn=_retry_on_io_error)
def ingest(job: stages.IngestJob) -> Ingested | State:
    """One source's ingest, in the task runner's threads or on a Dask worker (it carries no session); a refused
    file ends the task Completed but named "Refused", with the reason, so the run's task list does not show a
    refused extract as green as a used one."""
    last_try = runtime.task_run.run_count > READ_RETRIES
    done = stages.run_ingest_job(replace(job, raise_io_errors=not last_try))
    if done.outcome.status == "refused":
        return Completed(name=REFUSED, message=f"{job.source} refused: {done.outcome.reason}", data=done)
    return done


@_task("finish ingest")
def finish_ingest(session: Session) -> int:
    return stages.finish_ingest(session)


@_task("link")
def link(session: Session) -> None:
    stages.link(session)


@_task("households and criteria")
def score(session: Session) -> None:
    stages.score_households(session)


@_task("publish")
def publish(session: Session) -> RunResult:
    return stages.publish(session)


def parameter_docs(fn: Callable[..., T]) -> Callable[..., T]:
    """Append the Google-style `Args:` section Prefect reads into the UI's parameter descriptions, from
    RunConfig's options (their one definition) and out_root, the flow's own."""
    described = {name: option.description for name, option, _ in RunConfig.options()} | {"out_root": OUT_ROOT}
    fn.__doc__ = (fn.__doc__ or "") + "\n\nArgs:\n" + "".join(
        f"    {name}: {described[name]}\n" for name in inspect.signature(fn).parameters)
    return fn


@flow(name="identify_families", description=DESCRIPTION, persist_result=False, log_prints=False)
@parameter_docs
def identify_families(extracts: str, out_root: str, out: str | None = None, rules: str = DEFAULT_RULE_SET,
                      as_of: dt.date | None = None, processing_date: dt.date | None = None,
                      previous: str | None = None, decisions: str | None = None,
                      purpose: str | None = None,
                      allow_missing: Sequence[str] = (),
                      force: bool = False, max_bad_share: Annotated[float | None, Field(ge=0, le=1)] = None,
                      caseworker_export: bool = False, reuse_ingest: bool = True,
                      dask_scheduler: str | None = None, dask_local: int | None = None,
                      dask_worker_memory: str | None = None) -> str | State:
    """Identify families from one folder of extracts; returns the output folder, or a Failed state with the reason.

    The parameters are `python -m pipeline run`'s options (`pipeline.run.config.RunConfig`), except that
    the output is a new dated folder under the required `out_root` unless `out` names one.
    """
    parameters = dict(locals())
    parameters["out"] = out or dated_output(Path(out_root), dt.date.today())
    if previous is None and out is None:  # a month under out_root carries on from the newest run there
        found = latest_run_under(Path(out_root))
        if found is not None:
            parameters["previous"] = str(found)
            report(f"carrying on from the previous run {found} (its people and families keep their keys)")
    try:
        result = run_stages(RunConfig.from_parameters(parameters), started_by())
    except RunError as exc:
        return Failed(message=str(exc))
    if result.partial:
        return Completed(name=PARTIAL, data=str(result.out),
                         message=f"partial: went on without {', '.join(result.required_not_used)}")
    return str(result.out)


def started_by() -> Orchestrator:
    """This flow run as the lineage records it: its id and name, and its deployment when one started it."""
    deployment = f"{runtime.flow_run.flow_name}/{runtime.deployment.name}" if runtime.deployment.id else None
    return Orchestrator(kind="prefect", flow_run_id=str(runtime.flow_run.id), flow_run_name=runtime.flow_run.name,
                        deployment=deployment)


def _result(step: Task, session: Any, *args: Any) -> Any:
    """Run a task over the session and give its value, or raise its error: a task that returned Failed (a user's
    error) would otherwise hand back its state as if it were the value."""
    return step(quote(session), *args, return_state=True).result()


def run_stages(config: RunConfig, orchestrator: Orchestrator) -> RunResult:
    """The stages as tasks over one session; on any failure the session is aborted (nothing published) and
    RunError gives the reason fit to show."""
    try:
        session = open_run(config, orchestrator, return_state=True).result()
    except Exception as exc:
        raise RunError(public_reason(exc)) from None
    try:
        ingest_sources(session)
        _result(finish_ingest, session)
        _result(link, session)
        _result(score, session)
        result = _result(publish, session)
    except BaseException as exc:
        abort(session, exc)
        raise RunError(public_reason(exc)) from None
    leave_artifacts(result)
    return result


def ingest_sources(session: Session) -> None:
    """Every source's ingest at once: in this process's threads, or with a Dask engine on its workers through
    prefect-dask's task runner, and each outcome taken into the run here."""
    jobs = [stages.ingest_job(session, source) for source in session.sources]
    with contextlib.ExitStack() as stack:
        if session.engine.scheduler is not None:
            runner = stack.enter_context(DaskTaskRunner(address=session.engine.scheduler))
            futures = [runner.submit(ingest, parameters={"job": job}) for job in jobs]
        else:
            futures = [ingest.submit(job) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            stages.record_ingest(session, job.source, future.result())


def leave_artifacts(result: RunResult) -> None:
    """The run summary, the tables of sources and of headline figures, and links to the output folder and its
    run report (file:// URLs: the folder is on this machine or a share, never uploaded)."""
    create_markdown_artifact(key=ARTIFACTS.SUMMARY, markdown=summary_markdown(result),
                             description="Output folder, sources and gateways, refusals, quarantine, people, "
                                         "households, eligible families by criterion (no personal data)")
    create_table_artifact(key=ARTIFACTS.SOURCES_TABLE, table=sources_table(result),
                          description="Each source: status, rows, gateway and agreement, reason")
    create_table_artifact(key=ARTIFACTS.HEADLINES, table=headline_figures(result),
                          description="The run's headline figures: rows received, accepted, quarantined; people, "
                                      "households, families, eligible (counts only)")
    folder, report_link = output_links(result.out)[:2]
    create_link_artifact(key=ARTIFACTS.REPORT_LINK, link=report_link.url, link_text=str(result.report),
                         description="The run report (report.html): the run at a glance, data quality, linkage, "
                                     "households and criteria, changes; one file that opens offline")
    create_link_artifact(key=ARTIFACTS.FOLDER_LINK, link=folder.url, link_text=folder.text,
                         description="The run's output folder (its Data Docs and lineage are linked from the summary)")


def flow_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's options as the flow's parameters (paths as text); --out alone puts the run in exactly
    that folder, so out_root is only its parent."""
    parameters = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    if parameters["out_root"] is None:
        parameters["out_root"] = str(Path(parameters["out"]).parent)
    return parameters


def main(argv: list[str] | None = None) -> int:
    parser = RunConfig.add_arguments(argparse.ArgumentParser(prog="python -m flows.identify_families",
                                                             description="One run of the identify_families flow."),
                                     optional=("out",))
    parser.add_argument("--out-root", help="write a new folder named for the day under this folder")
    args = parser.parse_args(argv)
    if (args.out is None) == (args.out_root is None):
        parser.error("give exactly one of --out (the output folder) and --out-root (a dated folder under it)")
    state = identify_families(**flow_parameters(args), return_state=True)
    if state.is_failed():
        print(f"error: {state.message}", file=sys.stderr)
        return 1
    partial = state.name == PARTIAL
    print(f"Run {'partial' if partial else 'complete'}: {state.result()}")
    return PARTIAL_EXIT if partial else 0


if __name__ == "__main__":
    sys.exit(main())
