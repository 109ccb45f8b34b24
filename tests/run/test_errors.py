"""Every mistake a user can make is named in one line: the file, flag or key, and what to do.

A research officer meets these on a schedule's failure e-mail or in a terminal; "internal error"
would send them to a developer for what is their own typo. Each test makes one such mistake.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import BROKEN_PIPE_EXIT, main
from tests.conftest import REPO, TINY

pytestmark = pytest.mark.usefixtures("preloaded_gx")


def test_audit_show_into_a_reader_that_stops_early_is_not_an_error(tiny_run):
    """`audit show RUN | head`: the reader closed the pipe; nothing to report, no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "audit", "show", str(tiny_run.out)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first line is written
    err = process.stderr.read().decode()
    assert process.wait() == BROKEN_PIPE_EXIT
    assert err == ""


def test_a_negative_number_of_synthetic_households_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["synth", "--households", "-5", "--seed", "1", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "--households" in err and "'-5'" in err and "internal error" not in err
    assert not (tmp_path / "s").exists()


def run(capsys, *args: object) -> tuple[int, str]:
    """`python -m pipeline run ARGS`: its exit status and its last line on standard error."""
    code = main(["run", *map(str, args)])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def tiny_copy(tmp_path: Path) -> Path:
    """The tiny set's extracts folder, copied to change."""
    return Path(shutil.copytree(TINY, tmp_path / "extracts"))


def test_a_mistyped_purpose_is_named_with_the_purposes_there_are(tmp_path, capsys):
    code, err = run(capsys, "--extracts", TINY, "--out", tmp_path / "out", "--purpose", "identfication")
    assert code == 1
    assert err == ("error: unknown purpose 'identfication' (--purpose) (did you mean identification?); the purposes "
                   "are identification, support, evaluation, statistics")
    assert not (tmp_path / "out").exists()


def test_an_unknown_source_to_go_on_without_is_named(tmp_path, capsys):
    code, err = run(capsys, "--extracts", TINY, "--out", tmp_path / "out", "--allow-missing", "helth")
    assert code == 1 and "unknown source 'helth' (--allow-missing) (did you mean health?)" in err


def test_extracts_naming_a_file_says_it_is_a_file(tmp_path, capsys):
    code, err = run(capsys, "--extracts", TINY / "police.csv", "--out", tmp_path / "out")
    assert code == 1 and err == (f"error: --extracts {TINY / 'police.csv'} is a file; give the folder that holds "
                                 "the <source>.csv files")


def test_a_wrongly_named_extract_is_named_and_suggested_for_the_missing_one(tmp_path, capsys):
    extracts = tiny_copy(tmp_path)
    (extracts / "police.csv").rename(extracts / "Police_Extract_Oct2026.csv")
    (extracts / "notes.txt").write_text("cover note\n")
    code, err = run(capsys, "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 1
    assert err.startswith(f"error: required extract(s) missing from {extracts}: police.csv (is "
                          "Police_Extract_Oct2026.csv it? rename it police.csv); the folder also holds, not read: "
                          "Police_Extract_Oct2026.csv, README.md, notes.txt (to go on without them")


def test_an_extract_named_in_capitals_is_named_not_ignored(tmp_path, capsys):
    extracts = tiny_copy(tmp_path)
    (extracts / "police.csv").rename(extracts / "police.CSV")
    code, err = run(capsys, "--extracts", extracts, "--out", tmp_path / "out")
    assert code == 1
    assert err.startswith(f"error: required extract(s) missing from {extracts}: police.csv (is police.CSV it? "
                          "rename it police.csv)")


def test_files_that_are_not_extracts_are_listed_when_the_run_goes_on(tmp_path, capsys):
    extracts = tiny_copy(tmp_path)
    (extracts / "Schools_Census_Autumn.csv").write_text("x\n")
    code = main(["run", "--extracts", str(extracts), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0
    assert (f"warning: not read from {extracts} (not named <source>.csv for a known source): "
            "README.md, Schools_Census_Autumn.csv") in err


def test_a_symbolically_linked_extract_is_read_and_the_lineage_says_where_it_led(tmp_path, capsys):
    from tests.support import source_records

    extracts = tiny_copy(tmp_path)
    share = tmp_path / "share"
    share.mkdir()
    (extracts / "police.csv").rename(share / "police_oct.csv")
    (extracts / "police.csv").symlink_to(share / "police_oct.csv")
    code = main(["run", "--extracts", str(extracts), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0
    assert f"note: police.csv is a symbolic link; read from {share / 'police_oct.csv'}" in err
    records = source_records(tmp_path / "out")
    assert records["police"]["link_target"] == str(share / "police_oct.csv")
    assert records["police"]["used"] and "link_target" not in records["schools"]


def _disk_full(table, where, *args, **kwargs):
    """pyarrow's own error for a full disk: errno 28 set, no file name, a message of its own."""
    if "pairs" in str(where):
        exc = OSError("[Errno 28] Error writing bytes to file. Detail: [errno 28] No space left on device")
        exc.errno = 28
        raise exc
    return real_write_table(table, where, *args, **kwargs)


real_write_table = __import__("pyarrow.parquet", fromlist=["write_table"]).write_table


def test_a_full_disk_is_named_in_one_line_with_the_file_it_was_writing_and_recorded(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    monkeypatch.setattr("pipeline.publish.pq.write_table", _disk_full)
    code = main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and not (tmp_path / "out").exists()
    assert err[-1].startswith("error: the disk is full at ") and err[-1].endswith(
        "pairs.parquet (ENOSPC); no output folder was published")
    assert str(tmp_path) in err[-1] and "Traceback" not in "".join(err)
    last = json.loads((tmp_path / "ledger.jsonl").read_text().splitlines()[-1])
    assert last["status"] == "failed" and last["reason"].startswith("the disk is full at ")


def test_a_permission_refused_is_named_in_one_line_with_its_path(tmp_path, capsys, monkeypatch):
    import os

    real_open = os.open

    def refusing(path, *args, **kwargs):
        if str(path).endswith(".report.html.tmp"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    monkeypatch.setattr("pipeline.publish.os.open", refusing)
    code = main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert err.startswith("error: permission denied at ") and ".report.html.tmp (EACCES)" in err


def test_an_unknown_rule_set_is_the_users_mistake_not_a_broken_configuration(tmp_path, capsys):
    code, err = run(capsys, "--extracts", TINY, "--out", tmp_path / "out", "--rules", "phase3")
    assert code == 1 and err.startswith("error: unknown rule set 'phase3' (--rules): the shipped rule sets are phase1")
    assert "broken configuration" not in err


def test_a_councils_rule_file_with_a_share_written_as_a_percentage_is_refused_naming_file_and_key(tmp_path, capsys):
    rules = tmp_path / "council.yaml"
    text = (REPO / "schemas" / "criteria" / "phase2.yaml").read_text(encoding="utf-8")
    rules.write_text(text.replace("[absence_10pct,", "[{use: absence_10pct, per_person: {at_least: 15}},", 1),
                     encoding="utf-8")
    code, err = run(capsys, "--extracts", TINY, "--out", tmp_path / "out", "--rules", rules)
    assert code == 1
    assert err.startswith(f"error: rule set {rules} (--rules) is not valid: {rules}: criteria.education.met_by.0."
                          "per_person.ratio.at_least: Value error, a ratio's at_least is a share between 0 and 1 "
                          "(write 0.15 for 15%)")


def test_out_naming_a_file_fails_before_anything_is_written_even_with_force(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a run\n")
    code, err = run(capsys, "--extracts", TINY, "--out", afile, "--force")
    assert code == 1 and err == f"error: --out {afile} is a file; a run writes a folder, so give a folder's path"
    assert afile.read_text() == "not a run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no staging, no .afile.replaced-* left


def test_force_replaces_only_an_earlier_runs_folder(tmp_path, capsys):
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "letter.txt").write_text("keep me\n")
    code, err = run(capsys, "--extracts", TINY, "--out", documents, "--force")
    assert code == 1 and err.startswith(f"error: --out {documents} holds files but no earlier run (no lineage.jsonl)")
    assert (documents / "letter.txt").read_text() == "keep me\n"


def test_synthetic_extracts_asked_into_a_file_are_refused_naming_it(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    code = main(["synth", "--households", "3", "--seed", "1", "--out", str(afile)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"error: --out {afile} is a file; the synthetic extracts and truth are written to a folder\n"
