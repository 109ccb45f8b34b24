"""When a run cannot finish: the one-line reason, and both trails completed with it; nothing published.

A failed run (an error, SIGTERM, Ctrl-C) ends its lineage with a failed `run_end` and its
OpenLineage trail with FAIL; both are kept under the ledger's `failed/<run id>/` folder and the
ledger gets the failed run's summary. A run killed outright records nothing itself: the next run
for the same output folder finds its staging folder and records it (`record_abandoned`).
Earlier runs' folders are never touched.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import time
import unicodedata
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.audit import openlineage
from pipeline.audit.ledger import FAILED, append_run, ledger_path
from pipeline.audit.lineage import LineageWriter
from pipeline.engine import EngineError
from pipeline.publish import LINEAGE, discard
from pipeline.run.orchestrator import Orchestrator, lineage_fields

if TYPE_CHECKING:
    from pipeline.run.config import RunConfig
    from pipeline.run.session import Session


class RunError(Exception):
    """The run could not be carried out; the message is the one-line reason for the user."""


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM): the run fails, recording why, and publishes nothing."""


def go_on_without(sources: list[str]) -> str:
    """How to run without these required sources, on the command line and in Prefect's run form."""
    flags = " ".join(f"--allow-missing {s}" for s in sources)
    return (f"to go on without them and leave their criteria not assessed: {flags} (in Prefect, the flow "
            f"parameter allow_missing: [{', '.join(sources)}])")


_OS_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied (operation not permitted)",
    errno.ENOENT: "no such file or folder",
    errno.EIO: "an input/output error (a failing disk, or a network share that went away?)",
    errno.ENAMETOOLONG: "the path is too long",
    errno.EMFILE: "too many open files",
}


def os_error_reason(exc: OSError) -> str:
    """An operating-system error in words, with the path it met and its errno name: one line.

    The words are chosen here (not the exception's message, which a library may fill with more than
    the error); the path is the run's own or an extract's, with any control character shown as `?`
    so that a hostile folder name cannot break the line.
    """
    what = _OS_ERRORS.get(exc.errno) or (exc.strerror or "an operating-system error").lower()
    name = errno.errorcode.get(exc.errno, type(exc).__name__) if exc.errno else type(exc).__name__
    where = f" at {_printable(str(exc.filename))}" if exc.filename else ""
    return f"{what}{where} ({name})"


def _printable(text: str) -> str:
    return "".join("?" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)


def public_reason(exc: BaseException) -> str:
    """A failure's reason fit to show and log: a RunError's own message, an OSError in words, else only the
    exception's type.

    An unexpected exception's message may quote a data value (a name, a date of birth), and a
    reason is printed, logged by Prefect and kept in the audit trail.
    """
    if isinstance(exc, RunError | EngineError):  # an EngineError's message names the cluster, never data
        return str(exc)
    if isinstance(exc, OSError):
        return os_error_reason(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, Terminated):
        return "terminated (the process was sent SIGTERM)"
    return f"internal error ({type(exc).__name__})"


def abort(session: Session, exc: BaseException) -> Path | None:
    """A failed run: FAIL with its reason in both trails, nothing published, earlier outputs untouched.

    The run's lineage gets a failed run_end, its OpenLineage trail a FAIL event; both files (no
    personal data) are kept under the ledger's `failed/<run id>/` folder and the ledger gets a
    chained summary of the failure, so an auditor sees the failed run too. Then the staging
    folder, with every partial output, is removed. Each step is guarded: recording a failure
    must never hide it. Returns the folder the failed trails were kept in.
    """
    s = session
    reason = public_reason(exc)
    with contextlib.suppress(Exception):
        s.gx.close()
    with contextlib.suppress(Exception):
        s.close()  # a cluster the run started, and its workers' spill folder
    kept = None
    try:
        if not s.lineage.closed:
            s.write_held_records()
            s.lineage.write("run_end", status=FAILED, reason=reason,
                            seconds=round(time.perf_counter() - s.started, 3))
            s.lineage.close()
        openlineage.fail(s.staging, s.run_id, reason, [o.lineage_record() for o in s.ordered_outcomes()], s.schemas,
                         settings=s.configuration.openlineage)
        kept = keep_failed_trails(s.staging, s.run_id)
        append_run(kept, status=FAILED, reason=reason)
    except Exception as recording:  # the run's own failure is what the caller must see
        s.report(f"warning: the failure could not be fully recorded ({type(recording).__name__})")
    finally:
        discard(s.staging)
    return kept


def tell_kept(report: Callable[[str], None], kept: Path | None) -> None:
    """Say where a failed run's trail is, so the officer or auditor can read its account."""
    if kept is not None:
        report(f"the failed run is in the ledger; its audit trail: python -m pipeline audit show {kept}")


def record_unstarted(config: RunConfig, run_id: str, exc: BaseException, started: float,
                     orchestrator: Orchestrator | None = None) -> Path | None:
    """A run that failed before it could write anything (no extracts, no key, a bad rule file) is in the ledger too.

    Its trail, kept under the ledger's `failed/<run id>/` like any failed run's, is a run_start with
    the options it was given and a failed run_end with the one-line reason; the ledger gets its
    summary. Recording must never hide the failure itself, so any problem here is swallowed.
    """
    try:
        kept = failed_trails_dir(run_id)
        writer = LineageWriter(kept / LINEAGE)
        writer.write("run_start", run_id=run_id, parameters=config.parameters(), **LineageWriter.run_context(),
                     **lineage_fields(orchestrator))
        writer.write("run_end", status=FAILED, reason=public_reason(exc), stage="start",
                     seconds=round(time.perf_counter() - started, 3))
        writer.close()
        append_run(kept, status=FAILED, reason=public_reason(exc))
        return kept
    except Exception:
        return None


def failed_trails_dir(run_id: str) -> Path:
    """Where a failed run's trails are kept: the ledger's failed/<run id>/ (a published run has its own folder)."""
    return ledger_path().parent / "failed" / run_id


def keep_failed_trails(folder: Path, run_id: str) -> Path:
    """Copy a failed run's trails (no personal data) out of its staging folder, which is then removed."""
    kept = failed_trails_dir(run_id)
    kept.mkdir(parents=True, exist_ok=True)
    for name in (LINEAGE, openlineage.events_path(folder).name):
        if (folder / name).exists():
            shutil.copy2(folder / name, kept / name)
    return kept


def _run_id_of(first: object, folder: Path) -> str:
    """The killed run's id from its first lineage record when that is a UUID, else one made from the folder.

    The id names the folder its trails are kept in, and the staging folder it comes from is not
    to be trusted: anything but a UUID could name a path elsewhere.
    """
    try:
        return str(uuid.UUID(str(first.get("run_id") if isinstance(first, dict) else None)))
    except ValueError:
        return openlineage.run_id_from(str(folder))


ABANDONED = "abandoned: the run's process ended before it finished (killed, or the machine stopped)"


def record_abandoned(folder: Path, settings: openlineage.OpenLineageSettings) -> Path | None:
    """Record a killed run, found by the next run for the same output folder, as failed in both trails.

    A killed process records nothing itself; its staging folder (never published) still holds its
    lineage and OpenLineage START. They are kept as a failed run's trails are (`abort`), each
    completed with the failure, and the ledger gets the failed run's summary.
    """
    lineage_file = folder / LINEAGE
    if not lineage_file.exists():
        return None
    try:
        with open(lineage_file, encoding="utf-8") as fh:
            first = json.loads(fh.readline() or "{}")
        kept = keep_failed_trails(folder, run_id := _run_id_of(first, folder))
        writer = LineageWriter(kept / LINEAGE)
        writer.write("run_end", status=FAILED, reason=ABANDONED)
        writer.close()
        openlineage.fail(kept, run_id, ABANDONED, settings=settings)
        append_run(kept, status=FAILED, reason=ABANDONED)
        return kept
    except (OSError, ValueError):  # a trail too broken to complete: the folder is removed all the same
        return None
