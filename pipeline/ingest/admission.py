"""Which rows of an extract the registry lets in: the gateway's allowed rows, and the opt-out lists.

Both run on the file as read, before validation and before anything lands, so a row the council
may not hold is never checked, quarantined, landed or linked: it is dropped and counted. Only the
counts are recorded (per rule, and for the suppression list), never a token or any other value.

A row's value is compared trimmed and in upper case with the rule's values, as the contract's
categorical columns are read. A blank value passes a row rule: whether it may be blank is the
contract's question, and validation then quarantines it with its reason rather than dropping it.

The suppression list (`suppressions/<source>.csv` beside the extracts: a header naming the token
column, then one token a line) is itself personal data: it is read into memory, its SHA-256 is
recorded so an auditor can tell which list applied, and it is copied nowhere.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from pipeline.config.gateways import Gateway, Suppression
from pipeline.ingest.read import RawExtract

SUPPRESSIONS_DIR = "suppressions"


class SuppressionListError(ValueError):
    """A suppression list that cannot be applied; its source is refused (never run without it)."""


@dataclass(frozen=True)
class SuppressionList:
    """The tokens of one source's opt-outs and objections, and the file they came from."""

    source: str
    path: Path
    column: str
    name: str
    sha256: str
    tokens: frozenset[str]


@dataclass(frozen=True)
class Admission:
    """What the registry kept out of one file: rows outside the gateway per rule, rows suppressed."""

    rows_received: int
    outside_gateway: dict[str, int]  # rule ("benefit_type excluded PIP") -> rows dropped
    suppressed: int
    suppression_list: str | None     # the list's file name and SHA-256, or None when none applied

    @property
    def rows_outside_gateway(self) -> int:
        return sum(self.outside_gateway.values())

    def text(self) -> str:
        """'146 rows outside the gateway (benefit_type not in [PIP]: 146), 3 rows suppressed (...)', or ''."""
        parts = []
        if self.rows_outside_gateway:
            rules = ", ".join(f"{rule}: {n:,}" for rule, n in self.outside_gateway.items() if n)
            parts.append(f"{_rows(self.rows_outside_gateway)} outside the gateway's allowed rows ({rules})")
        if self.suppressed:
            parts.append(f"{_rows(self.suppressed)} suppressed by the opt-out list")
        return ", ".join(parts)

    def record(self) -> dict:
        """The lineage's account: counts and the list's hash, nothing else."""
        return {"rows_received": self.rows_received, "rows_outside_gateway": self.rows_outside_gateway,
                "rows_outside_gateway_by_rule": dict(self.outside_gateway), "rows_suppressed": self.suppressed,
                "suppression_list": self.suppression_list}


def _rows(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def suppression_path(extracts: Path, source: str) -> Path:
    return Path(extracts) / SUPPRESSIONS_DIR / f"{source}.csv"


def read_suppression_list(path: Path, source: str, declared: Suppression) -> SuppressionList:
    """The list at `path`; SuppressionListError (naming file, line and column, never a token) when unusable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuppressionListError(f"suppression list {path.name} could not be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SuppressionListError(f"suppression list {path.name} is not UTF-8 text") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if declared.column not in header:
        raise SuppressionListError(f"suppression list {path.name}: line 1 has no column {declared.column!r} "
                                   f"(the {declared.name} list must name it)")
    at = header.index(declared.column)
    tokens = set()
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise SuppressionListError(f"suppression list {path.name}: line {line} has {len(row)} fields, "
                                       f"the header {len(header)}")
        if not row[at].strip():
            raise SuppressionListError(f"suppression list {path.name}: line {line}, column {declared.column}: blank")
        tokens.add(row[at].strip())
    return SuppressionList(source, path, declared.column, declared.name, hashlib.sha256(data).hexdigest(),
                           frozenset(tokens))


def _rule_name(column: str, allowed: list[str] | None, excluded: list[str] | None) -> str:
    return f"{column} in [{', '.join(allowed)}]" if allowed is not None else f"{column} not in [{', '.join(excluded)}]"


def admit(raw: RawExtract, gateway: Gateway | None,
          suppression: SuppressionList | None) -> tuple[RawExtract, Admission]:
    """The extract without the rows its gateway does not allow or its suppression list names.

    Ragged rows (which could not be split into columns) are left to validation, which quarantines
    them: nothing can be read from them to decide on.
    """
    frame = raw.frame
    received = raw.rows_in
    keep = pd.Series(True, index=frame.index)
    outside: dict[str, int] = {}
    rules = [] if gateway is None or gateway.allowed_rows == "all" else gateway.allowed_rows
    for rule in rules:
        if rule.column not in frame.columns:
            continue  # a missing column is the contract's refusal to make, not the gateway's
        values = frame[rule.column].str.strip().str.upper()
        listed = values.isin([v.upper() for v in (rule.allowed or rule.excluded)])
        fails = values.notna() & (~listed if rule.allowed is not None else listed)
        outside[_rule_name(rule.column, rule.allowed, rule.excluded)] = int((fails & keep).sum())
        keep &= ~fails
    suppressed = 0
    if suppression is not None and suppression.column in frame.columns:
        listed = frame[suppression.column].str.strip().isin(suppression.tokens) & keep
        suppressed = int(listed.sum())
        keep &= ~listed
    admitted = raw if bool(keep.all()) else replace(raw, frame=frame[keep.to_numpy()])
    named = None if suppression is None else f"{suppression.path.name} sha256:{suppression.sha256}"
    return admitted, Admission(received, outside, suppressed, named)
