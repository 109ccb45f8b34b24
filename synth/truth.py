"""Ground truth beside the extracts: who each row really is, households, people, hard cases.

`households_frame` returns a plain DataFrame keyed by household_id so that criteria columns
(crime_asb, education, ... computed on the true data) can be merged onto it before writing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth import dates
from synth.addresses import Dwellings
from synth.names import GROUPS
from synth.population import NO_DATE, ROLES, Population
from synth.sources import Extract


def truth_rows(ex: Extract, pop: Population) -> pd.DataFrame:
    """source, source_record_id, person_id, household_id for every row of one extract."""
    return pd.DataFrame(
        {
            "source": ex.source,
            "source_record_id": ex.frame["source_record_id"].to_numpy(),
            "person_id": pop.person_id[ex.pidx],
            "household_id": pop.hh_id[pop.hh[ex.pidx]],
        }
    )


def hard_case_rows(ex: Extract, pop: Population) -> pd.DataFrame:
    """Rows in which the generator introduced a hard case, one line per (kind, row)."""
    parts = []
    for kind, mask in sorted(ex.flags.items()):
        idx = np.flatnonzero(mask)
        if idx.size:
            parts.append(
                pd.DataFrame(
                    {
                        "kind": kind,
                        "source": ex.source,
                        "source_record_id": ex.frame["source_record_id"].to_numpy()[idx],
                        "person_id": pop.person_id[ex.pidx[idx]],
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["kind", "source", "source_record_id", "person_id"])
    return pd.concat(parts, ignore_index=True)


def households_frame(pop: Population, dw: Dwellings) -> pd.DataFrame:
    """household_id, uprn, postcode, members, children (under 18 at the extract date)."""
    H = pop.n_households
    members = np.bincount(pop.hh, minlength=H)
    children = np.bincount(pop.hh, weights=pop.age_now < 18, minlength=H).astype(int)
    return pd.DataFrame(
        {
            "household_id": pop.hh_id,
            "uprn": dw.uprn[pop.hh_dwelling],
            "postcode": dw.postcode[pop.hh_dwelling],
            "members": members,
            "children": children,
        }
    )


def people_frame(pop: Population) -> pd.DataFrame:
    """Every resident with true names, dob, sex and agency reference numbers (test oracles)."""

    def ref(i: np.ndarray) -> np.ndarray:
        return np.where(i >= 0, pop.person_id[np.maximum(i, 0)], "").astype(object)

    data = {
        "person_id": pop.person_id,
        "household_id": pop.hh_id[pop.hh],
        "role": np.array(ROLES, dtype=object)[pop.role],
        "forename": pop.forename,
        "middle_names": pop.middle_names,
        "surname": pop.surname,
        "birth_surname": pop.birth_surname,
        "dob": dates.format_dates(pop.dob, "iso"),
        "sex": pop.sex,
        "naming_tradition": np.array(GROUPS, dtype=object)[pop.group],
        "twin_of": ref(pop.twin_of),
        "namesake_of": ref(pop.namesake_of),
    }
    for k in sorted(pop.ids):
        data[k] = pop.ids[k]
    return pd.DataFrame(data)


def moves_frame(pop: Population, dw: Dwellings) -> pd.DataFrame:
    """Households that moved in the last two years: when, and the previous address's UPRN."""
    m = pop.hh_moved_on != NO_DATE
    return pd.DataFrame(
        {
            "household_id": pop.hh_id[m],
            "moved_on": dates.format_dates(pop.hh_moved_on[m], "iso"),
            "previous_uprn": dw.uprn[pop.hh_prev_dwelling[m]],
            "previous_in_area": dw.in_area[pop.hh_prev_dwelling[m]].astype(int),
        }
    )
