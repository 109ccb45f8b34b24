"""The run contract (shared/spec/outputs.md) through `python -m pipeline run`, on a tiny set."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.cli import main
from pipeline.ingest import source as ingest_source_module
from pipeline.run import RunConfig, RunError, execute
from tests.conftest import REPO

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny"
SOURCES = ["benefits", "children_social_care", "electoral_register", "health", "police", "schools"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lineage(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "lineage.jsonl").read_text().splitlines()]


def source_records(out: Path) -> dict[str, dict]:
    return {r["source"]: r for r in lineage(out) if r["event"] == "source"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "out"
    # Module scope cannot use capsys, so the streams are captured by hand.
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", "--extracts", str(TINY), "--out", str(out)])
    return code, out, stdout.getvalue(), stderr.getvalue()


def test_a_complete_run_exits_zero_and_writes_the_outputs(tiny_run):
    code, out, stdout, _ = tiny_run
    assert code == 0
    assert (out / "quarantine.parquet").is_file() and (out / "lineage.jsonl").is_file()
    assert (out / "data_docs" / "index.html").is_file()
    assert sorted(p.stem for p in (out / "restricted" / "landed").glob("*.parquet")) == SOURCES
    assert "Run complete" in stdout and "quarantine.parquet: 2 entries" in stdout
    assert "1  police.dob: not a real calendar date" in stdout
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_lineage_has_one_record_per_source_whose_counts_add_up_and_hashes_match(tiny_run):
    _, out, _, _ = tiny_run
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
    assert events == ["run_start", *["source"] * len(SOURCES), "stage", "stage", *["output"] * len(outputs), "run_end"]
    assert set(outputs) == set(next(r for r in lineage(out) if r["event"] == "run_end")["outputs"])
    assert set(outputs) >= {"households.parquet", "evidence.parquet", "record_links.parquet"}


def test_great_expectations_reports_on_every_source_and_its_data_docs_list_every_suite(tiny_run):
    _, out, _, _ = tiny_run
    records = source_records(out)
    for source, rec in records.items():
        validation = rec["validation"]
        assert validation["suite"] == f"{source}_contract" and validation["expectations"] >= 10
    assert records["police"]["validation"]["failed"] == ["police.dob.date_real"]  # the tiny set's one bad date
    index = (out / "data_docs" / "index.html").read_text()
    assert all(f"{source}_contract" in index for source in SOURCES)
    assert not (out / "restricted" / ".gx").exists()  # the views passed to the GX worker are gone


def test_the_bad_rows_of_the_tiny_set_are_in_quarantine_with_reasons(tiny_run):
    _, out, _, _ = tiny_run
    q = pd.read_parquet(out / "quarantine.parquet")
    assert list(q.columns) == ["source", "row_number", "source_record_id", "column", "reason"]
    got = sorted(zip(q["source"], q["row_number"], q["source_record_id"], q["column"], strict=True))
    assert got == [("police", 4, "POL3", "dob"), ("schools", 4, "SCH3", "sessions_authorised+sessions_unauthorised")]


def test_landed_rows_are_typed_parquet(tiny_run):
    _, out, _, _ = tiny_run
    import pyarrow.parquet as pq

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
    _, out, stdout, stderr = tiny_run
    secrets = identifying_values(TINY)
    assert len(secrets) > 20
    texts = {"lineage": (out / "lineage.jsonl").read_text(), "stdout": stdout, "stderr": stderr}
    texts |= {str(p): p.read_text(errors="replace") for p in (out / "data_docs").rglob("*.html")}
    for where, text in texts.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, (where, leaked[:3])


def test_a_run_scores_households_and_writes_no_caseworker_export_unless_asked(tiny_run):
    _, out, stdout, stderr = tiny_run
    households = pd.read_parquet(out / "households.parquet")
    links = pd.read_parquet(out / "record_links.parquet")
    assert list(households.columns[:3]) == ["household_key", "members", "children"]
    assert {"crime_asb", "education", "children_need_help", "worklessness", "domestic_abuse", "health", "problems",
            "eligible", "rule_set"} <= set(households.columns)
    assert sorted(households["household_key"]) == sorted(links["household_key"].unique())
    assert households["members"].sum() == links["person_key"].nunique()
    evidence = pd.read_parquet(out / "evidence.parquet")
    assert list(evidence.columns) == ["household_key", "criterion", "person_key", "source", "source_record_id",
                                      "detail"]
    assert "scored under phase2" in stderr and "criteria: Troubled Families phase 2" in stdout
    assert not (out / "restricted" / "caseworker_export.csv").exists()


def test_an_existing_output_folder_is_not_replaced_without_force(tiny_run, capsys):
    _, out, _, _ = tiny_run
    before = (out / "lineage.jsonl").read_bytes()
    code, _, err = run_cli(capsys, "--extracts", TINY, "--out", out)
    assert code == 1
    assert err.strip().count("\n") == 0 and "already exists" in err and "--force" in err
    assert (out / "lineage.jsonl").read_bytes() == before


def test_force_replaces_and_the_same_inputs_give_byte_identical_tables(tiny_run, tmp_path, capsys):
    _, first, _, _ = tiny_run
    second = tmp_path / "again"
    second.mkdir()
    (second / "stale.txt").write_text("from an earlier run")
    code, _, _ = run_cli(capsys, "--extracts", TINY, "--out", second, "--force")
    assert code == 0 and not (second / "stale.txt").exists()
    for name in ["quarantine.parquet", "record_links.parquet", "households.parquet", "evidence.parquet",
                 *(f"restricted/landed/{s}.parquet" for s in SOURCES)]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def copy_tiny(tmp_path: Path, without: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "extracts"
    shutil.copytree(TINY, folder)
    for source in without:
        (folder / f"{source}.csv").unlink()
    return folder


def test_a_missing_required_source_stops_the_run_unless_allowed(tmp_path, capsys):
    extracts = copy_tiny(tmp_path, without=("health", "children_social_care"))
    code, _, err = run_cli(capsys, "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 1 and "health.csv" in err and "--allow-missing health" in err
    assert "children_social_care" not in err  # optional
    assert not (tmp_path / "out").exists()
    code, _, _ = run_cli(capsys, "--extracts", extracts, "--out", tmp_path / "out", "--allow-missing", "health")
    assert code == 0
    records = source_records(tmp_path / "out")
    assert records["health"]["used"] is False and "no file supplied" in records["health"]["reason"]
    assert records["children_social_care"]["reason"] == "no file supplied (optional source)"
    households = pd.read_parquet(tmp_path / "out" / "households.parquet")
    assert households["health"].isna().all() and households["children_need_help"].isna().all()
    assert households["crime_asb"].notna().all() and (households["not_assessed"] == 2).all()


def test_the_summary_says_which_criteria_were_not_assessed(tmp_path, capsys):
    extracts = copy_tiny(tmp_path, without=("children_social_care",))
    code, stdout, _ = run_cli(capsys, "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 0
    line = next(ln for ln in stdout.splitlines() if ln.strip().startswith("children_need_help"))
    assert "not assessed" in line
    assert "absent   children_social_care" in stdout


def test_a_source_whose_gateway_does_not_permit_the_purpose_is_refused_and_not_read(tmp_path, capsys):
    code, stdout, err = run_cli(capsys, "--extracts", TINY, "--out", tmp_path / "out", "--purpose", "support")
    assert code == 0
    line = next(x for x in err.splitlines() if x.startswith("electoral_register: refused"))
    assert "does not permit the purpose 'support'" in line
    rec = source_records(tmp_path / "out")["electoral_register"]
    assert rec["used"] is False and "purpose 'support'" in rec["reason"]
    assert rec["rows_in"] == rec["rows_accepted"] == rec["rows_quarantined"] == 0
    assert rec["sha256"] == hashlib.sha256((TINY / "electoral_register.csv").read_bytes()).hexdigest()
    assert not (tmp_path / "out" / "restricted" / "landed" / "electoral_register.parquet").exists()
    assert "refused  electoral_register" in stdout


def schemas_with(tmp_path: Path, change) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", root)
    path = root / "gateways.yaml"
    data = yaml.safe_load(path.read_text())
    change(data["sources"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def test_an_expired_agreement_refuses_its_source_at_the_as_of_date(tmp_path):
    root = schemas_with(tmp_path, lambda s: s["police"]["agreement"].update(expires="2026-09-30"))
    lines: list[str] = []
    result = execute(RunConfig(extracts=TINY, out=tmp_path / "out", schemas_root=root), lines.append)
    police = next(o for o in result.sources if o.source == "police")
    assert not police.used
    assert police.reason == ("data-sharing agreement DSA-POL-2025-007 expired on 2026-09-30 "
                             "(as-of date 2026-10-31)")
    assert any(line.startswith("police: refused: data-sharing agreement") for line in lines)
    # The same agreement is in force for a run as of an earlier date.
    result = execute(RunConfig(extracts=TINY, out=tmp_path / "early", schemas_root=root,
                               as_of=pd.Timestamp("2026-09-01").date()))
    assert next(o for o in result.sources if o.source == "police").used


def test_columns_a_gateway_does_not_allow_are_dropped_at_ingest_and_recorded(tmp_path):
    contract = yaml.safe_load((REPO / "schemas" / "sources" / "health.yaml").read_text())
    allowed = [c for c in contract["columns"] if c != "mental_health"]
    root = schemas_with(tmp_path, lambda s: s["health"].update(allowed_columns=allowed))
    execute(RunConfig(extracts=TINY, out=tmp_path / "out", schemas_root=root))
    rec = source_records(tmp_path / "out")["health"]
    assert rec["columns_dropped_by_gateway"] == ["mental_health"]
    landed = pd.read_parquet(tmp_path / "out" / "restricted" / "landed" / "health.parquet")
    assert "mental_health" not in landed.columns


def test_extra_columns_are_dropped_and_reported(tmp_path):
    extracts = copy_tiny(tmp_path)
    path = extracts / "police.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",officer_notes"] + [line + ",free text" for line in lines[1:]]) + "\n")
    execute(RunConfig(extracts=extracts, out=tmp_path / "out"))
    assert source_records(tmp_path / "out")["police"]["extra_columns_dropped"] == ["officer_notes"]
    assert "officer_notes" not in pd.read_parquet(tmp_path / "out" / "restricted" / "landed" / "police.parquet")


def test_a_bad_file_stops_only_its_own_source(tmp_path, capsys):
    extracts = copy_tiny(tmp_path)
    (extracts / "schools.csv").write_bytes(b"")
    code, _, err = run_cli(capsys, "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 0
    assert "schools: refused: unreadable file: file is empty [schools.csv]" in err
    records = source_records(tmp_path / "out")
    assert records["schools"]["used"] is False
    assert all(records[s]["used"] for s in SOURCES if s != "schools")


def test_a_source_with_too_many_bad_rows_is_refused_whole_and_its_rows_kept(tmp_path, capsys):
    code, _, err = run_cli(capsys, "--extracts", TINY, "--out", tmp_path / "out", "--max-bad-share", "0.1")
    assert code == 0
    assert "police: refused: 1 of 8 rows (12%) failed validation" in err
    rec = source_records(tmp_path / "out")["police"]
    assert (rec["rows_in"], rec["rows_accepted"], rec["rows_quarantined"]) == (8, 0, 8)
    q = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert q.loc[q["source"] == "police", "row_number"].nunique() == 8


def test_a_crash_mid_run_publishes_nothing_and_leaves_earlier_outputs_intact(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert run_cli(capsys, "--extracts", TINY, "--out", out)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = {"n": 0}
    real_land = ingest_source_module.land

    def land_then_crash(validated, path):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real_land(validated, path)

    monkeypatch.setattr(ingest_source_module, "land", land_then_crash)
    # --no-reuse: the files are unchanged, so the run would otherwise take them from the first run, unlanded.
    code, _, err = run_cli(capsys, "--extracts", TINY, "--out", out, "--force", "--no-reuse")
    assert code == 1 and "internal error (OSError)" in err and "no output folder was published" in err
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_run_with_no_usable_source_fails_with_the_reasons(tmp_path):
    with pytest.raises(RunError, match="no source could be used: benefits: data-sharing agreement"):
        execute(RunConfig(extracts=TINY, out=tmp_path / "out", as_of=pd.Timestamp("2029-01-01").date()))
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as err:
        main(["run", "--extracts", str(TINY)])
    assert err.value.code == 2


def test_a_killed_runs_staging_folder_is_cleared_by_the_next_run(tmp_path, capsys):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    abandoned = tmp_path / f".out.partial-{dead.pid}"
    (abandoned / "restricted").mkdir(parents=True)
    assert run_cli(capsys, "--extracts", TINY, "--out", tmp_path / "out")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_relative_folders_work_as_make_run_gives_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(TINY, tmp_path / "inbox")
    code, _, err = run_cli(capsys, "--extracts", "inbox", "--out", "out/sample")
    assert code == 0, err
    assert (tmp_path / "out" / "sample" / "data_docs" / "index.html").is_file()


def test_a_script_without_a_main_guard_can_call_the_pipeline_and_runs_once(tmp_path):
    """GX's worker process must not re-run the caller's script, as a spawned worker would."""
    import os
    import subprocess
    import sys

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
