"""A run that fails or is killed: FAIL with its reason in both trails, nothing published, earlier
runs' outputs intact. Real processes, sent real signals; a run of the sample is stopped once it has
reported that linking began (ingest done, outputs half made)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE, TINY

EXTRACTS = SAMPLE / "extracts"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return dict(os.environ, PIPELINE_LEDGER=str(tmp_path / "ledger" / "ledger.jsonl"))


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _ledger(env: dict[str, str]) -> list[dict]:
    path = Path(env["PIPELINE_LEDGER"])
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _start_and_stop_midway(args: list[str], env: dict[str, str], how: signal.Signals) -> int:
    """Start a run and send it `how` once it reports that linking has begun (ingest done, outputs half made)."""
    process = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if "linking" in line:
            process.send_signal(how)
            break
        assert time.monotonic() < deadline, "the run never reached linking"
    status = process.wait(timeout=120)
    process.stderr.close()
    return status


def _failed_trails(env: dict[str, str], entry: dict) -> tuple[list[dict], list[dict]]:
    folder = Path(env["PIPELINE_LEDGER"]).parent / "failed"
    kept = [p for p in folder.iterdir() if p.is_dir()]
    assert len(kept) == 1
    lineage = [json.loads(x) for x in (kept[0] / "lineage.jsonl").read_text(encoding="utf-8").splitlines()]
    events = [json.loads(x) for x in (kept[0] / "openlineage.jsonl").read_text(encoding="utf-8").splitlines()]
    return lineage, events


def test_a_run_stopped_midway_publishes_nothing_keeps_the_earlier_output_and_records_why(tmp_path, env,
                                                                                        sample_run):
    out = tmp_path / "out"
    shutil.copytree(sample_run.out, out)  # last month's output
    before = _hashes(out)

    status = _start_and_stop_midway(["run", "--extracts", str(EXTRACTS), "--out", str(out), "--force"], env,
                                    signal.SIGTERM)

    assert status == 143
    assert _hashes(out) == before  # the earlier run's folder, byte for byte
    assert list(tmp_path.glob(".out.partial-*")) == []
    last = _ledger(env)[-1]
    assert last["status"] == "failed" and "terminated" in last["reason"]
    lineage, events = _failed_trails(env, last)
    assert lineage[0]["event"] == "run_start" and lineage[-1]["event"] == "run_end"
    assert lineage[-1]["status"] == "failed" and "terminated" in lineage[-1]["reason"]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert "terminated" in json.dumps(events[-1]["run"]["facets"])
    verified = _run(["audit", "verify", env["PIPELINE_LEDGER"]], env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_run_killed_outright_is_recorded_as_failed_by_the_next_run_for_that_folder(tmp_path, env):
    out = tmp_path / "out"
    status = _start_and_stop_midway(["run", "--extracts", str(EXTRACTS), "--out", str(out)], env, signal.SIGKILL)

    assert status == -signal.SIGKILL
    assert not out.exists()  # nothing published
    assert len(list(tmp_path.glob(".out.partial-*"))) == 1  # a killed process cannot clean up

    assert _run(["run", "--extracts", str(TINY), "--out", str(out)], env).returncode == 0
    assert list(tmp_path.glob(".out.partial-*")) == []
    entries = _ledger(env)
    assert [e["status"] for e in entries] == ["failed", "completed"]
    assert "abandoned" in entries[0]["reason"]
    lineage, events = _failed_trails(env, entries[0])
    assert lineage[-1]["event"] == "run_end" and lineage[-1]["status"] == "failed"
    assert [e["eventType"] for e in events] == ["START", "FAIL"]


def test_a_run_that_cannot_go_on_records_its_reason_in_both_trails(tmp_path, env):
    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts, ignore=shutil.ignore_patterns("*.md"))
    for path in extracts.glob("*.csv"):  # every file readable, none usable: the header is all that is left
        path.write_text(path.read_text(encoding="utf-8-sig").splitlines()[0] + "\n", encoding="utf-8")
    done = _run(["run", "--extracts", str(extracts), "--out", str(tmp_path / "out"), "--as-of", "2026-10-31"], env)

    assert done.returncode == 1 and "no source could be used" in done.stderr
    assert not (tmp_path / "out").exists()
    last = _ledger(env)[-1]
    assert last["status"] == "failed" and "no source could be used" in last["reason"]
    lineage, events = _failed_trails(env, last)
    assert lineage[-1]["status"] == "failed"
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
