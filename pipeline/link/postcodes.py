"""A postcode for a record without one, borrowed from the other records at its parsed address.

Some agencies send rows without a postcode (some GP registrations). Without one a record has no
`address_key` ("12 HIGH STREET" alone names a house in many towns: `pipeline.link.standardise`), so
it cannot meet its family's records by address and falls to clerical review or to a household of
one, although another record at the same flat, house number and street gives the postcode.

So a record without a postcode borrows the postcode of the records at its parsed address (flat,
house number and street; a missing flat matches only a missing flat) when they give exactly one.
Two or more is one street name in several towns: nothing is borrowed, since a wrong address joins
strangers. A record's own postcode is never replaced, and a record without a house number and a
street borrows nothing. A borrowed postcode gives the district, sector and address key exactly as
the record's own would (`standardise_postcode`, `address_key`); `postcode_borrowed` says which
records borrowed one.

The records of every source are passed together (`pipeline.link.stage.link_sources`): the postcode
is mostly lent by another agency's record. What is borrowed depends on the set of records, never on
their order; lenders are records with their own postcode, so nothing is borrowed from a borrower.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.standardise import STRING, address_key, standardise_postcode

BORROWED = "postcode_borrowed"
PLACE = ["flat", "house_number", "street"]


def borrow_postcodes(records: pd.DataFrame) -> pd.DataFrame:
    """`records` with, on each record that borrows a postcode, the postcode, district, sector and
    address key it gives, and a boolean column `postcode_borrowed` (True exactly there)."""
    place = _place_codes(records)  # -1: no house number or no street
    postcode, postcodes = pd.factorize(records["postcode"].astype(STRING), use_na_sentinel=True)
    given = (place >= 0) & (postcode >= 0)
    lenders = pd.DataFrame({"place": place[given], "postcode": postcode[given]}).drop_duplicates()
    lenders = lenders.drop_duplicates("place", keep=False)  # exactly one postcode at the address
    asking = np.flatnonzero((place >= 0) & (postcode < 0))
    lent = pd.Series(lenders["postcode"].to_numpy(), index=lenders["place"].to_numpy()).reindex(place[asking])
    rows = asking[lent.notna().to_numpy()]

    out = records.copy(deep=False)  # whole columns are replaced below, never written into
    borrowed = np.zeros(len(records), dtype=bool)
    borrowed[rows] = True
    out[BORROWED] = borrowed
    if not len(rows):
        return out
    taken = records.iloc[rows]
    found = standardise_postcode(pd.Series(postcodes.take(lent.dropna().to_numpy(dtype=np.int64)),
                                           index=taken.index, dtype=STRING))
    found["address_key"] = address_key(taken["flat"], taken["house_number"], taken["street"], found["postcode"])
    which = np.full(len(records), -1)  # per record, its row of `found` (-1: none)
    which[rows] = np.arange(len(rows))
    for column in found.columns:
        lent_here = found[column].astype(STRING).array.take(which, allow_fill=True)
        out[column] = records[column].astype(STRING).mask(borrowed, lent_here)
    return out


def _place_codes(records: pd.DataFrame) -> np.ndarray:
    """Per record, a number for its (flat, house number, street), equal exactly when all three are
    (a missing flat equal only to a missing flat); -1 without a house number or a street."""
    code = np.zeros(len(records), dtype=np.int64)
    unplaced = np.zeros(len(records), dtype=bool)
    for column in PLACE:
        values, uniques = pd.factorize(records[column].astype(STRING), use_na_sentinel=True)
        code, _ = pd.factorize(code * (len(uniques) + 1) + values + 1)  # stays below rows x distinct values
        if column != "flat":
            unplaced |= values < 0
    return np.where(unplaced, -1, code)
