"""When a run's data falls due for deletion: its processing date, and the retention the registry declares for
the sources it used (`schemas/gateways.yaml`, each source's `retention`).

A run keeps two kinds of data for two periods, both counted from its processing date (the day it ran):
the identifying copies under restricted/ for `identifying_days`, and the whole run folder for `run_days`.
A run that used several sources merged them: restricted/link_records.parquet and the clerical review hold
every source's records in one file, and a merged file cannot be split by source. So for each period the
SHORTEST among the sources the run used decides, and every used source at that shortest period is named
as the rule: the data goes when the first of its sources' periods runs out, never later.

A period of N days after processing date D runs out on D + N: the data is kept on days D to D + N - 1
and is removed by a purge on D + N or later (0 days: the day of the run itself).

The runs and their sources are the ledger's (pipeline.audit.ledger), never a folder's own say. A run
whose retention cannot be established (a used source the registry no longer declares, or declares
without `retention`) is not judged at all: nothing is deleted on a guess.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.audit.lineage import sha256_file
from pipeline.config.gateways import Gateway
from pipeline.publish import LINEAGE


class RetentionUnknown(Exception):
    """A run's retention cannot be established from the ledger and the registry: it is left alone."""


@dataclass(frozen=True)
class Rule:
    """One source's retention rule as it decided a period: the source, the rule's text and its days."""

    source: str
    rule: str
    days: int

    def record(self) -> dict:
        """As a purge's ledger record names it."""
        return {"source": self.source, "rule": self.rule, "days": self.days}

    def text(self) -> str:
        return f"{self.source}: {self.rule} ({self.days} days)"


@dataclass(frozen=True)
class Period:
    """One of a run's two periods: its days, the day it runs out on, and every used source at that shortest."""

    days: int
    due: dt.date
    rules: tuple[Rule, ...]

    def over(self, day: dt.date) -> bool:
        """Whether the period has run out on `day` (the data may be removed from `due` on)."""
        return day >= self.due


@dataclass(frozen=True)
class RunRetention:
    """How long one run's data is kept: restricted/ (`identifying`) and the whole folder (`run`)."""

    processing_date: dt.date
    dated_by: str  # where the processing date was read: the ledger entry, the run's lineage, or its start
    identifying: Period
    run: Period


def processing_date_of(entry: dict) -> tuple[dt.date, str]:
    """The run's processing date, and where it was read.

    The ledger entry's `processing_date` (recorded since retention was enforced); for an older entry,
    `run_start`'s in the run's lineage, read only when that file is byte for byte the one the ledger
    recorded; failing both, the day the run started (UTC), which is the processing date of every run
    not given `--processing-date`.
    """
    recorded = entry.get("processing_date")
    if recorded:
        return _date(recorded, "its ledger entry's processing_date"), "ledger"
    lineage = Path(str(entry.get("run"))) / LINEAGE
    try:
        if lineage.is_file() and not lineage.is_symlink() and sha256_file(lineage) == entry.get("lineage_sha256"):
            with open(lineage, encoding="utf-8") as fh:
                start = json.loads(fh.readline())
            given = (start.get("parameters") or {}).get("processing_date")
            if start.get("event") == "run_start" and given:
                return _date(given, "its lineage's processing_date"), "lineage"
    except (OSError, ValueError):
        pass
    started = entry.get("started")
    if not started:
        raise RetentionUnknown("the ledger records neither its processing date nor its start")
    return _date(str(started)[:10], "its ledger entry's start"), "start"


def _date(value: object, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RetentionUnknown(f"{what} {value!r} is not a date") from None


def used_sources(entry: dict) -> list[str]:
    """The sources the run used (refused and absent ones put nothing into it), in name order."""
    return sorted({str(s.get("source")) for s in entry.get("sources") or [] if s.get("used")})


def retention_of(entry: dict, gateways: dict[str, Gateway]) -> RunRetention:
    """The run's two periods under today's registry; RetentionUnknown naming what is missing."""
    used = used_sources(entry)
    if not used:
        raise RetentionUnknown("the ledger records no source the run used")
    undeclared = [s for s in used if gateways.get(s) is None or gateways[s].retention is None]
    if undeclared:
        raise RetentionUnknown(f"no retention is declared for {', '.join(undeclared)} in schemas/gateways.yaml")
    day, dated_by = processing_date_of(entry)

    def period(days_of: str) -> Period:
        rules = [Rule(s, gateways[s].retention.rule, getattr(gateways[s].retention, days_of)) for s in used]
        shortest = min(r.days for r in rules)
        return Period(shortest, day + dt.timedelta(days=shortest), tuple(r for r in rules if r.days == shortest))

    return RunRetention(day, dated_by, period("identifying_days"), period("run_days"))
