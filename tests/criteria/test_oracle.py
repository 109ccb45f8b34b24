"""The oracle: the rules engine, told who every row truly is, against the generator's own criteria.

Two implementations written apart (the engine reads rule files; synth/criteria_truth.py is plain
pandas written from the criteria's text) must agree on every household of the sample.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.criteria.engine import Membership, score
from pipeline.criteria.rules import load_rule_set
from tests.conftest import SAMPLE

RULE_SETS = ("phase2", "phase1", "supporting_families")


@pytest.mark.parametrize("rule_set", RULE_SETS)
def test_with_the_true_links_scoring_gives_exactly_the_true_criteria_and_eligibility(sample_run, schemas, rule_set):
    """The oracle: the rules engine, told who every row truly is, against the generator's own code."""
    out = sample_run.out
    truth = pd.read_csv(SAMPLE / "truth" / "truth.csv", dtype=str)
    people = pd.read_csv(SAMPLE / "truth" / "people.csv", dtype=str)
    expected = pd.read_csv(SAMPLE / "truth" / "households.csv", dtype={"household_id": str})
    links = truth.rename(columns={"person_id": "person_key", "household_id": "household_key"})
    membership = Membership(links=links, people=pd.DataFrame({"person_key": people["person_id"],
                                                              "dob": pd.to_datetime(people["dob"])}))
    rules = load_rule_set(rule_set, schemas.contracts)
    frames = {s: pd.read_parquet(out / "restricted" / "landed" / f"{s}.parquet") for s in rules.sources}
    got = score(rules, frames, membership, dt.date(2026, 10, 31)).households.set_index("household_key")

    prefix = "" if rule_set == "phase2" else f"{rule_set}."
    expected = expected.set_index("household_id")
    seen = expected.loc[got.index]
    assert len(got) >= 0.99 * len(expected)
    unseen = expected.drop(got.index)[[f"{prefix}{c}" for c in (*rules.problems, "eligible")]]
    assert (unseen.fillna(0) == 0).all().all()  # a household nobody's records show meets nothing
    # Members come from the records: a child in no extract is unknown to any pipeline.
    children, true_children = got["children"].to_numpy(), seen["children"].to_numpy()
    assert (children <= true_children).all() and (children == true_children).mean() > 0.99
    for criterion in rules.criteria:
        want = seen[f"{prefix}{criterion}"].map({1: True, 0: False})
        assert got[criterion].astype(object).where(got[criterion].notna(), None).tolist() == \
            want.astype(object).where(want.notna(), None).tolist(), criterion
    assert got["problems"].tolist() == seen[f"{prefix}problems"].tolist()
    assert got["eligible"].tolist() == seen[f"{prefix}eligible"].astype(bool).tolist()
    assert got["eligible"].sum() >= 2
