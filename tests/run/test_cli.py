"""A run through `python -m pipeline run`, as a research officer makes it, on the tiny set.

Most tests read the session's `tiny_run`; the few that need a run of their own say why. What a
single source's ingest does with a bad file is specified stage by stage in tests/ingest/.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.audit import openlineage
from pipeline.audit.trail import ledger_entry
from pipeline.cli import PARTIAL_EXIT, main
from pipeline.ingest import source as ingest_source_module
from pipeline.run import RunConfig, RunError, execute
from tests.conftest import REPO, TINY, CliRun
from tests.support import lineage, source_records

pytestmark = pytest.mark.usefixtures("preloaded_gx")

SOURCES = ["benefits", "children_social_care", "electoral_register", "health", "police", "schools"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_complete_run_exits_zero_and_writes_the_outputs(tiny_run):
    code, out, stdout = tiny_run.code, tiny_run.out, tiny_run.stdout
    assert code == 0
    assert (out / "quarantine.parquet").is_file() and (out / "lineage.jsonl").is_file()
    assert (out / "data_docs" / "index.html").is_file()
    assert sorted(p.stem for p in (out / "restricted" / "landed").glob("*.parquet")) == SOURCES
    assert "Run complete" in stdout and "quarantined: 2 bad rows (quarantine.parquet: 2 entries" in stdout
    assert "1  police.dob: not a real calendar date" in stdout
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_the_link_stages_record_says_where_its_time_went_step_by_step(sample_run):
    [link] = [r for r in lineage(sample_run.out) if r["event"] == "stage" and r["stage"] == "link"]
    assert set(link["steps"]) == {"standardisation", "gather", "candidate_pairs", "comparison", "model", "clustering",
                                  "pairs_table", "households", "keys", "tables", "writing"}
    assert all(seconds >= 0 for seconds in link["steps"].values())
    assert abs(sum(link["steps"].values()) - link["seconds"]) < 0.05 * link["seconds"] + 0.05  # nothing left out


def test_lineage_has_one_record_per_source_whose_counts_add_up_and_hashes_match(tiny_run):
    out = tiny_run.out
    records = source_records(out)
    assert sorted(records) == SOURCES
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    for source, rec in records.items():
        path = TINY / f"{source}.csv"
        assert rec["file"] == str(path)
        assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert rec["rows_in"] == rec["rows_accepted"] + rec["rows_quarantined"]
        assert rec["rows_in"] == len(path.read_text().splitlines()) - 1
        assert rec["rows_quarantined"] == quarantine.loc[quarantine["source"] == source, "row_number"].nunique()
        assert rec["used"] is True and rec["reason"] is None
        assert rec["gateway"]["agreement"].startswith("DSA-") and rec["gateway"]["statute"]
        landed = pd.read_parquet(out / rec["landed"])
        assert len(landed) == rec["rows_accepted"]
    events = [r["event"] for r in lineage(out)]
    assert events[0] == "run_start" and events[-1] == "run_end"
    outputs = [r["file"] for r in lineage(out) if r["event"] == "output"]
    assert events == ["run_start", *["source"] * len(SOURCES), "stage", "stage", "stage", *["output"] * len(outputs),
                      "run_end"]
    assert [r["stage"] for r in lineage(out) if r["event"] == "stage"] == ["link", "score", "report"]
    products = set(next(r for r in lineage(out) if r["event"] == "run_end")["outputs"])
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert products <= set(outputs) == written - {"lineage.jsonl", "openlineage.jsonl"}  # every file, hashed
    assert set(outputs) >= {"households.parquet", "evidence.parquet", "record_links.parquet"}


def test_great_expectations_reports_on_every_source_and_its_data_docs_list_every_suite(tiny_run):
    out = tiny_run.out
    records = source_records(out)
    for source, rec in records.items():
        validation = rec["validation"]
        assert validation["suite"] == f"{source}_contract" and validation["expectations"] >= 10
    assert records["police"]["validation"]["failed"] == ["police.dob.date_real"]  # the tiny set's one bad date
    index = (out / "data_docs" / "index.html").read_text()
    assert all(f"{source}_contract" in index for source in SOURCES)
    assert not (out / "restricted" / ".gx").exists()  # the views passed to the GX worker are gone


def test_the_bad_rows_of_the_tiny_set_are_in_quarantine_with_reasons(tiny_run):
    out = tiny_run.out
    q = pd.read_parquet(out / "quarantine.parquet")
    assert list(q.columns) == ["source", "row_number", "source_record_id", "column", "reason"]
    got = sorted(zip(q["source"], q["row_number"], q["source_record_id"], q["column"], strict=True))
    assert got == [("police", 4, "POL3", "dob"), ("schools", 4, "SCH3", "sessions_authorised+sessions_unauthorised")]


def test_quarantine_is_also_a_csv_a_spreadsheet_opens_listed_in_the_lineage_like_the_parquet(tiny_run):
    out = tiny_run.out
    raw = (out / "quarantine.csv").read_bytes()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw  # a byte-order mark for accents, CRLF
    csv_rows = pd.read_csv(out / "quarantine.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    parquet = pd.read_parquet(out / "quarantine.parquet").astype(str)
    pd.testing.assert_frame_equal(csv_rows, parquet, check_dtype=False)
    end = next(r for r in lineage(out) if r["event"] == "run_end")
    assert end["outputs"]["quarantine.csv"] == hashlib.sha256(raw).hexdigest()


def test_a_quarantined_record_id_that_a_spreadsheet_would_run_is_written_as_text(tmp_path, capsys):
    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    police = extracts / "police.csv"
    police.write_text(police.read_text(encoding="utf-8").replace("\nPOL3,", "\n=HYPERLINK(\"x\"),"), encoding="utf-8")
    code, _, _ = cli(capsys, "--extracts", extracts, "--out", tmp_path / "run")
    assert code == 0
    csv_rows = pd.read_csv(tmp_path / "run" / "quarantine.csv", dtype=str, keep_default_na=False,
                           encoding="utf-8-sig")
    ids = set(csv_rows.loc[csv_rows["source"] == "police", "source_record_id"])
    assert ids == {"'=HYPERLINK(\"x\")"}  # the apostrophe: shown as text, never run
    assert set(pd.read_parquet(tmp_path / "run" / "quarantine.parquet")["source_record_id"]) >= {"=HYPERLINK(\"x\")"}


def test_landed_rows_are_typed_parquet(tiny_run):
    out = tiny_run.out
    schema = pq.read_schema(out / "restricted" / "landed" / "schools.parquet")
    assert str(schema.field("dob").type) == "date32[day]"
    assert str(schema.field("sessions_possible").type) == "int64"
    assert str(schema.field("permanent_exclusion").type) == "bool"
    assert str(schema.field("row_number").type) == "int64"


def identifying_values(folder: Path) -> set[str]:
    """Names, dates of birth, addresses and tokens in the extracts of `folder`."""
    values: set[str] = set()
    for path in folder.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in frame.columns:
            if re.search(r"name|forename|surname|dob|token|address", column):
                values |= {v for v in frame[column] if len(v) >= 4}
    return values


def test_no_name_date_of_birth_address_or_token_in_lineage_logs_or_data_docs(tiny_run):
    out, stdout, stderr = tiny_run.out, tiny_run.stdout, tiny_run.stderr
    secrets = identifying_values(TINY)
    assert len(secrets) > 20
    texts = {"lineage": (out / "lineage.jsonl").read_text(), "stdout": stdout, "stderr": stderr}
    texts |= {str(p): p.read_text(errors="replace") for p in (out / "data_docs").rglob("*.html")}
    for where, text in texts.items():
        found = [s for s in secrets if s in text]
        assert not found, (where, found[:3])


def test_a_run_scores_households_and_writes_no_caseworker_export_unless_asked(tiny_run):
    out, stdout, stderr = tiny_run.out, tiny_run.stdout, tiny_run.stderr
    households = pd.read_parquet(out / "households.parquet")
    links = pd.read_parquet(out / "record_links.parquet")
    assert list(households.columns[:3]) == ["household_key", "members", "children"]
    assert {"education", "early_years", "health", "substance_use", "family_relationships", "children_safe",
            "crime_asb", "domestic_abuse", "secure_housing", "financial_stability", "problems", "eligible",
            "rule_set"} <= set(households.columns)  # the default rule set's criteria: Supporting Families
    assert set(households["rule_set"]) == {"supporting_families"}
    assert sorted(households["household_key"]) == sorted(links["household_key"].unique())
    assert households["members"].sum() == links["person_key"].nunique()
    evidence = pd.read_parquet(out / "evidence.parquet")
    assert list(evidence.columns) == ["household_key", "criterion", "person_key", "source", "source_record_id",
                                      "detail", "indicator", "source_record_ids"]  # the spec's, then what it adds
    assert "scored under supporting_families" in stderr
    assert "criteria: Supporting Families (outcomes framework 2022-2025) [supporting_families]" in stdout
    assert not (out / "restricted" / "caseworker_export.csv").exists()


def test_an_existing_output_folder_is_not_replaced_without_force(tiny_run, capsys):
    out = tiny_run.out
    before = (out / "lineage.jsonl").read_bytes()
    code, _, err = cli(capsys, "--extracts", TINY, "--out", out)
    assert code == 1
    assert err.strip().count("\n") == 0 and "already exists" in err and "--force" in err
    assert (out / "lineage.jsonl").read_bytes() == before


def copy_tiny(tmp_path: Path, without: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "extracts"
    shutil.copytree(TINY, folder)
    for source in without:
        (folder / f"{source}.csv").unlink()
    return folder


def test_a_missing_required_source_stops_the_run_before_anything_is_written(tmp_path, capsys):
    extracts = copy_tiny(tmp_path, without=("health", "children_social_care"))
    code, _, err = cli(capsys, "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 1 and err.count("\n") == 1
    assert "health.csv" in err and "--allow-missing health" in err and "allow_missing: [health]" in err
    assert "children_social_care" not in err  # optional
    assert not (tmp_path / "out").exists()


def test_a_refused_required_source_stops_the_run_like_a_missing_one(tmp_path, capsys):
    extracts = copy_tiny(tmp_path)
    (extracts / "schools.csv").write_bytes(b"")
    code, out, err = cli(capsys, "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 1 and not out
    assert err.splitlines()[-1].startswith("error: required source(s) refused: schools: unreadable file: file is "
                                           "empty (to go on without them")  # one line, after the progress lines
    assert "--allow-missing schools" in err and "allow_missing: [schools]" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def run_with_bad_sources(tmp_path_factory, preloaded_gx) -> CliRun:
    """A run without health and with an empty schools file (both allowed), and an extra police column,
    given as `make run` gives it: folders relative to where it runs, and --force over last month's folder."""
    base = tmp_path_factory.mktemp("bad-sources")
    extracts = copy_tiny(base, without=("health",))
    (extracts / "schools.csv").write_bytes(b"")
    police = extracts / "police.csv"
    lines = police.read_text(encoding="utf-8").splitlines()
    police.write_text("\n".join([lines[0] + ",officer_notes"] + [line + ",free text" for line in lines[1:]]) + "\n")
    out = base / "out" / "sample"
    out.mkdir(parents=True)
    (out / "stale.txt").write_text("from an earlier run")
    (out / "lineage.jsonl").write_text("")  # what makes it a run's folder, which --force may replace
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        mp.chdir(base)
        mp.setenv("PIPELINE_LEDGER", str(base / "ledger.jsonl"))
        code = main(["run", "--extracts", "extracts", "--out", "out/sample", "--force", "--allow-missing", "health",
                     "--allow-missing", "schools"])
    return CliRun(code, out, stdout.getvalue(), stderr.getvalue(), base / "ledger.jsonl")


def test_a_relative_output_folder_is_replaced_with_force(run_with_bad_sources):
    out = run_with_bad_sources.out
    assert run_with_bad_sources.code == PARTIAL_EXIT and not (out / "stale.txt").exists()
    assert (out / "data_docs" / "index.html").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["sample"]  # no staging folder left beside it


def test_a_bad_file_stops_only_its_own_source_and_the_run_completes(run_with_bad_sources):
    run = run_with_bad_sources
    assert run.code == PARTIAL_EXIT, run.stderr
    assert "schools: refused: unreadable file: file is empty [schools.csv]" in run.stderr
    records = source_records(run.out)
    assert records["schools"]["used"] is False and records["health"]["reason"] == "no file supplied (allowed missing)"
    assert records["police"]["used"] and records["police"]["extra_columns_dropped"] == ["column 14"]
    assert all(records[s]["used"] for s in SOURCES if s not in ("schools", "health"))
    assert "absent   health" in run.stdout and "refused  schools" in run.stdout


def test_a_run_without_a_required_source_is_partial_in_its_summary_its_trails_and_its_exit_status(
        run_with_bad_sources):
    run = run_with_bad_sources
    first, without, unassessed = run.stdout.splitlines()[:3]
    assert first.startswith("Run PARTIAL: out/sample")
    assert without == ("  WITHOUT required source(s): health (absent: no file supplied (allowed missing)); "
                       "schools (refused: unreadable file: file is empty)")
    families = pd.read_parquet(run.out / "households.parquet")["children"].gt(0).sum()
    # Under the default rule set: what reads schools or health, and the two needs no extract shows.
    assert unassessed.startswith(f"  NOT ASSESSED for any of the {families} families: education, early_years, "
                                 "health, substance_use, family_relationships;")
    end = lineage(run.out)[-1]
    assert end["status"] == "partial" and end["required_sources_not_used"] == ["health", "schools"]
    events = [json.loads(x) for x in (run.out / "openlineage.jsonl").read_text(encoding="utf-8").splitlines()]
    status = events[-1]["run"]["facets"][openlineage.RUN_STATUS_FACET]
    assert events[-1]["eventType"] == "COMPLETE" and status["status"] == "partial"
    assert status["requiredSourcesNotUsed"] == ["health", "schools"]
    ledger = [json.loads(x) for x in run.ledger.read_text(encoding="utf-8").splitlines()]
    assert ledger[-1]["status"] == "partial" and ledger_entry(run.out, run.ledger) is not None


def test_a_complete_run_says_so(tiny_run):
    assert tiny_run.stdout.startswith("Run complete: ") and lineage(tiny_run.out)[-1]["status"] == "completed"


def test_criteria_of_an_absent_or_refused_source_are_not_assessed_and_the_summary_says_so(run_with_bad_sources):
    run = run_with_bad_sources
    households = pd.read_parquet(run.out / "households.parquet")
    assert households[["health", "substance_use", "education"]].isna().all().all()  # from health and schools
    assert households[["early_years", "family_relationships"]].isna().all().all()  # from no extract at all
    assert households["crime_asb"].notna().all() and (households["not_assessed"] == 5).all()
    for criterion in ("health", "education"):
        line = next(ln for ln in run.stdout.splitlines() if ln.strip().startswith(criterion))
        assert "not assessed" in line, line


def test_a_crash_mid_run_publishes_nothing_and_leaves_earlier_outputs_intact(tiny_run, tmp_path, monkeypatch,
                                                                             capsys):
    out = tmp_path / "out"
    shutil.copytree(tiny_run.out, out)  # an earlier month's output
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = {"n": 0}
    real_land = ingest_source_module.land

    def land_then_crash(validated, path):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real_land(validated, path)

    monkeypatch.setattr(ingest_source_module, "land", land_then_crash)
    # --no-reuse: the files are unchanged, so the run would otherwise take them from an earlier run, unlanded.
    code, _, err = cli(capsys, "--extracts", TINY, "--out", out, "--force", "--no-reuse")
    assert code == 1 and "error: the disk is full (ENOSPC); no output folder was published" in err
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_run_with_no_usable_source_fails_with_the_reasons(tmp_path):
    with pytest.raises(RunError, match="no source could be used: benefits: data-sharing agreement"):
        execute(RunConfig(extracts=TINY, out=tmp_path / "out", processing_date=pd.Timestamp("2029-01-01").date()))
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as err:
        main(["run", "--extracts", str(TINY)])
    assert err.value.code == 2


def test_a_script_without_a_main_guard_can_call_the_pipeline_and_runs_once(tmp_path):
    """GX's worker process must not re-run the caller's script, as a spawned worker would."""
    script = tmp_path / "monthly.py"
    runs = tmp_path / "runs.txt"
    script.write_text(
        "from pathlib import Path\n"
        "from pipeline.run import RunConfig, execute\n"
        f"with open({str(runs)!r}, 'a') as fh:\n"
        "    fh.write('run\\n')\n"
        f"execute(RunConfig(extracts=Path({str(TINY)!r}), out=Path({str(tmp_path / 'out')!r})))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert runs.read_text() == "run\n"
    assert (tmp_path / "out" / "households.parquet").is_file()
