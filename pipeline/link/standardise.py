"""Standardise landed extract rows into one comparable shape for linkage.

Every source names and formats its identifying columns differently; linkage needs them the same.
`standardise_records(frame, contract)` reads the contract's column *roles* (not column names), so a
new source or a renamed column needs only a contract change. Output: one row per input row, in input
order, with the columns in `OUTPUT_COLUMNS`.

Performance: extracts reach millions of rows but hold far fewer distinct names, postcodes and
addresses. String work runs either as vectorised Arrow regexes (postcodes, addresses) or as Python on
each *distinct* value mapped back through `pd.factorize` (names: accent folding and phonetic keys need
Python), never per row.

Choices that matter to matching quality:
- Ambiguous nicknames (Alex, Sam, Chris) get no canonical form: see `schemas/name_equivalents.yaml`.
  A wrong link is worse than a missed one.
- Phonetic key is jellyfish `metaphone`: it keys on consonants, so vowel-level transliteration
  differences (MOHAMMED/MUHAMMAD/MOHAMED -> MHMT, HUSSAIN/HUSSEIN -> HSN, STEPHEN/STEVEN -> STFN) agree,
  where NYSIIS keeps vowel and ending detail and splits them (CHAUDHRY CADRY vs CHOUDHURY CADARY). The
  phonetic key is a blocking/comparison feature for recall; precision comes from date of birth,
  address and the other fields.
- `name_set_phonetic` is the forename and surname phonetic keys in sorted order, so a record with its
  names in each other's fields (WILLIAMS SARAH for SARAH WILLIAMS) keys alike: a blocking column only.
- `forename_initial` is the forename's first letter, for a pass that meets a forename mistyped (LUY for
  LUCY, JAOB for JACOB) or shortened (NATE, SAM) at one address under one surname: a blocking column only.
- `address_key` is null without a postcode: "12 HIGH STREET" alone names a house in many towns.
  When linking, a record without one may borrow it from records at the same flat, number and street
  (`pipeline.link.postcodes`).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config.contracts import SourceContract
from pipeline.config.files import SCHEMAS_DIR, ContractError, read_yaml

EQUIVALENTS_PATH = SCHEMAS_DIR / "name_equivalents.yaml"
STRING = pd.StringDtype("pyarrow")

OUTPUT_COLUMNS = [
    "source", "source_record_id", "row_number", "person_token", "unit_token", "unit_role",
    "forename", "forename_alt", "middle_names", "surname", "surname_parts",
    "forename_canonical", "surname_canonical", "forename_phonetic", "surname_phonetic", "name_set_phonetic",
    "forename_initial",
    "dob", "dob_year", "dob_month", "dob_day", "dob_swappable", "sex",
    "postcode", "postcode_district", "postcode_sector", "uprn",
    "flat", "house_number", "street", "address_key",
]

# Leading words that are titles, not names. Removed only while a name word remains after them.
TITLES = frozenset({
    "MR", "MRS", "MS", "MISS", "MX", "DR", "MASTER", "SIR", "DAME", "LADY", "LORD", "REV", "REVD",
    "REVEREND", "PROF", "PROFESSOR", "FR", "FATHER", "SISTER", "CAPT", "CAPTAIN", "MADAM", "MADAME", "MLLE",
    "HERR", "FRAU",
})

# Letters that Unicode decomposition does not reduce to ASCII (Ł has no combining-mark form).
_FOLD = str.maketrans({
    "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "SS", "Æ": "AE", "æ": "ae",
    "Œ": "OE", "œ": "oe", "Þ": "TH", "þ": "th", "ı": "i", "Ð": "D", "ð": "d",
})

# Street-type abbreviations, unified to the full word when they are the street's last word.
STREET_TYPES = {
    "RD": "ROAD", "ST": "STREET", "STR": "STREET", "AVE": "AVENUE", "AV": "AVENUE", "AVN": "AVENUE",
    "LN": "LANE", "CL": "CLOSE", "DR": "DRIVE", "DRV": "DRIVE", "GR": "GROVE", "GRV": "GROVE",
    "CRES": "CRESCENT", "CRESC": "CRESCENT", "CR": "CRESCENT", "TER": "TERRACE", "TERR": "TERRACE",
    "TCE": "TERRACE", "GDNS": "GARDENS", "GDN": "GARDEN", "PL": "PLACE", "CT": "COURT", "MT": "MOUNT",
    "VW": "VIEW", "WLK": "WALK", "SQ": "SQUARE", "PDE": "PARADE", "HTS": "HEIGHTS", "PK": "PARK",
    "BLVD": "BOULEVARD", "HWY": "HIGHWAY", "CSWY": "CAUSEWAY", "GRN": "GREEN", "MWS": "MEWS",
}

_SUB_BUILDING = r"(?:FLAT|APARTMENT|APT|UNIT|ROOM|MAISONETTE|STUDIO|FLT)"
_FLAT_ID = r"[0-9]+[A-Z]?(?:[-/][0-9]+[A-Z]?)?|[A-Z][0-9]*"
_NOT_AN_ADDRESS = r"(?:NO FIXED (?:ABODE|ADDRESS)|NFA|UNKNOWN|NOT KNOWN|ADDRESS UNKNOWN|HOMELESS|NONE|N/?A)"
_POSTCODE_RE = r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}|GIR0AA)$"


class EquivalentsError(ContractError):
    """The name equivalents file is unreadable or maps one name to two canonical forms."""


# --------------------------------------------------------------------------- helpers
def _map_distinct(values: pd.Series, fn: Callable[[str], object]) -> np.ndarray:
    """Apply `fn` once per distinct non-null value and broadcast back (object array, None for null).

    Why: Python string work per row is too slow for millions of rows, but distinct names number in
    the thousands.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    results[:-1] = [fn(u) for u in uniques]
    results[-1] = None
    return results[codes]  # code -1 picks the trailing None


def _strings(values: object, index: pd.Index) -> pd.Series:
    """A string[pyarrow] Series; empty strings become null (blank means unknown)."""
    s = pd.Series(values, index=index, dtype=object).astype(STRING)
    return s.mask(s.str.len() == 0)


def _role_column(frame: pd.DataFrame, contract: SourceContract, role: str) -> pd.Series | None:
    names = [n for n in contract.columns_with_role(role) if n in frame.columns]  # type: ignore[arg-type]
    return frame[names[0]] if names else None


# --------------------------------------------------------------------------- name equivalents
def load_equivalents(path: Path = EQUIVALENTS_PATH) -> dict[str, dict[str, str]]:
    """Read the equivalents file into {"forename": {variant: canonical}, "surname": {...}}.

    Nicknames apply to forenames only; transliterations to both. Fails naming the file and the key
    when a name would map to two canonical forms, because a silent last-one-wins would link people
    by whichever line happened to come later.
    """
    path = Path(path)
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise EquivalentsError(f"{path}: expected a mapping with nicknames and transliterations")
    unknown = set(raw) - {"nicknames", "transliterations", "ambiguous"}
    if unknown:
        raise EquivalentsError(f"{path}: unknown section(s) {sorted(unknown)}")

    mapping: dict[str, str] = {}
    where: dict[str, str] = {}
    translit: dict[str, str] = {}
    for section in ("transliterations", "nicknames"):
        groups = raw.get(section) or {}
        if not isinstance(groups, dict):
            raise EquivalentsError(f"{path}: {section} must map canonical names to lists of variants")
        for canonical_raw, variants in groups.items():
            canonical = clean_name(str(canonical_raw))
            if not canonical or not isinstance(variants, list):
                raise EquivalentsError(f"{path}: {section}.{canonical_raw}: expected a list of variants")
            for name_raw in [canonical_raw, *variants]:
                name = clean_name(str(name_raw))
                if not name:
                    raise EquivalentsError(f"{path}: {section}.{canonical_raw}: empty variant {name_raw!r}")
                if name in mapping and mapping[name] != canonical:
                    raise EquivalentsError(
                        f"{path}: {section}.{canonical_raw}: {name} already maps to {mapping[name]} "
                        f"(at {where[name]}); a name may have one canonical form only")
                mapping[name] = canonical
                where.setdefault(name, f"{section}.{canonical_raw}")
                if section == "transliterations":
                    translit[name] = canonical
    ambiguous = {clean_name(str(a)) for a in raw.get("ambiguous") or []}
    clash = sorted(ambiguous & set(mapping))
    if clash:
        raise EquivalentsError(f"{path}: ambiguous: {clash[0]} is also mapped at {where[clash[0]]}")
    return {"forename": mapping, "surname": translit}


@lru_cache(maxsize=4)
def _cached_equivalents(path: str) -> dict[str, dict[str, str]]:
    return load_equivalents(Path(path))


# --------------------------------------------------------------------------- names
def visible(text: str) -> str:
    """`text` without its invisible format characters (Unicode category Cf): zero-width spaces and joiners,
    soft hyphens, byte-order marks, direction marks. Copied from a web form or a document, they sit
    inside a word unseen, and read as a separator they would split one name or street in two."""
    if text.isascii():  # no ASCII character is a format character: most text is done at C speed
        return text
    return text.translate(_format_characters())


@lru_cache(maxsize=1)
def _format_characters() -> dict[int, None]:
    """Every code point of Unicode category Cf, as a `str.translate` table that deletes them (built once)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf"}


def clean_name(value: str) -> str:
    """Upper case, accents folded to ASCII, punctuation dropped, hyphens to spaces, spaces collapsed.

    Apostrophes and full stops join (O'Neil -> ONEIL, St. John -> ST JOHN); hyphens separate, so
    Smith-Jones and "Smith Jones" give the same SMITH JONES. Compatibility forms (full-width
    ＳＭＩＴＨ, ligatures) become their plain letters and invisible characters go (`visible`) before
    anything is compared.
    """
    text = unicodedata.normalize("NFKD", visible(value).translate(_FOLD))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    text = re.sub(r"['’`´.]", "", text)
    text = re.sub(r"[^A-Z ]+", " ", text)
    return " ".join(text.split())


def _strip_titles(words: list[str]) -> list[str]:
    while len(words) > 1 and words[0] in TITLES:
        words = words[1:]
    return words


def _name_words(value: str) -> tuple[str, ...]:
    return tuple(_strip_titles(clean_name(value).split()))


def _phonetic(value: str | None) -> str | None:
    return jellyfish.metaphone(value.replace(" ", "")) or None if value else None


# --------------------------------------------------------------------------- postcodes
def standardise_postcode(values: pd.Series) -> pd.DataFrame:
    """Canonical "OUT IN" postcode with district (outward) and sector ("OUT I"); invalid -> null.

    The inward code is always the last three characters, so spacing in the source is ignored.
    """
    s = values.astype(STRING).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    s = s.where(s.str.contains(_POSTCODE_RE, regex=True).fillna(False).astype(bool))
    outward = s.str.slice(0, -3)
    inward = s.str.slice(-3)
    return pd.DataFrame({
        "postcode": (outward + " " + inward).astype(STRING),
        "postcode_district": outward.astype(STRING),
        "postcode_sector": (outward + " " + inward.str.slice(0, 1)).astype(STRING),
    }, index=values.index)


# --------------------------------------------------------------------------- addresses
def _arrow(values: pd.Series) -> pa.Array:
    return pa.array(values.astype(STRING))


def _series(array: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(array.cast(pa.large_string())), index=index).astype(STRING)


def _sub(values: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """Regex replace in Arrow (RE2). pandas falls back to Python per row for back-references."""
    return _series(pc.replace_substring_regex(_arrow(values), pattern, replacement), values.index)


def _extract(values: pd.Series, pattern: str) -> pd.DataFrame:
    """Named groups of `pattern` as string columns, all null where it does not match; empty -> null.

    Arrow's `extract_regex` runs in C++; pandas' `.str.extract` loops in Python even on Arrow strings.
    """
    matched = pc.extract_regex(_arrow(values), pattern)
    names = re.findall(r"\(\?P<(\w+)>", pattern)
    out = {}
    for name in names:
        col = _series(pc.struct_field(matched, name), values.index)
        out[name] = col.mask(col == "")
    return pd.DataFrame(out, index=values.index)


def _normalise_street(street: pd.Series) -> pd.Series:
    """Unify the street type when it is the last word (RD -> ROAD); "ST" elsewhere may be SAINT."""
    parts = _extract(street, r"^(?:(?P<head>.*)\s)?(?P<last>\S+)$")
    last = parts["last"].astype(object).map(lambda w: STREET_TYPES.get(w, w) if isinstance(w, str) else None)
    out = (parts["head"].fillna("") + " " + last.astype(STRING)).str.strip()
    return out.mask(street.isna()).astype(STRING)


def _parse_address_text(text: pd.Series) -> pd.DataFrame:
    """flat, house_number, street from upper-cased, comma-joined address text (see standardise_address)."""
    text = text.str.replace(r"['’`.]", "", regex=True)
    # keep "12-14" and "2/1" (ranges, tenement flats) whole; other punctuation becomes a space
    text = _sub(text, r"([0-9])\s*-\s*([0-9])", r"\1~\2")
    text = _sub(text, r"([0-9])\s*/\s*([0-9])", r"\1_\2")
    text = text.str.replace(r"[^A-Z0-9,~_]+", " ", regex=True)
    text = text.str.replace("~", "-", regex=False).str.replace("_", "/", regex=False)
    text = text.str.replace(r"\s*,[\s,]*", ", ", regex=True).str.replace(r"^[\s,]+|[\s,]+$", "", regex=True)
    text = text.str.replace(r"\s+", " ", regex=True).mask(lambda x: x == "")
    # "no fixed abode" is not an address: it must not become a street that groups strangers
    text = text.mask(text.str.fullmatch(_NOT_AN_ADDRESS).fillna(False).astype(bool))

    labelled = _extract(text, rf"^{_SUB_BUILDING}\s*(?:NO\s*)?(?P<flat>{_FLAT_ID})\b[\s,]*(?P<rest>.*)$")
    bare = _extract(text, r"^(?P<flat>[0-9]+[A-Z]?(?:/[0-9]+)?|[A-Z])\s*,\s*(?P<rest>[0-9].*)$")
    flat = labelled["flat"].fillna(bare["flat"]).astype(STRING)
    rest = labelled["rest"].fillna(bare["rest"]).astype(STRING)
    rest = rest.where(flat.isna(), rest.fillna("")).fillna(text)
    numbered = _extract(rest, r"(?:^|,\s)(?P<number>[0-9]+[A-Z]?(?:-[0-9]+[A-Z]?)?)\s+(?P<street>[A-Z][^,]*)")
    first_part = _extract(rest, r"^(?P<part>[^,]+)")["part"]
    street = numbered["street"].fillna(first_part.where(numbered["number"].isna())).str.strip()
    street = _normalise_street(street.mask(street == ""))
    return pd.DataFrame({"flat": flat, "house_number": numbered["number"], "street": street}, index=text.index)


def standardise_address(lines: pd.DataFrame, postcode: pd.Series | None) -> pd.DataFrame:
    """Parse flat, house number and street from one or more address lines, and build address_key.

    Lines are joined with commas so a single free-text line ("Flat 3, 12 Acorn Road, Aldermoor") and
    split lines ("Flat 3" | "12 Acorn Road" | "Aldermoor") parse the same way. The flat is a
    FLAT/APARTMENT/UNIT/... prefix or a bare "3A," before a numbered part; the house number and street
    come from the first comma-part that starts with a number, else the first part after the flat (a
    house name). Parsing runs once per distinct address text (far fewer than rows) with Arrow regexes.
    address_key = flat|number|street|postcode, null without a postcode or a street.
    """
    index = lines.index
    if lines.shape[1] == 0:
        joined = pd.Series(pd.NA, index=index, dtype=STRING)
    else:
        cols = [lines[c].astype(STRING).str.strip().mask(lambda x: x == "") for c in lines.columns]
        joined = cols[0].fillna("")
        for col in cols[1:]:
            joined = joined + ("," + col).fillna("")
    codes, uniques = pd.factorize(joined.str.upper(), use_na_sentinel=True)
    plain = [unicodedata.normalize("NFKC", visible(v)) for v in uniques]  # full-width digits, zero-width spaces
    parsed = _parse_address_text(pd.Series(plain, dtype=STRING))
    parsed = pd.DataFrame({c: parsed[c].astype(STRING).array.take(codes, allow_fill=True) for c in parsed.columns},
                          index=index)  # code -1 (no address) -> null

    pc_col = postcode if postcode is not None else pd.Series(pd.NA, index=index)
    pcode = standardise_postcode(pc_col.set_axis(index))["postcode"]
    parsed["address_key"] = address_key(parsed["flat"], parsed["house_number"], parsed["street"], pcode)
    return parsed


def address_key(flat: pd.Series, house_number: pd.Series, street: pd.Series, postcode: pd.Series) -> pd.Series:
    """flat|number|street|postcode from parsed parts and a standardised postcode; null without a street
    or a postcode ("12 HIGH STREET" alone names a house in many towns)."""
    key = flat.fillna("") + "|" + house_number.fillna("") + "|" + street.fillna("") + "|" + postcode
    return key.where(street.notna() & postcode.notna()).astype(STRING)


# --------------------------------------------------------------------------- dates
def standardise_dob(values: pd.Series | None, index: pd.Index) -> pd.DataFrame:
    """Date of birth (NaT if unknown) and its parts as Int64; `dob_swappable` flags dates whose day
    could be a month (day <= 12, day != month) so a later comparison may try the day-month swap."""
    if values is None:
        dob = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    else:
        dob = pd.to_datetime(values, errors="coerce").astype("datetime64[ns]").dt.normalize()
    day = dob.dt.day.astype("Int64")
    month = dob.dt.month.astype("Int64")
    return pd.DataFrame({
        "dob": dob, "dob_year": dob.dt.year.astype("Int64"), "dob_month": month, "dob_day": day,
        "dob_swappable": ((day <= 12) & (day != month)).astype("boolean"),
    }, index=index)


def name_set(forename_key: pd.Series, surname_key: pd.Series) -> pd.Series:
    """The two phonetic keys in sorted order ("SR|WLMS"), null unless both are known: one key whichever of the
    two fields each name was entered in.

    Agencies' data entry puts the family name first often enough (a form read in its own name order, the
    fields swapped): SARAH WILLIAMS and WILLIAMS SARAH share no forename or surname key, but one name set.
    Vectorised (Arrow string comparison), not per row.
    """
    first = (forename_key <= surname_key).fillna(False).astype(bool)
    low, high = forename_key.where(first, surname_key), surname_key.where(first, forename_key)
    return (low + "|" + high).astype(STRING)


def _names(text: Callable[[str], pd.Series], has_middle_names: bool, equivalents: dict[str, dict[str, str]],
           index: pd.Index) -> dict[str, object]:
    """The name columns of OUTPUT_COLUMNS from a source's name roles (`text(role)` gives a role's values).

    The first forename word is the forename; later words are middle names when the source has none.
    """
    fmap, smap = equivalents["forename"], equivalents["surname"]
    fore_words = _map_distinct(text("forename"), _name_words)
    forename = _strings([w[0] if w else None for w in fore_words], index)
    extra = _strings([" ".join(w[1:]) if w and len(w) > 1 else None for w in fore_words], index)
    if has_middle_names:
        middle = _strings(_map_distinct(text("middle_names"), lambda v: " ".join(_name_words(v)) or None), index)
        middle = middle.fillna(extra)  # "Mary Jane" in the forename column with middle names blank
    else:
        middle = extra
    preferred = _strings(_map_distinct(text("preferred_forename"), lambda v: (_name_words(v) or (None,))[0]),
                         index)
    canon_f = _strings(_map_distinct(forename, lambda v: fmap.get(v, v)), index)
    alt = preferred.where(preferred.notna() & (preferred != forename))
    alt = alt.fillna(canon_f.where(canon_f != forename))
    surname = _strings(_map_distinct(text("surname"), lambda v: " ".join(_name_words(v)) or None), index)
    fore_key = _strings(_map_distinct(forename, _phonetic), index)
    sur_key = _strings(_map_distinct(surname, _phonetic), index)
    return {
        "forename": forename, "forename_alt": alt.astype(STRING), "middle_names": middle, "surname": surname,
        # tuples, not lists: rows with one surname share one object, which must not be mutable
        "surname_parts": _map_distinct(surname, lambda v: tuple(v.split())),
        "forename_canonical": canon_f,
        "surname_canonical": _strings(_map_distinct(surname, lambda v: smap.get(v, v)), index),
        "forename_phonetic": fore_key,
        "surname_phonetic": sur_key,
        "name_set_phonetic": name_set(fore_key, sur_key),
        "forename_initial": forename.str.slice(0, 1).astype(STRING),
    }


# --------------------------------------------------------------------------- records
def standardise_records(frame: pd.DataFrame, contract: SourceContract,
                        equivalents_path: Path = EQUIVALENTS_PATH) -> pd.DataFrame:
    """One standardised row per input row (same order, fresh RangeIndex); see `OUTPUT_COLUMNS`.

    Columns the source does not supply are null, so every source yields the same shape.
    """
    equivalents = _cached_equivalents(str(Path(equivalents_path).resolve()))
    frame = frame.reset_index(drop=True)
    index = frame.index
    n = len(frame)

    def role(name: str) -> pd.Series | None:
        return _role_column(frame, contract, name)

    def text(name: str) -> pd.Series:
        col = role(name)
        s = _strings(col if col is not None else [None] * n, index).str.strip()
        return s.mask(s == "")

    out = pd.DataFrame(index=index)
    out["source"] = pd.Series([contract.source] * n, index=index, dtype=STRING)
    out["source_record_id"] = text("record_id")
    rn = frame["row_number"] if "row_number" in frame.columns else pd.Series(pd.NA, index=index)
    out["row_number"] = rn.astype("Int64")
    out["person_token"] = text("person_token")
    out["unit_token"] = text("unit_token")
    out["unit_role"] = text("unit_role").str.upper()

    for column, values in _names(text, role("middle_names") is not None, equivalents, index).items():
        out[column] = values

    out = pd.concat([out, standardise_dob(role("dob"), index)], axis=1)
    sex = text("sex").str.upper()
    out["sex"] = sex.where(sex.isin(["M", "F"])).astype(STRING)

    postcode = role("postcode")
    postcodes = standardise_postcode(postcode if postcode is not None else pd.Series(pd.NA, index=index))
    out = pd.concat([out, postcodes], axis=1)
    uprn = text("uprn").str.replace(r"\s", "", regex=True).str.lstrip("0")
    out["uprn"] = uprn.where(uprn.str.fullmatch(r"[0-9]{1,12}").fillna(False).astype(bool)).astype(STRING)

    line_cols = [c for c in contract.columns_with_role("address_line") if c in frame.columns]
    addr = standardise_address(frame[line_cols], postcode)
    out = pd.concat([out, addr], axis=1)
    return out[OUTPUT_COLUMNS]


def records_from_landed(landed: dict[str, pd.DataFrame], contracts: dict[str, SourceContract]) -> pd.DataFrame:
    """One standardised frame of every source's accepted rows (sources in name order), with each
    row's extract date."""
    frames = []
    for source in sorted(landed):
        frame, contract = landed[source], contracts[source]
        std = standardise_records(frame, contract)
        std["extract_date"] = pd.to_datetime(frame[contract.extract_date]).to_numpy() if len(frame) else []
        frames.append(std)
    return pd.concat(frames, ignore_index=True)
