"""Validate an ingested extract: accepted typed rows, quarantined rows with reasons, or refusal.

Every row that fails a check goes to quarantine with one entry per failing column (its first
failure there), never dropped silently; the rest go on typed. A file with too large a share
of bad rows is refused whole: at that rate it is more likely the wrong file than a file with
a few bad rows, and linking half a file would mislead more than it helps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipeline.config.contracts import SourceContract
from pipeline.config.schemas import Schemas
from pipeline.ingest.checks import TEXT, Check, bind_constants, compile_checks, failing, parse_typed
from pipeline.ingest.read import RAGGED, RawExtract

QUARANTINE_COLUMNS = ["source", "row_number", "source_record_id", "column", "reason"]
WHOLE_SOURCE = "(source)"  # the quarantine `column` for rows refused with their whole file


@dataclass
class Validated:
    source: str
    accepted: pd.DataFrame  # typed; row_number as a column
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS
    rows_in: int
    rows_quarantined: int
    refused: str | None  # reason when the whole source is refused
    checks: list[Check]
    views: pd.DataFrame  # the values each check looked at, for Great Expectations
    failures: dict[str, int]  # check name -> rows failing it (GX's own counting)
    extract_date: pd.Timestamp | None

    @property
    def rows_accepted(self) -> int:
        return len(self.accepted)


def build_views(checks: list[Check], frame: pd.DataFrame,
                typed: dict[str, pd.Series]) -> pd.DataFrame:
    """One column per check view; what Great Expectations validates."""
    views: dict[str, pd.Series] = {}
    for check in checks:
        views[check.view_name] = check.view(frame, typed)
        if check.view2 is not None:
            views[check.view2_name] = check.view2(frame, typed)
    return pd.DataFrame(views, index=frame.index)


def typed_frame(frame: pd.DataFrame, typed: dict[str, pd.Series],
                contract: SourceContract) -> pd.DataFrame:
    """The landed shape: strings as strings, dates as dates, counts as Int64, flags as boolean."""
    out = {}
    for name in frame.columns:
        col = contract.columns[name]
        if col.type == "date":
            out[name] = typed[name].dt.normalize()
        elif col.type == "integer":
            out[name] = typed[name]
        elif col.type == "flag":
            out[name] = typed[name].astype("boolean")
        else:
            out[name] = frame[name]
    result = pd.DataFrame(out, index=frame.index)
    return result.reset_index()


def _entries(source: str, rows: pd.Index, ids: pd.Series, column: str, reason: str) -> pd.DataFrame:
    return pd.DataFrame({
        "source": source,
        "row_number": rows.to_numpy(dtype="int64"),
        "source_record_id": ids.reindex(rows).astype(object).to_numpy(),
        "column": column,
        "reason": reason,
    })


def _ragged_entries(raw: RawExtract) -> list[pd.DataFrame]:
    """Quarantine entries for records whose field count is not the header's."""
    entries = []
    width = len(raw.frame.columns) + len(raw.extra_columns) + len(raw.dropped_by_gateway)
    for fields, group in raw.ragged.groupby("fields", sort=True) if len(raw.ragged) else ():
        entries.append(_entries(raw.source, pd.Index(group["row_number"]), pd.Series(dtype=object), RAGGED,
                                f"record has {fields} field{'s' if fields != 1 else ''} but the header has {width}"))
    return entries


def _swallowed_entries(raw: RawExtract) -> list[pd.DataFrame]:
    """Quarantine entries for every line a stray quote made into one record, one per line."""
    entries = []
    if len(raw.swallowed):
        for (opened, closed, column), group in raw.swallowed.groupby(["opened_at", "closed_at", "column"],
                                                                    sort=True):
            lines = closed - opened + 1
            why = (f"{lines} lines, more than a record may span" if not column
                   else f"{lines} lines whose fields do not line up with the header's" if column == RAGGED
                   else f"{column} holds a line break, which only free-text columns may")
            entries.append(_entries(
                raw.source, pd.Index(group["row_number"]), pd.Series(dtype=object), RAGGED,
                f"inside a quoted value that opens on line {opened} and runs to line {closed} ({why}): "
                "a stray or unclosed quote?"))
    return entries


def _not_records(frame: pd.DataFrame) -> list[tuple[pd.Series, str]]:
    """Rows that are no record at all, each kind with its one reason: a line of delimiters only, and the
    header line again (two extracts joined into one file, the second's byte-order mark and all).

    Checked column by column they would be quarantined under every column they fail, with reasons
    about postcodes and dates that send whoever reads them looking for a bad value.
    """
    blank = frame.isna().all(axis=1)
    header = pd.Series(len(frame.columns) > 0, index=frame.index)
    for name in frame.columns:  # narrowed column by column: a real file's first column rules out every row
        rows = frame.index[header.to_numpy()]
        if not len(rows):
            break
        cells = frame.loc[rows, name].astype(TEXT).str.lstrip("\ufeff").str.strip().str.lower()
        header.loc[rows] = cells.eq(name).fillna(False).to_numpy(bool)
    return [(blank, "every column is blank (a line of delimiters only)"),
            (header & ~blank, "repeats the header line: two extracts joined into one file?")]


def _pointer_ids(checks: list[Check], views: pd.DataFrame, frame: pd.DataFrame, record_id: str) -> pd.Series:
    """The record ids a quarantine entry may carry to point back at its row.

    The quarantine is written outside restricted/, opened in spreadsheets and printed; an id longer than
    the contract allows (a pasted document) or holding a control character (a terminal escape) would go
    with it. Such an id is left out (the row number still points at the row).
    """
    if record_id not in frame:
        return pd.Series(dtype=object)
    unusable = pd.Series(False, index=frame.index)
    for check in checks:
        if check.column == record_id and check.kind in ("max_length", "not_regex"):
            unusable |= failing(check, views[check.view_name])
    return frame[record_id].where(~unusable)


def _failing_rows(checks: list[Check], views: pd.DataFrame, frame: pd.DataFrame, ids: pd.Series,
                  source: str) -> tuple[pd.Series, dict[str, int], list[pd.DataFrame]]:
    """Rows failing any check, each check's failing count, and one entry per row and failing column
    (its first failure there)."""
    bad = pd.Series(False, index=frame.index)
    reported: dict[str, pd.Series] = {}
    failures: dict[str, int] = {}
    entries = []
    for check in checks:
        view2 = views[check.view2_name] if check.view2 is not None else None
        mask = failing(check, views[check.view_name], view2)
        failures[check.name] = int(mask.sum())
        if not mask.any():
            continue
        already = reported.get(check.column)
        new = mask if already is None else mask & ~already
        reported[check.column] = mask if already is None else already | mask
        bad |= mask
        if new.any():
            entries.append(_entries(source, frame.index[new.to_numpy()], ids, check.column, check.reason))
    return bad, failures, entries


def validate(raw: RawExtract, contract: SourceContract, schemas: Schemas,
             max_bad_share: float | None = None) -> Validated:
    """Run the contract's checks over `raw`; see the module docstring for the outcomes."""
    frame = raw.frame
    limit = schemas.settings.max_bad_share if max_bad_share is None else max_bad_share
    entries = _ragged_entries(raw) + _swallowed_entries(raw)
    no_record = pd.Series(False, index=frame.index)
    for mask, reason in _not_records(frame):
        if mask.any():
            entries.append(_entries(raw.source, frame.index[mask.to_numpy()], pd.Series(dtype=object), RAGGED,
                                    reason))
            no_record |= mask
    frame = frame.loc[~no_record.to_numpy()]
    typed = parse_typed(frame, contract)
    checks = bind_constants(
        compile_checks(contract, schemas.formats, schemas.settings.text_max_length, set(frame.columns)),
        frame,
    )
    views = build_views(checks, frame, typed)
    ids = _pointer_ids(checks, views, frame, contract.record_id)

    bad, failures, found = _failing_rows(checks, views, frame, ids, raw.source)
    entries += found

    rows_in = raw.rows_in
    n_bad = int(bad.sum()) + int(no_record.sum()) + len(raw.ragged) + len(raw.swallowed)
    refused = None
    if rows_in and n_bad / rows_in > limit:
        refused = (f"{n_bad} of {rows_in} rows ({n_bad / rows_in:.0%}) failed validation, more than "
                   f"the {limit:.0%} allowed: probably the wrong file (if it is the right one, "
                   f"raise the limit: --max-bad-share {math.ceil(100 * n_bad / rows_in) / 100:.2f}, "
                   f"in Prefect max_bad_share)")
        rest = frame.index[~bad.to_numpy()]
        entries.append(_entries(raw.source, rest, ids, WHOLE_SOURCE, f"source refused: {refused}"))
        accepted_index = frame.index[:0]
    else:
        accepted_index = frame.index[~bad.to_numpy()]

    quarantine = (pd.concat(entries, ignore_index=True) if entries
                  else pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS}))
    quarantine = quarantine.astype({"row_number": "int64"}).sort_values(
        ["row_number", "column"], kind="stable", ignore_index=True)

    accepted = typed_frame(frame.loc[accepted_index], {k: v.loc[accepted_index] for k, v in typed.items()
                                                       if k in frame.columns},
                           contract)
    extract_dates = typed.get(contract.extract_date)
    extract_date = None
    if extract_dates is not None and extract_dates.notna().any():
        extract_date = extract_dates.loc[accepted_index].mode().min() if len(accepted_index) \
            else extract_dates.mode().min()
    return Validated(
        source=raw.source, accepted=accepted, quarantine=quarantine[QUARANTINE_COLUMNS],
        rows_in=rows_in, rows_quarantined=rows_in - len(accepted), refused=refused, checks=checks,
        views=views, failures=failures, extract_date=extract_date,
    )


@dataclass(frozen=True)
class QuarantineCounts:
    """What quarantine.parquet holds, counted as people would: rows, not entries.

    A bad row has one entry per failing column; a file refused for too many bad rows puts each of
    its remaining rows there too, under WHOLE_SOURCE. Saying "934 rows quarantined" when 306 rows
    were bad and 612 belong to a refused file misleads whoever acts on it.
    """

    entries: int  # rows of quarantine.parquet
    bad_rows: int  # distinct rows failing a check (or of the wrong width)
    refused_rows: dict[str, int]  # per refused source, its rows quarantined only because its file was refused

    @classmethod
    def of(cls, quarantine: pd.DataFrame) -> QuarantineCounts:
        whole = quarantine["column"] == WHOLE_SOURCE
        bad = quarantine.loc[~whole, ["source", "row_number"]].drop_duplicates()
        refused = quarantine.loc[whole, "source"].value_counts().sort_index()
        return cls(entries=len(quarantine), bad_rows=len(bad),
                   refused_rows={str(s): int(n) for s, n in refused.items()})

    def text(self) -> str:
        """'306 bad rows; 612 rows of the refused police extract (quarantine.parquet: 934 entries ...)'."""
        parts = [f"{self.bad_rows:,} bad row{'s' if self.bad_rows != 1 else ''}"]
        parts += [f"{n:,} rows of the refused {s} extract" for s, n in self.refused_rows.items()]
        return "; ".join(parts) + f" (quarantine.parquet: {self.entries:,} entries, one per failing column of a row)"

