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
from pipeline.ingest.gateways import lapsing_in, review_warnings


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


def document_status(what: str, due: dt.date | None, processing_date: dt.date, warning_days: int) -> str:
    """'DPIA-1 dated 2025-03-01, review by 2027-09-01' with DUE / OVERDUE when the review is near or past."""
    if due is None:
        return f"{what}, no review date set"
    left = (due - processing_date).days
    if left < 0:
        return f"{what}, review OVERDUE since {due.isoformat()}"
    if left <= warning_days:
        return f"{what}, review DUE in {left} day{'s' if left != 1 else ''} ({due.isoformat()})"
    return f"{what}, review by {due.isoformat()}"


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


def _condition(name: str, c) -> str:
    doc = f"; policy document {c.policy_document}" if c.policy_document else ""
    return f"  {name} {c.article.text}; {c.condition.text}{doc}"


def _basis_lines(g: Gateway, processing_date: dt.date, warning_days: int) -> list[str]:
    """The entry's lawful basis, as the officer signs it: law, conditions, documents, rows, retention."""
    lines = []
    lines += [f"  controller: {c.name}: {c.rows}" for c in g.controllers]
    if g.article_6:
        lines.append(f"  article 6:  {g.article_6.text}")
    for name, c in (("article 9: ", g.article_9), ("article 10:", g.article_10)):
        if c is not None:
            lines.append(_condition(name, c))
    if g.approval:
        lines.append("  approval:   " + document_status(f"{g.approval.body} {g.approval.reference} granted "
                                                        f"{g.approval.granted.isoformat()}", g.approval.review,
                                                        processing_date, warning_days))
    if g.opt_out:
        lines.append(f"  opt-out:    {g.opt_out.text}")
    if g.compatibility_assessment:
        ca = g.compatibility_assessment
        lines.append("  compatibility assessment: " + document_status(f"{ca.reference} dated {ca.date.isoformat()}",
                                                                      ca.review, processing_date, warning_days))
    if g.dea_register_entry:
        lines.append(f"  DEA register entry: {g.dea_register_entry.text} <{g.dea_register_entry.url}>")
    if g.register_purpose:
        lines.append(f"  reg 107 purpose: {g.register_purpose}")
    if g.dpia:
        lines.append("  DPIA:       " + document_status(f"{g.dpia.reference} dated {g.dpia.date.isoformat()}",
                                                        g.dpia.review, processing_date, warning_days))
    rows = "all" if g.allowed_rows == "all" else "; ".join(
        f"{r.column} {'in' if r.allowed else 'not in'} [{', '.join(r.allowed or r.excluded)}] ({r.why})"
        for r in g.allowed_rows)
    columns = "all" if g.allowed_columns == "all" else ", ".join(g.allowed_columns)
    lines.append(f"  rows:       {rows}; columns: {columns}")
    if g.suppression:
        lines.append(f"  suppression: {g.suppression.name} list (suppressions/<source>.csv, column "
                     f"{g.suppression.column}{', required' if g.suppression.required else ''})")
    if g.retention:
        lines.append(f"  retention:  identifying data {g.retention.identifying_days} days, the run "
                     f"{g.retention.run_days} days ({g.retention.rule})")
    if g.signed_off:
        lines.append(f"  signed off: {g.signed_off.role}, {g.signed_off.date.isoformat()}"
                     + (" (local references are examples: replace them)" if g.example else ""))
    missing = g.missing()
    if missing:
        lines.append(f"  INCOMPLETE: the source is refused until the entry holds: {'; '.join(missing)}")
    return lines


def account_text(rows: list[SourceAccount], rules: RuleSet, processing_date: dt.date, warning_days: int = 60) -> str:
    """The account as a terminal shows it, one block per source."""
    lines = [f"Sources, their lawful basis and agreements on {processing_date.isoformat()} (rules {rules.name}):"]
    for r in rows:
        g = r.gateway
        lines.append(f"{r.source}")
        if g is not None:
            lines.append(f"  gateway:    {g.statute}, {g.section} <{g.url}> (route: {g.route})")
            review = f", review by {g.agreement.review.isoformat()}" if g.agreement.review else ""
            lines.append(f"  agreement:  {g.agreement.reference}, {g.agreement.start.isoformat()} to "
                         f"{g.agreement.expires.isoformat()}: {r.status}{review}")
            lines.append(f"  purposes:   {', '.join(g.purposes)}")
            lines += _basis_lines(g, processing_date, warning_days)
            lines += [f"  warning:    {w}" for w in review_warnings(g, processing_date, warning_days)]
        else:
            lines.append(f"  gateway:    {r.status}")
        lines.append(f"  last extract: {r.last_extract}")
        lines.append(f"  criteria that read it: {', '.join(r.criteria) or 'none'}"
                     + (" (not assessed without it)" if r.criteria else ""))
    return "\n".join(lines)
