"""`--previous`: a month's run carries on from the last one, or says clearly why it cannot."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import TINY
from tests.support import lineage

pytestmark = pytest.mark.usefixtures("preloaded_gx")


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    """The tiny set run for October, then again for November with --previous October."""
    base = tmp_path_factory.mktemp("months")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_LEDGER", str(base / "ledger.jsonl"))
        assert main(["run", "--extracts", str(TINY), "--out", str(base / "oct")]) == 0
        assert main(["run", "--extracts", str(TINY), "--out", str(base / "nov"), "--as-of", "2026-11-30",
                     "--previous", str(base / "oct")]) == 0
    return base


def test_people_and_households_keep_their_keys_and_first_seen_dates(two_months):
    oct_, nov = (pd.read_parquet(two_months / m / "record_links.parquet") for m in ("oct", "nov"))
    assert oct_["person_key"].tolist() == nov["person_key"].tolist()
    assert oct_["household_key"].tolist() == nov["household_key"].tolist()
    households = pd.read_parquet(two_months / "nov" / "households.parquet")
    assert set(households["first_seen"]) == {"2026-10-31"}
    assert households["address_key"].str.startswith("A").all()
    assert set(nov["person_first_seen"]) == {"2026-10-31"}


def test_the_run_says_what_changed_and_records_which_run_it_followed(two_months):
    changes = pd.read_parquet(two_months / "nov" / "changes.parquet")
    assert list(changes.columns) == ["household_key", "change", "detail"]
    assert not len(changes)  # the same files a month on: nobody moved, joined or left
    start = lineage(two_months / "nov")[0]
    assert start["parameters"]["previous_run"]["run_id"] == lineage(two_months / "oct")[0]["run_id"]
    assert start["key_fingerprint"] == lineage(two_months / "oct")[0]["key_fingerprint"]
    assert (two_months / "nov" / "key_history.parquet").is_file()


def test_audit_show_says_which_run_this_one_carried_on_from_and_what_changed(two_months, capsys):
    main(["audit", "show", str(two_months / "nov")])
    shown = capsys.readouterr().out
    oct_id = lineage(two_months / "oct")[0]["run_id"]
    assert f"  carried on from run {oct_id} in {(two_months / 'oct').resolve()} (as of 2026-10-31, " \
           "rules supporting_families)" in shown
    assert "  since the previous run (as of 2026-10-31): 0 new households, 0 ended" in shown


DECEMBER = ("--as-of", "2026-12-31", "--processing-date", "2026-12-31")  # a month on, processed that day


def run(capsys, tmp_path, *extra: str) -> tuple[int, str]:
    code = main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "dec"), *DECEMBER, *extra])
    return code, capsys.readouterr().err


def test_a_previous_run_made_with_another_key_is_refused(two_months, tmp_path, capsys, monkeypatch):
    other = tmp_path / "other.key"
    other.write_text(secrets.token_hex(32))
    monkeypatch.setenv("PIPELINE_KEY_FILE", str(other))
    monkeypatch.setenv("PIPELINE_LEDGER", str(two_months / "ledger.jsonl"))
    code, err = run(capsys, tmp_path, "--previous", str(two_months / "nov"))
    assert code == 1 and "was made with another pseudonymisation key" in err.splitlines()[-1]
    assert not (tmp_path / "dec").exists()


def test_a_previous_run_whose_files_were_altered_is_refused(two_months, tmp_path, capsys, monkeypatch):
    import shutil

    copy = tmp_path / "nov"
    shutil.copytree(two_months / "nov", copy)
    table = pd.read_parquet(copy / "households.parquet")
    table.assign(eligible=True).to_parquet(copy / "households.parquet")
    monkeypatch.setenv("PIPELINE_LEDGER", str(two_months / "ledger.jsonl"))
    code, err = run(capsys, tmp_path, "--previous", str(copy))
    assert code == 1 and err.splitlines()[-1].startswith(f"error: --previous {copy} cannot be trusted: ")


def test_a_previous_run_under_another_rule_set_is_a_warning(two_months, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PIPELINE_LEDGER", str(two_months / "ledger.jsonl"))
    code, err = run(capsys, tmp_path, "--previous", str(two_months / "nov"), "--rules", "phase1")
    assert code == 0
    assert "was scored under supporting_families, this run under phase1" in err


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    code, err = run(capsys, tmp_path, "--previous", str(tmp_path))
    assert code == 1 and err.splitlines()[-1] == f"error: --previous {tmp_path} is not a run's output folder " \
                                                  "(no lineage.jsonl)"


def test_the_newest_completed_run_under_an_output_root_is_found_from_the_ledger(two_months):
    from pipeline.audit.ledger import latest_run_under

    assert latest_run_under(two_months, two_months / "ledger.jsonl") == (two_months / "nov").resolve()
    assert latest_run_under(two_months / "elsewhere", two_months / "ledger.jsonl") is None


def test_a_family_that_moves_keeps_its_key_and_a_newcomer_to_its_old_flat_gets_another(two_months, tmp_path,
                                                                                         monkeypatch):
    """December: the family of three moves to Ash Grove; Chidi, who lived alone, moves into their old flat."""
    import shutil

    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    for path in extracts.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        text = text.replace("Quarry Lane", "Ash Grove").replace("FT1 2AB", "FT3 4CD")  # the family moves out
        text = text.replace("100090001234", "100090005678")  # and the register gives its new flat's UPRN
        text = text.replace("7 Mill Street", "14 Quarry Lane").replace("FT2 9ZZ", "FT1 2AB")  # Chidi moves in
        text = text.replace("FT2-0001,CHIDI,,OKONKWO,14 Quarry Lane,Fieldtown,,,FT1 2AB,",
                            "FT2-0001,CHIDI,,OKONKWO,14 Quarry Lane,Fieldtown,,,FT1 2AB,100090001234")
        path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("PIPELINE_LEDGER", str(two_months / "ledger.jsonl"))
    assert main(["run", "--extracts", str(extracts), "--out", str(tmp_path / "dec"), *DECEMBER,
                 "--previous", str(two_months / "nov")]) == 0

    def household_of(month, record: str) -> tuple[str, str]:
        links = pd.read_parquet(month / "record_links.parquet").set_index("source_record_id")
        houses = pd.read_parquet(month / "households.parquet").set_index("household_key")
        key = links.loc[record, "household_key"]
        return key, houses.loc[key, "address_key"]

    family_nov, family_flat = household_of(two_months / "nov", "POL1")
    chidi_nov, _ = household_of(two_months / "nov", "HLT4")
    family_dec, family_new_flat = household_of(tmp_path / "dec", "POL1")
    chidi_dec, chidi_flat = household_of(tmp_path / "dec", "HLT4")
    assert family_dec == family_nov and family_new_flat != family_flat  # the family kept its key, at a new place
    assert chidi_flat == family_flat  # Chidi now lives at the family's old address ...
    assert chidi_dec == chidi_nov != family_nov  # ... under his own key, never the family's
    changes = pd.read_parquet(tmp_path / "dec" / "changes.parquet")
    assert {(r.household_key, r.change) for r in changes.itertuples()} >= {(family_nov, "moved"), (chidi_nov, "moved")}


def test_people_are_found_again_by_agency_token_when_every_record_id_is_reissued(two_months, tmp_path, monkeypatch):
    import shutil

    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    for path in extracts.glob("*.csv"):
        header, *rows = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join([header, *("NEW-" + row for row in rows)]) + "\n", encoding="utf-8")
    monkeypatch.setenv("PIPELINE_LEDGER", str(two_months / "ledger.jsonl"))
    assert main(["run", "--extracts", str(extracts), "--out", str(tmp_path / "dec"), *DECEMBER,
                 "--previous", str(two_months / "nov")]) == 0
    before = set(pd.read_parquet(two_months / "nov" / "record_links.parquet")["person_key"])
    after = set(pd.read_parquet(tmp_path / "dec" / "record_links.parquet")["person_key"])
    assert after == before  # no record id persisted, yet every person kept their key
    people_with_a_token = 4  # everyone in the tiny set has a record whose agency gives a person token
    assert link_stage(tmp_path / "dec")["people_carried"] == {"record_id": 0, "agency_token": people_with_a_token,
                                                              "linkage_model": 0, "new_key": 0}


def link_stage(folder) -> dict:
    return next(r for r in lineage(folder) if r.get("event") == "stage" and r.get("stage") == "link")


def reissued(tmp_path):
    """The tiny set as an agency sends it after replacing its systems: every record id and every person token new."""
    import hashlib
    import shutil

    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts)
    for path in extracts.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["source_record_id"] = "NEW-" + frame["source_record_id"]
        for column in [c for c in frame.columns if c.endswith("_token")]:
            frame[column] = [hashlib.sha256(f"new {v}".encode()).hexdigest() if v else "" for v in frame[column]]
        frame.to_csv(path, index=False)
    return extracts


def test_people_whose_record_ids_and_tokens_were_all_reissued_keep_their_keys_through_the_linkage_model(
        two_months, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIPELINE_LEDGER", str(two_months / "ledger.jsonl"))
    assert main(["run", "--extracts", str(reissued(tmp_path)), "--out", str(tmp_path / "dec"), *DECEMBER,
                 "--previous", str(two_months / "nov")]) == 0
    nov, dec = (pd.read_parquet(f / "record_links.parquet") for f in (two_months / "nov", tmp_path / "dec"))
    assert dec["source_record_id"].str.startswith("NEW-").all()  # nothing to find them by but who they are
    assert dec["person_key"].tolist() == nov["person_key"].tolist()
    assert dec["household_key"].tolist() == nov["household_key"].tolist()
    people = nov["person_key"].nunique()
    assert link_stage(tmp_path / "dec")["people_carried"] == {"record_id": 0, "agency_token": 0,
                                                              "linkage_model": people, "new_key": 0}
    assert f"kept last month's key: 0 people by record id, 0 by agency token, {people} by the linkage model; " \
        "0 people with a new key" in capsys.readouterr().out
    written = lineage(tmp_path / "dec")
    assert "restricted/link_records.parquet" in written[-1]["outputs"]
    names = pd.read_parquet(tmp_path / "dec" / "restricted" / "link_records.parquet")["surname"].dropna()
    assert not [n for n in set(names) if n in json.dumps(written).upper()]  # the lineage counts, never names


@pytest.mark.parametrize(("name", "column", "forged"), [
    ("link_records.parquet", "dob", pd.Timestamp("1970-01-01")),  # everyone born one day
    ("record_tokens.parquet", "token_key", "Tforged"),
])
def test_a_previous_runs_restricted_files_altered_after_the_run_are_refused(two_months, tmp_path, capsys, monkeypatch,
                                                                            name, column, forged):
    import shutil

    copy = tmp_path / "nov"
    shutil.copytree(two_months / "nov", copy)
    path = copy / "restricted" / name
    pd.read_parquet(path).assign(**{column: forged}).to_parquet(path)
    monkeypatch.setenv("PIPELINE_LEDGER", str(two_months / "ledger.jsonl"))
    code, err = run(capsys, tmp_path, "--previous", str(copy))
    last = err.splitlines()[-1]
    assert code == 1 and last.startswith(f"error: --previous {copy} cannot be trusted: {copy}: output file "
                                          f"restricted/{name} (listed at lineage line ")
    assert last.endswith("has changed since the run (its SHA-256 differs from the lineage's)")
    assert not {"PEMBERTON", "OKONKWO", "1984-04-03"} & set(err.upper().replace(",", " ").split())


@pytest.mark.parametrize(("constant", "name"), [("LINK_RECORDS_FILE", "link_records.parquet"),
                                              ("TOKENS_FILE", "record_tokens.parquet")])
def test_restricted_files_a_previous_run_did_not_write_are_refused(tmp_path, capsys, monkeypatch, constant, name):
    """A run folder whose lineage does not list the file (as an older run's), with one put in."""
    from pipeline.run import stages

    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    with monkeypatch.context() as mp:
        mp.setattr(stages, constant, Path("restricted") / "elsewhere.parquet")
        assert main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "nov"), "--as-of", "2026-11-30"]) == 0
    restricted = tmp_path / "nov" / "restricted"
    (restricted / name).write_bytes((restricted / "elsewhere.parquet").read_bytes())
    code, err = run(capsys, tmp_path, "--previous", str(tmp_path / "nov"))
    assert code == 1 and err.splitlines()[-1] == (
        f"error: --previous {tmp_path / 'nov'}: restricted/{name} is not one the run wrote (its lineage does not "
        "list it)")


