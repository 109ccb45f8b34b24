"""The run's headline figures: the flow of rows from the files received to the eligible families.

One definition for the run report's "at a glance" and the Prefect table artifact, from one
`RunResult`. Counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pipeline.run imports the report to write it
    from pipeline.ingest.source import SourceOutcome
    from pipeline.run.result import RunResult


@dataclass(frozen=True)
class Rows:
    """One source's rows: received, then kept out by the registry, refused with the file, quarantined or accepted."""

    received: int
    not_taken: int  # outside the gateway's allowed rows, or on an opt-out list: dropped before anything landed
    refused: int  # read from a file refused whole
    quarantined: int
    accepted: int


def rows_of(o: SourceOutcome) -> Rows:
    not_taken = (o.admission.rows_received - o.rows_in) if o.admission is not None else 0
    return Rows(received=o.rows_in + not_taken, not_taken=not_taken, refused=0 if o.used else o.rows_in,
                quarantined=o.rows_quarantined if o.used else 0, accepted=o.rows_accepted if o.used else 0)


@dataclass(frozen=True)
class Flow:
    """The rows' way through the run; received = not_taken + refused + quarantined + accepted, and the
    accepted rows are the records linked into people, people into households, households into families."""

    received: int
    not_taken: int
    refused: int
    quarantined: int
    accepted: int
    records: int
    people: int
    households: int
    families: int
    eligible: int


def flow_of(result: RunResult) -> Flow:
    rows = [rows_of(o) for o in result.sources]
    link, score = result.linkage, result.scoring
    return Flow(received=sum(r.received for r in rows), not_taken=sum(r.not_taken for r in rows),
                refused=sum(r.refused for r in rows), quarantined=sum(r.quarantined for r in rows),
                accepted=sum(r.accepted for r in rows), records=link.records if link else 0,
                people=link.people if link else 0, households=link.households if link else 0,
                families=score.families if score else 0, eligible=score.eligible if score else 0)


def headline_figures(result: RunResult) -> list[dict[str, object]]:
    """Rows of (figure, value): what the Prefect table artifact lists and the report's first tiles show."""
    flow = flow_of(result)
    used = sum(o.used for o in result.sources)
    offered = sum(o.file is not None for o in result.sources)
    figures: list[tuple[str, object]] = [
        ("status", "partial" if result.partial else "complete"),
        ("as-of date", result.as_of.isoformat()),
        ("sources used", f"{used} of {offered} offered"),
        ("rows received", flow.received),
        ("rows not taken by the registry", flow.not_taken),
        ("rows of refused files", flow.refused),
        ("rows quarantined", flow.quarantined),
        ("rows accepted", flow.accepted),
        ("people", flow.people),
        ("households", flow.households),
        ("families (households with a child)", flow.families),
        ("eligible families", flow.eligible),
        ("pairs for clerical review", result.linkage.review_pairs if result.linkage else 0),
    ]
    if result.changes is not None:
        figures.append(("newly eligible since the previous run", result.changes.get("newly_eligible", 0)))
    return [{"figure": k, "value": v} for k, v in figures]
