"""Which candidate pairs teach the model "one person" and "two people" (`people.training_labels`).

One agency token is one person. Two tokens of an agency that holds no duplicates are two people.
Two tokens of an agency that holds duplicates (a patient registered twice) are two people only
when the records are more than one slip apart: the same forename with a mistyped or swapped birth
date is most likely the duplicate, so it teaches nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.model import IDENTITY
from pipeline.link.people import training_labels

SAME, CLOSE, DIFFERENT = 3, 2, 0  # forename levels
BORN_SAME, SWAPPED, ONE_PART, BORN_DIFFERENT = 3, 2, 1, 0  # birth-date levels


def identity(forename: int, birth: int) -> int:
    return forename * (IDENTITY.nb + 1) + birth


def labels(levels: list[int], both: bool = True, same: bool = False, distinct: bool = False) -> list[int]:
    n = len(levels)
    return training_labels(np.full(n, both), np.full(n, same), np.full(n, distinct),
                           pd.DataFrame({"identity": np.array(levels, dtype=np.int8)})).tolist()


def test_one_token_is_one_person_whatever_the_details():
    assert labels([identity(DIFFERENT, BORN_DIFFERENT), identity(SAME, BORN_SAME)], same=True) == [1, 1]


def test_two_tokens_of_an_agency_without_duplicates_are_two_people_whatever_the_details():
    assert labels([identity(SAME, BORN_SAME), identity(SAME, ONE_PART)], distinct=True) == [0, 0]


def test_a_duplicate_registration_one_slip_apart_teaches_nothing():
    slips = [identity(SAME, BORN_SAME), identity(SAME, ONE_PART), identity(SAME, SWAPPED),
             identity(CLOSE, BORN_SAME)]
    assert labels(slips) == [-1, -1, -1, -1]


def test_two_tokens_of_an_agency_with_duplicates_more_than_a_slip_apart_are_two_people():
    assert labels([identity(SAME, BORN_DIFFERENT), identity(CLOSE, ONE_PART), identity(DIFFERENT, BORN_SAME)]) == \
        [0, 0, 0]


def test_records_of_two_agencies_teach_nothing():
    assert labels([identity(SAME, BORN_SAME), identity(DIFFERENT, BORN_DIFFERENT)], both=False) == [-1, -1]
