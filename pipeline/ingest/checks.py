"""Row checks generated from a source contract, each with its Great Expectations twin.

Why two engines: the quarantine needs every failing row, and asking GX for every unexpected
row index costs about 35 s per million rows for five expectations, while its summary mode is
fast. So each check here is one rule of the contract expressed twice over the same *view* (the
values the rule looks at, blank where it does not apply): a vectorised pandas predicate that
finds the failing rows, and the GX expectation that owns the suite, the result and the Data
Docs. A test holds the two to the same counts on every check.

Views are built by our code (normalising a postcode, parsing a date, picking the rows a
conditional rule applies to), so GX evaluates plain column expectations and never needs a
row condition. No reason text ever repeats a cell's value: reasons go to logs and files that
must carry no personal data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from pipeline.config.contracts import (
    AllowedWhenRule,
    BlankUnlessRule,
    Column,
    ConstantRule,
    Format,
    NotBeforeRule,
    SourceContract,
    SumNotAboveRule,
    UniqueRule,
    human_format,
)

TEXT = "string[pyarrow]"  # Arrow-backed strings: regexes run in RE2 over whole columns


def _text(values: pd.Series) -> pd.Series:
    """`values` as Arrow-backed strings (a no-op when they already are)."""
    return values if values.dtype == TEXT else values.astype(TEXT)


FORMULA_PATTERN = r"^[=+\-@\t\r]"
# A letter of the Latin script next to a Greek or Cyrillic one, inside one word: a look-alike letter
# (Cyrillic О for Latin O) that would split one person in two if compared, and be a guess if mapped.
# Written with the characters themselves, not \p{Script} or \u escapes, so that RE2 (pandas' Arrow
# strings) and Python's re (Great Expectations) read the same pattern.
_LATIN = f"A-Za-z{chr(0xC0)}-{chr(0xD6)}{chr(0xD8)}-{chr(0xF6)}{chr(0xF8)}-{chr(0x24F)}"
_GREEK_CYRILLIC = f"{chr(0x370)}-{chr(0x3FF)}{chr(0x400)}-{chr(0x52F)}"
_INVISIBLE = f"{chr(0xAD)}{chr(0x200B)}-{chr(0x200F)}{chr(0x2060)}-{chr(0x2064)}{chr(0xFEFF)}"  # zero-width, BOM
MIXED_SCRIPTS_PATTERN = (f"[{_LATIN}][{_INVISIBLE}]*[{_GREEK_CYRILLIC}]"
                         f"|[{_GREEK_CYRILLIC}][{_INVISIBLE}]*[{_LATIN}]")
NAME_ROLES = ("forename", "preferred_forename", "middle_names", "surname")
# Control characters no name, address or code holds: C0 and C1 controls but tab and line breaks (NUL, the
# ESC that opens a terminal's escape sequences, the C1 CSI), and the text-direction embeddings, overrides
# and isolates that make a value display as other text. Escapes are written for both regex engines
# (RE2 in Arrow, Python's re in GX); the direction controls are the characters themselves.
CONTROL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + "\u202a-\u202e\u2066-\u2069" + "]"
CONTROL_WORDS = "control character (such as NUL, a terminal escape or a text-direction override)"
# Every Unicode space character (RE2's \s is ASCII only): a postcode copied from a web page has a no-break space.
_SPACES = r"[\s" + "\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000" + "]+"
INTEGER_PATTERN = r"^[0-9]+$"
_STRFTIME_SHAPES = {"%Y": "[0-9]{4}", "%m": "[0-9]{2}", "%d": "[0-9]{2}"}


@dataclass(frozen=True)
class Check:
    """One contract rule: where its values come from, how it fails, and its GX expectation.

    `kind` names the predicate shared by both engines (see `failing`); `view` builds the
    values to test from the raw frame and the typed values already parsed.
    """

    name: str
    column: str  # the column a quarantine row names
    reason: str
    kind: str  # not_null | in_set | regex | not_regex | max_length | between | pair_ge | null | unique
    view: Callable[[pd.DataFrame, dict[str, pd.Series]], pd.Series]
    params: dict = field(default_factory=dict)
    view2: Callable[[pd.DataFrame, dict[str, pd.Series]], pd.Series] | None = None
    description: str = ""  # what a passing value is, in words: Data Docs show it instead of a regex
    meaning: str = ""  # the contract's description of the column the check reports

    @property
    def view_name(self) -> str:
        """The GX column: the check's name without its source; a pair check's upper bound."""
        base = self.name.split(".", 1)[1].replace(".", "__")
        return f"{base}__upper_bound" if self.view2 is not None else base

    @property
    def view2_name(self) -> str:
        return f"{self.name.split('.', 1)[1].replace('.', '__')}__value"


@dataclass(frozen=True)
class CheckSpec:
    """A `Check` without its view functions: what Great Expectations and the ingest cache need.

    The view functions are closures, which cannot cross to the GX worker process nor be kept in a
    later run's cache; the views they built travel as a frame beside the specs.
    """

    name: str
    column: str
    reason: str
    kind: str
    params: dict
    view_name: str
    view2_name: str | None
    description: str = ""
    meaning: str = ""

    def to_json(self) -> dict:
        """The spec as plain JSON: dates tagged, so `from_json` gives back exactly this spec."""
        return {**{f: getattr(self, f) for f in _SPEC_FIELDS if f != "params"},
                "params": {k: _tagged(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: dict) -> CheckSpec:
        """A spec written by `to_json`; ValueError for anything else (an earlier run's file is not trusted)."""
        if not isinstance(data, dict) or set(data) != set(_SPEC_FIELDS) or not isinstance(data["params"], dict):
            raise ValueError("not a check spec")
        return cls(**{f: data[f] for f in _SPEC_FIELDS if f != "params"},
                   params={k: _untagged(v) for k, v in data["params"].items()})

    @classmethod
    def of(cls, check: Check) -> CheckSpec:
        return cls(check.name, check.column, check.reason, check.kind, dict(check.params), check.view_name,
                   check.view2_name if check.view2 is not None else None, check.description, check.meaning)


_SPEC_FIELDS = ("name", "column", "reason", "kind", "params", "view_name", "view2_name", "description", "meaning")


def _tagged(value: object) -> object:
    """A check parameter as JSON: a timestamp as {"timestamp": ISO text}, lists as lists, else as it is."""
    if isinstance(value, pd.Timestamp):
        return {"timestamp": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_tagged(v) for v in value]
    if hasattr(value, "item") and type(value).__module__ == "numpy":  # a numpy scalar from a file's mode
        return _tagged(value.item())
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"check parameter of type {type(value).__name__} has no JSON form")


def _untagged(value: object) -> object:
    if isinstance(value, dict):
        if set(value) != {"timestamp"} or not isinstance(value["timestamp"], str):
            raise ValueError("not a tagged check parameter")
        return pd.Timestamp(value["timestamp"])
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    return value


def failing(check: Check, view: pd.Series, view2: pd.Series | None = None) -> pd.Series:
    """Boolean mask of the rows that fail `check`, with GX's semantics for its expectation."""
    present = view.notna()
    p = check.params
    if check.kind == "not_null":
        return ~present
    if check.kind == "null":
        return present
    if check.kind == "in_set":
        return present & ~view.isin(p["value_set"])
    if check.kind == "regex":
        return present & ~_text(view).str.contains(p["regex"], regex=True).fillna(False)
    if check.kind == "not_regex":
        return present & _text(view).str.contains(p["regex"], regex=True).fillna(False)
    if check.kind == "max_length":
        return present & (_text(view).str.len() > p["max_value"]).fillna(False)
    if check.kind == "between":
        low, high = p.get("min_value"), p.get("max_value")
        bad = pd.Series(False, index=view.index)
        if low is not None:
            bad |= view < low
        if high is not None:
            bad |= view > high
        return present & bad.fillna(False).astype(bool)
    if check.kind == "pair_ge":
        assert view2 is not None
        both = present & view2.notna()
        return both & (view < view2).fillna(False).astype(bool)
    if check.kind == "unique":
        return present & view.duplicated(keep="first")
    raise ValueError(f"unknown check kind {check.kind}")


# --------------------------------------------------------------------------- typed values
def shape_regex(date_format: str) -> str:
    """The exact character shape of a strftime date format (`%d/%m/%Y` -> `^dd/dd/dddd$`)."""
    out = re.escape(date_format)
    for code, shape in _STRFTIME_SHAPES.items():
        out = out.replace(re.escape(code), shape)
    return f"^{out}$"


# Real calendar dates as a regular expression, so that both engines check them at regex speed
# (GX's strftime expectation calls strptime once per value: ~15 s per million). Years are held
# to 1700-2199, inside what pandas can represent, so every date this accepts also parses.
_YEAR = "(?:1[7-9]|2[01])[0-9]{2}"
_LEAP_YEAR = "(?:(?:1[7-9]|2[01])(?:0[48]|[2468][048]|[13579][26])|2000)"
_CALENDAR = [  # (year, month, day) alternatives
    (_YEAR, "(?:0[13578]|1[02])", "(?:0[1-9]|[12][0-9]|3[01])"),
    (_YEAR, "(?:0[469]|11)", "(?:0[1-9]|[12][0-9]|30)"),
    (_YEAR, "02", "(?:0[1-9]|1[0-9]|2[0-8])"),
    (_LEAP_YEAR, "02", "29"),
]


def calendar_regex(date_format: str) -> str:
    """A regex matching exactly the real dates 1700-2199 written in `date_format`."""
    alternatives = []
    for year, month, day in _CALENDAR:
        out = re.escape(date_format)
        for code, part in (("%Y", year), ("%m", month), ("%d", day)):
            out = out.replace(re.escape(code), part)
        alternatives.append(out)
    return "^(?:" + "|".join(alternatives) + ")$"


def parse_typed(frame: pd.DataFrame, contract: SourceContract) -> dict[str, pd.Series]:
    """Typed values of date and integer columns; anything that does not parse is NaT/NA.

    Parsed once and shared by every check and by the landed Parquet, so a date is read the
    same way everywhere.
    """
    typed: dict[str, pd.Series] = {}
    for name, col in contract.columns.items():
        if name not in frame:
            continue
        raw = frame[name]
        if col.type == "date":
            shaped = raw.where(_text(raw).str.contains(shape_regex(col.date_format)).fillna(False))
            typed[shaped_key(name)] = shaped  # the date_real check looks at exactly these values
            typed[name] = pd.to_datetime(shaped, format=col.date_format, errors="coerce")
        elif col.type in ("integer", "flag"):
            digits = raw.where(_text(raw).str.contains(INTEGER_PATTERN).fillna(False))
            typed[name] = pd.to_numeric(digits, errors="coerce").astype("Int64")
    return typed


# --------------------------------------------------------------------------- compilation
def _raw(name: str) -> Callable:
    return lambda frame, typed: frame[name]


def _typed(name: str) -> Callable:
    return lambda frame, typed: typed[name]


def _normalised(name: str, fmt: Format) -> Callable:
    def view(frame: pd.DataFrame, typed: dict) -> pd.Series:
        s = _text(frame[name])
        if "upper" in fmt.normalise:
            s = s.str.upper()
        if "remove_spaces" in fmt.normalise:
            s = s.str.replace(_SPACES, "", regex=True)
        return s

    return view


def shaped_key(name: str) -> str:
    """Where parse_typed keeps a date column's values that have the right shape."""
    return f"{name}:shaped"


def _shaped(name: str) -> Callable:
    return lambda frame, typed: typed[shaped_key(name)]


def _as_timestamp(value: dt.date) -> pd.Timestamp:
    return pd.Timestamp(value)


def _between_words(low: object, high: object, from_: str = "at least", to: str = "at most") -> str:
    """A range in words: `between 0 and 1000`, `at least 0`, `at most 10` (dates: `on or after` ...)."""
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"{from_} {low}" if low is not None else f"{to} {high}"


def column_checks(name: str, col: Column, contract: SourceContract,
                  formats: dict[str, Format], text_max_length: int) -> list[Check]:
    """The checks for one column, most basic first (a row reports its first failure per column).

    Each carries its rule in words (`description`, what a passing value is) beside the reason a
    failing row is given, and the column's meaning from the contract: Data Docs show these, not
    the regular expressions, which a research officer cannot read.
    """
    checks: list[Check] = []
    prefix = f"{contract.source}.{name}"

    def check(suffix: str, reason: str, kind: str, view: Callable, description: str,
              params: dict | None = None, view2: Callable | None = None) -> None:
        checks.append(Check(f"{prefix}.{suffix}", name, reason, kind, view, params or {}, view2,
                            description=f"{name} {description}", meaning=col.description))

    if not col.nullable:
        check("not_null", "required value is blank", "not_null", _raw(name), "is never blank")
    if col.type in ("string", "text"):
        max_length = col.max_length or (text_max_length if col.type == "text" else None)
        if max_length:
            check("max_length", f"value is longer than {max_length} characters", "max_length", _raw(name),
                  f"is at most {max_length} characters long", {"max_value": max_length})
        if col.type == "text" or not (col.allowed or col.format):  # an allowed set or format holds none
            check("no_control", f"value holds a {CONTROL_WORDS}", "not_regex", _raw(name),
                  f"holds no {CONTROL_WORDS}", {"regex": CONTROL_PATTERN})
        if col.type == "text":
            check("no_formula", "value starts with a spreadsheet formula character (=, +, -, @)", "not_regex",
                  _raw(name), "does not start with a spreadsheet formula character (=, +, -, @)",
                  {"regex": FORMULA_PATTERN})
        if col.role in NAME_ROLES:
            check("one_script", "a word mixes Latin letters with Greek or Cyrillic look-alikes (a homoglyph?): "
                  "not compared on a guess; the sender should correct the name", "not_regex", _raw(name),
                  "has no word mixing Latin letters with Greek or Cyrillic ones", {"regex": MIXED_SCRIPTS_PATTERN})
        if col.allowed:
            check("allowed", f"value not allowed (expected one of {', '.join(col.allowed)})", "in_set", _raw(name),
                  f"is one of {', '.join(col.allowed)}", {"value_set": list(col.allowed)})
        if col.format:
            fmt = formats[col.format]
            check("format", f"not {fmt.description}", "regex", _normalised(name, fmt), f"is {fmt.description}",
                  {"regex": fmt.pattern})
    elif col.type == "date":
        form = human_format(col.date_format)
        check("date_shape", f"not a date in the form {form}", "regex", _raw(name), f"is a date written {form}",
              {"regex": shape_regex(col.date_format)})
        check("date_real", f"not a real calendar date between 1700 and 2199 ({form})", "regex", _shaped(name),
              f"is a real calendar date between 1700 and 2199, written {form}",
              {"regex": calendar_regex(col.date_format)})
        bounds = {}
        if col.min is not None:
            bounds["min_value"] = _as_timestamp(col.min)
        if col.max is not None:
            bounds["max_value"] = _as_timestamp(col.max)
        if bounds:
            words = " and ".join(
                f"{'before' if k == 'min_value' else 'after'} {v.date().isoformat()}" for k, v in bounds.items()
            )
            low, high = (bounds[k].date().isoformat() if k in bounds else None for k in ("min_value", "max_value"))
            check("date_range", f"date is {words}", "between", _typed(name),
                  f"is a date {_between_words(low, high, 'on or after', 'on or before')}", bounds)
        if col.not_after:
            check(f"not_after_{col.not_after}", f"{name} is after {col.not_after}", "pair_ge",
                  _typed(col.not_after), f"is not after {col.not_after}", view2=_typed(name))
    elif col.type == "integer":
        check("integer", "not a whole number of 0 or more", "regex", _raw(name), "is a whole number of 0 or more",
              {"regex": INTEGER_PATTERN})
        bounds = {k: v for k, v in (("min_value", col.min), ("max_value", col.max)) if v is not None}
        if bounds:
            check("range", f"outside the range {col.min if col.min is not None else ''}"
                  f"..{col.max if col.max is not None else ''}", "between", _typed(name),
                  f"is {_between_words(col.min, col.max)}", bounds)
    elif col.type == "flag":
        check("flag", "not a flag (expected 0 or 1)", "in_set", _raw(name), "is a flag: 0 or 1",
              {"value_set": ["0", "1"]})
    return checks


def _where_equals(name: str, when_col: str, value: str, equal: bool) -> Callable:
    def view(frame: pd.DataFrame, typed: dict) -> pd.Series:
        hit = frame[when_col].eq(value).fillna(False).astype(bool)
        keep = hit if equal else ~hit
        return frame[name].where(keep, None)

    return view


def _sum_view(columns: list[str]) -> Callable:
    def view(frame: pd.DataFrame, typed: dict) -> pd.Series:
        parts = [typed[c] for c in columns]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    return view


def rule_checks(contract: SourceContract, present: set[str]) -> list[Check]:
    """Checks for the contract's cross-row and cross-field rules over the columns present."""
    checks: list[Check] = []
    src = contract.source

    def meaning(column: str) -> str:
        col = contract.columns.get(column)
        return col.description if col is not None else ""

    for rule in contract.rules:
        if isinstance(rule, UniqueRule) and rule.column in present:
            checks.append(Check(f"{src}.{rule.column}.unique", rule.column,
                                f"repeats the {rule.column} of an earlier row (the first is kept)",
                                "unique", _raw(rule.column),
                                description=f"{rule.column} is different on every row",
                                meaning=meaning(rule.column)))
        elif isinstance(rule, ConstantRule) and rule.column in present:
            # The value set is the file's most common value, filled in per file (see bind_constants).
            checks.append(Check(f"{src}.{rule.column}.constant", rule.column,
                                f"differs from the {rule.column} on the file's other rows",
                                "in_set", _raw(rule.column), {"value_set": None},
                                description=f"{rule.column} is the same on every row (the file's most common value)",
                                meaning=meaning(rule.column)))
        elif isinstance(rule, NotBeforeRule) and {rule.column, rule.other} <= present:
            checks.append(Check(f"{src}.{rule.column}.not_before_{rule.other}", rule.column,
                                f"{rule.column} is before {rule.other}", "pair_ge",
                                _typed(rule.column), view2=_typed(rule.other),
                                description=f"{rule.column} is not before {rule.other}",
                                meaning=meaning(rule.column)))
        elif isinstance(rule, SumNotAboveRule) and {*rule.columns, rule.limit} <= present:
            label = " + ".join(rule.columns)
            checks.append(Check(f"{src}.{'+'.join(rule.columns)}.not_above_{rule.limit}",
                                "+".join(rule.columns), f"{label} is more than {rule.limit}",
                                "pair_ge", _typed(rule.limit), view2=_sum_view(rule.columns),
                                description=f"{label} is not more than {rule.limit}",
                                meaning="; ".join(f"{c}: {meaning(c)}" for c in (*rule.columns, rule.limit))))
        elif isinstance(rule, AllowedWhenRule) and {rule.column, rule.when.column} <= present:
            checks.append(Check(f"{src}.{rule.column}.allowed_when_{rule.when.column}_{rule.when.equals}",
                                rule.column,
                                f"value not allowed when {rule.when.column} is {rule.when.equals} "
                                f"(expected one of {', '.join(rule.allowed)})",
                                "in_set", _where_equals(rule.column, rule.when.column, rule.when.equals, True),
                                {"value_set": list(rule.allowed)},
                                description=f"{rule.column} is one of {', '.join(rule.allowed)} "
                                            f"when {rule.when.column} is {rule.when.equals}",
                                meaning=meaning(rule.column)))
        elif isinstance(rule, BlankUnlessRule) and {rule.column, rule.when.column} <= present:
            checks.append(Check(f"{src}.{rule.column}.blank_unless_{rule.when.column}_{rule.when.equals}",
                                rule.column,
                                f"must be blank unless {rule.when.column} is {rule.when.equals}",
                                "null", _where_equals(rule.column, rule.when.column, rule.when.equals, False),
                                description=f"{rule.column} is blank unless {rule.when.column} is "
                                            f"{rule.when.equals}",
                                meaning=meaning(rule.column)))
    return checks


def compile_checks(contract: SourceContract, formats: dict[str, Format], text_max_length: int,
                   present: set[str]) -> list[Check]:
    """All checks of a contract that apply to the columns present in this file."""
    checks: list[Check] = []
    for name, col in contract.columns.items():
        if name in present:
            checks += [c for c in column_checks(name, col, contract, formats, text_max_length)
                       if c.kind != "pair_ge" or col.not_after in present]
    return checks + rule_checks(contract, present)


def bind_constants(checks: list[Check], frame: pd.DataFrame) -> list[Check]:
    """Fill in data-dependent parameters: a `constant` rule's one value is the file's mode."""
    bound = []
    for check in checks:
        if check.kind == "in_set" and check.params.get("value_set") is None:
            values = frame[check.column].dropna()
            mode = sorted(values.mode().tolist())[:1] if len(values) else []
            check = dataclasses.replace(check, params={"value_set": mode})
        bound.append(check)
    return bound
