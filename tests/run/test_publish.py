"""Output folders: staged beside the output, promoted when complete, never half-written."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from pipeline.audit.lineage import GENESIS, seal
from pipeline.publish import (
    RESTRICTED,
    OutputExists,
    dated_output,
    discard,
    make_private,
    promote,
    staged_for,
    staging_dir,
    staging_path,
)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_staging_folder_names_the_output_it_is_for_and_its_process(tmp_path):
    staging = staging_path(tmp_path / "2026-11", 4242)
    assert staging.parent == tmp_path and staged_for(staging) == (tmp_path / "2026-11", 4242)
    assert staged_for(tmp_path / "2026-11") is None and staged_for(tmp_path / ".hidden") is None
    assert staged_for(tmp_path / ".a.partial-b.partial-7") == (tmp_path / "a.partial-b", 7)


def test_an_existing_output_folder_is_kept_unless_forced(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(OutputExists, match=r"already exists .*--force"):
        staging_dir(tmp_path / "out", force=False)
    staging = staging_dir(tmp_path / "out", force=True)
    assert staging == staging_path(tmp_path / "out", os.getpid()) and staging.is_dir()


def test_a_killed_runs_staging_folder_is_shown_then_removed_and_a_live_ones_kept(tmp_path):
    killed = staging_path(tmp_path / "out", dead_pid())
    (killed / "restricted").mkdir(parents=True)
    alive = staging_path(tmp_path / "out", os.getppid())
    alive.mkdir()
    shown: list[Path] = []
    staging = staging_dir(tmp_path / "out", force=False, on_abandoned=shown.append)
    assert shown == [killed] and not killed.exists() and alive.is_dir() and staging.is_dir()


def test_promotion_replaces_an_earlier_folder_only_with_the_complete_one(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("earlier")
    (out / "lineage.jsonl").write_text("")  # an earlier run's folder
    staging = staging_dir(out, force=True)
    (staging / "new.txt").write_text("this run")
    promote(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["new.txt", RESTRICTED]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_scheduled_runs_get_a_new_folder_named_for_the_day(tmp_path):
    day = dt.date(2026, 12, 1)
    assert dated_output(tmp_path, day) == tmp_path / "2026-12-01"
    (tmp_path / "2026-12-01").mkdir()
    staging_path(tmp_path / "2026-12-01-2", 1).mkdir()  # a run for the second folder is under way
    assert dated_output(tmp_path, day) == tmp_path / "2026-12-01-3"


HOSTILE_START = json.dumps(seal({"event": "run_start", "run_id": "../../escaped"}, GENESIS))


@pytest.mark.parametrize(("first_line", "recorded"), [(HOSTILE_START, True), ("[1, 2]", False), ("{", False)])
def test_a_killed_runs_trails_are_kept_under_the_ledger_whatever_its_lineage_says(tmp_path, monkeypatch,
                                                                                  first_line, recorded):
    from pipeline.audit import openlineage
    from pipeline.run.failure import record_abandoned

    ledger = tmp_path / "ledger" / "ledger.jsonl"
    monkeypatch.setenv("PIPELINE_LEDGER", str(ledger))
    staging = staging_path(tmp_path / "runs" / "out", dead_pid())
    staging.mkdir(parents=True)
    (staging / "lineage.jsonl").write_text(first_line + "\n", encoding="utf-8")
    kept = record_abandoned(staging, openlineage.load_openlineage_config())
    if recorded:  # under a run id made from the folder, since the one in the trail is no UUID
        assert kept == ledger.parent / "failed" / openlineage.run_id_from(str(staging))
        assert (kept / "lineage.jsonl").is_file() and ledger.is_file()
    else:  # a trail too broken to complete is left out, and the next run goes on
        assert kept is None
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {staging / "lineage.jsonl"}
    assert all(p.is_relative_to(ledger.parent) for p in written), written


def test_a_staging_folders_restricted_folder_is_private_from_the_start_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        staging = staging_dir(tmp_path / "out", force=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((staging / RESTRICTED).stat().st_mode) == 0o700


def test_make_private_leaves_every_folder_0700_and_every_file_0600(tmp_path):
    old = os.umask(0)
    try:
        (tmp_path / "restricted" / "landed").mkdir(parents=True)
        (tmp_path / "restricted" / "landed" / "police.parquet").write_bytes(b"rows")
        (tmp_path / "restricted" / "review.parquet").write_bytes(b"pairs")
    finally:
        os.umask(old)
    make_private(tmp_path / "restricted")
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in [tmp_path / "restricted", *(tmp_path / "restricted").rglob("*")]}
    assert modes == {"restricted": 0o700, "restricted/landed": 0o700, "restricted/landed/police.parquet": 0o600,
                     "restricted/review.parquet": 0o600}


def test_an_output_path_under_a_file_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputExists, match="afile is a file, so no folder can be made under it"):
        staging_dir(tmp_path / "afile" / "out", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("where", ["the extracts folder", "inside it", "around it"])
def test_an_output_folder_that_overlaps_the_extracts_is_refused_before_anything_is_touched(tmp_path, monkeypatch,
                                                                                         capsys, where):
    from pipeline.cli import main
    from tests.conftest import TINY

    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    extracts = tmp_path / "box" / "extracts"
    shutil.copytree(TINY, extracts)
    (extracts / "lineage.jsonl").write_text("{}\n", encoding="utf-8")  # as if a run had written here
    out = {"the extracts folder": extracts, "inside it": extracts / "run", "around it": tmp_path / "box"}[where]
    box = tmp_path / "box"
    before = {p: p.read_bytes() for p in box.rglob("*") if p.is_file()}
    assert main(["run", "--extracts", str(extracts), "--out", str(out), "--force"]) == 1
    assert {p: p.read_bytes() for p in box.rglob("*") if p.is_file()} == before  # not a file added, changed or removed
    assert "extracts folder" in capsys.readouterr().err


def test_a_second_run_into_an_output_folder_being_written_fails_before_doing_any_work(tmp_path):
    out = tmp_path / "out"
    first = staging_dir(out, force=False)  # a run in progress holds the folder
    with pytest.raises(OutputExists, match=rf"another run is writing to {out} now \(process {os.getpid()}\)"):
        staging_dir(out, force=True)
    (first / "lineage.jsonl").write_text("")
    promote(first, out)
    with pytest.raises(OutputExists, match="already exists"):  # once it published, the folder is there
        staging_dir(out, force=False)
    again = staging_dir(out, force=True)  # and the lock went with the first run
    promote(again, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no lock file left behind


def test_a_discarded_run_releases_its_lock(tmp_path):
    out = tmp_path / "out"
    discard(staging_dir(out, force=False))
    promote(staging_dir(out, force=False), out)
    assert (out / RESTRICTED).is_dir()


def test_two_processes_into_one_folder_never_both_complete(tmp_path):
    """Two whole runs at once, into one new folder: exactly one completes and one ledger entry says so."""
    import sys

    from tests.conftest import TINY

    ledger = tmp_path / "ledger.jsonl"
    env = {**os.environ, "PIPELINE_LEDGER": str(ledger)}
    cmd = [sys.executable, "-m", "pipeline", "run", "--extracts", str(TINY), "--out", str(tmp_path / "out")]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(r for r in results if r[2] != 0)
    assert "another run is writing to" in loser[1] or "already exists" in loser[1]
    completed = [json.loads(x) for x in ledger.read_text().splitlines() if '"completed"' in x]
    assert len([e for e in completed if e.get("status") == "completed"]) == 1
