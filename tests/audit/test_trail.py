"""The audit trail: hash-chained lineage, the cross-run ledger, and `python -m pipeline audit ...`.

The session's run of the sample is read; each test that tampers works on its own copy.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.audit.ledger import append_run
from pipeline.audit.lineage import GENESIS, LineageWriter, seal, verify_chain
from pipeline.audit.trail import ledger_entry
from pipeline.cli import main
from pipeline.criteria.rules import ELIGIBILITY, load_rule_set, numbered_sources
from tests.conftest import SAMPLE
from tests.support import word_finder


@pytest.fixture(scope="module")
def sample_run(sample_run) -> Path:
    """The session's run of the sample (read only here), which appended its own ledger entry."""
    assert ledger_entry(sample_run.out, sample_run.ledger) is not None
    return sample_run.out


@pytest.fixture(autouse=True)
def own_ledger(tmp_path, monkeypatch) -> Path:
    """Every test gets an empty ledger of its own: nothing is written under the project's var/."""
    path = tmp_path / "ledger" / "ledger.jsonl"
    monkeypatch.setenv("PIPELINE_LEDGER", str(path))
    return path


@pytest.fixture
def run_copy(sample_run, tmp_path) -> Path:
    """A copy of the run to tamper with: whole, since verify checks every file the run wrote."""
    copy = tmp_path / "run"
    shutil.copytree(sample_run, copy)
    return copy


@pytest.fixture
def ledger_of_three(sample_run, tmp_path, own_ledger) -> tuple[Path, list[Path]]:
    """A ledger of three completed runs (copies of the sample run) and one failed run between them."""
    runs = []
    for name in ("run_a", "run_b", "run_c"):
        folder = tmp_path / name
        shutil.copytree(sample_run, folder)
        runs.append(folder)
    append_run(runs[0], own_ledger)
    staging = tmp_path / ".run_d.partial-12345"
    staging.mkdir()
    (staging / "lineage.jsonl").write_text((sample_run / "lineage.jsonl").read_text().splitlines()[0] + "\n")
    append_run(staging / "lineage.jsonl", own_ledger, status="failed", reason="no source could be used")
    append_run(runs[1], own_ledger)
    append_run(runs[2], own_ledger)
    return own_ledger, runs


def audit(capsys, *args: object) -> tuple[int, str, str]:
    code = main(["audit", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def edited(line: str, key: str, value: object) -> str:
    record = json.loads(line)
    record[key] = value
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def forged_after(line: str, event: str, **fields: object) -> str:
    """A record an attacker could make: correctly chained to `line`, with its own correct hash."""
    prev = json.loads(line)["hash"]
    record = seal({"event": event, "at": json.loads(line)["at"], **fields}, prev)
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def assert_first_bad(out: str, line: int, event: str) -> None:
    assert out.startswith("not intact:"), out
    assert re.search(rf": line {line} \({event}\): ", out), out


# --------------------------------------------------------------------------- the chain itself
def test_every_lineage_record_carries_the_previous_hash_and_its_own(sample_run):
    records = [json.loads(x) for x in lines_of(sample_run / "lineage.jsonl")]
    assert records[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(records))
    assert verify_chain(records) is None


def test_a_writer_opened_on_an_existing_trail_continues_its_chain(tmp_path):
    path = tmp_path / "lineage.jsonl"
    first = LineageWriter(path)
    first.write("run_start", parameters={"rules": "phase2"})
    first.close()
    second = LineageWriter(path)
    record = second.write("run_end", status="completed")
    second.close()
    records = [json.loads(x) for x in lines_of(path)]
    assert record["prev_hash"] == records[0]["hash"] and verify_chain(records) is None


@pytest.mark.parametrize("last_line", ["{not json", '{"event": "run_end"}'])
def test_neither_the_lineage_nor_the_ledger_extends_a_chain_whose_last_line_is_damaged(tmp_path, sample_run,
                                                                                         last_line):
    lineage = tmp_path / "lineage.jsonl"
    ledger = tmp_path / "ledger.jsonl"
    for path in (lineage, ledger):
        path.write_text(lines_of(sample_run / "lineage.jsonl")[0] + "\n" + last_line + "\n")
    before = ledger.read_bytes()
    with pytest.raises(ValueError, match="its last line is not a chained record"):
        LineageWriter(lineage)
    with pytest.raises(ValueError, match=f"{re.escape(str(ledger))}: its last line is not a chained record"):
        append_run(sample_run, ledger)
    assert ledger.read_bytes() == before  # nothing appended after the damage


# --------------------------------------------------------------------------- verify a run folder
def test_an_intact_run_folder_verifies_with_exit_zero(run_copy, capsys):
    code, out, _ = audit(capsys, "verify", run_copy)
    records = len((run_copy / "lineage.jsonl").read_text(encoding="utf-8").splitlines())
    assert code == 0 and out.startswith(f"intact: {records} records"), out


@pytest.mark.parametrize("line", [2, 9])
def test_an_edited_value_in_the_lineage_names_that_line(run_copy, capsys, line):
    path = run_copy / "lineage.jsonl"
    lines = lines_of(path)
    event = json.loads(lines[line - 1])["event"]
    lines[line - 1] = edited(lines[line - 1], "seconds", 0.5)
    write_lines(path, lines)
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1
    assert_first_bad(out, line, event)
    assert "edited" in out


def test_a_deleted_lineage_line_names_the_line_that_now_stands_in_its_place(run_copy, capsys):
    path = run_copy / "lineage.jsonl"
    lines = lines_of(path)
    del lines[3]  # the third source record
    write_lines(path, lines)
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1
    assert_first_bad(out, 4, "source")


def test_a_deleted_first_lineage_line_is_caught_at_line_one(run_copy, capsys):
    path = run_copy / "lineage.jsonl"
    write_lines(path, lines_of(path)[1:])
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1
    assert_first_bad(out, 1, "source")


def test_lines_cut_from_the_end_of_the_lineage_are_caught(run_copy, capsys):
    path = run_copy / "lineage.jsonl"
    write_lines(path, lines_of(path)[:-1])
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "without run_end" in out
    kept = [json.loads(x) for x in lines_of(path)]
    assert_first_bad(out, len(kept), kept[-1]["event"])  # the line the trail now ends on


def test_a_copied_lineage_line_inserted_is_named(run_copy, capsys):
    path = run_copy / "lineage.jsonl"
    lines = lines_of(path)
    lines.insert(5, lines[2])  # a copy of line 3 becomes line 6
    write_lines(path, lines)
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "copy of line 3" in out
    assert_first_bad(out, 6, "source")


def test_a_forged_correctly_chained_lineage_line_is_named_as_inserted(run_copy, capsys):
    path = run_copy / "lineage.jsonl"
    lines = lines_of(path)
    lines.insert(3, forged_after(lines[2], "source", source="extra", used=True, rows_in=1))  # becomes line 4
    write_lines(path, lines)
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "inserted" in out
    assert_first_bad(out, 4, "source")


def test_a_forged_record_appended_after_run_end_is_caught(run_copy, capsys):
    path = run_copy / "lineage.jsonl"
    lines = lines_of(path)
    write_lines(path, [*lines, forged_after(lines[-1], "output", file="extra.parquet", sha256="0" * 64)])
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "after run_end" in out
    assert_first_bad(out, len(lines) + 1, "output")


def test_two_swapped_lineage_lines_name_the_first_of_them(run_copy, capsys):
    path = run_copy / "lineage.jsonl"
    lines = lines_of(path)
    lines[4], lines[5] = lines[5], lines[4]
    write_lines(path, lines)
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1
    assert_first_bad(out, 5, "source")


def test_an_output_file_changed_after_the_run_is_named(run_copy, capsys):
    with open(run_copy / "households.parquet", "ab") as fh:
        fh.write(b"\0")
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "households.parquet" in out and "changed" in out, out


def test_a_missing_output_file_is_named(run_copy, capsys):
    (run_copy / "pairs.parquet").unlink()
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "pairs.parquet" in out and "missing" in out, out


def test_a_lineage_rewritten_with_a_recomputed_chain_is_caught_by_the_ledger(run_copy, own_ledger, capsys):
    append_run(run_copy, own_ledger)
    path = run_copy / "lineage.jsonl"
    records = [json.loads(x) for x in lines_of(path)]
    records[1]["rows_quarantined"] = 0
    prev, rewritten = GENESIS, []
    for r in records:
        r = seal(r, prev)
        prev = r["hash"]
        rewritten.append(json.dumps(r, sort_keys=True))
    write_lines(path, rewritten)
    assert verify_chain([json.loads(x) for x in rewritten]) is None  # the chain alone cannot tell
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "ledger line 1" in out, out


def test_an_edited_openlineage_trail_is_caught_by_the_ledger_that_sealed_it(run_copy, own_ledger, capsys):
    append_run(run_copy, own_ledger)
    events = run_copy / "openlineage.jsonl"
    write_lines(events, [line.replace('"COMPLETE"', '"FAIL"') for line in lines_of(events)])
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "ledger line 1: openlineage.jsonl is not byte-identical" in out, out
    code, out, _ = audit(capsys, "verify", own_ledger)
    assert code == 1 and "openlineage.jsonl is not byte-identical" in out, out
    events.unlink()
    code, out, _ = audit(capsys, "verify", run_copy)
    assert code == 1 and "openlineage.jsonl is missing" in out, out


def test_a_path_that_is_neither_a_run_nor_a_ledger_exits_two(tmp_path, capsys):
    code, _, err = audit(capsys, "verify", tmp_path / "nowhere")
    assert code == 2 and "neither" in err


# --------------------------------------------------------------------------- verify the ledger
def test_an_intact_ledger_verifies_with_exit_zero_by_file_or_folder(ledger_of_three, capsys):
    ledger, _ = ledger_of_three
    for path in (ledger, ledger.parent):
        code, out, _ = audit(capsys, "verify", path)
        assert code == 0 and out.startswith("intact: 4 records; 3 completed run folders"), out


def test_a_failed_run_is_in_the_ledger_under_the_folder_it_was_writing_for(ledger_of_three):
    ledger, runs = ledger_of_three
    failed = json.loads(lines_of(ledger)[1])
    assert failed["status"] == "failed" and failed["reason"] == "no source could be used"
    assert failed["run"] == str(runs[0].parent.resolve() / "run_d") and failed["published"] is False


def test_a_ledger_record_summarises_its_run_without_personal_data(ledger_of_three):
    ledger, runs = ledger_of_three
    entry = json.loads(lines_of(ledger)[0])
    lineage = [json.loads(x) for x in lines_of(runs[0] / "lineage.jsonl")]
    assert entry["run"] == str(runs[0].resolve()) and entry["status"] == "completed"
    assert entry["lineage_last_hash"] == lineage[-1]["hash"] and entry["run_id"] == lineage[0]["run_id"]
    assert entry["rules"] == "supporting_families" and len(entry["rules_sha256"]) == 64
    assert entry["processing_date"] == lineage[0]["parameters"]["processing_date"]  # what retention counts from
    assert {s["source"] for s in entry["sources"]} == {r["source"] for r in lineage if r["event"] == "source"}
    assert all(s["agreement"].startswith("DSA-") for s in entry["sources"])
    assert entry["outputs"] == {r["file"]: r["sha256"] for r in lineage if r["event"] == "output"}  # every file


def test_an_edited_ledger_line_is_named(ledger_of_three, capsys):
    ledger, _ = ledger_of_three
    lines = lines_of(ledger)
    lines[2] = edited(lines[2], "status", "failed")
    write_lines(ledger, lines)
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 1
    assert_first_bad(out, 3, "run")


@pytest.mark.parametrize("deleted", [0, 2])
def test_a_deleted_ledger_line_is_named(ledger_of_three, capsys, deleted):
    ledger, _ = ledger_of_three
    lines = lines_of(ledger)
    del lines[deleted]
    write_lines(ledger, lines)
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 1
    assert_first_bad(out, deleted + 1, "run")


def test_a_copied_ledger_line_inserted_is_named(ledger_of_three, capsys):
    ledger, _ = ledger_of_three
    lines = lines_of(ledger)
    write_lines(ledger, [*lines[:3], lines[0], *lines[3:]])
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 1 and "copy of line 1" in out
    assert_first_bad(out, 4, "run")


def test_a_forged_correctly_chained_ledger_line_is_named_as_inserted(ledger_of_three, capsys):
    ledger, _ = ledger_of_three
    lines = lines_of(ledger)
    forged = forged_after(lines[1], "run", run="/elsewhere", status="completed")
    write_lines(ledger, [*lines[:2], forged, *lines[2:]])
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 1 and "inserted" in out
    assert_first_bad(out, 3, "run")


def test_two_swapped_ledger_lines_name_the_first_of_them(ledger_of_three, capsys):
    ledger, _ = ledger_of_three
    lines = lines_of(ledger)
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(ledger, lines)
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 1
    assert_first_bad(out, 2, "run")


def test_a_deleted_run_folder_is_reported_naming_its_ledger_line(ledger_of_three, capsys):
    ledger, runs = ledger_of_three
    shutil.rmtree(runs[1])
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 1 and "ledger line 3" in out and "no longer exists" in out and str(runs[1].resolve()) in out


def test_a_run_folder_replaced_by_another_run_is_reported(ledger_of_three, sample_run, capsys):
    ledger, runs = ledger_of_three
    path = runs[2] / "lineage.jsonl"
    lines = lines_of(path)
    write_lines(path, [*lines[:-1], forged_after(lines[-2], "run_end", status="completed", outputs={})])
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 1 and "ledger line 4" in out and "different trail" in out, out


def test_a_later_run_into_the_same_folder_supersedes_the_earlier_entry(ledger_of_three, capsys):
    ledger, runs = ledger_of_three
    path = runs[0] / "lineage.jsonl"
    lines = lines_of(path)
    write_lines(path, [*lines[:-1], forged_after(lines[-2], "run_end", status="completed", outputs={})])
    append_run(runs[0], ledger)  # as a --force run into the same folder records itself
    code, out, _ = audit(capsys, "verify", ledger)
    assert code == 0, out


# --------------------------------------------------------------------------- show and explain
def test_show_gives_each_source_with_its_gateway_and_each_output_with_its_hash(sample_run, capsys):
    code, out, _ = audit(capsys, "show", sample_run)
    assert code == 0
    records = [json.loads(x) for x in lines_of(sample_run / "lineage.jsonl")]
    assert "audit trail: intact" in out
    for r in records:
        if r["event"] == "source":
            assert f"{r['source']}: used" in out and r["sha256"] in out
            assert r["gateway"]["citation"] in out and r["gateway"]["agreement"] in out
            assert r["gateway"]["agreement_expires"] in out
            assert f"route: {r['gateway']['route']}; {r['gateway']['url']}" in out  # the registry's lawful basis
            assert f"DPIA: {r['gateway']['dpia']}" in out and f"signed off: {r['gateway']['signed_off']}" in out
    for name, sha in records[-1]["outputs"].items():
        assert re.search(rf"{re.escape(name)}\s+SHA-256 {sha}\s+\(matches", out), name
    assert records[0]["parameters"]["rules_sha256"] in out and records[0]["code_version"] in out


def test_explain_lists_each_criterion_with_evidence_rows_and_source_files_for_an_eligible_household(
        sample_run, capsys):
    households = pd.read_parquet(sample_run / "households.parquet")
    evidence = pd.read_parquet(sample_run / "evidence.parquet")
    from_schools = set(evidence.loc[evidence["source"] == "schools", "household_key"])
    row = households[households["eligible"] & households["household_key"].isin(from_schools)].sort_values(
        ["problems", "household_key"], ascending=[False, True]).iloc[0]
    code, out, _ = audit(capsys, "explain", row["household_key"], "--run", sample_run)
    assert code == 0
    # The sample is scored under the default rule set, Supporting Families: at least 3 of its 10 needs.
    assert re.search(r"^  eligible: \d+ of 10 problems met; the rule needs at least 3 and a child", out, re.M), out
    criteria = ["education", "early_years", "health", "substance_use", "family_relationships", "children_safe",
                "crime_asb", "domestic_abuse", "secure_housing", "financial_stability"]
    positions = [out.index(f"\n  {c}: ") for c in criteria]
    assert positions == sorted(positions)
    rows = evidence[evidence["household_key"] == row["household_key"]]
    assert len(rows) >= row["problems"] and "schools" in set(rows["source"])
    gateways = {r["source"]: r["gateway"] for r in lines_json(sample_run) if r["event"] == "source"}
    for e in rows.itertuples():
        assert f"{e.source} {', '.join(e.source_record_ids)}: {e.detail} ({e.indicator})" in out
        assert f"{e.source}.csv, SHA-256 " in out
        assert f"gateway {gateways[e.source]['citation']}, {gateways[e.source]['agreement']}" in out
    assert "gateway Education Act 1996 s.537A, DSA-EDU-2025-003" in out


def lines_json(run: Path) -> list[dict]:
    return [json.loads(x) for x in lines_of(run / "lineage.jsonl")]


def test_explain_says_not_eligible_and_why_for_an_ineligible_household(sample_run, capsys):
    households = pd.read_parquet(sample_run / "households.parquet")
    row = households[~households["eligible"] & (households["problems"] == 1) & (households["children"] > 0)].iloc[0]
    code, out, _ = audit(capsys, "explain", row["household_key"], "--run", sample_run)
    assert code == 0
    assert "not eligible: 1 of 10 problems met; the rule needs at least 3" in out
    assert "fails because: the criteria met fall short of the rule" in out


def test_explain_says_what_the_rule_and_each_criterion_stand_for_in_the_framework(sample_run, capsys, schemas):
    households = pd.read_parquet(sample_run / "households.parquet")
    row = households.sort_values(["problems", "household_key"], ascending=[False, True]).iloc[0]
    code, out, _ = audit(capsys, "explain", row["household_key"], "--run", sample_run)
    assert code == 0
    rules = load_rule_set(row["rule_set"], schemas.contracts)
    approximations = {a.name: a for a in rules.approximations()}
    sources = numbered_sources(approximations.values())
    lines = out.splitlines()
    rule = approximations[ELIGIBILITY]
    assert f"  the rule stands for: {rule.framework} [{sources[rule.source]}]" in lines
    assert f"  approximation: {rule.approximation}" in lines
    for name in rules.criteria:  # each criterion's line, then what it stands for, then its note, then evidence
        at = next(i for i, line in enumerate(lines) if line.startswith(f"  {name}: "))
        a = approximations[name]
        assert lines[at + 1] == f"    stands for: {a.framework} [{sources[a.source]}]", name
        assert lines[at + 2] == f"    approximation: {a.approximation}", name
        assert a.framework.startswith("\u201c") or a.framework.endswith("(paraphrase)")
    start = lines.index("Framework sources")
    listed = lines[start + 1:start + 1 + len(sources)]
    assert listed == [f"  [{n}] {text}" for text, n in sources.items()]
    assert all(re.search(r" \(\d{4}\), https://\S+", line) for line in listed)


def test_explain_exits_two_with_one_line_for_an_unknown_household(sample_run, capsys):
    code, out, err = audit(capsys, "explain", "H" + "0" * 20, "--run", sample_run)
    assert code == 2 and not out
    assert err.count("\n") == 1 and "not in" in err


def test_show_and_explain_print_no_name_or_address(sample_run, capsys):
    people = pd.read_csv(SAMPLE / "truth" / "people.csv", dtype=str, keep_default_na=False)
    names = {v for c in ("forename", "surname") for v in people[c] if len(v) >= 4}
    er = pd.read_csv(SAMPLE / "extracts" / "electoral_register.csv", dtype=str, keep_default_na=False)
    addresses = {v for c in er.columns if "address" in c for v in er[c] if len(v) >= 6}
    households = pd.read_parquet(sample_run / "households.parquet")
    texts = [audit(capsys, "show", sample_run)[1]]
    for key in households.sort_values("problems", ascending=False)["household_key"].head(5):
        texts.append(audit(capsys, "explain", key, "--run", sample_run)[1])
    finder = word_finder(names | addresses)
    found = [m for text in texts for m in finder.findall(text)]
    assert not found, found[:3]
