"""Keyed person and household keys: stable for one key, different under another, never the raw value."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import numpy as np
import pytest

from pipeline.keys import KEY_HEX_CHARS, keyed

KEY = secrets.token_bytes(32)  # a fresh random secret per test session, never one written in code


def test_a_key_is_the_hmac_of_kind_and_value_under_the_secret():
    expected = "P" + hmac.new(KEY, b"person\x1fabc", hashlib.sha256).hexdigest()[:KEY_HEX_CHARS]
    assert keyed(KEY, "person", ["abc"], "P").tolist() == [expected]


def test_repeated_values_get_one_key_and_order_is_kept():
    out = keyed(KEY, "household", np.array(["b", "a", "b", "c"], dtype=object), "H")
    assert out[0] == out[2] and len(set(out)) == 3
    assert out[1] == keyed(KEY, "household", ["a"], "H")[0]


def test_kinds_and_keys_separate_the_spaces():
    assert keyed(KEY, "person", ["x"], "P")[0] != keyed(KEY, "household", ["x"], "P")[0]
    assert keyed(KEY, "person", ["x"], "P")[0] != keyed(secrets.token_bytes(32), "person", ["x"], "P")[0]


def test_no_values_give_no_keys():
    assert len(keyed(KEY, "person", [], "P")) == 0


def test_the_key_comes_from_the_variable_then_the_named_file_then_the_default_file(tmp_path):
    from pipeline.keys import DEFAULT_KEY_FILE, load_key

    home = tmp_path / "home"
    default = home / DEFAULT_KEY_FILE
    default.parent.mkdir(parents=True)
    a, b, c = (secrets.token_hex(16) for _ in range(3))
    default.write_text(a + "\n")
    named = tmp_path / "named.key"
    named.write_text(b)
    assert load_key({"HOME": str(home)}) == a.encode()  # after make run, the direct commands work too
    assert load_key({"HOME": str(home), "PIPELINE_KEY_FILE": str(named)}) == b.encode()
    assert load_key({"HOME": str(home), "PIPELINE_KEY_FILE": str(named), "PIPELINE_KEY": c}) == c.encode()


def test_no_key_anywhere_says_how_to_make_one(tmp_path):
    from pipeline.keys import MissingKey, load_key

    with pytest.raises(MissingKey, match=r"set PIPELINE_KEY_FILE .* or run make run once, which creates .*\.key"):
        load_key({"HOME": str(tmp_path)})


def test_a_short_key_or_one_inside_the_project_is_refused(tmp_path):
    from pipeline.keys import PROJECT, MissingKey, load_key

    with pytest.raises(MissingKey, match="shorter than 16 bytes"):
        load_key({"HOME": str(tmp_path), "PIPELINE_KEY": "short"})
    with pytest.raises(MissingKey, match="inside the project folder"):
        load_key({"HOME": str(tmp_path), "PIPELINE_KEY_FILE": str(PROJECT / "pipeline.key")})


@pytest.mark.parametrize("key", [" " * 20, "a" * 40, "abcabcabcabcabcabcabc", "0101010101010101", "1234567812345678"])
def test_a_blank_or_regular_key_is_refused(tmp_path, key):
    from pipeline.keys import MissingKey, load_key

    with pytest.raises(MissingKey):
        load_key({"HOME": str(tmp_path), "PIPELINE_KEY": key})


def test_a_key_file_other_accounts_can_change_is_refused_and_one_they_can_read_is_warned_of(tmp_path):
    from pipeline.keys import MissingKey, key_warnings, load_key

    path = tmp_path / "pipeline.key"
    path.write_text(secrets.token_hex(32), encoding="utf-8")
    env = {"HOME": str(tmp_path), "PIPELINE_KEY_FILE": str(path)}
    path.chmod(0o600)
    assert load_key(env) and key_warnings(env) == []
    path.chmod(0o644)
    assert load_key(env) and key_warnings(env) == [
        f"the key file {path} is readable by other accounts (mode -rw-r--r--): anyone who reads it can recompute "
        f"every person's key; chmod 600 {path}"]
    for mode in (0o620, 0o602):
        path.chmod(mode)
        with pytest.raises(MissingKey, match=r"can be changed by other accounts .*chmod 600"):
            load_key(env)
