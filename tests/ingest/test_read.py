"""A corpus of bad files (tests/corpus), each with its expected quarantine or refusal."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
import yaml

from pipeline.ingest.read import SourceRefused, read_extract
from pipeline.ingest.validate import validate
from tests.conftest import CORPUS

CASES = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))


def ingest(case: str, schemas, max_bad_share: float = 1.0):
    spec = CASES[case]
    source = spec["source"]
    raw = read_extract(CORPUS / case / f"{source}.csv", schemas.contracts[source], schemas.gateways[source])
    return raw, validate(raw, schemas.contracts[source], schemas, spec.get("max_bad_share", max_bad_share))


@pytest.mark.parametrize("case", sorted(c for c in CASES if "refused" in CASES[c]))
def test_a_file_that_cannot_be_the_extract_is_refused_with_its_reason(case, schemas):
    with pytest.raises(SourceRefused) as err:
        ingest(case, schemas)
    assert CASES[case]["refused"] in str(err.value)


@pytest.mark.parametrize("case", sorted(c for c in CASES if "refused" not in CASES[c]))
def test_each_bad_row_is_quarantined_with_its_row_column_and_reason(case, schemas):
    spec = CASES[case]
    raw, result = ingest(case, schemas)
    got = sorted(zip(result.quarantine["row_number"], result.quarantine["column"], result.quarantine["reason"],
                     strict=True))
    expected = sorted(spec["quarantine"])
    assert [(r, c) for r, c, _ in got] == [(r, c) for r, c, _ in expected]
    for (_, _, reason), (_, _, words) in zip(got, expected, strict=True):
        assert words in reason
    assert result.rows_accepted == spec["accepted"]
    assert result.rows_in == result.rows_accepted + result.rows_quarantined
    assert result.rows_quarantined == result.quarantine["row_number"].nunique()
    if "encoding" in spec:
        assert raw.encoding == spec["encoding"]
    if "encoding_note" in spec:
        assert spec["encoding_note"] in raw.encoding_note
    else:
        assert raw.encoding_note is None
    if "extra_columns" in spec:
        assert raw.extra_columns == spec["extra_columns"]
        assert not set(spec["extra_columns"]) & set(result.accepted.columns)
    if "extra_column_count" in spec:
        assert len(raw.extra_columns) == spec["extra_column_count"]
        assert set(result.accepted.columns) <= {"row_number", *schemas.contracts[spec["source"]].columns}
    if "missing_optional" in spec:
        assert raw.missing_optional == spec["missing_optional"]
    if "rows_in" in spec:  # the file's data lines, each counted once whatever became of it
        assert result.rows_in == spec["rows_in"]
    for column, values in spec.get("values", {}).items():
        assert result.accepted[column].tolist() == values
    if "row_numbers" in spec:
        assert result.accepted["row_number"].tolist() == spec["row_numbers"]
    if "refused_validation" in spec:
        assert spec["refused_validation"] in result.refused
    else:
        assert result.refused is None


def test_quarantined_source_record_ids_point_back_at_the_rows(schemas):
    _, result = ingest("duplicate_ids", schemas)
    assert result.quarantine["source_record_id"].tolist() == ["POL0001"]
    assert result.accepted["source_record_id"].tolist() == ["POL0001", "POL0002", "POL0003"]


def test_accepted_rows_are_typed(schemas):
    _, result = ingest("valid", schemas)
    accepted = result.accepted
    assert str(accepted["dob"].dtype).startswith("datetime64")
    assert accepted["dob"].iloc[0] == pd.Timestamp("1980-02-01")  # DD/MM/YYYY read day first
    _, schools = ingest("cross_field", schemas)
    assert str(schools.accepted["sessions_possible"].dtype) == "Int64"
    assert str(schools.accepted["permanent_exclusion"].dtype) == "boolean"


def test_a_one_megabyte_field_is_quarantined_not_a_crash(schemas, tmp_path):
    header = (CORPUS / "valid" / "police.csv").read_text().splitlines()
    row = header[1].split(",")
    row[2] = "A" * (1 << 20)
    path = tmp_path / "police.csv"
    path.write_text("\n".join([header[0], ",".join(row), header[2]]) + "\n")
    raw = read_extract(path, schemas.contracts["police"], schemas.gateways["police"])
    result = validate(raw, schemas.contracts["police"], schemas, 1.0)
    assert result.quarantine[["row_number", "column"]].values.tolist() == [[2, "surname"]]
    assert "longer than 200 characters" in result.quarantine["reason"].iloc[0]
    assert result.rows_accepted == 1


def test_reasons_never_repeat_identifying_values(schemas):
    identifying = {"record_id", "person_token", "forename", "surname", "dob", "address_line", "postcode", "uprn"}
    for case in CASES:
        if "refused" in CASES[case]:
            continue
        raw, result = ingest(case, schemas)
        contract = schemas.contracts[CASES[case]["source"]]
        columns = [c for c in raw.frame.columns if contract.columns[c].role in identifying]
        values = {v for v in raw.frame[columns].to_numpy().ravel() if isinstance(v, str) and len(v) > 2}
        for reason in result.quarantine["reason"]:
            assert not any(v in reason for v in values), (case, reason)


def _both_paths(path, schemas, source):
    from pipeline.ingest.read import parse_extract

    data = path.read_bytes()
    contract, gateway = schemas.contracts[source], schemas.gateways[source]
    return (parse_extract(data, path, contract, gateway),
            parse_extract(data, path, contract, gateway, careful=True))


@pytest.mark.parametrize("case", sorted(c for c in CASES if "refused" not in CASES[c]))
def test_the_fast_reader_and_the_careful_reader_give_the_same_rows_and_lines(case, schemas):
    source = CASES[case]["source"]
    fast, careful = _both_paths(CORPUS / case / f"{source}.csv", schemas, source)
    pd.testing.assert_frame_equal(fast.frame, careful.frame)
    pd.testing.assert_frame_equal(fast.ragged, careful.ragged)
    assert (fast.extra_columns, fast.encoding) == (careful.extra_columns, careful.encoding)


def test_the_fast_reader_agrees_on_the_whole_sample(schemas):
    from tests.conftest import REPO

    for path in sorted((REPO / "sample_data" / "extracts").glob("*.csv")):
        fast, careful = _both_paths(path, schemas, path.stem)
        pd.testing.assert_frame_equal(fast.frame, careful.frame)
        assert len(fast.frame) > 0


@pytest.mark.parametrize(("case", "fast"), [("valid", True), ("crlf", True), ("bom", True), ("extra_column", True),
                                            ("quoted_newlines", False), ("ragged", False)])
def test_the_fast_reader_takes_only_files_it_can_number_exactly(case, fast):
    from pipeline.ingest.read import _fast_columns

    body = (CORPUS / case / "police.csv").read_bytes().removeprefix(b"\xef\xbb\xbf")
    width = len(body.split(b"\n", 1)[0].split(b","))
    assert (_fast_columns(body, width, [(0, "source_record_id")]) is not None) is fast


def test_a_file_without_its_header_line_is_refused_without_quoting_the_first_record(schemas, tmp_path):
    """The first record stands where the header should be: its cells are values, never to be quoted."""
    lines = (CORPUS / "valid" / "police.csv").read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    forename_at = lines[0].split(",").index("forename")
    first[forename_at + 1] = first[forename_at]  # legal forename = preferred forename: a repeated "header" cell
    path = tmp_path / "police.csv"
    path.write_text("\n".join([",".join(first), *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(SourceRefused) as err:
        read_extract(path, schemas.contracts["police"], schemas.gateways["police"])
    reason = str(err.value)
    assert reason == (f"column {forename_at + 2} of the header repeats column {forename_at + 1} (a header cell that "
                      "is not a contract column): is the header line missing?")
    assert not any(cell.strip().lower() in reason.lower() for cell in first if len(cell.strip()) > 2)


def test_a_repeated_contract_column_is_named():
    from pipeline.config import load_schemas
    from pipeline.ingest.read import check_header

    contract = load_schemas().contracts["police"]
    with pytest.raises(SourceRefused, match=r"column 3 of the header repeats column 1 \('source_record_id'\)"):
        check_header(["source_record_id", "event_date", "source_record_id"], contract)


@pytest.mark.parametrize("blank", ["\n", "\r\n", "\n\n"])
def test_blank_lines_before_the_header_are_skipped_and_the_rows_keep_their_file_lines(schemas, blank):
    """Found by tests/ingest/test_damage_properties.py: the fast reader took the blank first line for the
    header and refused the file for missing every column, where the careful reader (and a cp1252 file) read it."""
    from pipeline.ingest.read import parse_extract

    data = blank.encode() + (CORPUS / "valid" / "police.csv").read_bytes()
    contract, gateway = schemas.contracts["police"], schemas.gateways["police"]
    for careful in (False, True):
        raw = parse_extract(data, CORPUS / "valid" / "police.csv", contract, gateway, careful=careful)
        assert raw.frame.index.tolist() == [n + blank.count("\n") for n in (2, 3, 4)]
        assert raw.frame["source_record_id"].tolist() == ["POL0001", "POL0002", "POL0003"]


@pytest.mark.parametrize(("name", "line_end"), [("LF", "\n"), ("CR only", "\r"), ("CRLF", "\r\n")])
def test_a_blank_line_ended_by_a_lone_carriage_return_is_a_line_to_both_readers(schemas, name, line_end):
    """Found by tests/ingest/test_damage_properties.py: pyarrow skips a blank line however it ends, so the fast
    reader, which took only a blank line ended by LF for one, numbered every record after it a line too early."""
    from pipeline.ingest.read import parse_extract

    lines = (CORPUS / "valid" / "police.csv").read_text(encoding="utf-8").splitlines()
    data = (line_end.join(lines[:2]) + line_end + "\r" + line_end.join(lines[2:]) + line_end).encode()
    contract, gateway = schemas.contracts["police"], schemas.gateways["police"]
    for careful in (False, True):
        raw = parse_extract(data, CORPUS / "valid" / "police.csv", contract, gateway, careful=careful)
        assert raw.frame.index.tolist() == [2, 4, 5], (name, careful)


def test_a_quarantined_rows_record_id_is_left_out_when_it_could_carry_anything_but_an_id(schemas, tmp_path):
    """The quarantine (outside restricted/, printed, opened in spreadsheets) points back at a row by its record id
    only when the id is one: an id longer than the contract allows (a pasted document) or holding a control
    character (a terminal escape) is left out, and the row number still points at the row."""
    with open(CORPUS / "valid" / "police.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[1][0], rows[2][0] = "POL" + "9" * 62, "POL\x1b[2J"
    rows[3][rows[0].index("dob")] = "31/02/1980"  # a bad row whose id is a good one
    path = tmp_path / "police.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    raw = read_extract(path, schemas.contracts["police"], schemas.gateways["police"])
    result = validate(raw, schemas.contracts["police"], schemas, 1.0)
    q = result.quarantine
    assert q[["row_number", "column"]].values.tolist() == [[2, "source_record_id"], [3, "source_record_id"],
                                                          [4, "dob"]]
    assert q["source_record_id"].isna().tolist() == [True, True, False]
    assert q["source_record_id"].iloc[2] == rows[3][0]
