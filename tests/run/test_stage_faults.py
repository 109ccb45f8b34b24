"""A fault at each boundary of a run (ingest, link, score, publish, the ledger append) fails it cleanly.

Each case replaces last month's complete run with --force and has one step fail as a full disk
or a bug would: the command fails with one line that names no one, nothing is published (the
earlier folder byte for byte as it was, no staging folder left beside it), the ledger still
verifies with the earlier run in it, and its last entry says the new run failed and why.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.audit import ledger as ledger_module
from pipeline.audit.ledger import append_record, append_run
from pipeline.audit.lineage import LineageWriter
from pipeline.audit.openlineage.settings import load_openlineage_config
from pipeline.audit.trail import read_trail
from pipeline.audit.verify import verify_ledger
from pipeline.cli import main
from pipeline.publish import staged_for, staging_path
from pipeline.run import stages
from pipeline.run.failure import record_abandoned
from tests.conftest import TINY, CliRun, run_cli
from tests.run.test_cli import identifying_values
from tests.run.test_publish import dead_pid
from tests.support import leaked

pytestmark = pytest.mark.usefixtures("preloaded_gx")

SECRETS = identifying_values(TINY)
# A value from the extracts in the fault's message, as an exception raised over a row might quote it.
QUOTED = sorted(SECRETS)[0]


def disk_full(where: str) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", where)


def failing(exc: BaseException) -> Callable[..., object]:
    def fail(*args: object, **kwargs: object) -> object:
        raise exc
    return fail


def fail_second_source(monkeypatch, base: Path) -> None:
    """The second source's landing fails on a full disk (the first has landed and gone to GX)."""
    real, calls = stages.ingest_source, []

    def ingest_source(source: str, *args: object, **kwargs: object):
        calls.append(source)
        if len(calls) == 2:
            landed = staging_path(base / "run", os.getpid()) / "restricted" / "landed" / f"{source}.parquet"
            raise disk_full(str(landed))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(stages, "ingest_source", ingest_source)


def fail_link(monkeypatch, base: Path) -> None:
    monkeypatch.setattr(stages, "link_sources", failing(RuntimeError(f"no candidate pairs for {QUOTED}")))


def fail_score(monkeypatch, base: Path) -> None:
    monkeypatch.setattr(stages, "score_stage", failing(ValueError(f"cannot evaluate a rule for {QUOTED}")))


def fail_promotion(monkeypatch, base: Path) -> None:
    """The staging folder's rename into place fails after the earlier folder was moved aside."""
    real = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if staged_for(Path(self)) is not None:
            raise OSError(errno.EACCES, "Permission denied", str(self))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)


class TornWrites:
    """A ledger file on a disk that fills part way through a line: half the line lands, then ENOSPC."""

    def __init__(self, fh, faults: list[bool]):
        self._fh, self._faults = fh, faults

    def write(self, data):
        if not self._faults or not self._faults.pop(0):
            return self._fh.write(data)
        self._fh.write(data[:len(data) // 2])
        self._fh.flush()
        raise disk_full(self._fh.name)

    def __getattr__(self, name: str):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object):
        return self._fh.__exit__(*exc)


def torn_ledger_writes(monkeypatch, faults: list[bool]) -> None:
    """The ledger's appends fail as `faults` says, in order (True: torn), then succeed."""
    real_open = open
    monkeypatch.setattr(ledger_module, "open", lambda *a, **k: TornWrites(real_open(*a, **k), faults), raising=False)


def fail_completed_append(monkeypatch, base: Path) -> None:
    """The completed run's ledger entry is cut short by a full disk; the failure's entry after it can be written."""
    torn_ledger_writes(monkeypatch, [True])


BOUNDARIES = {
    "ingest": fail_second_source,
    "link": fail_link,
    "score": fail_score,
    "publish": fail_promotion,
    "ledger append": fail_completed_append,
}


@pytest.fixture(scope="module")
def last_month(tmp_path_factory, tiny_run) -> tuple[Path, Path]:
    """Last month's complete run (the session's run of the tiny set) in a folder of its own, and a ledger
    holding it; each test gets them fresh at the same paths (the ledger names the folder by its absolute path)."""
    pristine = tmp_path_factory.mktemp("pristine")
    shutil.copytree(tiny_run.out, pristine / "run")
    base = tmp_path_factory.mktemp("faults")
    shutil.copytree(pristine / "run", base / "run")
    append_run(base / "run", base / "ledger" / "ledger.jsonl")
    shutil.copytree(base / "ledger", pristine / "ledger")
    return base, pristine


@pytest.fixture
def earlier(last_month) -> Path:
    base, pristine = last_month
    for path in base.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    for name in ("run", "ledger"):
        shutil.copytree(pristine / name, base / name)
    return base


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def entries(ledger: Path) -> list[dict]:
    return [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]


def verify(capsys, path: Path) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "verify", str(path)])
    return code, capsys.readouterr().out


def assert_failed_cleanly(done: CliRun) -> None:
    """Non-zero, with one error line naming no one and no traceback."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.code == 1, done.stderr
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "could not be fully recorded" not in done.stderr, done.stderr
    assert leaked(SECRETS, done.stderr + done.stdout) == []


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
def test_a_fault_at_each_stage_boundary_publishes_nothing_and_leaves_the_ledger_and_earlier_run_verifiable(
        boundary, earlier, monkeypatch, capsys):
    out, ledger = earlier / "run", earlier / "ledger" / "ledger.jsonl"
    before, ledger_before = file_hashes(out), ledger.read_bytes()
    [last_months_entry] = entries(ledger)
    monkeypatch.setenv("PIPELINE_LEDGER", str(ledger))
    BOUNDARIES[boundary](monkeypatch, earlier)

    done = run_cli(earlier, "--extracts", TINY, "--force")
    monkeypatch.undo()  # the fault lifted: what follows is what an auditor finds afterwards
    monkeypatch.setenv("PIPELINE_LEDGER", str(ledger))

    assert_failed_cleanly(done)
    assert file_hashes(out) == before  # the earlier run's folder, byte for byte
    assert sorted(p.name for p in earlier.iterdir()) == ["ledger", "run"]  # no staging or replaced folder left
    code, verdict = verify(capsys, ledger)
    assert code == 0 and "1 completed run folders present and unchanged" in verdict, verdict
    code, verdict = verify(capsys, out)
    assert code == 0 and "matches ledger line 1" in verdict, verdict
    assert ledger.read_bytes().startswith(ledger_before)  # appended to, never rewritten
    recorded = entries(ledger)
    assert recorded[0] == last_months_entry and last_months_entry["published"] is True
    failed = recorded[-1]
    # The ledger entry is sealed before the folder is moved into place; when the move fails, the failed
    # entry withdraws it. Before that, nothing claims completion.
    sealed = [e for e in recorded[1:-1] if e["status"] == "completed"]
    assert len(sealed) == (boundary == "publish") and failed.get("withdraws") == (sealed[0]["hash"] if sealed else None)
    assert failed["status"] == "failed" and failed["published"] is False and failed["out"] == str(out)
    assert failed["run_id"] != last_months_entry["run_id"]
    assert failed["reason"] and "\n" not in failed["reason"]
    assert leaked(SECRETS, ledger.read_text(encoding="utf-8")) == []
    # The failed run's own trail, kept under the ledger, verifies and reads as a failed run that published nothing.
    kept = Path(failed["run"])
    code, verdict = verify(capsys, kept)
    assert code == 0 and "a failed run: nothing was published" in verdict, verdict
    assert main(["audit", "show", str(kept)]) == 0
    shown = capsys.readouterr().out
    assert f"  status failed: {failed['reason']}" in shown and "status completed" not in shown, shown


FAULTS = {
    "a write cut short": lambda monkeypatch: torn_ledger_writes(monkeypatch, [True]),
    "a sync that fails": lambda monkeypatch: monkeypatch.setattr(ledger_module.os, "fsync",
                                                                 failing(disk_full("ledger.jsonl"))),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_ledger_append_the_disk_cannot_take_leaves_the_ledger_as_it_was_and_its_chain_going_on(
        fault, tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.jsonl"
    append_record({"event": "note", "n": 1}, ledger)
    before = ledger.read_bytes()
    FAULTS[fault](monkeypatch)
    with pytest.raises(OSError, match="No space left on device"):
        append_record({"event": "note", "n": 2}, ledger)
    monkeypatch.undo()

    assert ledger.read_bytes() == before  # the record is not there, whole or in part
    append_record({"event": "note", "n": 3}, ledger)
    records, problem = read_trail(ledger)
    assert problem is None and [r["n"] for r in records] == [1, 3]


def sealed_trail(folder: Path, out: Path) -> None:
    """A run's trail sealed as complete (what a run's ledger entry is made from), its outputs left out."""
    writer = LineageWriter(folder / "lineage.jsonl")
    writer.write("run_start", run_id=str(uuid.uuid4()), parameters={"out": str(out)})
    writer.write("run_end", status="completed", outputs={})
    writer.close()


def test_a_run_killed_between_its_ledger_entry_and_its_move_into_place_is_withdrawn_by_the_next_run(
        tmp_path, monkeypatch):
    out, ledger = tmp_path / "out", tmp_path / "ledger" / "ledger.jsonl"
    monkeypatch.setenv("PIPELINE_LEDGER", str(ledger))
    sealed_trail(out, out)  # last month's run, in its folder
    append_run(out)
    killed = staging_path(out, dead_pid())
    sealed_trail(killed, out)
    append_run(killed)  # its entry was sealed; then the process was killed before the rename
    assert verify_ledger(ledger).problem is not None  # the ledger claims a run the folder does not hold

    kept = record_abandoned(killed, load_openlineage_config())

    assert kept is not None
    *_, sealed, failed = entries(ledger)
    assert failed["status"] == "failed" and failed["withdraws"] == sealed["hash"]
    verdict = verify_ledger(ledger)
    assert verdict.problem is None and "1 completed run folders present" in verdict.account, verdict


def test_a_completed_runs_ledger_entry_sealed_before_its_move_into_place_names_it_as_published(tiny_run):
    [entry] = entries(tiny_run.ledger)
    assert entry["status"] == "completed" and entry["published"] is True
    assert entry["run"] == str(tiny_run.out.resolve())  # the folder the staging one became
