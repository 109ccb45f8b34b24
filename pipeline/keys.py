"""The pseudonymisation key, and keyed person and household keys made with it.

Person and household keys are HMAC-SHA256 digests, so they are the same in every run given the
same key (a caseworker can follow a family from one month to the next) but cannot be recomputed
or reversed by anyone without the key. The key never lives in the repository or in code: it
comes from `PIPELINE_KEY` (the key itself) or `PIPELINE_KEY_FILE` (a file holding it), and a
key file inside the project folder is refused, since that folder is what gets shared and
committed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config.files import PROJECT

MIN_KEY_BYTES = 16
MIN_DISTINCT_BYTES = 8  # a hex secret of 16+ characters has about 10 distinct; "aaaa..." or spaces have 1
DEFAULT_KEY_FILE = Path(".config") / "supporting-families" / "pipeline.key"  # under the home folder
KEY_HEX_CHARS = 20  # 80 bits: no collision among millions of people


class MissingKey(Exception):
    """No usable key; the message says how to provide one."""


def default_key_file(environ: dict[str, str] | None = None) -> Path:
    """Where `make run` creates the key, and where a run looks when no variable names one."""
    env = os.environ if environ is None else environ
    return Path(env.get("HOME") or Path.home()) / DEFAULT_KEY_FILE


def load_key(environ: dict[str, str] | None = None) -> bytes:
    """The key from PIPELINE_KEY, PIPELINE_KEY_FILE, or the default key file; a clear error otherwise.

    The default file is the one `make run` creates, so the README's direct commands work after it.
    """
    env = os.environ if environ is None else environ
    if env.get("PIPELINE_KEY"):
        key = env["PIPELINE_KEY"].strip().encode("utf-8")
        origin = "PIPELINE_KEY"
    elif env.get("PIPELINE_KEY_FILE") or default_key_file(env).is_file():
        named = env.get("PIPELINE_KEY_FILE")
        path = Path(named).expanduser().resolve() if named else default_key_file(env)
        what = "PIPELINE_KEY_FILE" if named else "the default key file"
        if path == PROJECT or PROJECT in path.parents:
            raise MissingKey(f"{what} {path} is inside the project folder; keep the key outside it")
        try:
            key = path.read_bytes().strip()
            mode = path.stat().st_mode
        except OSError as exc:
            raise MissingKey(f"{what} {path} could not be read: {exc.strerror}") from None
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise MissingKey(f"{what} {path} can be changed by other accounts (mode {stat.filemode(mode)}): whoever "
                             f"changes the key changes every person's key; chmod 600 {path}")
        origin = f"{what} {path}"
    else:
        raise MissingKey(f"no pseudonymisation key: set PIPELINE_KEY_FILE to a file outside the project holding a "
                         f"random secret, or run make run once, which creates {default_key_file(env)}")
    if len(key) < MIN_KEY_BYTES:
        raise MissingKey(f"{origin}: the key is shorter than {MIN_KEY_BYTES} bytes")
    if len(set(key)) < MIN_DISTINCT_BYTES or _repeating(key):
        raise MissingKey(f"{origin}: the key is too regular to be a secret (fewer than {MIN_DISTINCT_BYTES} "
                         "different characters, or one short run repeated); use a random one, e.g. "
                         "python3 -c 'import secrets; print(secrets.token_hex(32))'")
    return key


def _repeating(key: bytes) -> bool:
    """Whether the key is one run of at most half its length, repeated ('abcabcabc...')."""
    return any(key == (key[:period] * (len(key) // period + 1))[:len(key)] for period in range(1, len(key) // 2 + 1))


def key_warnings(environ: dict[str, str] | None = None) -> list[str]:
    """What to warn of about the key file: readable by other accounts (a run goes on; the fix is named)."""
    env = os.environ if environ is None else environ
    if env.get("PIPELINE_KEY"):
        return []
    named = env.get("PIPELINE_KEY_FILE")
    path = Path(named).expanduser().resolve() if named else default_key_file(env)
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return [f"the key file {path} is readable by other accounts (mode {stat.filemode(mode)}): anyone who reads "
                f"it can recompute every person's key; chmod 600 {path}"]
    return []


def keyed(key: bytes, kind: str, values: list[str] | np.ndarray, prefix: str) -> np.ndarray:
    """prefix + the first hex characters of HMAC-SHA256(key, kind \\x1f value), per value.

    `kind` separates the spaces (a person's key can never equal a household's).
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object)).astype(str))
    base = hmac.new(key, f"{kind}\x1f".encode(), hashlib.sha256)  # HMAC is streaming: key and kind once
    digests = []
    for value in uniques:
        h = base.copy()
        h.update(value.encode())
        digests.append(prefix + h.hexdigest()[:KEY_HEX_CHARS])
    return np.asarray(digests, dtype=object)[codes] if len(codes) else np.asarray([], dtype=object)


def key_fingerprint(key: bytes) -> str:
    """A name for the key that reveals nothing of it: which key a run used, so a later run can tell.

    Keys of two runs can only be compared when both runs used the same key; a run given its
    predecessor (`--previous`) checks this first.
    """
    return str(keyed(key, "key-fingerprint", ["fingerprint"], "K")[0])
