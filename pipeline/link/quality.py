"""How good a linkage is against a known truth (synthetic data only): the figures tests and benchmarks use.

- cross-source pairwise person precision and recall: over pairs of records from *different*
  sources, "same person" as predicted (same person_key) against the truth (same person_id);
- household co-membership precision, recall and F1: over pairs of true people, "same household"
  as predicted (the household_key most of the person's records carry) against the true household.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class LinkageQuality:
    records: int
    people_true: int
    people_predicted: int
    precision: float
    recall: float
    household_precision: float
    household_recall: float
    households_true: int
    households_predicted: int

    @property
    def household_f1(self) -> float:
        p, r = self.household_precision, self.household_recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(frame: pd.DataFrame, keys: list[str]) -> float:
    sizes = frame.groupby(keys, observed=True).size().to_numpy(dtype=float)
    return float((sizes * (sizes - 1) / 2).sum())


def linkage_quality(links: pd.DataFrame, truth: pd.DataFrame) -> LinkageQuality:
    """`links`: record_links (source, source_record_id, person_key, household_key); `truth`: truth.csv
    (source, source_record_id, person_id, household_id). Every linked row must have a truth row."""
    m = links.astype({"source": str, "source_record_id": str}).merge(
        truth.astype(str), how="left", on=["source", "source_record_id"])
    if m["person_id"].isna().any():
        raise ValueError(f"{int(m['person_id'].isna().sum())} linked rows have no truth row")
    tp = _pairs(m, ["person_key", "person_id"]) - _pairs(m, ["person_key", "person_id", "source"])
    predicted = _pairs(m, ["person_key"]) - _pairs(m, ["person_key", "source"])
    actual = _pairs(m, ["person_id"]) - _pairs(m, ["person_id", "source"])
    # Each true person's predicted household: the one most of their records carry.
    votes = m.groupby(["person_id", "household_key"]).size().reset_index(name="n")
    votes = votes.sort_values(["person_id", "n", "household_key"], ascending=[True, False, True])
    people = votes.drop_duplicates("person_id").rename(columns={"household_key": "h"})
    people["t"] = people["person_id"].map(m.drop_duplicates("person_id").set_index("person_id")["household_id"])
    htp, hpred, hact = _pairs(people, ["h", "t"]), _pairs(people, ["h"]), _pairs(people, ["t"])
    return LinkageQuality(
        records=len(m), people_true=m["person_id"].nunique(), people_predicted=m["person_key"].nunique(),
        precision=tp / predicted if predicted else 1.0, recall=tp / actual if actual else 1.0,
        household_precision=htp / hpred if hpred else 1.0, household_recall=htp / hact if hact else 1.0,
        households_true=people["t"].nunique(), households_predicted=m["household_key"].nunique())
