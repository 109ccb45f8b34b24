"""A finished run, typed: what the closing summary, the Prefect artifacts and callers are told."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.criteria.changes import paragraph
from pipeline.criteria.stage import ScoreCounts
from pipeline.ingest.source import SourceOutcome
from pipeline.ingest.validate import QuarantineCounts
from pipeline.link.stage import LinkCounts
from pipeline.report import REPORT_FILE


@dataclass(frozen=True)
class QuarantineReason:
    """Rows of one source quarantined for one reason in one column."""

    source: str
    column: str
    reason: str
    rows: int


@dataclass
class RunResult:
    out: Path
    as_of: dt.date
    purpose: str
    sources: list[SourceOutcome]
    quarantine: QuarantineCounts
    seconds: float
    reasons: list[QuarantineReason] = field(default_factory=list)
    linkage: LinkCounts | None = None
    scoring: ScoreCounts | None = None
    required_not_used: list[str] = field(default_factory=list)  # absent or refused, and allowed to be
    changes: dict[str, int] | None = None  # rows of changes.parquet per kind, with --previous
    previous_as_of: dt.date | None = None
    warnings: list[str] = field(default_factory=list)  # said before the run started (lapsing agreements, ...)

    def changes_text(self) -> str | None:
        """The month's changes in one line (`changes.parquet`), with --previous; None for a run on its own."""
        if self.changes is None or self.previous_as_of is None:
            return None
        return paragraph(self.changes, self.previous_as_of.isoformat())

    @property
    def report(self) -> Path:
        """The run report, report.html in the output folder."""
        return self.out / REPORT_FILE

    @property
    def partial(self) -> bool:
        """Whether the run went on without a required source: its figures are not the whole picture."""
        return bool(self.required_not_used)
