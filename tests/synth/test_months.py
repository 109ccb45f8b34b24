"""`synth --months`: one evolving authority, month by month, with records that persist and truth that lasts."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest

from pipeline.cli import main
from synth.config import SynthConfig
from synth.months import MonthRates, generate_months, month_ends

LAGGED = MonthRates(move=0.06, leave=0.03, arrive=1.0, birth=0.08, split=0.06, join=0.05)


def read(folder, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    out = tmp_path_factory.mktemp("months")
    generate_months(300, 5, out, 3, first_extract_date=dt.date(2026, 11, 30), config=SynthConfig(vacancy=0.15),
                    rates=LAGGED)
    return out


def extract(authority, month: int, source: str) -> pd.DataFrame:
    return read(authority / f"month-{month:02d}" / "extracts", f"{source}.csv")


def truth(authority, month: int, name: str) -> pd.DataFrame:
    return read(authority / f"month-{month:02d}" / "truth", name)


def test_months_end_at_month_ends_and_every_row_carries_its_months_extract_date(authority):
    assert month_ends(dt.date(2026, 11, 30), 3) == [dt.date(2026, 11, 30), dt.date(2026, 12, 31),
                                                    dt.date(2027, 1, 31)]
    assert set(extract(authority, 3, "health")["extract_date"]) == {"2027-01-31"}


def test_the_same_seed_writes_the_same_months_byte_for_byte(authority, tmp_path):
    generate_months(300, 5, tmp_path, 3, first_extract_date=dt.date(2026, 11, 30), config=SynthConfig(vacancy=0.15),
                    rates=LAGGED)
    digest = lambda root: {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
                           for p in sorted(root.rglob("*.csv"))}
    assert digest(tmp_path) == digest(authority)


def test_a_record_that_persists_keeps_its_id_its_token_and_its_true_person(authority):
    for source, token in (("health", "nhs_number_token"), ("schools", "upn_token"), ("police", "nominal_token")):
        a, b = extract(authority, 1, source), extract(authority, 2, source)
        both = a.merge(b, on="source_record_id", suffixes=("_a", "_b"))
        assert len(both) > 0.9 * len(a)
        assert (both[f"{token}_a"] == both[f"{token}_b"]).all()
    ta, tb = truth(authority, 1, "truth.csv"), truth(authority, 2, "truth.csv")
    same = ta.merge(tb, on=["source", "source_record_id"], suffixes=("_a", "_b"))
    assert (same["person_id_a"] == same["person_id_b"]).all()


def test_a_moved_family_is_listed_at_its_new_address_by_each_agency_after_its_own_lag(authority):
    moved = truth(authority, 2, "events.csv").query("event == 'moved'")
    assert len(moved) >= 5
    rows = truth(authority, 3, "truth.csv")
    benefits = [extract(authority, m, "benefits").set_index("source_record_id") for m in (2, 3)]
    updated_now = updated_later = 0
    for family, to_uprn in moved[["household_id", "to_uprn"]].itertuples(index=False):
        ids = rows.loc[(rows["source"] == "benefits") & (rows["household_id"] == family), "source_record_id"]
        for rid in ids:
            if rid in benefits[0].index and rid in benefits[1].index:
                updated_now += benefits[0].loc[rid, "uprn"] in (to_uprn, "")
                updated_later += benefits[1].loc[rid, "uprn"] in (to_uprn, "")
    assert 0 < updated_now < updated_later  # some agencies take a month longer, and then catch up
    # Police events keep the address where they happened: a persisting police row never changes.
    a, b = extract(authority, 1, "police"), extract(authority, 3, "police")
    both = a.merge(b, on="source_record_id", suffixes=("_a", "_b"))
    assert (both["address_a"] == both["address_b"]).all()


def test_a_new_family_arrives_in_a_flat_vacated_that_month_with_record_ids_never_used_before(authority):
    events = truth(authority, 2, "events.csv")
    vacated = set(events.loc[events["event"].isin(["left_area", "moved", "joined"]), "from_uprn"])
    arrived = events.query("event == 'arrived'")
    assert len(arrived) and set(arrived["to_uprn"]) <= vacated
    earlier = set(truth(authority, 1, "truth.csv")["source_record_id"])
    rows = truth(authority, 2, "truth.csv")
    theirs = rows[rows["household_id"].isin(set(arrived["household_id"]))]
    assert len(theirs) and not set(theirs["source_record_id"]) & earlier
    assert not set(theirs["person_id"]) & set(truth(authority, 1, "people.csv")["person_id"])


def test_a_baby_is_born_into_a_household_and_registered_with_a_gp_at_the_familys_address(authority):
    births = truth(authority, 2, "events.csv").query("event == 'birth'")
    people = truth(authority, 3, "people.csv").set_index("person_id")
    homes = truth(authority, 3, "households.csv").set_index("household_id")["postcode"]
    rows = truth(authority, 3, "truth.csv").query("source == 'health'")
    health = extract(authority, 3, "health").set_index("source_record_id")
    registered = 0
    for family, baby in births[["household_id", "person_id"]].itertuples(index=False):
        assert people.loc[baby, "household_id"] == family and people.loc[baby, "dob"] >= "2026-12-01"
        for rid in rows.loc[rows["person_id"] == baby, "source_record_id"]:
            registered += 1
            assert health.loc[rid, "postcode"].replace(" ", "").upper() in (homes[family].replace(" ", ""), "")
    assert registered


def test_a_partner_who_leaves_gets_a_household_of_their_own_and_the_couples_joint_claim_ends(authority):
    splits = truth(authority, 2, "events.csv").query("event == 'split'")
    assert len(splits)
    people = truth(authority, 2, "people.csv").set_index("person_id")
    benefits = extract(authority, 2, "benefits")
    rows = truth(authority, 2, "truth.csv").query("source == 'benefits'").set_index("source_record_id")["person_id"]
    benefits["person"] = benefits["source_record_id"].map(rows)
    for partner, new_home in splits[["person_id", "other_household_id"]].itertuples(index=False):
        assert people.loc[partner, "household_id"] == new_home
        open_claims = benefits[(benefits["claim_end"] == "") & (benefits["person"] == partner)]
        for token in open_claims["claim_token"]:  # no open claim shared with the household they left
            assert set(benefits.loc[benefits["claim_token"] == token, "person"]) == {partner}


def test_a_new_term_brings_new_school_rows_and_the_oldest_term_drops_out(authority):
    terms = lambda m: set(extract(authority, m, "schools")[["academic_year", "term"]].itertuples(  # noqa: E731
        index=False, name=None))
    assert ("2026/27", "SPRING") not in terms(2) and ("2026/27", "SPRING") in terms(3)
    assert ("2025/26", "SPRING") in terms(2) and ("2025/26", "SPRING") not in terms(3)
    # Within a term, sessions accrue on the same rows.
    a, b = extract(authority, 1, "schools"), extract(authority, 2, "schools")
    autumn = a.query("academic_year == '2026/27' and term == 'AUTUMN'").merge(b, on="source_record_id")
    assert (autumn["sessions_possible_y"].astype(int) >= autumn["sessions_possible_x"].astype(int)).all()
    assert (autumn["sessions_possible_y"].astype(int) > autumn["sessions_possible_x"].astype(int)).mean() > 0.9


def test_the_command_line_writes_one_folder_per_month(tmp_path, capsys):
    assert main(["synth", "--households", "40", "--seed", "3", "--months", "2", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["month-01", "month-02"]
    assert (tmp_path / "month-02" / "truth" / "events.csv").is_file()
    assert "Month 2 (2026-11-30)" in capsys.readouterr().out
