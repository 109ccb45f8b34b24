"""Retention and lawful deletion: `python -m pipeline purge`, and `audit verify` telling a purge from tampering.

Each test works on its own copy of the session's tiny run, entered in a ledger of its own, and judges it
on days counted from the run's processing date: the registry keeps identifying data (restricted/) 100
days and whole runs 730 days for every source.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from pipeline.audit import purge as purge_module
from pipeline.audit.ledger import append_record, append_run
from pipeline.audit.lineage import verify_chain
from pipeline.audit.purge import Action, operator, purge
from pipeline.audit.retention import retention_of
from pipeline.cli import main
from pipeline.config.gateways import Retention
from tests.conftest import TINY

IDENTIFYING_DAYS, RUN_DAYS = 100, 730


@pytest.fixture(autouse=True)
def own_ledger(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "ledger" / "ledger.jsonl"
    monkeypatch.setenv("PIPELINE_LEDGER", str(path))
    monkeypatch.setenv("PIPELINE_OPERATOR", "IG officer (test)")
    return path


@pytest.fixture
def run(tiny_run, tmp_path, own_ledger) -> Path:
    """A copy of the tiny run in runs/2026-10, entered in this test's ledger."""
    folder = tmp_path / "runs" / "2026-10"
    shutil.copytree(tiny_run.out, folder)
    append_run(folder, own_ledger)
    return folder.resolve()


@pytest.fixture
def since(run) -> dt.date:
    """The run's processing date, from its lineage: what its periods count from."""
    start = json.loads((run / "lineage.jsonl").read_text(encoding="utf-8").splitlines()[0])
    return dt.date.fromisoformat(start["parameters"]["processing_date"])


def day(since: dt.date, days: int) -> str:
    return (since + dt.timedelta(days=days)).isoformat()


def command(capsys, *args: object) -> tuple[int, str, str]:
    code = main([*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def purge_on(capsys, ledger: Path, on: str, *extra: str) -> tuple[int, str]:
    code, out, _ = command(capsys, "purge", "--ledger", ledger, "--processing-date", on, *extra)
    return code, out


def entries(ledger: Path) -> list[dict]:
    return [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links as links) and its SHA-256: what a test compares before and after."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(folder))] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def outside_restricted(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if not k.startswith("restricted/")}


# --------------------------------------------------------------------------- what goes, and when
def test_nothing_is_purged_before_its_period_runs_out(run, since, own_ledger, capsys):
    before, ledger_before = tree(run), own_ledger.read_bytes()
    code, out = purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS - 1))
    assert code == 0
    assert f"{run}: kept: restricted/ due on {day(since, IDENTIFYING_DAYS)}, the whole run on {day(since, RUN_DAYS)}" \
        in out
    assert tree(run) == before and own_ledger.read_bytes() == ledger_before
    code, out, _ = command(capsys, "purge", "--ledger", own_ledger)  # today, the day the run was made
    assert code == 0 and f"Purge on {dt.date.today()} by IG officer (test)" in out and f"{run}: kept" in out
    assert own_ledger.read_bytes() == ledger_before


def outside_restricted_complement(tree_: dict[str, str]) -> list[str]:
    return [k for k in tree_ if k.startswith("restricted/")]


def test_restricted_goes_first_after_identifying_days_and_the_outputs_stay_and_verify(run, since, own_ledger, capsys):
    before = tree(run)
    code, out = purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    assert code == 0 and f"{run}: purged restricted/" in out
    assert "  removed restricted/link_records.parquet" in out and "police: DSA-POL-2025-007 clause 8" in out
    assert not (run / "restricted").exists()
    assert tree(run) == outside_restricted(before)  # every pseudonymous output untouched

    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 0, out
    restricted = sum(1 for name in outside_restricted_complement(before))  # every file under restricted/ is listed
    assert out.startswith("intact: ") and f"{restricted} listed output files removed: restricted/ purged on " \
        f"{day(since, IDENTIFYING_DAYS)} under benefits: " in out
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 0, out
    assert "1 completed run folders present and unchanged" in out
    assert f"\n  {run}: restricted/ purged on {day(since, IDENTIFYING_DAYS)} under " in out


def test_the_purge_record_says_who_when_what_and_under_which_rule_and_is_chained(run, since, own_ledger, capsys):
    hashes = tree(run)
    purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    first, intent, done = entries(own_ledger)
    assert verify_chain([first, intent, done]) is None
    assert intent["event"] == "purge" and intent["who"] == "IG officer (test)" and intent["at"]
    assert intent["processing_date"] == day(since, IDENTIFYING_DAYS) and intent["processing_date_given"] is True
    assert (intent["run"], intent["run_line"], intent["run_id"]) == (str(run), 1, first["run_id"])
    assert intent["run_processing_date"] == since.isoformat() and intent["scope"] == "restricted"
    assert {r["source"] for r in intent["rules"]} == {s["source"] for s in first["sources"] if s["used"]}
    assert all(r["days"] == IDENTIFYING_DAYS and r["rule"] for r in intent["rules"])
    named = {f["path"]: f["sha256"] for f in intent["files"]}
    assert named == {k: v for k, v in hashes.items() if k.startswith("restricted/")}  # each as it was, hashed first
    assert {f["path"] for f in intent["files"] if f["listed"]} == set(named)  # the lineage lists every file
    assert done["event"] == "purge_completed" and (done["purge_line"], done["purge_hash"]) == (2, intent["hash"])
    assert done["removed"] == len(named)


def test_the_whole_run_goes_after_run_days(run, since, own_ledger, capsys):
    code, out = purge_on(capsys, own_ledger, day(since, RUN_DAYS))
    assert code == 0 and f"{run}: purged the whole run" in out and "(730 days)" in out
    assert not run.exists() and run.parent.is_dir()
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 0, out
    assert "0 completed run folders present and unchanged; 1 purged whole under their retention" in out
    assert f"\n  {run}: the whole run purged on {day(since, RUN_DAYS)} under " in out
    code, out, _ = command(capsys, "audit", "verify", run)  # the folder asked after, by its old path
    assert code == 0 and out.startswith(f"intact: the whole run purged on {day(since, RUN_DAYS)} under "), out


def test_after_restricted_the_rest_of_the_run_goes_when_its_own_period_ends(run, since, own_ledger, capsys):
    purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    code, out = purge_on(capsys, own_ledger, day(since, RUN_DAYS))
    assert code == 0 and f"{run}: purged the whole run" in out and not run.exists()
    assert [e["event"] for e in entries(own_ledger)] == ["run", "purge", "purge_completed", "purge",
                                                         "purge_completed"]
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 0, out


def test_the_shortest_period_among_the_sources_used_decides(run, since, own_ledger, schemas):
    police = schemas.gateways["police"].model_copy(
        update={"retention": Retention(identifying_days=30, run_days=400, rule="police test schedule")})
    gateways = {**schemas.gateways, "police": police}
    kept = purge(own_ledger, gateways, "officer", since + dt.timedelta(days=29))
    assert [r.action for r in kept.runs] == [Action.KEPT]
    done = purge(own_ledger, gateways, "officer", since + dt.timedelta(days=30))
    assert [r.action for r in done.runs] == [Action.PURGED] and not (run / "restricted").exists()
    assert entries(own_ledger)[1]["rules"] == [{"source": "police", "rule": "police test schedule", "days": 30}]


def test_a_source_the_run_did_not_use_does_not_shorten_its_retention(schemas):
    health = schemas.gateways["health"].model_copy(
        update={"retention": Retention(identifying_days=1, run_days=1, rule="short")})
    entry = {"processing_date": "2026-11-01", "sources": [{"source": "police", "used": True},
                                                         {"source": "health", "used": False}]}
    retention = retention_of(entry, {**schemas.gateways, "health": health})
    assert retention.identifying.due == dt.date(2027, 2, 9) and retention.run.due == dt.date(2028, 10, 31)
    assert [r.source for r in retention.identifying.rules] == ["police"]


def test_a_run_whose_source_declares_no_retention_is_left_and_named(run, since, own_ledger, schemas):
    before = tree(run)
    gateways = {**schemas.gateways, "police": schemas.gateways["police"].model_copy(update={"retention": None})}
    result = purge(own_ledger, gateways, "officer", since + dt.timedelta(days=RUN_DAYS))
    [outcome] = result.runs
    assert outcome.action is Action.REFUSED and "no retention is declared for police" in outcome.reason
    assert result.needs_attention and tree(run) == before and len(entries(own_ledger)) == 1


# --------------------------------------------------------------------------- a purge, or tampering
def test_a_run_folder_deleted_by_hand_without_a_purge_still_fails_verify(run, since, own_ledger, capsys):
    shutil.rmtree(run)
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 1 and "ledger line 1" in out and "no longer exists" in out
    code, out = purge_on(capsys, own_ledger, day(since, RUN_DAYS))  # nor does a purge later excuse it
    assert code == 1 and "no purge recorded removing it" in out and len(entries(own_ledger)) == 1
    assert command(capsys, "audit", "verify", own_ledger)[0] == 1


def test_a_restricted_file_deleted_by_hand_fails_verify_and_is_not_purged_over(run, since, own_ledger, capsys):
    (run / "restricted" / "link_records.parquet").unlink()
    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 1 and "restricted/link_records.parquet" in out and "is missing" in out
    before = tree(run)
    code, out = purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    assert code == 1 and "audit verify finds it not intact" in out and "investigate first" in out
    assert tree(run) == before and len(entries(own_ledger)) == 1  # the evidence kept, nothing recorded


@pytest.mark.parametrize("field, value", [("processing_date", "2099-01-01"), ("files", []),
                                          ("rules", [{"source": "police", "rule": "other", "days": 1}])])
def test_an_edited_purge_record_breaks_the_ledger_chain(run, since, own_ledger, capsys, field, value):
    purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    lines = own_ledger.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record[field] = value
    lines[1] = json.dumps(record, sort_keys=True)
    own_ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 1 and "line 2 (purge): edited" in out, out
    code, out, _ = command(capsys, "audit", "verify", run)  # the run's removed files rest on that record
    assert code == 1 and "whose purge records account for removed files, is not intact" in out, out


def forged(own_ledger: Path, **fields: object) -> None:
    """A purge record as someone covering a deletion would append it: correctly chained, its own hash right."""
    first = entries(own_ledger)[0]
    append_record({"event": "purge", "who": "someone", "run": first["run"], "run_line": 1, "run_id": first["run_id"],
                   "lineage_last_hash": first["lineage_last_hash"], "scope": "run", "files": [],
                   "rules": [{"source": "police", "rule": "x", "days": RUN_DAYS}],
                   "run_processing_date": first["processing_date"], **fields}, own_ledger)


@pytest.mark.parametrize("case", ["too early", "another run"])
def test_a_forged_purge_record_does_not_excuse_a_deletion(run, since, own_ledger, capsys, case):
    if case == "too early":
        forged(own_ledger, processing_date=day(since, 10))
        words = "line 2 (purge): removed the whole run on"
    else:
        forged(own_ledger, processing_date=day(since, RUN_DAYS), run_id="another")
        words = "line 2 (purge): names no run recorded before it"
    shutil.rmtree(run)
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 1 and words in out, out


def test_a_purged_file_put_back_is_reported(run, since, own_ledger, capsys, tmp_path):
    kept = tmp_path / "backup.parquet"
    shutil.copy(run / "restricted" / "link_records.parquet", kept)
    purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    (run / "restricted").mkdir()
    shutil.copy(kept, run / "restricted" / "link_records.parquet")
    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 1 and "restricted/link_records.parquet" in out and "present again after restricted/ purged" in out
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 1 and "restricted/ is present again after" in out


def test_a_run_folder_put_back_after_its_purge_is_reported(run, since, own_ledger, capsys, tmp_path):
    shutil.copytree(run, tmp_path / "backup")
    purge_on(capsys, own_ledger, day(since, RUN_DAYS))
    shutil.copytree(tmp_path / "backup", run)
    code, out, _ = command(capsys, "audit", "verify", own_ledger)
    assert code == 1 and f"run folder {run} is present again after the whole run purged" in out
    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 1 and "present again" in out


def test_an_output_changed_after_a_restricted_purge_is_still_caught(run, since, own_ledger, capsys):
    purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    with open(run / "households.parquet", "ab") as fh:
        fh.write(b"\0")
    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 1 and "households.parquet" in out and "changed" in out


def test_a_purge_covers_the_run_it_names_not_a_later_run_in_the_same_folder(run, since, own_ledger, capsys, tiny_run):
    purge_on(capsys, own_ledger, day(since, RUN_DAYS))
    shutil.copytree(tiny_run.out, run)  # a later run written to the same folder
    append_run(run, own_ledger)
    assert command(capsys, "audit", "verify", own_ledger)[0] == 0
    shutil.rmtree(run / "restricted")
    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 1 and "is missing" in out


# --------------------------------------------------------------------------- how the command behaves
def test_a_dry_run_removes_nothing_and_records_nothing(run, since, own_ledger, capsys):
    before, ledger_before = tree(run), own_ledger.read_bytes()
    code, out = purge_on(capsys, own_ledger, day(since, RUN_DAYS), "--dry-run")
    assert code == 0 and out.startswith("Dry run (nothing removed, nothing recorded)")
    assert f"{run}: would purge the whole run" in out and "  would remove lineage.jsonl" in out
    assert tree(run) == before and own_ledger.read_bytes() == ledger_before


@pytest.mark.parametrize("on", [IDENTIFYING_DAYS, RUN_DAYS])
def test_purge_is_idempotent(run, since, own_ledger, capsys, on):
    purge_on(capsys, own_ledger, day(since, on))
    ledger_before = own_ledger.read_bytes()
    code, out = purge_on(capsys, own_ledger, day(since, on + 1))
    assert code == 0 and f"{run}: already purged" in out
    assert own_ledger.read_bytes() == ledger_before  # nothing new recorded


def test_an_interrupted_purge_is_accounted_for_and_the_next_one_finishes_it(run, since, own_ledger, capsys, monkeypatch,
                                                                           schemas):
    real_remove = purge_module.remove

    def crash_after_one(base, top, prefix, files):
        real_remove(base, top, prefix, files[:1])  # removes the first file, then the machine goes down
        raise SystemExit("power cut")

    monkeypatch.setattr(purge_module, "remove", crash_after_one)
    with pytest.raises(SystemExit):
        purge(own_ledger, schemas.gateways, "officer", since + dt.timedelta(days=IDENTIFYING_DAYS))
    assert [e["event"] for e in entries(own_ledger)] == ["run", "purge"]  # recorded before anything was removed
    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 0 and "purge of restricted/ begun on" in out and "was interrupted" in out, out
    monkeypatch.setattr(purge_module, "remove", real_remove)
    code, out = purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    assert code == 0 and f"{run}: purged restricted/" in out and not (run / "restricted").exists()
    code, out, _ = command(capsys, "audit", "verify", run)
    assert code == 0 and "restricted/ purged on" in out and "interrupted" not in out, out


def test_the_operator_is_pipeline_operator_else_the_account_name():
    assert operator({"PIPELINE_OPERATOR": "  Records\nManager  "}) == "Records Manager"
    import getpass

    assert operator({}) == getpass.getuser()


def test_without_a_ledger_there_is_nothing_to_purge(tmp_path, capsys):
    code, out = purge_on(capsys, tmp_path / "none.jsonl", "2030-01-01")
    assert code == 0 and "the ledger lists no completed run" in out and not (tmp_path / "none.jsonl").exists()


def test_a_ledger_that_is_not_intact_stops_the_purge_before_anything_is_removed(run, since, own_ledger, capsys):
    lines = own_ledger.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["status"] = "partial"
    own_ledger.write_text(json.dumps(record) + "\n", encoding="utf-8")
    before = tree(run)
    code, _, err = command(capsys, "purge", "--ledger", own_ledger, "--processing-date", day(since, RUN_DAYS))
    assert code == 1 and "is not intact" in err and "nothing purged" in err and tree(run) == before


# --------------------------------------------------------------------------- hostile folders and ledgers
def test_a_symlink_planted_in_restricted_is_removed_as_a_link_and_its_target_left_alone(run, since, own_ledger, capsys,
                                                                                        tmp_path):
    outside = tmp_path / "documents"
    outside.mkdir()
    (outside / "letter.txt").write_text("keep me", encoding="utf-8")
    (run / "restricted" / "letter.txt").symlink_to(outside / "letter.txt")
    (run / "restricted" / "landed" / "documents").symlink_to(outside, target_is_directory=True)
    code, out = purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    assert code == 0 and "  removed restricted/letter.txt (a symbolic link: removed as a link, not followed)" in out
    assert not (run / "restricted").exists()
    assert (outside / "letter.txt").read_text(encoding="utf-8") == "keep me"
    links = [f for f in entries(own_ledger)[1]["files"] if f["kind"] == "symlink"]
    assert sorted(f["path"] for f in links) == ["restricted/landed/documents", "restricted/letter.txt"]
    assert all(f["sha256"] is None for f in links)  # never read through


def test_a_restricted_folder_that_is_a_symlink_out_of_the_run_is_not_followed(run, since, own_ledger, capsys, tmp_path):
    outside = tmp_path / "elsewhere"
    shutil.move(run / "restricted", outside)
    (run / "restricted").symlink_to(outside, target_is_directory=True)
    before = tree(outside)
    code, out = purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    assert code == 1 and "nothing purged" in out
    assert tree(outside) == before and (run / "restricted").is_symlink()


def test_a_run_folder_whose_path_became_a_symlink_is_not_followed(run, since, own_ledger, capsys, tmp_path):
    moved = tmp_path / "moved"
    shutil.move(run, moved)
    run.symlink_to(moved, target_is_directory=True)
    before = tree(moved)
    code, out = purge_on(capsys, own_ledger, day(since, RUN_DAYS))
    assert code == 1 and "does not lead to" in out
    assert tree(moved) == before and run.is_symlink()


def test_a_file_changed_between_its_record_and_its_removal_is_left_in_place_and_said(tmp_path):
    from pipeline.audit.removal import listing, remove

    folder = tmp_path / "run" / "restricted"
    (folder / "landed").mkdir(parents=True)
    (folder / "landed" / "a.parquet").write_bytes(b"a")
    (folder / "b.parquet").write_bytes(b"b")
    listed = listing(tmp_path / "run", "restricted", "restricted")
    (folder / "b.parquet").write_bytes(b"bb")  # after the purge recorded it, before its removal
    (folder / "landed" / "new.parquet").write_bytes(b"new")
    removal = remove(tmp_path / "run", "restricted", "restricted", listed)
    assert removal.removed == ("restricted/landed/a.parquet",)
    assert sorted(x.split(" ")[0] for x in removal.left) == ["restricted/b.parquet", "restricted/landed/new.parquet"]
    assert (folder / "b.parquet").read_bytes() == b"bb" and (folder / "landed" / "new.parquet").is_file()


@pytest.mark.parametrize("where", ["an unrelated folder", "the ledger's own folder", "a folder holding a run"])
def test_a_ledger_entry_naming_a_folder_that_is_not_the_run_deletes_nothing(run, since, own_ledger, capsys, tmp_path,
                                                                            where):
    if where == "an unrelated folder":
        target = tmp_path / "documents"
        target.mkdir()
        (target / "households.parquet").write_text("not a run", encoding="utf-8")  # looks like one from outside
    elif where == "the ledger's own folder":
        target = own_ledger.parent
    else:
        target = run.parent
    first = entries(own_ledger)[0]
    append_record({**{k: v for k, v in first.items() if k not in ("hash", "prev_hash", "at")}, "run": str(target)},
                  own_ledger)
    before = tree(tmp_path)
    code, out = purge_on(capsys, own_ledger, day(since, RUN_DAYS))
    assert code == 1 and f"{target}: refused" in out
    assert {k: v for k, v in tree(tmp_path).items() if not k.startswith(("runs/", "ledger/"))} == \
        {k: v for k, v in before.items() if not k.startswith(("runs/", "ledger/"))}
    assert target.is_dir()


# --------------------------------------------------------------------------- the next month
def test_a_run_carrying_on_from_a_purged_run_stops_with_a_clear_message(run, since, own_ledger, capsys, tmp_path,
                                                                        preloaded_gx):
    purge_on(capsys, own_ledger, day(since, IDENTIFYING_DAYS))
    code, _, err = command(capsys, "run", "--extracts", TINY, "--out", tmp_path / "next", "--previous", run)
    assert code == 1 and not (tmp_path / "next").exists()
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: --previous {run} no longer holds its identifying data (restricted/ purged on ")
    assert "run without --previous to begin a new chain of keys" in last

    purge_on(capsys, own_ledger, day(since, RUN_DAYS))
    code, _, err = command(capsys, "run", "--extracts", TINY, "--out", tmp_path / "next", "--previous", run)
    assert code == 1 and err.strip().splitlines()[-1].startswith(
        f"error: --previous {run} is no longer there: the whole run purged on ")
