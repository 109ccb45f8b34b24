"""One source's ingest as a stage: a file in, a typed outcome, its quarantine and its GX job out.

Every case runs `ingest_source` on one file of the tiny set (tests/fixtures/tiny), into a staging
folder of its own; none needs a whole run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.ingest.gateways import registry_refusal
from pipeline.ingest.source import IngestOptions, ingest_source, landed_path
from tests.conftest import TINY

AS_OF = dt.date(2026, 10, 31)


def options(schemas, staging: Path, **overrides) -> IngestOptions:
    return IngestOptions(**{"schemas": schemas, "as_of": AS_OF, "staging": staging, "reuse": False, **overrides})


def copy_of(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "extracts" / f"{source}.csv"
    path.parent.mkdir(exist_ok=True)
    shutil.copy(TINY / f"{source}.csv", path)
    return path


def test_a_usable_file_is_landed_typed_and_its_counts_add_up(schemas, tmp_path):
    path = TINY / "police.csv"
    done = ingest_source("police", path, None, options(schemas, tmp_path))
    o = done.outcome
    assert o.used and o.status == "used" and o.reason is None
    assert (o.rows_in, o.rows_accepted, o.rows_quarantined) == (8, 7, 1)  # the tiny set's one impossible birth date
    assert o.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and o.bytes == path.stat().st_size
    assert o.landed == landed_path("police") and o.ingest_key and o.reused_from is None
    landed = pd.read_parquet(tmp_path / o.landed)
    assert len(landed) == 7 and str(pq.read_schema(tmp_path / o.landed).field("event_date").type) == "date32[day]"
    assert list(done.quarantine[["row_number", "source_record_id", "column"]].itertuples(index=False, name=None)) \
        == [(4, "POL3", "dob")]
    assert done.validation is not None and done.validation.views_file.is_file()  # GX reads the kept views
    record = o.lineage_record()
    assert record["gateway"]["agreement"] == schemas.gateways["police"].agreement.reference
    assert record["extract_date"] == AS_OF and record["ingest"]["reused_from"] is None


@pytest.mark.parametrize(("source", "reason"), [("health", "no file supplied (allowed missing)"),
                                                 ("children_social_care", "no file supplied (optional source)")])
def test_a_source_without_a_file_is_absent_with_its_reason(schemas, tmp_path, source, reason):
    done = ingest_source(source, None, None, options(schemas, tmp_path))
    assert done.outcome.status == "absent" and done.outcome.reason == reason
    assert done.quarantine is None and done.validation is None


def test_a_source_whose_gateway_does_not_permit_the_purpose_is_refused_and_not_read(schemas, tmp_path):
    refusal = registry_refusal(schemas.gateways["electoral_register"], "support")
    done = ingest_source("electoral_register", TINY / "electoral_register.csv", refusal, options(schemas, tmp_path))
    o = done.outcome
    assert o.status == "refused" and "does not permit the purpose 'support'" in o.reason
    assert o.sha256 is not None and (o.rows_in, o.rows_accepted, o.rows_quarantined) == (0, 0, 0)
    assert o.facts is None and "encoding" not in o.lineage_record()  # never parsed
    assert not (tmp_path / landed_path("electoral_register")).exists()


def test_an_agreement_not_in_force_on_the_processing_date_refuses_its_source(schemas, tmp_path):
    expires = schemas.gateways["police"].agreement.expires
    late = ingest_source("police", TINY / "police.csv", None,
                         options(schemas, tmp_path / "late", processing_date=expires + dt.timedelta(days=1)))
    assert late.outcome.status == "refused" and f"expired on {expires.isoformat()}" in late.outcome.reason
    on_the_day = ingest_source("police", TINY / "police.csv", None,
                               options(schemas, tmp_path / "day", processing_date=expires))
    assert on_the_day.outcome.used


def test_columns_a_gateway_does_not_allow_are_dropped_at_ingest_and_recorded(schemas, tmp_path):
    contract = schemas.contracts["health"]
    gateway = schemas.gateways["health"].model_copy(
        update={"allowed_columns": [c for c in contract.columns if c != "mental_health"]})
    narrowed = schemas.model_copy(update={"gateways": {**schemas.gateways, "health": gateway}})
    done = ingest_source("health", TINY / "health.csv", None, options(narrowed, tmp_path))
    assert done.outcome.facts.columns_dropped_by_gateway == ["mental_health"]
    assert "mental_health" not in pd.read_parquet(tmp_path / landed_path("health")).columns


def test_extra_columns_are_dropped_and_reported(schemas, tmp_path):
    path = copy_of(tmp_path, "police")
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",officer_notes"] + [line + ",free text" for line in lines[1:]]) + "\n")
    done = ingest_source("police", path, None, options(schemas, tmp_path))
    assert done.outcome.used and done.outcome.facts.extra_columns_dropped == ["column 14"]  # by position, never by text
    assert "officer_notes" not in pd.read_parquet(tmp_path / landed_path("police")).columns


def test_an_empty_file_refuses_its_source_with_the_reason(schemas, tmp_path):
    path = copy_of(tmp_path, "schools")
    path.write_bytes(b"")
    done = ingest_source("schools", path, None, options(schemas, tmp_path))
    assert done.outcome.status == "refused" and done.outcome.reason == "unreadable file: file is empty"


def test_a_file_with_too_many_bad_rows_is_refused_whole_and_every_row_kept_in_quarantine(schemas, tmp_path):
    done = ingest_source("police", TINY / "police.csv", None, options(schemas, tmp_path, max_bad_share=0.1))
    o = done.outcome
    assert o.status == "refused" and o.reason.startswith("1 of 8 rows (12%) failed validation")
    assert "--max-bad-share 0.13" in o.reason and "max_bad_share" in o.reason  # how to let it through
    again = ingest_source("police", TINY / "police.csv", None, options(schemas, tmp_path / "again", max_bad_share=0.13))
    assert again.outcome.status == "used"  # the limit it suggests does let the file through
    assert (o.rows_in, o.rows_accepted, o.rows_quarantined) == (8, 0, 8)
    assert done.quarantine["row_number"].nunique() == 8
    assert done.validation is not None and done.validation.views is not None  # GX still reports on it
    assert not (tmp_path / landed_path("police")).exists()


def test_a_file_that_cannot_be_read_is_recorded_or_raised_for_a_retry(schemas, tmp_path):
    folder = tmp_path / "police.csv"
    folder.mkdir()  # a path that exists but cannot be read as a file
    done = ingest_source("police", folder, None, options(schemas, tmp_path))
    assert done.outcome.status == "refused" and done.outcome.reason.startswith("file could not be read")
    with pytest.raises(OSError):
        ingest_source("police", folder, None, options(schemas, tmp_path), raise_io_errors=True)


def test_quarantine_counts_rows_not_entries_and_says_which_belong_to_a_refused_file(schemas, tmp_path):
    from pipeline.ingest.validate import QuarantineCounts

    refused = ingest_source("police", TINY / "police.csv", None, options(schemas, tmp_path, max_bad_share=0.1))
    path = copy_of(tmp_path, "schools")
    lines = path.read_text(encoding="utf-8").splitlines()
    row = lines[1].split(",")
    row[0], row[15:18] = "SCHX", ["x", "y", "z"]  # three bad counts in one row: three entries, one bad row
    path.write_text("\n".join([*lines, ",".join(row)]) + "\n")
    schools = ingest_source("schools", path, None, options(schemas, tmp_path / "s", max_bad_share=0.5))
    counts = QuarantineCounts.of(pd.concat([refused.quarantine, schools.quarantine], ignore_index=True))
    assert counts.bad_rows == 1 + 2  # police's one bad birth date; schools' bad absence and the new row
    assert counts.refused_rows == {"police": 7}
    assert counts.entries == len(refused.quarantine) + len(schools.quarantine) > counts.bad_rows + 7
    assert counts.text().startswith("3 bad rows; 7 rows of the refused police extract (quarantine.parquet: ")
