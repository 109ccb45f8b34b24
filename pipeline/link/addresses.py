"""Which address a record is at: the id that households are grouped by and moves are followed with.

Addresses are identified by UPRN where any record gives one (a record without a UPRN borrows the
UPRN that other records at the same parsed address carry), otherwise by the normalised address
including the flat (`address_key`, from `pipeline.link.standardise`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def address_ids(records: pd.DataFrame) -> np.ndarray:
    """Per record: an address id, 'U:<uprn>' or 'A:<address key>', None when unusable."""
    uprn = records["uprn"].astype(object).where(records["uprn"].notna(), None)
    key = records["address_key"].astype(object).where(records["address_key"].notna(), None)
    both = pd.DataFrame({"key": key, "uprn": uprn}).dropna()
    if len(both):
        counts = both.groupby(["key", "uprn"]).size().reset_index(name="n")
        counts = counts.sort_values(["key", "n", "uprn"], ascending=[True, False, True]).drop_duplicates("key")
        borrowed = key.map(dict(zip(counts["key"], counts["uprn"], strict=True)))
    else:
        borrowed = pd.Series(None, index=records.index, dtype=object)
    best = uprn.where(uprn.notna(), borrowed)
    ids = np.where(pd.notna(best), "U:" + best.astype(str), np.where(pd.notna(key), "A:" + key.astype(str), None))
    return ids.astype(object)
