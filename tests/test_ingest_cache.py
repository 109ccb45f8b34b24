"""Ingest reused by file hash (issue 5): an unchanged file is not read again; the outputs do not change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.ingest.cache import ingest_key
from pipeline.run import RunConfig, execute

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data" / "extracts"
COMPARED = ("record_links.parquet", "pairs.parquet", "households.parquet", "evidence.parquet", "quarantine.parquet")


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "ledger" / "ledger.jsonl"
    monkeypatch.setenv("PIPELINE_LEDGER", str(path))
    return path


def sources(run: Path) -> dict[str, dict]:
    records = [json.loads(x) for x in (run / "lineage.jsonl").read_text(encoding="utf-8").splitlines()]
    return {r["source"]: r for r in records if r["event"] == "source"}


def reused_from(run: Path) -> dict[str, str | None]:
    return {s: (r.get("ingest") or {}).get("reused_from") for s, r in sources(run).items() if r["used"]}


def test_a_rerun_with_unchanged_files_reuses_every_source_and_gives_the_same_outputs(tmp_path, ledger):
    first = execute(RunConfig(extracts=SAMPLE, out=tmp_path / "first")).out
    second = execute(RunConfig(extracts=SAMPLE, out=tmp_path / "second")).out

    assert set(reused_from(first).values()) == {None}
    assert set(reused_from(second).values()) == {str(first)}
    for name in COMPARED:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # Great Expectations still validated every source in the second run, from the kept check views.
    for source, record in sources(second).items():
        if record["used"]:
            assert record["validation"]["expectations"] > 0, source
            assert record["rows_in"] == sources(first)[source]["rows_in"]


def test_a_changed_file_is_read_again_and_the_others_are_reused(tmp_path, ledger):
    first = execute(RunConfig(extracts=SAMPLE, out=tmp_path / "first")).out
    extracts = tmp_path / "extracts"
    shutil.copytree(SAMPLE, extracts)
    police = extracts / "police.csv"
    police.write_text("\n".join(police.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8")

    second = execute(RunConfig(extracts=extracts, out=tmp_path / "second")).out

    reused = reused_from(second)
    assert reused.pop("police") is None
    assert set(reused.values()) == {str(first)}
    assert sources(second)["police"]["rows_in"] == sources(first)["police"]["rows_in"] - 1


def test_nothing_is_reused_once_the_earlier_run_is_gone_or_when_asked_not_to(tmp_path, ledger):
    first = execute(RunConfig(extracts=SAMPLE, out=tmp_path / "first")).out
    fresh = execute(RunConfig(extracts=SAMPLE, out=tmp_path / "fresh", reuse_ingest=False)).out
    assert set(reused_from(fresh).values()) == {None}
    shutil.rmtree(first)
    shutil.rmtree(fresh)
    third = execute(RunConfig(extracts=SAMPLE, out=tmp_path / "third")).out
    assert set(reused_from(third).values()) == {None}


def test_the_key_changes_with_the_file_the_contract_the_settings_or_the_code(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", schemas)
    base = ingest_key("a" * 64, "police", schemas, None, "v1")
    assert ingest_key("a" * 64, "police", schemas, None, "v1") == base
    assert ingest_key("b" * 64, "police", schemas, None, "v1") != base
    assert ingest_key("a" * 64, "police", schemas, 0.5, "v1") != base
    assert ingest_key("a" * 64, "police", schemas, None, "v2") != base
    contract = schemas / "sources" / "police.yaml"
    contract.write_text(contract.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert ingest_key("a" * 64, "police", schemas, None, "v1") != base
