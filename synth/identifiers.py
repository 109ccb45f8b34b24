"""Agency reference numbers (NHS, NI, UPN, police nominal, claim, child id) and their tokens.

Agencies never send their reference numbers: they send HMAC-SHA256 tokens of the normalised
identifier under the partnership's shared secret. For synthetic data the secret is derived from
the seed, so a run is reproducible and a test can recompute any token.
"""

from __future__ import annotations

import hmac

import numpy as np
import pandas as pd

from synth.randomness import stage_rng

_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
# NI prefixes: first letter not D F I Q U V, second not D F I O Q U V, some pairs never issued.
_NI_FIRST = [c for c in "ABCEGHJKLMNOPRSTWXYZ"]
_NI_SECOND = [c for c in "ABCEGHJKLMNPRSTWXYZ"]
_NI_BAD = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}
NI_PREFIXES = np.array([a + b for a in _NI_FIRST for b in _NI_SECOND if a + b not in _NI_BAD])


def token_key(seed: int) -> bytes:
    """The synthetic partnership's shared secret: 32 bytes from the seed's own random stream.

    Synthetic only, and made from the seed so that the same seed gives the same files (tests
    recompute tokens from it). No secret is written in the code; the pipeline itself never sees
    an agency's secret, only the tokens, and its own pseudonymisation key comes from the
    environment or a key file outside the repository.
    """
    return stage_rng(seed, "partnership secret").bytes(32)


def normalise_identifier(value: str) -> str:
    """Agencies tokenise the identifier upper-cased with spaces removed."""
    return "".join(str(value).split()).upper()


def tokens(values: np.ndarray, key: bytes) -> np.ndarray:
    """64-character lowercase hex HMAC-SHA256 tokens; each distinct identifier hashed once."""
    values = np.asarray(values, dtype=object)
    if values.size == 0:
        return np.array([], dtype=object)
    uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    digest = hmac.digest
    out = np.array(
        [digest(key, normalise_identifier(v).encode("ascii"), "sha256").hex() for v in uniq],
        dtype=object,
    )
    return out[inverse]


def unique_ints(rng: np.random.Generator, low: int, high: int, size: int) -> np.ndarray:
    """`size` distinct random integers in [low, high), in random order."""
    if size > high - low:
        raise ValueError("range too small for the number of unique values requested")
    out = np.unique(rng.integers(low, high, size=int(size * 1.05) + 16))
    while out.size < size:
        out = np.unique(np.concatenate([out, rng.integers(low, high, size=size)]))
    out = rng.permutation(out)[:size]
    return out


def nhs_numbers(rng: np.random.Generator, size: int) -> np.ndarray:
    """Ten-digit NHS numbers with a valid modulus-11 check digit (as strings like '4857773456')."""
    out: list[np.ndarray] = []
    need = size
    used = np.array([], dtype="int64")
    while need > 0:
        base = unique_ints(rng, 400_000_000, 999_999_999, int(need * 1.15) + 16)
        base = np.setdiff1d(base, used, assume_unique=False)
        base = rng.permutation(base)
        digits = (base[:, None] // (10 ** np.arange(8, -1, -1))) % 10
        total = (digits * np.arange(10, 1, -1)).sum(axis=1)
        check = 11 - total % 11
        check = np.where(check == 11, 0, check)
        ok = check != 10
        good = base[ok][:need] * 10 + check[ok][:need]
        used = np.concatenate([used, base])
        out.append(good)
        need -= good.size
    return np.concatenate(out).astype(str).astype(object)


def padded(prefix: str | np.ndarray, numbers: np.ndarray, width: int) -> np.ndarray:
    """prefix + zero-padded number, as an object array (empty input gives an empty array)."""
    numbers = np.asarray(numbers)
    if numbers.size == 0:
        return np.array([], dtype=object)
    return np.char.add(np.asarray(prefix).astype(str), np.char.zfill(numbers.astype(str), width)).astype(object)


def ni_numbers(rng: np.random.Generator, size: int) -> np.ndarray:
    """National Insurance numbers written with spaces, like 'JT 12 34 56 B'."""
    if size == 0:
        return np.array([], dtype=object)
    idx = unique_ints(rng, 0, NI_PREFIXES.size * 1_000_000, size)
    digits = pd.Series(padded("", idx % 1_000_000, 6), dtype=object)
    suffix = pd.Series(np.array(list("ABCD"))[rng.integers(0, 4, size=size)], dtype=object)
    pref = pd.Series(NI_PREFIXES[idx // 1_000_000], dtype=object)
    out = pref + " " + digits.str[0:2] + " " + digits.str[2:4] + " " + digits.str[4:6] + " " + suffix
    return out.to_numpy(dtype=object)


def prefixed_numbers(rng: np.random.Generator, prefix: str, digits: int, size: int) -> np.ndarray:
    """Distinct reference numbers such as 'PN000123456' or 'CH1234567'."""
    n = unique_ints(rng, 0, 10**digits, size)
    return padded(prefix, n, digits)


def upns(rng: np.random.Generator, size: int, la_code: int = 383) -> np.ndarray:
    """Unique Pupil Numbers: a check letter, the LA code and nine further digits."""
    n = unique_ints(rng, 0, 10**9, size)
    letter = _LETTERS[rng.integers(0, 26, size=size)]
    return padded(np.char.add(letter, f"{la_code:03d}"), n, 9)
