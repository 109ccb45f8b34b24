"""A finished run told in markdown and as a table of sources, for the Prefect UI's artifacts.

Counts, gateways and reasons only: the same facts as the closing summary on the terminal, and
like it free of personal data (artifacts are stored in the Prefect server's database, which
research officers and administrators can read). Evidence examples are left out: the run
folder, not the orchestrator, is where household-level detail lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.criteria.rules import Approximation, numbered_sources
from pipeline.report import REPORT_FILE
from pipeline.report.terminal import partial_lines
from pipeline.run.result import RunResult
from pipeline.run.session import DOCS_DIR


@dataclass(frozen=True)
class Link:
    text: str
    url: str


def output_links(out: Path) -> list[Link]:
    """The output folder, its run report, Data Docs and lineage as file:// links: what someone reading a run's
    summary in the Prefect UI opens next (the files stay where the run wrote them; Prefect holds only the links)."""
    out = Path(out).resolve()
    return [Link(str(out), out.as_uri()), Link("run report", (out / REPORT_FILE).as_uri()),
            Link("Data Docs", (out / DOCS_DIR / "index.html").as_uri()),
            Link("lineage", (out / "lineage.jsonl").as_uri())]


def sources_table(result: RunResult) -> list[dict]:
    """One row per source (the rows of Prefect's table artifact): status, rows, gateway and agreement, reason."""
    return [{"source": o.source, "status": o.status, "file": o.file.name if o.file else "",
             "rows_in": o.rows_in, "accepted": o.rows_accepted, "quarantined": o.rows_quarantined,
             "gateway": o.gateway.citation if o.gateway else "",
             "agreement": o.gateway.agreement.reference if o.gateway else "", "reason": o.reason or ""}
            for o in result.sources]


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def approximations_markdown(approximations: tuple[Approximation, ...]) -> list[str]:
    """The section "Criteria and what they approximate": each criterion's framework descriptor (quoted, or marked
    as a paraphrase) with a numbered source, and its approximation note; the rule file's words only."""
    if not approximations:
        return []
    sources = numbered_sources(approximations)
    lines = ["", "## Criteria and what they approximate", "",
             "The framework's descriptor of each need (in quotation marks when these are the document's own words), "
             "and how this rule set's indicators read it.", ""]
    for a in approximations:
        ref = f" [{sources[a.source]}]" if a.source else ""
        note = f" *Approximation:* {_cell(a.approximation)}" if a.approximation else ""
        lines.append(f"- **{a.name}**: {_cell(a.framework or 'no framework descriptor given')}{ref}.{note}")
    if sources:
        lines += ["", "Sources:", ""] + [f"{n}. {_cell(text)}" for text, n in sources.items()]
    return lines


def summary_markdown(result: RunResult) -> str:
    """The run summary: sources and gateways, refusals, quarantine, people, households, eligible by criterion."""
    lines = [f"# Family identification run: {result.out.name}" + (" (PARTIAL)" if result.partial else ""), ""]
    folder, *rest = output_links(result.out)
    lines += [f"Output folder: [`{folder.text}`]({folder.url}) ({', '.join(f'[{x.text}]({x.url})' for x in rest)})", ""]
    if result.partial:
        lines += [f"**Partial run.** {line.strip()}" for line in partial_lines(result)] + [""]
    lines += [f"As-of date **{result.as_of.isoformat()}**, purpose **{result.purpose}**, {result.seconds:.1f} s.", "",
              "## Sources", "", "| source | status | rows | accepted | quarantined | gateway | agreement | reason |",
             "|---|---|---:|---:|---:|---|---|---|"]
    table = sources_table(result)
    for r in table:
        lines.append("| " + " | ".join(_cell(r[k]) for k in ("source", "status", "rows_in", "accepted", "quarantined",
                                                                "gateway", "agreement", "reason")) + " |")
    kept_out = [(o.source, o.admission.text()) for o in result.sources if o.admission and o.admission.text()]
    if kept_out:
        lines += ["", "Not taken, under the registry's allowed rows and opt-out lists (dropped before anything "
                  "landed, counted only): " + "; ".join(f"{s}: {t}" for s, t in kept_out) + "."]
    refused = [r for r in table if r["status"] == "refused"]
    lines += ["", f"Refused: {len(refused)}" + (": " + "; ".join(f"{r['source']} ({r['reason']})" for r in refused)
                                                if refused else "."),
              f"Quarantined: {result.quarantine.text()}; quarantine.parquet (quarantine.csv for a spreadsheet) gives "
              "file, row, column and reason."]
    if result.linkage:
        c = result.linkage
        lines += ["", "## People and households", "",
                  f"{c.records:,} records → {c.people:,} people in {c.households:,} households; "
                  f"{c.review_pairs:,} pairs for clerical review."]
        carried = c.carried_text()
        if carried is not None:
            lines += ["", f"{carried[:1].upper()}{carried[1:]}."]  # Kept last month's key: ...
    if result.scoring:
        s = result.scoring
        lines += ["", f"## Eligibility: {s.title} (`{s.rule_set}`)", "",
                  f"{s.families:,} families (households with a child) of {s.households:,} households; "
                  f"**{s.eligible:,} eligible**.", "",
                  "| criterion | households meeting it | eligible families meeting it |", "|---|---:|---:|"]
        for name, c in s.by_criterion.items():
            if c.assessed:
                lines.append(f"| {name} | {c.households:,} | {c.eligible_families:,} |")
            else:
                lines.append(f"| {name} | not assessed | not assessed |")
        lines += approximations_markdown(s.approximations)
    if result.changes_text() is not None:
        lines += ["", "## What changed", "", f"`changes.parquet`: {result.changes_text()}."]
    if result.warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in result.warnings)]
    return "\n".join(lines) + "\n"
