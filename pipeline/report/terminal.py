"""The closing summary on the terminal: sources with their gateways, counts, refusals, eligibility.

Counts, gateways, reasons and a few eligible families' pseudonymous keys with one piece of
evidence each, and what each criterion approximates (the rule file's words); no name, date of
birth or address.
"""

from __future__ import annotations

import textwrap

from pipeline.criteria.rules import Approximation, numbered_sources
from pipeline.criteria.stage import ScoreCounts
from pipeline.ingest.source import SourceOutcome
from pipeline.run.result import RunResult

REASONS_SHOWN = 12
WIDTH = 116  # approximation notes are paragraphs: wrapped, so the summary reads in a terminal


def gateway_text(o: SourceOutcome) -> str:
    """'[statute section; agreement]', or '[no gateway]'."""
    return f"[{o.gateway.citation}; {o.gateway.agreement.reference}]" if o.gateway else "[no gateway]"


def _source_line(o: SourceOutcome) -> str:
    if o.status == "used":
        reused = f"\n           (file unchanged: ingest reused from {o.reused_from.text()})" if o.reused_from else ""
        kept_out = o.admission.text() if o.admission else ""
        reused += f"\n           (not taken, by the registry: {kept_out})" if kept_out else ""
        return (f"  used     {o.source:<21} {o.rows_in:>9,} rows  {o.rows_accepted:>9,} accepted  "
                f"{o.rows_quarantined:>7,} quarantined   {gateway_text(o)}{reused}")
    if o.status == "absent":
        return f"  absent   {o.source:<21} {o.reason}"
    return f"  refused  {o.source:<21} {o.reason}   {gateway_text(o)}"


def partial_lines(result: RunResult) -> list[str]:
    """What a partial run went without, and what it could therefore not assess, for how many families."""
    missing = [o for o in result.sources if o.source in result.required_not_used]
    lines = ["  WITHOUT required source(s): " + "; ".join(f"{o.source} ({o.status}: {o.reason})" for o in missing)]
    s = result.scoring
    if s is not None and s.not_assessed:
        lines.append(f"  NOT ASSESSED for any of the {s.families:,} families: {', '.join(s.not_assessed)}; "
                     f"the eligible families below are counted without them")
    return lines


def summary(result: RunResult) -> str:
    """The closing summary of a completed run; a partial run says first what it went without."""
    word = "PARTIAL" if result.partial else "complete"
    lines = [f"Run {word}: {result.out}  (as-of {result.as_of.isoformat()}, purpose {result.purpose}, "
             f"{result.seconds:.1f}s)"]
    if result.partial:
        lines += partial_lines(result)
    lines += [f"  warning: {w}" for w in result.warnings]
    lines += [_source_line(o) for o in result.sources]
    lines.append(f"  quarantined: {result.quarantine.text()};  lineage.jsonl;  data_docs/index.html")
    if result.linkage:
        c = result.linkage
        lines.append(f"  linkage: {c.records:,} records -> {c.people:,} people in {c.households:,} households "
                     f"({c.people_without_address:,} people without a usable address, each a household of one)")
        lines.append(f"    record_links.parquet; pairs.parquet ({c.shown_pairs:,} pairs, {c.linked_pairs:,} linked); "
                     f"linkage_model.json; restricted/clerical_review.parquet ({c.review_pairs:,} pairs to review)")
        if c.carried_text() is not None:
            lines.append(f"    {c.carried_text()}")
    if result.scoring:
        lines.extend(scoring_lines(result.scoring))
    if result.changes_text() is not None:
        lines.append(f"  changes.parquet: {result.changes_text()}")
    if result.reasons:
        lines.append("  quarantined, by source, column and reason (rows):")
        ranked = sorted(result.reasons, key=lambda r: (-r.rows, r.source, r.column, r.reason))
        lines += [f"    {r.rows:>7,}  {r.source}.{r.column}: {r.reason}" for r in ranked[:REASONS_SHOWN]]
        if len(result.reasons) > REASONS_SHOWN:
            lines.append(f"    ... and {len(result.reasons) - REASONS_SHOWN} more kinds: see quarantine.parquet or "
                         "quarantine.csv")
    lines.append(f"  report: {result.report}  (open it in a browser: the run at a glance, data quality, linkage, "
                 "households and criteria, changes)")
    return "\n".join(lines)


def scoring_lines(s: ScoreCounts) -> list[str]:
    """Eligibility by criterion, and a few eligible families with one piece of evidence per criterion."""
    lines = [f"  criteria: {s.title} [{s.rule_set}]: {s.families:,} families (households with a child) "
             f"of {s.households:,} households; {s.eligible:,} eligible",
             f"    {'criterion':<22} {'households':>10} {'eligible families':>18}"]
    for name, c in s.by_criterion.items():
        if c.assessed:
            lines.append(f"    {name:<22} {c.households:>10,} {c.eligible_families:>18,}")
        else:
            lines.append(f"    {name:<22} {'not assessed':>10}   (its source was absent or refused, or it cannot be "
                         f"assessed from these sources)")
    if s.examples:
        lines.append("    for example (evidence.parquet has every fact and its rows; pseudonymous keys only):")
    for ex in s.examples:
        lines.append(f"      {ex.household_key}: {ex.members} members, {ex.children} children, {ex.problems} problems")
        for e in ex.evidence:
            more = f" (+{e.rows - 1} more)" if e.rows > 1 else ""
            lines.append(f"        {e.criterion:<20} {e.source:<21} {e.detail}{more}")
    export = (f"; restricted/caseworker_export.csv ({s.caseworker_rows:,} people, OFFICIAL-SENSITIVE)"
              if s.caseworker_rows is not None else "")
    lines.append(f"    households.parquet; evidence.parquet ({s.evidence_rows:,} evidence rows){export}")
    return lines + approximation_lines(s.approximations)


def approximation_lines(approximations: tuple[Approximation, ...]) -> list[str]:
    """Criteria and what they approximate: each one's framework descriptor (quoted, or marked as a paraphrase)
    with its numbered source, and how the rule set's indicators differ from it."""
    if not approximations:
        return []
    sources = numbered_sources(approximations)
    lines = ["  criteria and what they approximate (the framework's descriptor, and how this rule set reads it):"]
    for a in approximations:
        ref = f" [{sources[a.source]}]" if a.source else ""
        lines += textwrap.wrap(f"{a.name}: {a.framework or '(the rule file gives no framework descriptor)'}{ref}",
                               WIDTH, initial_indent="    ", subsequent_indent="        ", break_on_hyphens=False)
        if a.approximation:
            lines += textwrap.wrap(a.approximation, WIDTH, initial_indent="      approximation: ",
                                   subsequent_indent="        ", break_on_hyphens=False)
    for text, n in sources.items():
        lines += textwrap.wrap(f"[{n}] {text}", WIDTH, initial_indent="    ", subsequent_indent="        ",
                               break_long_words=False, break_on_hyphens=False)
    return lines
