"""Score a month's run against the evolving authority's truth: do people and families keep their keys?

A run's outputs carry pseudonymous keys; the truth carries stable person and household ids. A truth
person's key in a run is the person_key most of their records carry (ties: the smaller key), and a
truth household's key the household_key most of its members' records carry. Counted only for what a
run can see: people with at least one record that month, households with at least one such member.

- persons kept: of the people seen in both months, the share whose key is the same;
- keys reused: keys present in both runs that stand for none of the people they stood for last month;
- households kept: of families seen in both months with the same members at the same address and
  no event this month, the share whose key is the same; and of families that moved, likewise;
- arrivals given a new key: of families that moved into a flat another family left this month, the
  share whose key is not one of the previous run's household keys;
- newly eligible: people of households the run marks `newly_eligible`, against the people of
  households the truth says were not eligible last month and are now (F1).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import pandas as pd


def _read(path: pathlib.Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@dataclass(frozen=True)
class Month:
    """One month's truth folder and the run made on it."""

    truth: pathlib.Path  # <month>/truth
    run: pathlib.Path  # the run's output folder

    def records(self) -> pd.DataFrame:
        """source, source_record_id, person_id, household_id, person_key, household_key per linked record."""
        links = pd.read_parquet(self.run / "record_links.parquet",
                                columns=["source", "source_record_id", "person_key", "household_key"])
        return links.merge(_read(self.truth / "truth.csv"), on=["source", "source_record_id"], how="inner")

    def households(self) -> pd.DataFrame:
        return _read(self.truth / "households.csv")

    def people(self) -> pd.DataFrame:
        return _read(self.truth / "people.csv")

    def events(self) -> pd.DataFrame:
        return _read(self.truth / "events.csv")


def plurality(records: pd.DataFrame, entity: str, key: str) -> pd.Series:
    """entity -> the key most of its records carry (ties go to the smaller key)."""
    counts = records.groupby([entity, key]).size().rename("n").reset_index()
    counts = counts.sort_values([entity, "n", key], ascending=[True, False, True])
    return counts.drop_duplicates(entity).set_index(entity)[key]


def _keys_reused(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Person keys in both runs that now stand for none of the people they stood for last month.

    (A key that named two people merged by mistake last month and one of them now is not reused.)
    """
    pairs_a = set(zip(a["person_key"], a["person_id"], strict=True))
    pairs_b = b[["person_key", "person_id"]].drop_duplicates()
    shared = pairs_b[pairs_b["person_key"].isin(set(a["person_key"]))]
    still = [(k, p) in pairs_a for k, p in zip(shared["person_key"], shared["person_id"], strict=True)]
    kept = set(shared.loc[still, "person_key"])
    return int(shared["person_key"].nunique() - len(kept))


@dataclass(frozen=True)
class Share:
    hits: int
    of: int

    @property
    def rate(self) -> float:
        return self.hits / self.of if self.of else float("nan")

    def __str__(self) -> str:
        return f"{self.rate:.4f} ({self.hits:,} of {self.of:,})"


@dataclass(frozen=True)
class MonthScore:
    persons_kept: Share
    keys_reused: int  # person keys standing for another person than last month
    unchanged_households_kept: Share
    moved_households_kept: Share
    arrivals_new_key: Share
    newly_eligible_precision: float
    newly_eligible_recall: float
    newly_eligible_true: int  # people of truly newly eligible households (with a record this month)

    @property
    def newly_eligible_f1(self) -> float:
        p, r = self.newly_eligible_precision, self.newly_eligible_recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(before: Month, after: Month) -> MonthScore:
    """How `after`'s run carried `before`'s keys, against the truth of both months."""
    a, b = before.records(), after.records()
    pa, pb = plurality(a, "person_id", "person_key"), plurality(b, "person_id", "person_key")
    both = pa.index.intersection(pb.index)
    kept = int((pa[both] == pb[both]).sum())
    reused = _keys_reused(a, b)

    ha, hb = plurality(a, "household_id", "household_key"), plurality(b, "household_id", "household_key")
    events = after.events()
    touched = set(events["household_id"]) | set(events["other_household_id"]) - {""}
    members_a = before.people().groupby("household_id")["person_id"].apply(frozenset)
    members_b = after.people().groupby("household_id")["person_id"].apply(frozenset)
    place_a = before.households().set_index("household_id")["uprn"]
    place_b = after.households().set_index("household_id")["uprn"]
    seen = ha.index.intersection(hb.index)
    unchanged = [h for h in seen if h not in touched and members_a.get(h) == members_b.get(h)
                 and place_a.get(h) == place_b.get(h)]
    moved = [h for h in events.loc[events["event"] == "moved", "household_id"] if h in seen]
    arrived = events.loc[events["event"] == "arrived"]
    arrived = arrived[arrived["to_uprn"].isin(set(place_a)) & arrived["household_id"].isin(hb.index)]
    earlier_keys = set(pd.read_parquet(before.run / "households.parquet", columns=["household_key"])["household_key"])
    fresh = int((~hb[arrived["household_id"]].isin(earlier_keys)).sum())

    # Newly eligible people: the truth's, among people with a record this month, and the run's.
    ea = before.households().set_index("household_id")["eligible"]
    eb = after.households().set_index("household_id")["eligible"]
    common = ea.index.intersection(eb.index)
    newly = set(common[(ea[common] != "1") & (eb[common] == "1")])
    visible = set(b["person_id"])
    people_b = after.people()
    truth_people = set(people_b.loc[people_b["household_id"].isin(newly), "person_id"]) & visible
    changes = pd.read_parquet(after.run / "changes.parquet")
    marked = set(changes.loc[changes["change"] == "newly_eligible", "household_key"])
    run_people = set(b.loc[b["household_key"].isin(marked), "person_id"])
    hit = len(truth_people & run_people)
    return MonthScore(
        persons_kept=Share(kept, len(both)),
        keys_reused=reused,
        unchanged_households_kept=Share(int((ha[unchanged] == hb[unchanged]).sum()), len(unchanged)),
        moved_households_kept=Share(int((ha[moved] == hb[moved]).sum()), len(moved)),
        arrivals_new_key=Share(fresh, len(arrived)),
        newly_eligible_precision=hit / len(run_people) if run_people else 0.0,
        newly_eligible_recall=hit / len(truth_people) if truth_people else 0.0,
        newly_eligible_true=len(truth_people),
    )
