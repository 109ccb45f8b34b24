"""The `identify_families` Prefect flow: one run of the pipeline, a task per stage.

    python -m flows.identify_families --extracts DIR --out DIR [options of `python -m pipeline run`]
    python -m flows.identify_families --extracts DIR --out-root DIR   # a new dated folder under DIR

The tasks call the stage steps of `pipeline.run.stages` over one session, exactly as the command
line does, so outputs are byte-identical; the flow only orders them, runs the sources' ingest
side by side, retries file reads, and leaves a summary and a table of sources as artifacts.

Hygiene: task results are never persisted (they hold the run's data in memory; Prefect would
pickle them into its storage), nothing is cached by Prefect, and logs and artifacts carry
counts, gateways and reasons only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.states import Completed, State

import flows  # noqa: F401  (PREFECT_HOME under var/ before Prefect is imported)
from pipeline.cli import PARTIAL_EXIT, add_run_arguments, config_from
from pipeline.ingest.source import SourceOutcome
from pipeline.publish import dated_output
from pipeline.report.markdown import sources_table, summary_markdown
from pipeline.run import RunConfig, RunError, RunResult, public_reason, stages
from pipeline.run.failure import abort
from pipeline.run.session import Session
from pipeline.run.session import open_run as open_session

READ_RETRIES = 2
PARTIAL = "Partial"  # the name of a partial run's Completed state


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


def _task(name: str, **options):
    return task(name=name, persist_result=False, cache_policy=NO_CACHE, **options)


@_task("open run")
def open_run(config: RunConfig) -> Session:
    return open_session(config, report)


@_task("ingest", task_run_name="ingest {source}", retries=READ_RETRIES, retry_delay_seconds=2,
       retry_condition_fn=_retry_on_io_error)
def ingest(session: Session, source: str) -> SourceOutcome:
    last_try = runtime.task_run.run_count > READ_RETRIES
    return stages.ingest(session, source, io_errors="record" if last_try else "raise")


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


@flow(name="identify_families", persist_result=False, log_prints=False)
def identify_families(extracts: str, out: str | None = None, out_root: str | None = None, rules: str = "phase2",
                      as_of: dt.date | None = None, purpose: str | None = None, allow_missing: list[str] | None = None,
                      force: bool = False, max_bad_share: float | None = None,
                      caseworker_export: bool = False, reuse_ingest: bool = True) -> str | State:
    """Identify families from one folder of extracts; returns the output folder.

    `out` names the output folder; or `out_root` gets a new folder named for the day (scheduled runs).
    The other parameters are `python -m pipeline run`'s options (`pipeline.run.config.RunConfig`).
    A run that went on without a required source ends Completed, named "Partial" in the UI.
    """
    parameters = dict(locals())
    if (out is None) == (out_root is None):
        raise RunError("give exactly one of out (the output folder) and out_root (a dated folder under it)")
    parameters["out"] = out if out is not None else dated_output(Path(out_root), dt.date.today())
    result = run_stages(RunConfig.from_parameters(parameters))
    if result.partial:
        return Completed(name=PARTIAL, data=str(result.out),
                         message=f"partial: went on without {', '.join(result.required_not_used)}")
    return str(result.out)


def run_stages(config: RunConfig) -> RunResult:
    """The stages as tasks over one session; on any failure the session is aborted (nothing published)."""
    try:
        session = open_run(config)
    except Exception as exc:
        raise RunError(public_reason(exc)) from None
    try:
        for future in [ingest.submit(session, source) for source in session.sources]:
            future.result()
        finish_ingest(session)
        link(session)
        score(session)
        result = publish(session)
    except BaseException as exc:
        abort(session, exc)
        raise RunError(public_reason(exc)) from None
    create_markdown_artifact(key="run-summary", markdown=summary_markdown(result),
                             description="Sources and gateways, refusals, quarantine, people, households, "
                                         "eligible families by criterion (no personal data)")
    create_table_artifact(key="sources", table=sources_table(result),
                          description="Each source: status, rows, gateway and agreement, reason")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = add_run_arguments(argparse.ArgumentParser(prog="python -m flows.identify_families",
                                                       description="One run of the identify_families flow."))
    args = parser.parse_args(argv)
    try:
        state = identify_families(**config_from(args).parameters(), return_state=True)
        out = state.result()
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    partial = state.name == PARTIAL
    print(f"Run {'partial' if partial else 'complete'}: {out}")
    return PARTIAL_EXIT if partial else 0


if __name__ == "__main__":
    sys.exit(main())
