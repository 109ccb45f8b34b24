"""Within-agency identity (issue 3): an agency's own token groups its records into people."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.identity import token_groups, token_relation, token_reliability

T1, T2 = "a" * 64, "b" * 64


def frame(rows: list[tuple[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame({"source": [s for s, _ in rows],
                         "person_token": pd.array([t for _, t in rows], dtype="string[pyarrow]")})


def test_rows_sharing_an_agencys_token_are_one_group_and_tokenless_rows_stand_alone():
    records = frame([("schools", T1), ("schools", T1), ("schools", T2), ("health", T1), ("police", None),
                     ("police", None)])
    groups = token_groups(records)
    assert groups[0] == groups[1]
    assert len({groups[0], groups[2], groups[3], groups[4], groups[5]}) == 5  # same token, other agency: apart


def test_token_groups_are_deterministic():
    records = frame([("health", T2), ("health", None), ("health", T1), ("health", T2)])
    assert token_groups(records).tolist() == token_groups(records.copy()).tolist() == [0, 2, 1, 0]


def test_two_tokens_of_one_agency_mark_a_pair_as_different_people():
    records = frame([("schools", T1), ("schools", T2), ("schools", T1), ("health", T2), ("schools", None)])
    pairs = pd.DataFrame({"i": [0, 0, 1, 0], "j": [1, 2, 3, 4]})
    assert token_relation(pairs, records).tolist() == ["different", "same", "unknown", "unknown"]


def test_reliability_shows_an_agency_that_holds_duplicates():
    records = frame([("health", T1), ("health", T2), ("schools", T1), ("schools", T1)])
    person = np.array(["p1", "p1", "p1", "p1"])  # health registered p1 twice
    table = token_reliability(records, person).set_index("source")
    assert table.loc["health", "people_with_several_tokens"] == 1
    assert table.loc["schools", "people_with_several_tokens"] == 0
    assert (table["tokens_with_several_people"] == 0).all()
