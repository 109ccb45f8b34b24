"""Ingest reused by file hash: an unchanged file is not read again; the outputs do not change.

Whole runs of the tiny set, since reuse is found through the ledger's earlier completed runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.audit.ledger import append_run
from pipeline.cli import main
from pipeline.ingest.cache import find, ingest_key
from pipeline.ingest.source import landed_path
from pipeline.run import RunConfig, execute
from tests.conftest import REPO, TINY
from tests.support import lineage
from tests.support import source_records as sources

pytestmark = pytest.mark.usefixtures("preloaded_gx")

COMPARED = ("record_links.parquet", "pairs.parquet", "households.parquet", "evidence.parquet", "quarantine.parquet",
            "quarantine.csv")


@pytest.fixture
def ledger(tiny_run, tmp_path, monkeypatch) -> Path:
    """A ledger of this test's own that holds the session's tiny run: the earlier run to reuse from."""
    path = tmp_path / "ledger" / "ledger.jsonl"
    path.parent.mkdir()
    shutil.copy(tiny_run.ledger, path)
    monkeypatch.setenv("PIPELINE_LEDGER", str(path))
    return path


def reused_from(run: Path) -> dict[str, str | None]:
    """Per used source, the folder of the run its ingest was reused from (None: read afresh)."""
    return {s: ((r.get("ingest") or {}).get("reused_from") or {}).get("folder") for s, r in sources(run).items()
            if r["used"]}


def test_a_rerun_with_unchanged_files_reuses_every_source_and_gives_the_same_outputs(tiny_run, tmp_path, ledger):
    first = tiny_run.out
    second = execute(RunConfig(extracts=TINY, out=tmp_path / "second")).out

    assert set(reused_from(first).values()) == {None}
    assert set(reused_from(second).values()) == {str(first.resolve())}
    for name in COMPARED:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    # Great Expectations still validated every source in the second run, from the kept check views.
    for source, record in sources(second).items():
        if record["used"]:
            assert record["validation"]["expectations"] > 0, source
            assert record["rows_in"] == sources(first)[source]["rows_in"]


def test_reuse_is_shown_in_the_terminal_the_lineage_and_audit_show(tiny_run, tmp_path, ledger, capsys):
    first_id = lineage(tiny_run.out)[0]["run_id"]
    code = main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "second")])
    err = capsys.readouterr().err
    assert code == 0
    police = sources(tmp_path / "second")["police"]["ingest"]["reused_from"]
    assert police == {"run_id": first_id, "ledger_line": 1, "folder": str(tiny_run.out.resolve()),
                      "replaced_by_this_run": False}
    assert f"ingest reused from run {first_id[:8]} (ledger line 1), in {tiny_run.out.resolve()}" in err
    main(["audit", "show", str(tmp_path / "second")])
    shown = capsys.readouterr().out
    assert (f"    ingest reused (the file unchanged) from run {first_id} (ledger line 1), in "
            f"{tiny_run.out.resolve()}") in shown


def test_a_run_replacing_the_folder_it_reuses_from_never_points_at_that_folder(tiny_run, tmp_path, ledger, capsys):
    out = tmp_path / "monthly"
    first = execute(RunConfig(extracts=TINY, out=out))
    first_id, first_line = lineage(first.out)[0]["run_id"], len(ledger.read_text().splitlines())
    second = execute(RunConfig(extracts=TINY, out=out, force=True))
    for source, record in sources(second.out).items():
        if record["used"]:
            assert record["ingest"]["reused_from"] == {"run_id": first_id, "ledger_line": first_line, "folder": None,
                                                       "replaced_by_this_run": True}, source
    main(["audit", "show", str(out)])
    shown = capsys.readouterr().out
    assert f"from run {first_id} (ledger line {first_line}), the earlier run in this folder, replaced by this " \
           "run" in shown
    assert lineage(out)[0]["run_id"] != first_id  # the folder now holds the second run, complete on its own
    for name in COMPARED:
        assert (out / name).is_file()


def test_a_changed_file_is_read_again_and_the_others_are_reused(tiny_run, tmp_path, ledger):
    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    police = extracts / "police.csv"
    police.write_text("\n".join(police.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8")

    second = execute(RunConfig(extracts=extracts, out=tmp_path / "second")).out

    reused = reused_from(second)
    assert reused.pop("police") is None
    assert set(reused.values()) == {str(tiny_run.out.resolve())}
    assert sources(second)["police"]["rows_in"] == sources(tiny_run.out)["police"]["rows_in"] - 1


def test_nothing_is_reused_when_asked_not_to_and_reading_again_gives_byte_identical_outputs(tiny_run, tmp_path,
                                                                                              ledger):
    fresh = execute(RunConfig(extracts=TINY, out=tmp_path / "fresh", reuse_ingest=False)).out
    assert set(reused_from(fresh).values()) == {None}
    landed = [f"restricted/landed/{s}.parquet" for s in sources(fresh)]
    for name in (*COMPARED, "linkage_model.json", *landed):  # the same inputs and key: the same bytes
        assert (tiny_run.out / name).read_bytes() == (fresh / name).read_bytes(), name


def test_an_earlier_run_is_reused_only_while_its_folder_is_there(tiny_run, tmp_path):
    earlier = tmp_path / "earlier"
    shutil.copytree(tiny_run.out, earlier)
    ledger = tmp_path / "ledger.jsonl"
    append_run(earlier, ledger)
    key, landed = sources(earlier)["police"]["ingest"]["key"], landed_path("police")
    found = find("police", key, ledger, landed)
    assert found is not None and found.folder == earlier.resolve() and found.landed.is_file()
    assert find("police", "0" * 64, ledger, landed) is None  # another key: another file, or other rules
    shutil.rmtree(earlier)
    assert find("police", key, ledger, landed) is None


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


def test_nothing_code_bearing_is_written_to_or_read_from_a_run_folder(tiny_run, tmp_path, ledger):
    """An earlier run's folder is not trusted: a pickle planted there must never be loaded."""
    assert not [p for p in tiny_run.out.rglob("*") if p.suffix in {".pkl", ".pickle"}]
    earlier = tmp_path / "earlier"
    shutil.copytree(tiny_run.out, earlier)
    append_run(earlier, ledger)
    marker = tmp_path / "pwned"
    import pickle

    class Planted:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for entry in (earlier / "restricted" / "ingest_cache").iterdir():
        (entry / "checks.pkl").write_bytes(pickle.dumps(Planted()))
        (entry / "views.pkl").write_bytes(pickle.dumps(Planted()))
    result = execute(RunConfig(extracts=TINY, out=tmp_path / "out"))
    assert not marker.exists()
    assert all(f == str(earlier) for f in reused_from(result.out).values())  # its Parquet and JSON still serve


def test_a_damaged_checks_file_is_not_reused(tiny_run, tmp_path, ledger):
    earlier = tmp_path / "earlier"
    shutil.copytree(tiny_run.out, earlier)
    append_run(earlier, ledger)
    for entry in (earlier / "restricted" / "ingest_cache").iterdir():
        (entry / "checks.json").write_text('[{"name": "x"}]', encoding="utf-8")
    result = execute(RunConfig(extracts=TINY, out=tmp_path / "out"))
    assert all(f != str(earlier) for f in reused_from(result.out).values())


def test_every_check_spec_survives_its_json_form(schemas):
    from pipeline.ingest.checks import CheckSpec, compile_checks

    for contract in schemas.contracts.values():
        for check in compile_checks(contract, schemas.formats, schemas.settings.text_max_length,
                                    set(contract.columns)):
            spec = CheckSpec.of(check)
            assert CheckSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_a_landed_file_altered_after_its_run_is_never_reused_and_verify_says_so(tiny_run, tmp_path, ledger):
    import pandas as pd

    from pipeline.audit.verify import verify

    earlier = tmp_path / "earlier"
    shutil.copytree(tiny_run.out, earlier)
    append_run(earlier, ledger)
    landed = earlier / landed_path("police")
    pd.read_parquet(landed).head(1).to_parquet(landed)  # cut short, as a tamperer would
    verdict = verify(earlier, ledger)
    assert verdict.problem is not None and "restricted/landed/police.parquet" in verdict.problem
    result = execute(RunConfig(extracts=TINY, out=tmp_path / "out"))
    assert reused_from(result.out)["police"] != str(earlier)
    assert sources(result.out)["police"]["rows_accepted"] == sources(tiny_run.out)["police"]["rows_accepted"]


def test_every_file_a_run_writes_is_listed_with_its_hash_but_the_trails(tiny_run):
    listed = {r["file"] for r in lineage(tiny_run.out) if r["event"] == "output"}
    written = {p.relative_to(tiny_run.out).as_posix() for p in tiny_run.out.rglob("*") if p.is_file()}
    assert written - listed == {"lineage.jsonl", "openlineage.jsonl"}
    assert {"restricted/landed/police.parquet", "restricted/clerical_review.parquet", "data_docs/index.html"} <= listed
