"""Recording noise: how the same true value comes out differently in each agency's system.

Each agency has a `Profile` of rates (capitals, titles, typos, accents dropped by ASCII-only
systems, nicknames, other spellings of a transliterated name, birth surnames, day-month swaps,
blanks). Person-level choices (is this person known as Bob here?) are drawn once per person per
source so that an agency is consistent with itself across its rows; slips such as typos are
drawn per row.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Profile:
    """Noise rates of one agency's system (see module docstring)."""

    upper: float = 0.0  # per person: names and address in capitals
    lower: float = 0.0  # per person: names in lower case
    title: float = 0.0  # per row: MR/MRS/MS/MISS/DR before the forename (adults)
    double_space: float = 0.0  # per row: a doubled or trailing space
    typo: float = 0.0  # per row and name field: one slipped letter
    strip_accents: float = 0.0  # per person: Zoë -> Zoe (1.0 for ASCII-only systems)
    strip_punct: float = 0.0  # per person: O'Neil -> ONeil, Smith-Jones -> Smith Jones
    variant: float = 0.0  # per person: another spelling (Mohammed -> Muhammad)
    nickname: float = 0.0  # per person: known-as name (Robert -> Bob)
    birth_surname: float = 0.0  # per person: a married woman recorded under her birth surname
    dob_swap: float = 0.0  # per person: day and month exchanged (when the day is <= 12)
    dob_blank: float = 0.0  # per row
    postcode_blank: float = 0.0  # per row
    postcode_nospace: float = 0.0
    postcode_lower: float = 0.0
    uprn_blank: float = 0.0  # per row
    street_abbrev: float = 0.0  # per row: Road -> Rd
    address_split: float = 0.0  # per row: flat on its own address line
    sex_unknown: float = 0.0  # per row: sex recorded as U


PROFILES: dict[str, Profile] = {
    "police": Profile(
        upper=0.8,
        title=0.01,
        double_space=0.01,
        typo=0.02,
        strip_accents=1.0,
        strip_punct=0.3,
        variant=0.35,
        nickname=0.12,
        birth_surname=0.12,
        dob_swap=0.015,
        dob_blank=0.02,
        postcode_blank=0.05,
        postcode_nospace=0.2,
        postcode_lower=0.02,
        street_abbrev=0.3,
        sex_unknown=0.01,
    ),
    "schools": Profile(
        upper=0.03,
        lower=0.002,
        double_space=0.005,
        typo=0.004,
        strip_accents=0.1,
        strip_punct=0.05,
        variant=0.08,
        dob_swap=0.003,
        postcode_blank=0.005,
        postcode_nospace=0.05,
        postcode_lower=0.01,
        uprn_blank=0.1,
        street_abbrev=0.05,
        address_split=0.7,
    ),
    "health": Profile(
        upper=0.15,
        lower=0.005,
        double_space=0.01,
        typo=0.01,
        strip_accents=0.4,
        strip_punct=0.1,
        variant=0.2,
        nickname=0.04,
        birth_surname=0.25,
        dob_swap=0.004,
        dob_blank=0.001,
        postcode_blank=0.01,
        postcode_nospace=0.1,
        postcode_lower=0.02,
        street_abbrev=0.15,
        address_split=0.3,
        sex_unknown=0.002,
    ),
    "electoral_register": Profile(
        upper=0.3,
        title=0.02,
        double_space=0.01,
        typo=0.008,
        strip_accents=0.3,
        strip_punct=0.05,
        variant=0.1,
        birth_surname=0.02,
        postcode_blank=0.002,
        postcode_nospace=0.05,
        uprn_blank=0.03,
        street_abbrev=0.05,
    ),
    "benefits": Profile(
        upper=0.9,
        title=0.01,
        double_space=0.005,
        typo=0.006,
        strip_accents=1.0,
        strip_punct=0.2,
        variant=0.15,
        nickname=0.01,
        birth_surname=0.06,
        dob_swap=0.003,
        dob_blank=0.002,
        postcode_blank=0.01,
        postcode_nospace=0.1,
        uprn_blank=0.15,
        street_abbrev=0.2,
        address_split=0.2,
    ),
    "children_social_care": Profile(
        upper=0.05,
        double_space=0.01,
        typo=0.01,
        strip_accents=0.3,
        strip_punct=0.1,
        variant=0.1,
        nickname=0.08,
        dob_swap=0.006,
        dob_blank=0.01,
        postcode_blank=0.03,
        postcode_nospace=0.1,
        uprn_blank=0.25,
        street_abbrev=0.1,
        sex_unknown=0.005,
    ),
}

_NO_DECOMPOSE = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "ı": "i", "đ": "d", "Đ": "D"})


def strip_accent(s: str) -> str:
    """Zoë -> Zoe, Łukasz -> Lukasz, Şahin -> Sahin: what an ASCII-only system keeps."""
    s = s.translate(_NO_DECOMPOSE)
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def map_unique(values: np.ndarray, fn) -> np.ndarray:
    """Apply a str -> str function once per distinct value."""
    if values.size == 0:
        return values
    uniq, inv = np.unique(values.astype(str), return_inverse=True)
    return np.array([fn(v) for v in uniq], dtype=object)[inv]


# Neighbouring keys on a UK keyboard, for substitution typos.
_KEYBOARD_ROWS = (
    "q:w w:qe e:wr r:et t:ry y:tu u:yi i:uo o:ip p:o a:sq s:ad d:sf f:dg g:fh h:gj j:hk k:jl l:k "
    "z:x x:zc c:xv v:cb b:vn n:bm m:n"
)
_KEYBOARD = dict(pair.split(":") for pair in _KEYBOARD_ROWS.split(" "))


def typo(s: str, r: float) -> str:
    """One slip of the keyboard: a substituted, dropped, doubled or transposed letter."""
    letters = [i for i, c in enumerate(s) if c.isalpha()]
    if len(letters) < 3:
        return s
    op = int(r * 4)
    i = letters[1 + int((r * 97) % 1 * (len(letters) - 2))]
    c = s[i]
    if op == 0:
        near = _KEYBOARD.get(c.lower(), "e")
        n = near[int((r * 31) % 1 * len(near))]
        return s[:i] + (n.upper() if c.isupper() else n) + s[i + 1 :]
    if op == 1:
        return s[:i] + s[i + 1 :]
    if op == 2:
        return s[:i] + c + s[i:]
    j = i + 1 if i + 1 < len(s) else i - 1
    a, b = sorted((i, j))
    return s[:a] + s[b] + s[a] + s[b + 1 :]


def apply_where(values: np.ndarray, mask: np.ndarray, fn, *args: np.ndarray) -> np.ndarray:
    """Replace values[mask] by fn(value, *per-row args) (a Python loop over the subset only)."""
    out = values.copy()
    idx = np.flatnonzero(mask)
    if idx.size:
        sub = [a[idx] for a in args]
        out[idx] = np.array([fn(v, *(x[k] for x in sub)) for k, v in enumerate(values[idx])], dtype=object)
    return out


def upper(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = values.copy()
    if mask.any():
        out[mask] = pd.Series(values[mask], dtype=object).str.upper().to_numpy(dtype=object)
    return out


def lower(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = values.copy()
    if mask.any():
        out[mask] = pd.Series(values[mask], dtype=object).str.lower().to_numpy(dtype=object)
    return out


def strip_punct(s: str, r: float) -> str:
    """O'Neil -> ONeil or O Neil; Smith-Jones -> Smith Jones or SmithJones."""
    sep = " " if r < 0.5 else ""
    return s.replace("'", sep if r < 0.3 else "").replace("-", sep)


def double_space(s: str, r: float) -> str:
    """Double the first space, or add a trailing space where there is none."""
    if " " in s:
        return s.replace(" ", "  ", 1)
    return s + " " if r < 0.5 else " " + s


def abbreviate_street(line: str, abbrev: str) -> str:
    """'12 Acorn Road' -> '12 Acorn Rd' (the suffix is always the last word of the street)."""
    head, _, _suffix = line.rpartition(" ")
    return f"{head} {abbrev}" if head else line
