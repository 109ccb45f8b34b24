"""The report's page: one HTML file, its style inside it, no script and nothing loaded from elsewhere.

The Content-Security-Policy forbids every request (scripts, styles, images, fonts, frames) but the
page's own inline style: if anything ever slipped in that would call out, the browser refuses it
and says so on its console, which the browser test watches.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.report.html.facts import RunFacts
from pipeline.report.html.section import Section
from pipeline.report.html.svg import esc

POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

STYLE = """
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #d3d8de; --band: #f5f7f9; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: #fff; }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; border-bottom: 1px solid var(--line); }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; padding-top: 8px; border-top: 3px solid #0072b2; }
h3 { font-size: 17px; margin: 26px 0 8px; }
p, li { max-width: 80ch; }
.facts { color: var(--muted); margin: 0 0 10px; }
nav { margin: 10px 0 14px; display: flex; flex-wrap: wrap; gap: 6px 18px; }
nav a { color: #004c7a; }
code { font-size: 13px; background: var(--band); padding: 0 3px; border-radius: 3px; overflow-wrap: anywhere; }
.alert { background: #fde8e1; border-left: 4px solid #d55e00; padding: 8px 12px; max-width: none; }
.warnings { color: #8a4b00; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 10px; margin: 14px 0; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: var(--band); }
.tile .value { display: block; font-size: 20px; font-weight: 700; }
.tile .label { display: block; font-size: 13px; color: var(--muted); }
figure { margin: 12px 0 18px; min-width: 0; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; max-width: 90ch; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: inherit; }
svg.chart text { font-family: inherit; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 500px), 1fr)); gap: 8px 28px;
        align-items: start; }
.grid figure.wide { grid-column: 1 / -1; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 13.5px; }
th, td { text-align: left; vertical-align: top; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line);
         overflow-wrap: break-word; }
td.key { white-space: nowrap; }
th { font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
footer { color: var(--muted); font-size: 13px; border-top: 1px solid var(--line); margin-top: 36px;
         padding-top: 10px; padding-bottom: 30px; }
@media print { h2 { break-before: page; } figure, table { break-inside: avoid; } }
"""


def page(run: RunFacts, sections: Sequence[Section]) -> str:
    e = esc
    title = f"Run report: as of {run.as_of.isoformat()}" + (" (PARTIAL)" if run.partial else "")
    facts = (f"As-of date {run.as_of.isoformat()} · processed {run.processing_date.isoformat()} · purpose "
             f"{run.purpose} · rule set {run.rule_title} ({run.rule_set}) · code version {run.code_version[:12]}")
    nav = "".join(f'<a href="#{e(s.id)}">{e(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{e(s.id)}" data-section="{e(s.id)}"><h2>{e(s.title)}</h2>{s.body}</section>'
                   for s in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{e(title)}</h1>
<p class="facts">{e(facts)}</p>
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<footer>Written by the run from its own outputs (<code>lineage.jsonl</code> lists this file with its SHA-256).
Counts only: no name, date of birth, address, token or key. The page loads nothing from anywhere else: it opens
offline and can be sent on as one file.</footer>
</body>
</html>
"""
