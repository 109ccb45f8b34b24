"""evidence.parquet and households.parquet on the sample: each fact stated once per person, named by its
indicator, with all its rows; each household with the rule set and the as-of date it was scored under."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq

from pipeline.criteria.rules import load_rule_set
from tests.support import lineage


def evidence_of(run) -> pd.DataFrame:
    return pd.read_parquet(run.out / "evidence.parquet")


def test_no_fact_is_stated_twice_for_one_person_and_criterion(sample_run):
    evidence = evidence_of(sample_run)
    assert not evidence.duplicated(["person_key", "criterion", "detail"]).any()
    totals = evidence[evidence["indicator"] == "absence_10pct"]
    assert len(totals) > 10 and (totals["source_record_ids"].map(len) > 1).mean() > 0.5  # three terms, one row


def test_each_fact_names_every_source_row_it_rests_on_and_they_are_its_persons(sample_run):
    evidence = evidence_of(sample_run)
    links = pd.read_parquet(sample_run.out / "record_links.parquet").set_index(["source", "source_record_id"])
    rows = evidence.explode("source_record_ids")
    owner = links.loc[list(zip(rows["source"], rows["source_record_ids"], strict=True)), "person_key"]
    assert (owner.to_numpy() == rows["person_key"].to_numpy()).all()
    assert all(e.source_record_id == min(e.source_record_ids) for e in evidence.itertuples())


def test_the_indicator_is_one_of_the_rules_its_criterion_is_met_by(sample_run, schemas):
    evidence = evidence_of(sample_run)
    rule_set = pd.read_parquet(sample_run.out / "households.parquet")["rule_set"].iloc[0]
    rules = load_rule_set(rule_set, schemas.contracts)
    allowed = {(c, i.name) for c, criterion in rules.criteria.items() for i in criterion.met_by}
    assert set(zip(evidence["criterion"], evidence["indicator"], strict=True)) <= allowed
    assert evidence["indicator"].nunique() > 5


def test_households_say_the_rule_set_and_the_as_of_date_they_were_scored_under(sample_run):
    households = pd.read_parquet(sample_run.out / "households.parquet")
    as_of = dt.date.fromisoformat(lineage(sample_run.out)[0]["parameters"]["as_of"])
    assert set(households["as_of"]) == {as_of} and set(households["rule_set"]) == {"supporting_families"}
    assert str(pq.read_schema(sample_run.out / "households.parquet").field("as_of").type) == "date32[day]"
