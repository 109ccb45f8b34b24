"""Within-agency identity: what an agency's own person token says about its records.

Rows that share an agency's person token (`nhs_number_token`, `upn_token`, ...) are one
person to that agency: linkage starts from those groups, never splits them, and they are
free "same person" labels for training. Two different tokens of one agency are strong
evidence of two people (twins have two NHS numbers), which is what stops a model from
learning "same household" instead of "same person". Some agencies hold duplicates (a patient
registered twice), so it is evidence, not a rule, except for agencies shown not to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def token_groups(records: pd.DataFrame) -> np.ndarray:
    """A group number per record: records of one source sharing a person token share it.

    Records without a token are groups of one. Numbers follow first appearance, so the same
    records in the same order give the same groups.
    """
    source = records["source"].astype(str).to_numpy()
    token = records["person_token"].fillna("").astype(str).to_numpy()  # "" = no token
    keys = np.where(token == "", None, np.char.add(np.char.add(source, "\x1f"), token).astype(object))
    labels, _ = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    singles = labels < 0
    labels = labels.astype(np.int64)
    labels[singles] = labels.max(initial=-1) + 1 + np.arange(int(singles.sum()))
    return labels


def token_agreement(pairs: pd.DataFrame, records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate pair, as booleans: (both records of one agency with a token, and that token is the same).

    Compared as integer codes (one factorisation per run), not as strings per pair: millions of pairs."""
    source, _ = pd.factorize(records["source"].astype(str), use_na_sentinel=True)
    token = records["person_token"].astype(object)
    token, _ = pd.factorize(token.where(token.notna() & (token.astype(str) != ""), None), use_na_sentinel=True)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    ti, tj = token[i], token[j]
    both = (source[i] == source[j]) & (ti >= 0) & (tj >= 0)  # -1: no token
    return both, both & (ti == tj)


def from_agency_without_duplicates(source: np.ndarray, rows: np.ndarray, sources: list[str]) -> np.ndarray:
    """Per row position in `rows` (a pair's first record, say): is its source (`source`: per record)
    one of the agencies that hold no duplicates (`identity.distinct_tokens`)?

    Judged once per record and read per pair: a county has tens of millions of pairs and a handful of
    sources, and the strings of each pair's source never need to exist."""
    return np.isin(source, sources)[rows]


def token_relation(pairs: pd.DataFrame, records: pd.DataFrame) -> pd.Series:
    """Per candidate pair: 'same' (one agency, one token), 'different' (one agency, two tokens),
    or 'unknown' (different agencies, or a token missing)."""
    both, same = token_agreement(pairs, records)
    out = np.full(len(pairs), "unknown", dtype=object)
    out[both] = "different"
    out[same] = "same"
    return pd.Series(out, index=pairs.index, dtype="string")


def token_reliability(records: pd.DataFrame, person: np.ndarray) -> pd.DataFrame:
    """Per source, measured against truth: does one token mean one person, two tokens two people?

    `tokens_per_person` above 1 means the agency holds duplicates (one person, several tokens);
    `people_per_token` above 1 would mean a token shared by people (never expected).
    """
    frame = pd.DataFrame({"source": records["source"].astype(str), "token": records["person_token"].astype(object),
                          "person": person}).dropna(subset=["token"])
    rows = []
    for source, group in frame.groupby("source", sort=True):
        people = group.groupby("person")["token"].nunique()
        tokens = group.groupby("token")["person"].nunique()
        rows.append({"source": source, "records": len(group), "people": len(people),
                     "people_with_several_tokens": int((people > 1).sum()),
                     "tokens_with_several_people": int((tokens > 1).sum())})
    return pd.DataFrame(rows)
