"""Set membership by hashing gives np.isin's answer, element for element, whichever side is larger."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.link.membership import is_in


@pytest.mark.parametrize(("n_values", "n_among"), [(10_000, 300), (300, 10_000), (5_000, 5_000), (1, 1)])
def test_the_answer_is_np_isins(n_values, n_among):
    rng = np.random.default_rng(n_values + n_among)
    values = rng.integers(0, 20_000, n_values)
    among = rng.integers(0, 20_000, n_among)
    assert is_in(values, among).tolist() == np.isin(values, among).tolist()


def test_keys_repeated_on_either_side_are_answered_for_each_element():
    assert is_in(np.array([3, 3, 4, 5]), np.array([3, 3, 3, 3, 3, 3, 5])).tolist() == [True, True, False, True]


def test_nothing_is_among_an_empty_set_and_an_empty_question_has_an_empty_answer():
    assert is_in(np.array([1, 2]), np.array([], dtype=np.int64)).tolist() == [False, False]
    assert is_in(np.array([], dtype=np.int64), np.array([1, 2])).tolist() == []
