"""The information-governance officer's account: each source's gateway, agreement status, last extract
and what depends on it (`python -m pipeline gateways`).

Read from the registry (`schemas/gateways.yaml`), the rule set and the ledger only: no extract is
opened, so it can be run by someone with no access to the data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipeline.audit.ledger import read_ledger
from pipeline.config.gateways import Gateway
from pipeline.criteria.rules import RuleSet
from pipeline.ingest.gateways import lapsing_in


@dataclass(frozen=True)
class SourceAccount:
    """One source as the officer sees it."""

    source: str
    gateway: Gateway | None
    status: str  # in force / expiring in N days / expired on D / not in force until D / no gateway declared
    last_extract: str  # "2026-10-31 (run 01a2..., ledger line 7, used)" or "none received"
    criteria: list[str]  # the rule set's criteria that read it: not assessed when it is missing


def agreement_status(gateway: Gateway | None, processing_date: dt.date, warning_days: int) -> str:
    """In force, expiring within `warning_days`, expired, or not yet in force, on the processing date."""
    if gateway is None:
        return "no gateway declared: the source is refused"
    a = gateway.agreement
    if processing_date < a.start:
        return f"not in force until {a.start.isoformat()}"
    if processing_date > a.expires:
        return f"EXPIRED on {a.expires.isoformat()}: the source is refused"
    left = lapsing_in(gateway, processing_date, warning_days)
    if left is not None:
        return f"in force, EXPIRING in {left} day{'s' if left != 1 else ''} ({a.expires.isoformat()})"
    return f"in force until {a.expires.isoformat()}"


def last_extracts(ledger: Path) -> dict[str, str]:
    """Per source, the newest run in the ledger that was offered its extract, and whether it was used."""
    entries, _ = read_ledger(ledger) if ledger.is_file() else ([], None)
    last: dict[str, str] = {}
    for line, entry in enumerate(entries, start=1):
        for offered in entry.get("sources") or []:
            used = "used" if offered.get("used") else f"refused: {offered.get('reason')}"
            last[str(offered.get("source"))] = (f"as of {entry.get('as_of')} (run {str(entry.get('run_id'))[:8]}, "
                                                f"ledger line {line}, {used})")
    return last


def accounts(gateways: dict[str, Gateway], sources: list[str], rules: RuleSet, processing_date: dt.date,
             warning_days: int, ledger: Path) -> list[SourceAccount]:
    """Every source of the contracts, in name order."""
    received = last_extracts(ledger)
    return [SourceAccount(source=s, gateway=gateways.get(s),
                          status=agreement_status(gateways.get(s), processing_date, warning_days),
                          last_extract=received.get(s, "none received"),
                          criteria=[c for c, v in rules.criteria.items() if s in v.sources])
            for s in sorted(sources)]


def account_text(rows: list[SourceAccount], rules: RuleSet, processing_date: dt.date) -> str:
    """The account as a terminal shows it, one block per source."""
    lines = [f"Sources, their lawful basis and agreements on {processing_date.isoformat()} (rules {rules.name}):"]
    for r in rows:
        g = r.gateway
        lines.append(f"{r.source}")
        if g is not None:
            lines.append(f"  gateway:    {g.statute}, {g.section}; controller {g.controller}")
            lines.append(f"  agreement:  {g.agreement.reference}, {g.agreement.start.isoformat()} to "
                         f"{g.agreement.expires.isoformat()}: {r.status}")
            lines.append(f"  purposes:   {', '.join(g.purposes)}")
        else:
            lines.append(f"  gateway:    {r.status}")
        lines.append(f"  last extract: {r.last_extract}")
        lines.append(f"  criteria that read it: {', '.join(r.criteria) or 'none'}"
                     + (" (not assessed without it)" if r.criteria else ""))
    return "\n".join(lines)
