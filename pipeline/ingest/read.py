"""Read one agency extract as it arrives: bytes, encoding, CSV records, header against contract.

Reading is deliberately forgiving about *how* a file is encoded (BOM or not, CRLF, quoted
newlines, cp1252 from an old export) and strict about *what* it holds: a file that cannot be
the contracted extract (empty, header only, a required column missing, a duplicated column)
refuses its own source with a one-line reason, and never stops the other sources.

Every record keeps the line of the file it started on, so a research officer can open the file
at the row a quarantine entry names. Values are kept as text here; typing happens in
`validate`, after the checks that explain why a value could not be typed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config.contracts import SourceContract
from pipeline.config.gateways import Gateway
from pipeline.ingest.sniff import SAVE_AS, not_text, separated_by

# A single cell may be large (a pasted document); the contract's max_length then quarantines
# the row. Beyond this the file is refused rather than read into memory unbounded.
FIELD_SIZE_LIMIT = 64 * 1024 * 1024
csv.field_size_limit(FIELD_SIZE_LIMIT)

RAGGED = "(row)"  # the quarantine `column` for a record whose field count is wrong


class SourceRefused(Exception):
    """The file cannot be used as this source; the message is the one-line reason."""


@dataclass
class RawExtract:
    """An extract read into text columns, indexed by the file line each record starts on."""

    source: str
    path: Path
    sha256: str
    size_bytes: int
    encoding: str
    encoding_note: str | None
    frame: pd.DataFrame  # contract columns present (after the gateway's allowed columns)
    extra_columns: list[str] = field(default_factory=list)
    dropped_by_gateway: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    ragged: pd.DataFrame = field(default_factory=pd.DataFrame)  # row_number, fields, expected
    swallowed: pd.DataFrame = field(default_factory=pd.DataFrame)  # row_number, opened_at, closed_at, column

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.ragged) + len(self.swallowed)


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> tuple[str, str, str | None]:
    """Text, encoding name and a note when the file was not plain UTF-8.

    Bytes that are not UTF-8 are read as cp1252 (what older Windows exports write); the
    fallback is always reported, never silent.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data, bom = data[3:], True
    else:
        bom = False
    try:
        return data.decode("utf-8"), "utf-8-sig" if bom else "utf-8", None
    except UnicodeDecodeError as exc:
        text = data.decode("cp1252", errors="replace")
        undefined = text.count("\ufffd")
        note = f"not valid UTF-8 (first invalid byte at offset {exc.start}); read as cp1252"
        if undefined:
            note += f", {undefined} byte(s) undefined in cp1252 replaced"
        return text, "cp1252", note


def _records(text: str) -> tuple[list[str], list[list[str]], list[int], list[int]]:
    """Header, data records and each record's first and last line (header is line 1).

    Blank lines are not records, nor are lines of spaces or tabs alone. csv's line_num counts physical
    lines consumed, so a record's first line is one past the previous record's last line, quoted
    newlines included.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        while header == []:
            header = next(reader)
    except StopIteration:
        raise SourceRefused("file is empty") from None
    except csv.Error as exc:
        raise SourceRefused(f"header could not be read as CSV: {exc}") from None
    rows: list[list[str]] = []
    starts: list[int] = []
    ends: list[int] = []
    previous_end = reader.line_num
    try:
        for row in reader:
            if row and (len(row) > 1 or row[0].strip()):
                rows.append(row)
                starts.append(previous_end + 1)
                ends.append(reader.line_num)
            previous_end = reader.line_num
    except csv.Error as exc:
        raise SourceRefused(f"line {reader.line_num}: not readable as CSV: {exc}") from None
    return header, rows, starts, ends


def _swallowing(rows: list[list[str]], starts: list[int], ends: list[int], max_lines: int,
               one_line: dict[int, str], width: int) -> tuple[list[int], pd.DataFrame]:
    """The records a stray quote made of several lines, and every line they cover.

    A stray or unterminated quote makes one "record" of everything up to the next quote, or to the
    end of the file: the lines it swallowed would otherwise vanish without a count. A record is
    taken for one when it runs over more than `max_lines` lines, when a line break sits in a
    column that holds one line (`one_line`: field position to the column's label; only free-text
    columns may hold line breaks), or when its fields are not the header's `width` (a quote that
    opens in one column and closes in another). Each line it covers is returned (row_number,
    opened_at, closed_at, column: the one-line column's label, RAGGED for a record of the wrong
    width, blank for a long record) to be quarantined, so the rows counted in are always the file's
    physical data lines.
    """
    at: list[int] = []
    causes: list[str] = []
    for i in range(len(rows)):
        if ends[i] == starts[i]:
            continue
        if ends[i] - starts[i] + 1 > max_lines:
            at.append(i)
            causes.append("")
            continue
        broken = next((label for j, label in one_line.items()
                       if j < len(rows[i]) and ("\n" in rows[i][j] or "\r" in rows[i][j])), None)
        if broken is None and len(rows[i]) != width:
            broken = RAGGED
        if broken is not None:
            at.append(i)
            causes.append(broken)
    lines = [(line, starts[i], ends[i], cause) for i, cause in zip(at, causes, strict=True)
             for line in range(starts[i], ends[i] + 1)]
    frame = pd.DataFrame(lines, columns=["row_number", "opened_at", "closed_at", "column"])
    return at, frame.astype({"row_number": "int64", "opened_at": "int64", "closed_at": "int64",
                             "column": "object"})


def check_header(header: list[str], contract: SourceContract) -> tuple[list[str], list[str], list[str]]:
    """Normalised header, extra columns, missing optional columns; refuses on a broken header.

    A header cell that is not a contract column is named by its position only ("column 14"),
    never by its text: a file sent without its header line has a person's name, date of birth or
    address where the header should be, and a reason or the lineage must not carry it.
    """
    names = [h.strip().lower() for h in header]
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in first:
            what = repr(name) if name in contract.columns else "a header cell that is not a contract column"
            raise SourceRefused(f"column {i} of the header repeats column {first[name]} ({what}): "
                                "is the header line missing?")
        first[name] = i
    seen = set(first)
    missing = [c for c in contract.required_columns if c not in seen]
    if missing:
        separator = separated_by(header, set(contract.columns))
        if separator:
            raise SourceRefused(f"the file is separated by {separator}, not commas: {SAVE_AS}")
        raise SourceRefused(f"missing required column(s): {', '.join(missing)}")
    extra = [f"column {i}" for i, n in enumerate(names, start=1) if n not in contract.columns]
    missing_optional = [c for c in contract.columns if c not in seen]
    return names, extra, missing_optional


def read_extract(path: Path, contract: SourceContract, gateway: Gateway | None = None) -> RawExtract:
    """Read `path` as `contract.source`; raise SourceRefused with the reason if it cannot be."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceRefused(f"file could not be read: {exc.strerror}") from None
    return parse_extract(data, path, contract, gateway)


def _blank_to_null(values: pa.Array) -> pd.Series:
    """Trimmed Arrow strings with blanks as nulls (blank means unknown)."""
    values = pc.utf8_trim_whitespace(values)
    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    return pd.Series(pd.arrays.ArrowStringArray(values))


def _fast_columns(body: bytes, width: int, wanted: list[tuple[int, str]]) -> dict[str, pa.Array] | None:
    """Parse a plain file with pyarrow's CSV reader; None when it needs the careful path.

    pyarrow reads several times faster than Python's csv module but cannot say on which line
    a record starts once a value spans lines, skips blank lines silently, and stops at a row
    of the wrong width. So it is used only where none of that can happen: no blank lines, no
    line breaks inside values, every row the header's width. Anything else falls back to the
    csv-module path, which handles all of it; a test holds both paths to the same result.
    """
    import pyarrow.csv as pacsv

    # A blank line however it ends (LF, CRLF or a lone CR): one line ending met at once by another.
    if b"\n\n" in body or b"\n\r" in body or b"\r\r" in body or body[:1] in (b"\n", b"\r"):
        return None
    invalid: list[int] = []

    def on_invalid(row) -> str:
        invalid.append(row.number)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if invalid:
        return None
    columns = {name: table.column(i).combine_chunks() for i, name in wanted}
    for i in range(width):
        column = table.column(i)
        if pc.any(pc.match_substring_regex(column, "[\r\n]")).as_py():
            return None
    return columns


MAX_RECORD_LINES = 5  # settings.yaml's max_record_lines: the default where no settings are given


def parse_extract(data: bytes, path: Path, contract: SourceContract,
                  gateway: Gateway | None = None, careful: bool = False,
                  max_record_lines: int = MAX_RECORD_LINES) -> RawExtract:
    """`read_extract` over bytes already in memory (hashed here, exactly as received).

    `careful` forces the csv-module path that every file could take (see `_fast_columns`).
    """
    sha = file_sha256(data)
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise SourceRefused("file is empty")
    unreadable = not_text(data)
    if unreadable:
        raise SourceRefused(unreadable)
    text, encoding, note = decode(data)
    allowed = set(contract.columns) if gateway is None or gateway.allowed_columns == "all" \
        else set(gateway.allowed_columns)

    fast = None
    if encoding != "cp1252" and not careful:
        # The first record that is not blank, as `_records` takes it: blank lines before the header are not it.
        header = next((r for r in csv.reader(io.StringIO(text, newline="")) if r), [])
        names, extra, missing_optional = check_header(header, contract)
        wanted = [(i, n) for i, n in enumerate(names) if n in contract.columns and n in allowed]
        body = data[3:] if encoding == "utf-8-sig" else data
        fast = _fast_columns(body, len(names), wanted)
    if fast is not None:
        rows_found = len(next(iter(fast.values()))) if fast else 0
        if not rows_found:
            raise SourceRefused("file has a header but no data rows")
        starts = list(range(2, rows_found + 2))  # one line per record, header on line 1
        ragged = pd.DataFrame({"row_number": [], "fields": []}, dtype="int64")
        swallowed = _swallowing([], [], [], max_record_lines, {}, len(names))[1]
        cells = fast
    else:
        header, rows, starts, ends = _records(text)
        names, extra, missing_optional = check_header(header, contract)
        if not rows:
            raise SourceRefused("file has a header but no data rows")
        one_line = {i: (n if n in contract.columns else f"column {i + 1}") for i, n in enumerate(names)
                    if n not in contract.columns or contract.columns[n].type != "text"}
        long_at, swallowed = _swallowing(rows, starts, ends, max_record_lines, one_line, len(names))
        if long_at:
            drop = set(long_at)
            rows = [r for i, r in enumerate(rows) if i not in drop]
            starts = [n for i, n in enumerate(starts) if i not in drop]
        wanted = [(i, n) for i, n in enumerate(names) if n in contract.columns and n in allowed]
        width = len(names)
        ragged_at = [i for i, r in enumerate(rows) if len(r) != width]
        ragged = pd.DataFrame({
            "row_number": [starts[i] for i in ragged_at],
            "fields": [len(rows[i]) for i in ragged_at],
        }, dtype="int64")
        if ragged_at:
            bad = set(ragged_at)
            keep = [i for i in range(len(rows)) if i not in bad]
            rows = [rows[i] for i in keep]
            starts = [starts[i] for i in keep]
        cells = {name: pa.array([r[i] for r in rows], type=pa.string()) for i, name in wanted}

    dropped = [n for n in names if n in contract.columns and n not in allowed]
    index = pd.Index(starts, name="row_number", dtype="int64")
    columns = {}
    for name, values in cells.items():
        series = _blank_to_null(values)
        series.index = index
        columns[name] = series
    frame = pd.DataFrame(columns, index=index)
    return RawExtract(
        source=contract.source, path=path, sha256=sha, size_bytes=len(data), encoding=encoding,
        encoding_note=note, frame=frame, extra_columns=extra, dropped_by_gateway=dropped,
        missing_optional=missing_optional, ragged=ragged, swallowed=swallowed,
    )


PEEK_BYTES = 256 * 1024


def peek_extract_date(path: Path, contract: SourceContract) -> dt.date | None:
    """The most common extract_date among a file's first records, without reading it all.

    Every row carries the same extract_date (a contract rule checks it in full later); the run
    needs the date before it decides which agreements are in force, so before any file is read.
    The head is decoded and split as `parse_extract` would; its last record may be cut short and
    is left out.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(PEEK_BYTES)
    except OSError:
        return None
    text, _, _ = decode(head)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if len(rows) < 2:
        return None
    header = [h.strip().lower() for h in rows[0]]
    column = contract.extract_date
    if column not in header:
        return None
    i = header.index(column)
    values = pd.Series([r[i].strip() for r in rows[1:-1] or rows[1:] if len(r) > i])
    dates = pd.to_datetime(values, format=contract.columns[column].date_format, errors="coerce").dropna()
    if dates.empty:
        return None
    return dates.mode().min().date()
