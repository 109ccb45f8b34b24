"""The registry in a run: an incomplete entry refuses its own source only, and opt-out lists are applied
before anything lands, with counts alone recorded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.run import RunConfig, execute
from tests.conftest import REPO, TINY
from tests.support import lineage, source_records

pytestmark = pytest.mark.usefixtures("preloaded_gx")


def registry(tmp_path: Path, change) -> Path:
    """A copy of schemas/ whose gateways.yaml `change` has edited."""
    root = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", root)
    path = root / "gateways.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["sources"])
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def extracts_with(tmp_path: Path, lists: dict[str, str]) -> Path:
    folder = tmp_path / "extracts"
    shutil.copytree(TINY, folder)
    for source, text in lists.items():
        (folder / "suppressions").mkdir(exist_ok=True)
        (folder / "suppressions" / f"{source}.csv").write_text(text, encoding="utf-8")
    return folder


def test_an_incomplete_entry_refuses_its_source_naming_what_is_missing_and_the_others_go_on(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    root = registry(tmp_path, lambda s: [s["police"].pop(k) for k in ("dpia", "article_10")])
    result = execute(RunConfig(extracts=TINY, out=tmp_path / "out", schemas_root=root, allow_missing=("police",)))
    police = source_records(result.out)["police"]
    assert not police["used"]
    assert police["reason"] == ("the registry entry (schemas/gateways.yaml) is incomplete: missing dpia; "
                                "article_10 (the source carries criminal offence data)")
    assert all(r["used"] for s, r in source_records(result.out).items() if s != "police")
    assert result.partial and "police" in result.required_not_used


def test_the_health_opt_out_list_removes_its_patients_before_anything_lands(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    health = pd.read_csv(TINY / "health.csv", dtype=str)
    opted_out = health["nhs_number_token"].iloc[0]
    folder = extracts_with(tmp_path, {"health": f"nhs_number_token\n{opted_out}\n{'f' * 64}\n"})
    result = execute(RunConfig(extracts=folder, out=tmp_path / "out"))
    record = source_records(result.out)["health"]
    assert record["rows_received"] == len(health) and record["rows_suppressed"] == 1
    assert record["rows_in"] == len(health) - 1 == record["rows_accepted"] + record["rows_quarantined"]
    assert record["suppression_list"].startswith("health.csv sha256:")
    landed = pd.read_parquet(result.out / "restricted" / "landed" / "health.parquet")
    assert health["source_record_id"].iloc[0] not in set(landed["source_record_id"])
    for path in result.out.rglob("*"):  # the list is never copied: no output holds the opted-out token
        if path.is_file() and path.suffix in {".jsonl", ".json", ".md", ".html", ".csv"}:
            assert opted_out not in path.read_text(encoding="utf-8", errors="replace"), path


def test_a_changed_opt_out_list_is_applied_even_when_the_extract_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    health = pd.read_csv(TINY / "health.csv", dtype=str)
    folder = extracts_with(tmp_path, {})
    execute(RunConfig(extracts=folder, out=tmp_path / "first"))
    (folder / "suppressions").mkdir()
    (folder / "suppressions" / "health.csv").write_text(f"nhs_number_token\n{health['nhs_number_token'].iloc[1]}\n",
                                                        encoding="utf-8")
    second = execute(RunConfig(extracts=folder, out=tmp_path / "second"))
    record = source_records(second.out)["health"]
    assert record["rows_suppressed"] == 1 and record["ingest"]["reused_from"] is None


def test_a_suppression_list_that_cannot_be_read_refuses_its_source(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    folder = extracts_with(tmp_path, {"health": "nhs_number\nabc\n"})
    result = execute(RunConfig(extracts=folder, out=tmp_path / "out", allow_missing=("health",)))
    assert source_records(result.out)["health"]["reason"] == (
        "suppression list health.csv: line 1 has no column 'nhs_number_token' (the national data opt-out list "
        "must name it)")


def test_a_required_list_nobody_sent_refuses_its_source(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    root = registry(tmp_path, lambda s: s["health"]["suppression"].update(required=True))
    result = execute(RunConfig(extracts=TINY, out=tmp_path / "out", schemas_root=root, allow_missing=("health",)))
    assert source_records(result.out)["health"]["reason"] == (
        "the registry requires a national data opt-out list and none was supplied (suppressions/health.csv)")
    assert lineage(result.out)[0]["event"] == "run_start"
