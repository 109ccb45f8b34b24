"""Each record's probability of the link that joins it to its person (`link.people`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.link.people import _joining_probability

NO_LINKS = pd.DataFrame({"i": np.array([], dtype=np.int64), "j": np.array([], dtype=np.int64),
                         "p": np.array([], dtype=float)})


def test_records_that_join_no_one_are_each_their_own_person_with_probability_one():
    """A run whose records link to no one (one record, or a few strangers) is scored, not a crash."""
    for n in (1, 3):
        out = _joining_probability(n, np.arange(n), np.arange(n), NO_LINKS)
        assert out.tolist() == [1.0] * n


def test_a_record_joined_by_a_link_carries_that_links_probability():
    links = pd.DataFrame({"i": [0], "j": [1], "p": [0.93]})
    out = _joining_probability(3, np.array([0, 0, 2]), np.arange(3), links)
    assert out.tolist() == pytest.approx([1.0, 0.93, 1.0])
