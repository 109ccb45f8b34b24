"""Households: families by number of problems, each criterion's count, the criteria's overlap (UpSet),
and the criteria not assessed with the reason."""

from __future__ import annotations

from pipeline.report.html.facts import HouseholdFacts, Overlap
from pipeline.report.html.section import Section, figure, grid, h3, p, table
from pipeline.report.html.svg import (
    GREEN,
    GREY,
    INK,
    MUTED,
    SKY,
    SMALL,
    HBar,
    Series,
    esc,
    hbars,
    line,
    nice_ticks,
    num,
    rect,
    svg,
    text,
    vbars,
)

ELIGIBLE = Series("eligible families", GREEN)
OTHER_FAMILIES = Series("other families", SKY)
NOT_FAMILIES = Series("households without a child", GREY)


def problems_chart(h: HouseholdFacts) -> str:
    categories = [str(k) for k, _, _ in h.by_problems]
    eligible = [e for _, _, e in h.by_problems]
    other = [n - e for _, n, e in h.by_problems]
    return vbars("problems", categories, [eligible, other], [ELIGIBLE, OTHER_FAMILIES],
                 "Families by the number of problems they have", "problems (criteria met that count as problems)",
                 "families")


def criteria_chart(h: HouseholdFacts) -> str:
    rows = [HBar(c.name, (c.eligible_families, c.families - c.eligible_families, c.households - c.families),
                 note=f"{num(c.households)} households" if c.assessed else "not assessed")
            for c in h.criteria]
    return hbars("criteria", rows, [ELIGIBLE, OTHER_FAMILIES, NOT_FAMILIES], "Households meeting each criterion",
                 width=560, label_width=150, note_width=110)


def overlap_chart(h: HouseholdFacts) -> str:
    """UpSet: a column per combination of criteria met (the commonest first), its families as a bar above
    (eligible in green) and its criteria as filled dots; each criterion's families as a bar at the left."""
    combos: list[Overlap] = list(h.overlaps)
    names = [c.name for c in h.criteria if c.assessed and any(c.name in o.criteria for o in combos)]
    col, row, label_w, size_w, bars_h, top = 40, 22, 150, 120, 170, 30
    left = label_w + size_w + 16
    width = left + col * len(combos) + 10
    ticks = nice_ticks(max((o.families for o in combos), default=1))
    matrix_y = top + bars_h + 12
    body = []
    for t in ticks:
        y = top + bars_h * (1 - t / ticks[-1])
        body += [line(left - 4, y, width - 6, y, "#eef0f2"), text(left - 8, y + 4, num(t), "end", SMALL - 0.5, MUTED)]
    for k, o in enumerate(combos):
        x = left + k * col + 8
        h_all = bars_h * o.families / ticks[-1]
        h_el = bars_h * o.eligible / ticks[-1]
        what = " + ".join(o.criteria)
        body += [rect(x, top + bars_h - h_all, col - 16, max(h_all, 1), SKY,
                      f"{what} and no other: {num(o.families)} families"),
                 text(x + (col - 16) / 2, top + bars_h - h_all - 4, num(o.families), "middle", SMALL - 1, MUTED)]
        if o.eligible:
            body.append(rect(x, top + bars_h - h_el, col - 16, max(h_el, 1), GREEN,
                             f"{what} and no other: {num(o.eligible)} of them eligible"))
    stripes, links, dots = [], [], []
    size_top = max((next(c.families for c in h.criteria if c.name == n) for n in names), default=1) or 1
    for i, name in enumerate(names):
        y = matrix_y + i * row
        if i % 2 == 0:
            stripes.append(rect(left - 6, y, col * len(combos) + 8, row, "#f5f7f9"))
        families = next(c.families for c in h.criteria if c.name == name)
        w = (size_w - 40) * families / size_top
        body += [text(label_w - 6, y + 15, name, "end", SMALL),
                 rect(label_w + size_w - w, y + 5, w, row - 10, SKY, f"{name}: {num(families)} families meet it"),
                 text(label_w + size_w - w - 4, y + 15, num(families), "end", SMALL - 1, MUTED)]
        for k, o in enumerate(combos):
            cx = left + k * col + col / 2
            on = name in o.criteria
            dots.append(f'<circle cx="{cx:.1f}" cy="{y + row / 2:.1f}" r="5.5" fill="{INK if on else "#d3d8de"}"/>')
    for k, o in enumerate(combos):  # drawn under the dots: a grey dot on the way stays grey
        ys = [matrix_y + names.index(c) * row + row / 2 for c in o.criteria if c in names]
        if len(ys) > 1:
            cx = left + k * col + col / 2
            links.append(line(cx, min(ys), cx, max(ys), INK, 2.5))
    body += stripes + links + dots
    body.append(text(left - 8, top - 8, "families", "end", SMALL, MUTED))
    height = matrix_y + row * len(names) + 8
    return svg("overlap", width, height, body, "Families by the combination of criteria they meet (UpSet)")


def section(h: HouseholdFacts) -> Section:
    assessed = [c for c in h.criteria if c.assessed]
    parts = [p(f"Rule set <strong>{esc(h.title)}</strong> (<code>{esc(h.rule_set)}</code>): {num(h.households)} "
               f"households, of which {num(h.families)} are families (at least one child under 18 at the as-of "
               f"date); <strong>{num(h.eligible)} families are eligible</strong>. "
               f"{len(assessed)} of {len(h.criteria)} criteria were assessed."),
             grid(figure(problems_chart(h), "Families by the number of problems they have (criteria met that count "
                         "as problems); eligible families in green."),
                  figure(criteria_chart(h), "Households meeting each criterion: eligible families, other families "
                         "and households without a child.")),
             table(["criterion", "households", "families", "eligible families"],
                   [[c.name, num(c.households) if c.assessed else "not assessed",
                     num(c.families) if c.assessed else "", num(c.eligible_families) if c.assessed else ""]
                    for c in h.criteria], numeric=(1, 2, 3), name="criteria"),
             h3("How the criteria overlap", "overlap")]
    if h.overlaps:
        rest = h.other_overlaps
        more = (f" {num(rest.families)} more families meet rarer combinations ({num(rest.eligible)} of them "
                "eligible).") if rest else ""
        parts.append(figure(overlap_chart(h), f"The {len(h.overlaps)} commonest combinations of criteria met among "
                            f"the {num(h.families_meeting_any)} families meeting at least one: each column's dots are "
                            "the criteria its families meet, and no others; its bar counts them, the eligible in "
                            f"green.{more}", wide=True))
    else:
        parts.append(p("No family meets any criterion."))
    parts.append(h3("Criteria not assessed", "not-assessed"))
    if h.not_assessed:
        parts.append(table(["criterion", "why", "what the rule set says of it"],
                           [[n.criterion, n.reason.removeprefix("not assessed: "), n.note] for n in h.not_assessed],
                           nowrap=(0,), name="not-assessed"))
        parts.append(p("A criterion not assessed counts as not met: no family is made eligible by missing data."))
    else:
        parts.append(p("Every criterion of the rule set was assessed."))
    return Section("households", "Households and criteria", "".join(parts))
