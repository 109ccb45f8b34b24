"""Extracts with random damage, and what ingest must still promise about them (issue 17).

Hypothesis starts from valid extracts (the tiny set's police file, and its benefits file with a
row its gateway keeps out) and damages their bytes the ways files arrive broken: a quote added or
lost, a delimiter lost or doubled, a line break inside a record, the file cut short, NUL or random
bytes, the header replaced, zero-width characters, columns swapped, blank lines, a BOM, CRLF
endings, a very long field, a formula prefix. Whatever the damage, the file is either refused
with a one-line reason that quotes nothing of it, or every record it physically holds is
accounted for (accepted, quarantined, or kept out by the gateway and counted), and no quarantine
reason repeats a value of it. The fast reader and the careful one agree on every file.

A few whole runs over a damaged source (beside, and carrying on from, a copy of the session's tiny
run) either complete or fail with one error line; nothing identifying from any extract reaches a
file outside restricted/, the ledger or the terminal; the earlier run's files are untouched.

The examples are the same every run (tests/conftest.py's "ci" profile); `HYPOTHESIS_PROFILE=explore`
searches wider at random. A case a search finds is kept as an explicit example and a plain test.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.cli import PARTIAL_EXIT
from pipeline.config import load_schemas
from pipeline.config.contracts import SourceContract
from pipeline.config.schemas import Schemas
from pipeline.ingest.admission import admit
from pipeline.ingest.read import SourceRefused, decode, parse_extract
from pipeline.ingest.validate import validate
from tests.conftest import TINY, run_cli
from tests.support import leaked, source_records

# The roles whose values identify a person (a record id or a claimant's role does not).
IDENTIFYING_ROLES = {"person_token", "unit_token", "forename", "preferred_forename", "middle_names", "surname",
                     "dob", "address_line", "postcode", "uprn"}


# --------------------------------------------------------------------------- the valid extracts
def _with_row_outside_the_gateway(data: bytes) -> bytes:
    """The tiny benefits file with one more claim, for PIP, which the benefits gateway keeps out."""
    lines = data.decode("utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("source_record_id")] = "BEN9"
    row[header.index("benefit_type")] = "PIP"
    row[header.index("uc_work_group")] = ""
    return ("\n".join([*lines, ",".join(row)]) + "\n").encode("utf-8")


BASES = {
    "police": (TINY / "police.csv").read_bytes(),  # a quoted address with a comma, DD/MM/YYYY dates
    "benefits": _with_row_outside_the_gateway((TINY / "benefits.csv").read_bytes()),
}


# --------------------------------------------------------------------------- damage
# A spot in a file: (in_header, n). Damage falls on the data lines unless in_header (one time in four), and `n`,
# however large, picks a place among them; shrinking makes it the first data byte. Every damage applies to any file.
SPOTS = st.tuples(st.sampled_from([False, False, False, True]), st.integers(0, 5000))
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
FORMULA = ["=", "+", "-", "@", "=HYPERLINK(", "\t"]
BREAKS = [b"\n", b"\r\n", b"\r"]


class Damage(NamedTuple):
    """One damage: a function of the file's bytes and its arguments, shown as a call when a case fails."""

    apply: Callable[..., bytes]
    args: tuple

    def __call__(self, data: bytes) -> bytes:
        return self.apply(data, *self.args)

    def __repr__(self) -> str:
        return f"{self.apply.__name__}{self.args!r}"


def _header_end(data: bytes) -> int:
    end = data.find(b"\n")
    return len(data) if end < 0 else end + 1


def _at(data: bytes, spot: tuple[bool, int]) -> int:
    """A position (0 to len) in the header line or in the data lines after it."""
    in_header, n = spot
    end = _header_end(data)
    return n % (end + 1) if in_header else end + n % (len(data) - end + 1)


def _nth(data: bytes, byte: bytes, spot: tuple[bool, int]) -> int | None:
    """One occurrence of `byte`, in the header or in the data as `spot` says; None when there is none."""
    in_header, n = spot
    end = _header_end(data)
    places = [m.start() for m in re.finditer(re.escape(byte), data) if (m.start() < end) == in_header]
    return places[n % len(places)] if places else None


def _cells(data: bytes, edit: Callable[[int, list[str]], list[str]]) -> bytes:
    """`data` rewritten with each record's cells passed through `edit(record_index, cells)`."""
    text, encoding, _ = decode(data)
    out = io.StringIO()
    rows = csv.reader(io.StringIO(text, newline=""))
    csv.writer(out, lineterminator="\n").writerows(edit(i, row) for i, row in enumerate(rows))
    return out.getvalue().encode("cp1252" if encoding == "cp1252" else "utf-8", errors="replace")


def insert(data: bytes, spot: tuple[bool, int], what: bytes) -> bytes:
    at = _at(data, spot)
    return data[:at] + what + data[at:]


def delete(data: bytes, spot: tuple[bool, int], byte: bytes) -> bytes:
    at = _nth(data, byte, spot)
    return data if at is None else data[:at] + data[at + 1:]


def double(data: bytes, spot: tuple[bool, int], byte: bytes) -> bytes:
    at = _nth(data, byte, spot)
    return data if at is None else data[:at] + byte + data[at:]


def open_quote(data: bytes, spot: tuple[bool, int]) -> bytes:
    """A quote opening a field that never closes where it should (csv reads a quote elsewhere as a character)."""
    at = _nth(data, b",", spot)
    return data if at is None else data[:at + 1] + b'"' + data[at + 1:]


def truncate(data: bytes, spot: tuple[bool, int]) -> bytes:
    return data[:_at(data, spot)]


def replace_header(data: bytes, line: int) -> bytes:
    """The header line replaced by a data line (a file sent without its header), or by a foreign header."""
    lines = data.split(b"\n")
    lines[0] = lines[1 + line % (len(lines) - 1)] if line and len(lines) > 1 else b"id;name;date of birth"
    return b"\n".join(lines)


def swap_columns(data: bytes, i: int, j: int, header_too: bool) -> bytes:
    """Two columns exchanged on every record (an export reordered), or on the data lines only (misaligned)."""
    def edit(index: int, cells: list[str]) -> list[str]:
        if len(cells) > 1 and (index or header_too):
            a, b = i % len(cells), j % len(cells)
            cells[a], cells[b] = cells[b], cells[a]
        return cells
    return _cells(data, edit)


def set_cell(data: bytes, row: int, column: int, value: str) -> bytes:
    """One data cell replaced; `value` may name the old one as {old} (a formula prefix before it)."""
    def edit(index: int, cells: list[str]) -> list[str]:
        if index == 1 + row % 8 and cells:
            at = column % len(cells)
            cells[at] = value.format(old=cells[at])
        return cells
    return _cells(data, edit)


def trailing_delimiter(data: bytes) -> bytes:
    """A delimiter at the end of every line (an export that closes each row with one): an empty column more."""
    return data.replace(b"\n", b",\n")


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def replace_delimiter(data: bytes, delimiter: bytes) -> bytes:
    """Every comma made another delimiter (a semicolon or tab export), quoted commas too."""
    return data.replace(b",", delimiter)


def utf16(data: bytes) -> bytes:
    """The file re-encoded as UTF-16 with its byte order mark (a spreadsheet's "Unicode text")."""
    return decode(data)[0].encode("utf-16")


def add_bom(data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def duplicate_line(data: bytes, n: int) -> bytes:
    lines = data.split(b"\n")
    at = n % len(lines)
    return b"\n".join([*lines[:at + 1], *lines[at:]])


def delete_line(data: bytes, n: int) -> bytes:
    lines = data.split(b"\n")
    del lines[n % len(lines)]
    return b"\n".join(lines)


def _damage(apply: Callable[..., bytes], *args: st.SearchStrategy) -> st.SearchStrategy[Damage]:
    return st.tuples(*args).map(lambda drawn: Damage(apply, drawn))


LINE, CELL = st.integers(0, 50), st.integers(0, 30)  # any number picks a line, a cell
DAMAGE = st.one_of(
    _damage(insert, SPOTS, st.just(b'"')),                       # a stray quote
    _damage(open_quote, SPOTS),
    _damage(delete, SPOTS, st.just(b'"')),                       # a quote lost
    _damage(double, SPOTS, st.just(b'"')),                       # a quote doubled
    _damage(delete, SPOTS, st.just(b",")),                       # a delimiter lost
    _damage(double, SPOTS, st.just(b",")),                       # a delimiter doubled
    _damage(trailing_delimiter),
    _damage(insert, SPOTS, st.sampled_from(BREAKS)),             # a line break inside a record
    _damage(truncate, SPOTS),                                    # cut short
    _damage(insert, SPOTS, st.one_of(st.just(b"\x00"), st.binary(min_size=1, max_size=4))),
    _damage(replace_header, LINE),
    _damage(insert, SPOTS, st.sampled_from([z.encode() for z in ZERO_WIDTH])),
    _damage(swap_columns, CELL, CELL, st.booleans()),
    _damage(insert, SPOTS, st.sampled_from([b"\n", b"\n\n", b"\r\n", b" \n", b",,\n"])),  # blank lines
    _damage(add_bom),
    _damage(crlf),
    _damage(replace_delimiter, st.sampled_from([b";", b"\t"])),
    _damage(utf16),
    _damage(set_cell, LINE, CELL, st.sampled_from(["A" * 201, "A" * 70_000])),  # very long fields
    _damage(set_cell, LINE, CELL, st.sampled_from([p + "{old}" for p in FORMULA])),
    _damage(duplicate_line, LINE),
    _damage(delete_line, LINE),
)


@st.composite
def damaged(draw) -> tuple[str, bytes, list[Damage]]:
    """A source, its valid extract with one to three damages applied in turn, and the damages."""
    source = draw(st.sampled_from(sorted(BASES)))
    damages = draw(st.lists(DAMAGE, min_size=1, max_size=3))
    data = BASES[source]
    for damage in damages:
        data = damage(data)
    return source, data, damages


# --------------------------------------------------------------------------- what the file holds
def _line_breaks(value: str) -> int:
    return len(re.findall(r"\r\n|\r|\n", value))


def physical_records(data: bytes, contract: SourceContract, max_lines: int) -> int:
    """The data records the file holds, counted from what Python's csv module reads of it.

    Blank records are none, and the first record is the header. A record spans one line, plus one for
    each line break inside its values; but the file's lines are as many as it has, so a quote left open
    to the end, which takes the file's last line break into its value, ends a line short. A record that
    spans more than `max_lines` lines, or that has a line break in a column holding one line (any but a
    free-text column), or more or fewer fields than the header (a stray quote has merged lines, whose
    fields no longer line up), is as many records as the lines it spans; any other record is one.
    """
    text, _, _ = decode(data)
    records = list(csv.reader(io.StringIO(text, newline="")))  # a blank line is an empty record
    spans = [1 + sum(_line_breaks(v) for v in record) for record in records]
    lines = _line_breaks(text) + (1 if text and not text.endswith(("\n", "\r")) else 0)
    over = sum(spans) - lines
    assert over in (0, 1), "every line is a record's or blank, and only the file's last break can be over"
    if over:
        spans[-1] -= over
    first = next((i for i, record in enumerate(records) if record), None)
    if first is None:
        return 0
    header = [h.strip().lower() for h in records[first]]
    free_text = [h in contract.columns and contract.columns[h].type == "text" for h in header]
    count = 0
    for record, span in zip(records[first + 1:], spans[first + 1:], strict=True):
        if not record:
            continue
        broken_one_line = any(_line_breaks(v) for v, text_ok in zip(record, free_text, strict=False) if not text_ok)
        merged = span > 1 and (broken_one_line or len(record) != len(header))
        count += span if span > max_lines or merged else 1
    return count


def identifying_values(data: bytes, contract: SourceContract) -> set[str]:
    """The values of the valid extract's identifying columns (at least 3 characters): what no reason may quote."""
    text, _, _ = decode(data)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    columns = [c for c, col in contract.columns.items() if col.role in IDENTIFYING_ROLES]
    return {row[c].strip() for row in rows for c in columns if len(row[c].strip()) >= 3}


def header_cells(data: bytes, contract: SourceContract) -> set[str]:
    """The damaged file's header cells that are not contract column names nor pieces of one: what a data line
    or junk where the header should be holds."""
    text, _, _ = decode(data)
    first = next((r for r in csv.reader(io.StringIO(text, newline="")) if r), [])
    cells = {c.strip() for c in first if len(c.strip()) >= 3}
    return {c for c in cells if not any(c.lower() in name for name in contract.columns)}


def quoted(values: set[str], text: str) -> list[str]:
    """The values `text` quotes: as whole words (tests.support.leaked), or verbatim for a value too long to be
    a word (a whole line read as one cell)."""
    short = {v for v in values if len(v) <= 100}
    return leaked(short, text) + sorted(v for v in values - short if v in text)


def assert_one_line_reason(reason: str, secrets: set[str]) -> None:
    assert reason and "\n" not in reason and "\r" not in reason, reason
    assert quoted(secrets, reason) == [], reason


# --------------------------------------------------------------------------- the properties
# Cases the search found, kept as explicit examples (each also a plain test in tests/ingest/test_read.py).
def _damaged(source: str, *damages: Damage) -> tuple[str, bytes, list[Damage]]:
    data = BASES[source]
    for damage in damages:
        data = damage(data)
    return source, data, list(damages)


UNCLOSED = _damaged("police", Damage(delete, ((False, 1), b'"')))  # an address's closing quote lost
BLANK_FIRST = _damaged("police", Damage(insert, ((True, 0), b"\n")))  # a blank line before the header
LONE_CR = _damaged("benefits", Damage(insert, ((False, 0), b"\r")))  # a blank line ended by a lone CR
HEADER_ONLY = _damaged("police", Damage(truncate, ((False, 0),)))


@functools.cache
def _schemas() -> Schemas:
    """The schemas, as the session fixture loads them; taken here so a failing example's report is the file
    alone, not the whole registry (Hypothesis prints every argument of the test)."""
    return load_schemas()


@pytest.mark.parametrize("source", sorted(BASES))
def test_the_valid_extracts_are_read_whole(source, schemas):
    """The starting points are themselves valid: damage is what the property tests add."""
    contract = schemas.contracts[source]
    raw = parse_extract(BASES[source], TINY / f"{source}.csv", contract, schemas.gateways[source])
    admitted, admission = admit(raw, schemas.gateways[source], None)
    result = validate(admitted, contract, schemas)
    assert result.refused is None
    physical = physical_records(BASES[source], contract, schemas.settings.max_record_lines)
    assert raw.rows_in == physical == len(BASES[source].splitlines()) - 1
    assert admission.rows_outside_gateway == (1 if source == "benefits" else 0)


@example(UNCLOSED)
@given(damaged())
def test_a_damaged_extract_is_refused_in_one_line_or_every_record_is_accounted_for(case):
    source, data, _ = case
    schemas = _schemas()
    contract, gateway = schemas.contracts[source], schemas.gateways[source]
    secrets = identifying_values(BASES[source], contract) | header_cells(data, contract)
    max_lines = schemas.settings.max_record_lines
    try:
        raw = parse_extract(data, TINY / f"{source}.csv", contract, gateway, max_record_lines=max_lines)
    except SourceRefused as refused:
        assert_one_line_reason(str(refused), secrets)
        return
    admitted, admission = admit(raw, gateway, None)
    result = validate(admitted, contract, schemas)
    physical = physical_records(data, contract, max_lines)
    assert raw.rows_in == physical
    assert physical == result.rows_accepted + result.rows_quarantined + admission.rows_outside_gateway \
        + admission.suppressed
    assert result.rows_quarantined == result.quarantine["row_number"].nunique()
    for reason in result.quarantine["reason"].unique():
        assert_one_line_reason(reason, secrets)
    if result.refused is not None:
        assert_one_line_reason(result.refused, secrets)


@example(BLANK_FIRST)
@example(LONE_CR)
@given(damaged())
def test_the_fast_and_the_careful_reader_agree_on_a_damaged_extract(case):
    source, data, _ = case
    schemas = _schemas()
    contract, gateway = schemas.contracts[source], schemas.gateways[source]
    outcomes = []
    for careful in (False, True):
        try:
            outcomes.append(parse_extract(data, TINY / f"{source}.csv", contract, gateway, careful=careful))
        except SourceRefused as refused:
            outcomes.append(str(refused))
    fast, slow = outcomes
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    pd.testing.assert_frame_equal(fast.ragged, slow.ragged)
    pd.testing.assert_frame_equal(fast.swallowed, slow.swallowed)
    assert (fast.rows_in, fast.extra_columns, fast.missing_optional, fast.encoding) == \
        (slow.rows_in, slow.extra_columns, slow.missing_optional, slow.encoding)


# --------------------------------------------------------------------------- whole runs
def run_secrets(schemas: Schemas) -> set[str]:
    """Every identifying value of the extracts a damaged run is given, less the words of the contracts (which
    Data Docs quote): what nothing outside restricted/ may carry."""
    values = set()
    for source, contract in schemas.contracts.items():
        values |= identifying_values(BASES.get(source) or (TINY / f"{source}.csv").read_bytes(), contract)
    contract_words = set(re.findall(r"[A-Za-z0-9-]+", "\n".join(
        p.read_text(encoding="utf-8") for p in (schemas.root / "sources").glob("*.yaml"))))
    return values - contract_words


def published_texts(run: Path) -> dict[str, str]:
    """The text of each file of a run folder outside restricted/ (none when there is no folder); of a table,
    its text cells."""
    texts: dict[str, str] = {}
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        where = path.relative_to(run)
        if where.parts[0] == "restricted":
            continue
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            texts[str(where)] = "\n".join(frame[c].astype(str).str.cat(sep="\n") for c in frame.columns
                                         if not pd.api.types.is_numeric_dtype(frame[c]))
        else:
            texts[str(where)] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_leak_check_finds_identifying_values_in_restricted_files_alone(tiny_run, schemas):
    """The check the damaged runs are held to, on the undamaged run: it sees the names and addresses where they
    belong (so it is not blind), and nowhere else."""
    secrets = run_secrets(schemas)
    landed = pd.read_parquet(tiny_run.out / "restricted" / "landed" / "police.parquet")
    assert {"PEMBERTON", "14 Quarry Lane"} <= set(leaked(secrets, landed.to_csv()))
    found = {where: leaked(secrets, text) for where, text in published_texts(tiny_run.out).items()}
    assert {where: values for where, values in found.items() if values} == {}
    assert leaked(secrets, tiny_run.stdout + tiny_run.stderr + tiny_run.ledger.read_text()) == []


# How a run is asked to take a damaged source: as it comes (refused if required), allowed to go without it, or
# taking it whatever its share of bad rows (one bad row of the tiny set's eight is already more than 20%).
HOW = {"as given": (), "allow missing": ("--allow-missing", "{source}"), "any bad share": ("--max-bad-share", "1")}


@settings(max_examples=2)  # a run takes seconds: few examples, each a whole run, beside these two
@example(case=HEADER_ONLY, how="as given")  # a required source refused: the run stops
@example(case=UNCLOSED, how="any bad share")  # lines a stray quote took quarantined: the run goes on
@given(case=damaged(), how=st.sampled_from(sorted(HOW)))
def test_a_run_over_a_damaged_extract_completes_or_fails_in_one_line_and_leaves_earlier_runs_alone(
        tiny_run, tmp_path_factory, case, how):
    source, data, _ = case
    schemas = _schemas()
    base = tmp_path_factory.mktemp("damaged-run")
    extracts = base / "extracts"
    shutil.copytree(TINY, extracts, ignore=shutil.ignore_patterns("*.md"))
    for name, valid in BASES.items():
        (extracts / f"{name}.csv").write_bytes(valid)
    (extracts / f"{source}.csv").write_bytes(data)
    earlier = base / "earlier"  # last month's run, beside this one and named as its previous run
    shutil.copytree(tiny_run.out, earlier)
    (base / "ledger").mkdir()
    shutil.copyfile(tiny_run.ledger, base / "ledger" / "ledger.jsonl")
    before = file_hashes(earlier)

    run = run_cli(base, "--extracts", extracts, "--previous", earlier, "--no-reuse",
                  *(arg.format(source=source) for arg in HOW[how]))

    assert file_hashes(earlier) == before
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    if run.code == 1:  # failed: one line says why, nothing is published, the trail is kept with the ledger
        assert errors == run.stderr.splitlines()[-1:] and "internal error" not in errors[0], run.stderr
        assert not run.out.exists()
        trails = list((base / "ledger" / "failed").glob("*/lineage.jsonl"))
    else:
        assert run.code in (0, PARTIAL_EXIT) and not errors, run.stderr
        trails = [run.out / "lineage.jsonl"]
    record = next((r[source] for r in map(source_records, (t.parent for t in trails)) if source in r), None)
    if record is not None:  # (a run may fail before it reads any source)
        assert (run.code == PARTIAL_EXIT) == (how == "allow missing" and not record["used"])
        assert_accounted(record, data, schemas)
    else:
        assert run.code == 1
    texts = {"stdout": run.stdout, "stderr": run.stderr, **published_texts(run.out),
             **{f"ledger/{k}": v for k, v in published_texts(base / "ledger").items()}}
    secrets = run_secrets(schemas)
    assert {where: found for where, text in texts.items() if (found := leaked(secrets, text))} == {}


def assert_accounted(record: dict, data: bytes, schemas: Schemas) -> None:
    """The lineage's account of a damaged source: every record the file holds is accepted, quarantined or kept
    out by its gateway, or the file was refused before it could be read, with its reason in one line."""
    if "rows_received" not in record:
        assert not record["used"] and record["reason"] and "\n" not in record["reason"]
        return
    contract = schemas.contracts[record["source"]]
    assert record["rows_received"] == physical_records(data, contract, schemas.settings.max_record_lines)
    assert record["rows_received"] == record["rows_in"] + record["rows_outside_gateway"] + record["rows_suppressed"]
    assert record["rows_in"] == record["rows_accepted"] + record["rows_quarantined"]
