"""Every run that starts is in the ledger, however early it fails, and `audit show` tells why.

An auditor asking "what ran this month?" must see the attempts that failed as well as the runs
that published: a run stopped by a missing extract, a missing key or a bad rule file leaves a
failed entry with its one-line reason, and its kept trail reads like any other run's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.conftest import TINY

pytestmark = pytest.mark.usefixtures("preloaded_gx")


@pytest.fixture(autouse=True)
def own_ledger(tmp_path, monkeypatch) -> Path:
    ledger = tmp_path / "ledger" / "ledger.jsonl"
    monkeypatch.setenv("PIPELINE_LEDGER", str(ledger))
    return ledger


def entries(ledger: Path) -> list[dict]:
    return [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()] if ledger.exists() else []


def command(capsys, *args: object) -> tuple[int, str, str]:
    code = main([*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def extracts_without(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "extracts"
    shutil.copytree(TINY, folder)
    (folder / f"{source}.csv").unlink()
    return folder


def no_key(tmp_path: Path, monkeypatch) -> list[object]:
    monkeypatch.setenv("PIPELINE_KEY_FILE", str(tmp_path / "no-such.key"))
    return ["--extracts", TINY]


EARLY_FAILURES = {
    "a required extract missing": (lambda tmp, mp: ["--extracts", extracts_without(tmp, "police")],
                                   "required extract(s) missing from"),
    "no key": (no_key, "no-such.key"),
    "an unknown rule set": (lambda tmp, mp: ["--extracts", TINY, "--rules", "phase3"], "unknown rule set 'phase3'"),
}


@pytest.mark.parametrize("case", list(EARLY_FAILURES))
def test_a_run_that_fails_before_writing_anything_leaves_a_failed_ledger_entry_with_its_reason(
        case, tmp_path, monkeypatch, capsys, own_ledger):
    given, words = EARLY_FAILURES[case]
    code, _, err = command(capsys, "run", *given(tmp_path, monkeypatch), "--out", tmp_path / "out")
    reason = err.strip().splitlines()[-1].removeprefix("error: ")
    assert code == 1 and words in reason
    assert not (tmp_path / "out").exists()
    [entry] = entries(own_ledger)
    assert entry["status"] == "failed" and entry["reason"] == reason and entry["published"] is False
    assert entry["out"] == str(tmp_path / "out")
    kept = Path(entry["run"])
    assert kept.parent == own_ledger.parent / "failed"
    assert err.count("\n") == 1  # the mistake, in one line

    code, shown, _ = command(capsys, "audit", "show", kept)
    assert code == 0
    assert f"  status failed: {reason} (before anything was written)" in shown
    assert "audit trail: intact" in shown and "a failed run: nothing was published" in shown
    assert "matches ledger line 1" in shown and "no ledger entry" not in shown


def test_a_run_that_fails_mid_way_is_shown_with_its_reason_and_its_ledger_entry(tmp_path, capsys, own_ledger):
    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    (extracts / "schools.csv").write_bytes(b"")  # refused: a required source
    code, _, err = command(capsys, "run", "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 1
    [entry] = entries(own_ledger)
    assert entry["status"] == "failed" and entry["reason"].startswith("required source(s) refused: schools")
    assert f"its audit trail: python -m pipeline audit show {entry['run']}" in err  # where its account is
    code, shown, _ = command(capsys, "audit", "show", entry["run"])
    assert code == 0
    assert f"  status failed: {entry['reason']}\n" in shown
    assert "matches ledger line 1" in shown
    # Which files came in, under which gateway, and which was refused: the failed run's trail says so too.
    kept = [json.loads(line) for line in (Path(entry["run"]) / "lineage.jsonl").read_text().splitlines()]
    sources = {r["source"]: r for r in kept if r["event"] == "source"}
    assert sorted(sources) == sorted(p.stem for p in extracts.glob("*.csv"))
    assert sources["schools"]["used"] is False and sources["schools"]["reason"] == "unreadable file: file is empty"
    assert sources["police"]["used"] is True and len(sources["police"]["sha256"]) == 64
    assert "  schools: refused: unreadable file: file is empty" in shown
    assert [s["source"] for s in entry["sources"]] == sorted(sources)  # and the ledger's summary lists them


def test_a_partial_run_is_shown_as_partial_naming_the_sources_it_went_without(tmp_path, capsys, own_ledger):
    code, _, _ = command(capsys, "run", "--extracts", extracts_without(tmp_path, "health"), "--out", tmp_path / "out",
                         "--allow-missing", "health")
    assert code == 3
    code, shown, _ = command(capsys, "audit", "show", tmp_path / "out")
    assert code == 0
    assert ("  status partial: completed WITHOUT the required source(s) health; their criteria were not assessed"
            in shown)
    assert "matches ledger line 1" in shown
