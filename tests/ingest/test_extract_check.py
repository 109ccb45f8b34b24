"""`python -m pipeline check-extract FILE --source S`: an agency checks its file as a run would, before
sending it; line, column and reason for each bad row, never a value, and nothing written."""

from __future__ import annotations

import csv
import shutil

import pytest
import yaml

from pipeline.cli import main
from tests.conftest import CORPUS, TINY


def test_a_file_a_run_would_use_passes_and_each_bad_row_is_named_by_line_and_column(tmp_path, capsys):
    path = tmp_path / "police.csv"
    shutil.copy(TINY / "police.csv", path)
    assert main(["check-extract", str(path), "--source", "police"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["police: 8 rows, 7 would be accepted, 1 quarantined",
                                "  line 4, column dob: not a real calendar date between 1700 and 2199 (DD/MM/YYYY)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["police.csv"]  # nothing written beside it


def test_a_bad_value_is_never_printed(tmp_path, capsys):
    with open(TINY / "police.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[1][rows[0].index("event_date")] = "PEMBERTON"  # a name where a date should be
    with open(tmp_path / "police.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    assert main(["check-extract", str(tmp_path / "police.csv"), "--source", "police"]) == 1  # 2 bad rows of 8
    out = capsys.readouterr().out
    assert "  line 2, column event_date: not a date in the form DD/MM/YYYY" in out and "PEMBERTON" not in out


def test_a_file_a_run_would_refuse_exits_1_saying_why(capsys):
    assert main(["check-extract", str(TINY / "schools.csv"), "--source", "police"]) == 1
    assert capsys.readouterr().out.startswith("police: REFUSED: unreadable file: missing required column(s): ")


def test_an_unknown_source_names_the_sources(capsys):
    assert main(["check-extract", str(TINY / "police.csv"), "--source", "polise"]) == 1
    assert "unknown source 'polise'; the sources are benefits, children_social_care" in \
        capsys.readouterr().err


def test_a_request_pack_tells_an_agency_the_law_the_agreement_the_columns_and_the_check_to_run(tmp_path, capsys):
    from pipeline.config import load_schemas

    assert main(["request-pack", "police", "--out", str(tmp_path / "pack")]) == 0
    request = (tmp_path / "pack" / "police-request.md").read_text(encoding="utf-8")
    contract = load_schemas().contracts["police"]
    assert "- Gateway: Crime and Disorder Act 1998, s.115" in request
    assert "- Data-sharing agreement: DSA-POL-2025-007, in force 2025-04-01 to 2028-03-31" in request
    assert "HMAC-SHA256" in request  # how identifiers are tokenised
    assert all(f"| {column} |" in request for column in contract.columns)
    assert "`python -m pipeline check-extract police.csv --source police`" in request
    header = (tmp_path / "pack" / "police.csv").read_bytes()
    assert header == (",".join(contract.columns) + "\r\n").encode()
    # The template's header is the one the run reads: the check objects only that no rows are in it yet.
    capsys.readouterr()
    assert main(["check-extract", str(tmp_path / "pack" / "police.csv"), "--source", "police"]) == 1
    assert capsys.readouterr().out == "police: REFUSED: unreadable file: file has a header but no data rows\n"


CORPUS_CASES = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(CORPUS_CASES))
def test_the_check_names_every_problem_of_the_bad_file_corpus_as_the_run_would(case, capsys):
    spec = CORPUS_CASES[case]
    source = spec["source"]
    code = main(["check-extract", str(CORPUS / case / f"{source}.csv"), "--source", source])
    out = capsys.readouterr().out
    if "refused" in spec:
        assert code == 1 and out.startswith(f"{source}: REFUSED: unreadable file: ") and spec["refused"] in out
        return
    said = [ln for ln in out.splitlines() if ln.startswith("  line ")]
    expected = [(row, column, words) for row, column, words in spec["quarantine"] if column != "(source)"]
    assert len(said) == len(expected), out
    for row, column, words in expected:
        assert any(ln.startswith(f"  line {row}, column {column}: ") and words in ln for ln in said), (row, column)
    if "refused_validation" in spec:
        assert code == 1 and spec["refused_validation"] in out


def test_rows_the_gateway_does_not_ask_for_are_counted_not_listed(tmp_path, capsys):
    with open(TINY / "benefits.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    pip = list(rows[1])
    pip[rows[0].index("benefit_type")], pip[rows[0].index("uc_work_group")] = "PIP", ""
    pip[rows[0].index("source_record_id")] = "BEN99"
    with open(tmp_path / "benefits.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([*rows, pip])
    assert main(["check-extract", str(tmp_path / "benefits.csv"), "--source", "benefits"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"benefits: {len(rows) - 1} rows, {len(rows) - 1} would be accepted, 0 quarantined"
    assert out[1] == ("  not asked for (leave them out): 1 row outside the gateway's allowed rows "
                      "(benefit_type not in [PIP]: 1)")
