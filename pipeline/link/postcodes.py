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

import pandas as pd

from pipeline.link.standardise import STRING, address_key, standardise_postcode

BORROWED = "postcode_borrowed"
PLACE = ["flat", "house_number", "street"]


def borrow_postcodes(records: pd.DataFrame) -> pd.DataFrame:
    """`records` (any unique index) with, on each record that borrows a postcode, the postcode,
    district, sector and address key it gives, and a boolean column `postcode_borrowed` (True exactly
    there)."""
    place = pd.DataFrame({c: records[c].astype(STRING) for c in PLACE}, index=records.index)
    place["flat"] = place["flat"].fillna("")  # a missing flat is a flat of its own: it meets only a missing flat
    own = records["postcode"].astype(STRING)
    placed = (place["house_number"].notna() & place["street"].notna()).to_numpy(dtype=bool)
    given = own.notna().to_numpy(dtype=bool)
    lenders = place[placed & given].assign(postcode=own[placed & given]).drop_duplicates()
    lenders = lenders[~lenders.duplicated(PLACE, keep=False)]  # exactly one postcode at the address
    asking = place[placed & ~given]
    lent = asking.merge(lenders, on=PLACE, how="left")["postcode"].set_axis(asking.index).dropna()

    out = records.copy(deep=False)  # whole columns are replaced below, never written into
    borrowed = records.index.isin(lent.index)
    out[BORROWED] = borrowed
    if not len(lent):
        return out
    postcodes = standardise_postcode(lent)
    rows = records.loc[borrowed]
    postcodes["address_key"] = address_key(rows["flat"], rows["house_number"], rows["street"],
                                           postcodes["postcode"])
    for column in postcodes.columns:
        out[column] = records[column].astype(STRING).mask(borrowed, postcodes[column])
    return out
