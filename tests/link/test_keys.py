"""Keyed person and household keys: stable for one key, different under another, never the raw value."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

from pipeline.keys import KEY_HEX_CHARS, keyed

KEY = b"k" * 32


def test_a_key_is_the_hmac_of_kind_and_value_under_the_secret():
    expected = "P" + hmac.new(KEY, b"person\x1fabc", hashlib.sha256).hexdigest()[:KEY_HEX_CHARS]
    assert keyed(KEY, "person", ["abc"], "P").tolist() == [expected]


def test_repeated_values_get_one_key_and_order_is_kept():
    out = keyed(KEY, "household", np.array(["b", "a", "b", "c"], dtype=object), "H")
    assert out[0] == out[2] and len(set(out)) == 3
    assert out[1] == keyed(KEY, "household", ["a"], "H")[0]


def test_kinds_and_keys_separate_the_spaces():
    assert keyed(KEY, "person", ["x"], "P")[0] != keyed(KEY, "household", ["x"], "P")[0]
    assert keyed(KEY, "person", ["x"], "P")[0] != keyed(b"j" * 32, "person", ["x"], "P")[0]


def test_no_values_give_no_keys():
    assert len(keyed(KEY, "person", [], "P")) == 0
