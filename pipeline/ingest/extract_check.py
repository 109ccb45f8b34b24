"""An agency's check of its own file before sending it (`python -m pipeline check-extract`).

The same reading and validation a run applies (`read.parse_extract`, `validate.validate`), and
nothing else: no key, no linkage, nothing written. It says line, column and reason for each bad row,
never a value, so the output can be pasted into an e-mail to the council.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config.schemas import Schemas
from pipeline.ingest.admission import admit
from pipeline.ingest.read import SourceRefused, parse_extract
from pipeline.ingest.validate import WHOLE_SOURCE, validate


@dataclass(frozen=True)
class Problem:
    line: int  # the file's line number (the header is line 1)
    column: str
    reason: str


@dataclass(frozen=True)
class ExtractCheck:
    """What a run would make of the file."""

    source: str
    rows: int
    accepted: int
    problems: list[Problem]
    refused: str | None  # why the run would refuse the whole file, or None
    not_asked_for: str = ""  # rows outside the gateway's allowed rows, which the run drops unread

    def text(self, shown: int = 50) -> str:
        head = (f"{self.source}: {self.rows:,} rows, {self.accepted:,} would be accepted, "
                f"{self.rows - self.accepted:,} quarantined")
        lines = [head if self.refused is None else f"{self.source}: REFUSED: {self.refused}"]
        if self.not_asked_for:
            lines.append(f"  not asked for (leave them out): {self.not_asked_for}")
        lines += [f"  line {p.line}, column {p.column}: {p.reason}" for p in self.problems[:shown]]
        if len(self.problems) > shown:
            lines.append(f"  ... and {len(self.problems) - shown:,} more")
        return "\n".join(lines)


def check_extract(path: Path, source: str, schemas: Schemas, max_bad_share: float | None = None) -> ExtractCheck:
    """Read and validate one agency file as a run would (its gateway's columns and the contract)."""
    contract = schemas.contracts[source]
    try:
        raw = parse_extract(Path(path).read_bytes(), Path(path), contract, schemas.gateways.get(source),
                            max_record_lines=schemas.settings.max_record_lines)
    except SourceRefused as exc:
        return ExtractCheck(source, 0, 0, [], f"unreadable file: {exc}")
    raw, admission = admit(raw, schemas.gateways.get(source), None)  # opt-out lists are the council's, not here
    validated = validate(raw, contract, schemas, max_bad_share)
    q = validated.quarantine
    rows = q[q["column"] != WHOLE_SOURCE].sort_values(["row_number", "column"], kind="stable")
    problems = [Problem(int(r.row_number), str(r.column), str(r.reason)) for r in rows.itertuples(index=False)]
    return ExtractCheck(source, validated.rows_in, 0 if validated.refused else validated.rows_accepted, problems,
                        validated.refused, admission.text())
