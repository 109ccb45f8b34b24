"""The run at a glance: the headline figures, the flow of rows, and each source with its gateway."""

from __future__ import annotations

from pipeline.report.headlines import Flow
from pipeline.report.html.facts import ReportFacts, SourceFacts
from pipeline.report.html.section import Section, figure, p, table
from pipeline.report.html.svg import (
    BLUE,
    GREY,
    INK,
    MUTED,
    ORANGE,
    SMALL,
    VERMILLION,
    HBar,
    Series,
    esc,
    f,
    hbars,
    line,
    num,
    rect,
    svg,
    text,
)

BOX_W, BOX_H, GAP = 136, 62, 22
MAIN_FILL, SIDE_FILL = "#e8f1f8", "#fdf6ea"


def _box(x: float, y: float, title: str, value: int, unit: str, stroke: str, fill: str) -> list[str]:
    return [rect(x, y, BOX_W, BOX_H, fill, f"{title}: {num(value)} {unit}",
                 f' stroke="{stroke}" stroke-width="1.5" rx="6"'),
            text(x + BOX_W / 2, y + 17, title, "middle", SMALL, MUTED),
            text(x + BOX_W / 2, y + 38, num(value), "middle", 17, INK, "bold"),
            text(x + BOX_W / 2, y + 53, unit, "middle", SMALL - 0.5, MUTED)]


def _arrow(x1: float, y1: float, x2: float, y2: float) -> list[str]:
    """A line ending in a small triangle (drawn, not a marker: a marker needs a document-wide id)."""
    if y1 == y2:
        head = f'<polygon points="{f(x2)},{f(y2)} {f(x2 - 7)},{f(y2 - 4)} {f(x2 - 7)},{f(y2 + 4)}" fill="{MUTED}"/>'
        return [line(x1, y1, x2 - 6, y2, MUTED, 1.5), head]
    head = f'<polygon points="{f(x2)},{f(y2)} {f(x2 - 4)},{f(y2 - 7)} {f(x2 + 4)},{f(y2 - 7)}" fill="{MUTED}"/>'
    return [line(x1, y1, x2, y2 - 6, MUTED, 1.5), head]


def flow_chart(flow: Flow) -> str:
    """Received → accepted → linked records → people → households → families → eligible, and below the
    first step the rows that went no further: quarantined, refused with their file, kept out by the registry."""
    main = [("received", flow.received, "rows"), ("accepted", flow.accepted, "rows"),
            ("linked", flow.records, "records"), ("people", flow.people, "people"),
            ("households", flow.households, "households"), ("families", flow.families, "with a child"),
            ("eligible", flow.eligible, "families")]
    y0, body = 8, []
    for i, (title, value, unit) in enumerate(main):
        x = i * (BOX_W + GAP)
        body += _box(x, y0, title, value, unit, BLUE, MAIN_FILL)
        if i:
            body += _arrow(x - GAP, y0 + BOX_H / 2, x, y0 + BOX_H / 2)
    side = [("quarantined", flow.quarantined, "rows", ORANGE), ("file refused", flow.refused, "rows", VERMILLION),
            ("not taken (registry)", flow.not_taken, "rows", GREY)]
    y1 = y0 + BOX_H + 44
    split = y0 + BOX_H + 20
    body.append(line(BOX_W / 2, y0 + BOX_H, BOX_W / 2, split, MUTED, 1.5))
    body.append(line(BOX_W / 2, split, (len(side) - 1) * (BOX_W + GAP) + BOX_W / 2, split, MUTED, 1.5))
    for i, (title, value, unit, colour) in enumerate(side):
        x = i * (BOX_W + GAP)
        body += _arrow(x + BOX_W / 2, split, x + BOX_W / 2, y1)
        body += _box(x, y1, title, value, unit, colour, SIDE_FILL)
    width = len(main) * BOX_W + (len(main) - 1) * GAP + 2
    label = (f"Flow of rows: {num(flow.received)} received, {num(flow.accepted)} accepted, {num(flow.quarantined)} "
             f"quarantined, {num(flow.refused)} in refused files, {num(flow.not_taken)} not taken; "
             f"{num(flow.records)} records linked into {num(flow.people)} people in {num(flow.households)} "
             f"households; {num(flow.families)} families, {num(flow.eligible)} eligible")
    return svg("flow", width, y1 + BOX_H + 4, body, label)


SOURCE_SERIES = (Series("accepted", BLUE), Series("quarantined", ORANGE), Series("not taken by the registry", GREY),
                 Series("in a refused file", VERMILLION))


def sources_chart(sources: tuple[SourceFacts, ...]) -> str:
    rows = [HBar(s.source, (s.accepted, s.quarantined, s.not_taken, s.refused),
                 note=f"{num(s.rows_received)} received" if s.status != "absent" else "absent: no file")
            for s in sources]
    return hbars("sources", rows, SOURCE_SERIES, "Rows received per source, by what became of them", width=1000,
                 label_width=170, note_width=130)


# Figures the flow chart already shows: the tiles give the others.
IN_THE_FLOW = {"rows received", "rows not taken by the registry", "rows of refused files", "rows quarantined",
               "rows accepted", "people", "households", "families (households with a child)", "eligible families"}


def _what_happened(s: SourceFacts) -> str:
    if s.status == "used":
        return "used" + (f", {num(s.quarantined)} row{'s' if s.quarantined != 1 else ''} quarantined"
                         if s.quarantined else "")
    return f"{s.status}: {s.reason}"


def section(facts: ReportFacts) -> Section:
    r = facts.run
    tiles = "".join(f'<div class="tile"><span class="value">{esc(num(v) if isinstance(v, int) else v)}</span>'
                    f'<span class="label">{esc(k)}</span></div>' for k, v in facts.headline if k not in IN_THE_FLOW)
    parts = []
    if r.partial:
        parts.append(p(f"<strong>Partial run.</strong> It went without the required source(s) "
                       f"{esc(', '.join(r.went_without))}; the criteria that read them were not assessed, so the "
                       "figures below are not the whole picture.", "alert"))
    parts += [f'<div class="tiles" data-table="headline">{tiles}</div>',
              figure(flow_chart(facts.flow), "Every row received goes one way: accepted (and linked), quarantined "
                     "for a failing check (<code>quarantine.parquet</code>), read from a file refused whole, or "
                     "not taken under the registry's allowed rows and opt-out lists (counted only).", wide=True),
              figure(sources_chart(facts.sources), "Rows per source, by what became of them.", wide=True),
              table(["source", "what happened", "received", "accepted", "quarantined", "not taken", "gateway",
                     "agreement", "agreement on the processing date"],
                    [[s.source, _what_happened(s), num(s.rows_received), num(s.accepted), num(s.quarantined),
                      num(s.not_taken), s.gateway or "none declared", s.agreement, s.agreement_status]
                     for s in facts.sources], numeric=(2, 3, 4, 5), nowrap=(0, 7), name="sources")]
    if r.warnings:
        parts.append("<ul class=\"warnings\">" + "".join(f"<li>warning: {esc(w)}</li>" for w in r.warnings) + "</ul>")
    return Section("glance", "The run at a glance", "".join(parts))
