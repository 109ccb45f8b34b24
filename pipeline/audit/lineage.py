"""The run's audit trail: `lineage.jsonl`, one JSON object a line, written as the run goes.

Records carry counts, hashes, gateways and reasons, never a cell's value: the file is for
auditors and must hold no personal data. Keys are sorted so the same facts give the same line.

The records form a hash chain: each carries `prev_hash` (the previous record's `hash`, or
GENESIS for the first) and `hash`, the SHA-256 of its own canonical JSON without `hash`. Editing,
deleting, inserting or reordering a record therefore breaks the chain at the first record
affected, which `verify_chain` names. Whoever can rewrite the whole file can recompute the
chain, so the last hash is also kept in the cross-run ledger (pipeline.audit.ledger).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import __version__


def code_version() -> str:
    """The git commit of the code when run from a checkout, else the package version."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        if out.returncode == 0:
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


GENESIS = "0" * 64  # the prev_hash of a chain's first record


def canonical(record: dict) -> str:
    """The one serialisation that is hashed: any key order or spacing in the file gives the same hash."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def record_hash(record: dict) -> str:
    """SHA-256 hex of the record without its own `hash` (its `prev_hash` included, which makes the chain)."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def seal(record: dict, prev_hash: str) -> dict:
    """The record as it will read back from JSON, linked to `prev_hash` and carrying its own hash.

    Round-tripping through JSON first means dates, paths and numpy scalars are hashed exactly as
    they are stored, so a verifier reading the file recomputes the same hash.
    """
    body = json.loads(json.dumps({k: v for k, v in record.items() if k not in ("hash", "prev_hash")},
                                 default=_default, ensure_ascii=False))
    body["prev_hash"] = prev_hash
    body["hash"] = record_hash(body)
    return body


def dumps(record: dict) -> str:
    """One line of a chained file (keys sorted, as the lineage has always been written)."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def last_hash(path: Path) -> str:
    """The hash a record appended to `path` must follow: its last record's, or GENESIS when empty or absent."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return GENESIS
    return last_hash_in(text, path)


def last_hash_in(text: str, where: Path) -> str:
    """The hash the next record of the chained file `where`, holding `text`, must follow.

    An unreadable or hashless last line stops the append rather than fork the chain.
    The ledger reads its text under a lock, so it passes the text rather than the path.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return GENESIS
    try:
        last = json.loads(lines[-1])
    except json.JSONDecodeError:
        last = None
    if not isinstance(last, dict) or not isinstance(last.get("hash"), str):
        raise ValueError(f"{where}: its last line is not a chained record, so its chain cannot be continued "
                         f"(check it: python -m pipeline audit verify {where})")
    return last["hash"]


class LineageWriter:
    """Appends chained records to a run's lineage file, flushing each so a crash keeps what happened."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._prev = last_hash(self.path)  # an existing trail is continued, not restarted
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, event: str, **fields: Any) -> dict:
        """Append one record, chained to the one before; returns it as written (with prev_hash and hash)."""
        record = seal({"event": event, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **fields},
                      self._prev)
        self._fh.write(dumps(record) + "\n")
        self._fh.flush()
        self._prev = record["hash"]
        return record

    def close(self) -> None:
        self._fh.close()

    @property
    def closed(self) -> bool:
        return self._fh.closed

    @staticmethod
    def run_context() -> dict:
        """Who ran what, where: for the run_start record."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return {"code_version": code_version(), "user": user, "host": platform.node(),
                "python": platform.python_version()}


def read_lineage(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --------------------------------------------------------------------------- verifying a chain
@dataclass(frozen=True)
class ChainProblem:
    """The first record at fault: its 1-based line, its event (when readable) and what is wrong."""

    line: int
    event: str | None
    what: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" ({self.event})" if self.event else "") + f": {self.what}"


def parse_lines(text: str) -> tuple[list[dict], ChainProblem | None]:
    """The records of a chained file, one per line, stopping at the first line that is not a JSON object.

    A blank or unreadable line is itself a problem (the writer never writes one), and numbering
    every line keeps the line numbers reported equal to the file's.
    """
    records: list[dict] = []
    for i, line in enumerate(text.splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            what = "blank line (inserted)" if not line.strip() else "not a JSON record (edited)"
            return records, ChainProblem(i, None, what)
        records.append(record)
    return records, None


def _event(record: dict) -> str | None:
    event = record.get("event")
    return event if isinstance(event, str) else None


def verify_chain(records: list[dict]) -> ChainProblem | None:
    """The first record that breaks the chain, or None when every record is where it was written.

    Per record, in order: its hash must match its content (else it was edited); it must not
    repeat an earlier record (a copy inserted); its prev_hash must be the hash of the record
    before it. When it is not, and it names an earlier record instead, the records in between
    were inserted (even with a correctly forged chain), so the first of them is named; otherwise
    a record before it was deleted, or it was moved here.
    """
    seen: dict[str, int] = {}
    expected = GENESIS
    for i, record in enumerate(records, 1):
        stated = record.get("hash")
        if not isinstance(stated, str) or stated != record_hash(record):
            what = "no hash (not written by a chained writer, or edited)" if stated is None \
                else "edited: its content no longer matches its hash"
            return ChainProblem(i, _event(record), what)
        if stated in seen:
            return ChainProblem(i, _event(record), f"a copy of line {seen[stated]} (inserted)")
        prev = record.get("prev_hash")
        if prev != expected:
            return _broken_link(records, i, prev, seen)
        seen[stated] = i
        expected = stated
    return None


def _broken_link(records: list[dict], i: int, prev: object, seen: dict[str, int]) -> ChainProblem:
    """Name the first bad record when record `i` does not follow record `i - 1`."""
    earlier = seen.get(prev) if isinstance(prev, str) else None
    if earlier is not None and earlier < i - 1:
        first = earlier + 1
        return ChainProblem(first, _event(records[first - 1]),
                            f"inserted: not in the chain (line {i} follows line {earlier} in the chain)")
    if i == 1:
        return ChainProblem(1, _event(records[0]), "does not start the chain: earlier records were deleted")
    return ChainProblem(i, _event(records[i - 1]),
                        f"does not follow line {i - 1} in the chain: a record before it was deleted, "
                        f"it was inserted or moved here, or line {i - 1} was rewritten")
