"""Linkage: the match weights and the decisions, the model, how the sources link, sizes, the review band."""

from __future__ import annotations

import math

from pipeline.link.model import FEATURES
from pipeline.report.html.facts import Histogram, Level, LinkageFacts
from pipeline.report.html.section import Section, figure, grid, h3, p, table
from pipeline.report.html.svg import (
    BLUE,
    GREY,
    INK,
    MUTED,
    ORANGE,
    PURPLE,
    SKY,
    SMALL,
    VERMILLION,
    Series,
    diverging,
    esc,
    fit,
    line,
    num,
    pct,
    rect,
    shade,
    svg,
    text,
    vbars,
)

DECISION_COLOURS = {"linked": BLUE, "same person through other links": SKY, "clerical review": ORANGE,
                    "refused: agency tokens differ": PURPLE, "refused: would join two different people": VERMILLION,
                    "not linked": GREY}
BAND = "#fdf0d5"


def weights_chart(h: Histogram, review: float, match: float, review_p: float, match_p: float) -> str:
    """One row per decision, each on its own count scale, over one match-weight axis with both thresholds:
    a decision of a few dozen pairs stays visible beside the thousands linked."""
    width, left, right, top, row, bottom = 1000, 290, 20, 34, 58, 40
    bins = h.bins
    lo, hi = bins[0], bins[-1]
    plot = width - left - right

    def x(w: float) -> float:
        return left + plot * (w - lo) / (hi - lo)

    decisions = [d for d in DECISION_COLOURS if d in h.counts]
    height = top + row * len(decisions) + bottom
    body = [rect(x(review), top - 6, x(match) - x(review), row * len(decisions) + 6, BAND,
                 f"clerical review band: probability {review_p:g} to {match_p:g}")]
    step = 2 if hi - lo <= 30 else 5
    for t in range(math.ceil(lo / step) * step, math.floor(hi) + 1, step):
        body += [line(x(t), top - 6, x(t), top + row * len(decisions), "#eef0f2"),
                 text(x(t), height - bottom + 16, num(t), "middle", SMALL, MUTED)]
    for i, d in enumerate(decisions):
        counts = h.counts[d]
        y0, tallest = top + i * row, max(counts) or 1
        bar_h = row - 14
        body += [text(left - 10, y0 + row / 2 - 2, fit(d, left - 14), "end", tip=d),
                 text(left - 10, y0 + row / 2 + 12, f"{num(sum(counts))} pairs; tallest {num(tallest)}", "end",
                      SMALL - 0.5, MUTED),
                 line(left, y0 + row - 4, width - right, y0 + row - 4, "#d3d8de")]
        for k, n in enumerate(counts):
            if n:
                h_ = max(bar_h * n / tallest, 1.2)
                tip = f"{d}: {num(n)} pairs with weight {bins[k]:g} to {bins[k + 1]:g}"
                body.append(rect(x(bins[k]) + 0.5, y0 + row - 4 - h_, x(bins[k + 1]) - x(bins[k]) - 1, h_,
                                 DECISION_COLOURS[d], tip))
    for w, name, colour in ((review, f"review {review_p:g}", ORANGE), (match, f"match {match_p:g}", INK)):
        body += [line(x(w), top - 8, x(w), top + row * len(decisions), colour, 1.5, "5 3"),
                 text(x(w), top - 12, name, "middle", SMALL, colour, "bold")]
    body.append(text(left + plot / 2, height - 6, "match weight (log2 of the odds of one person; 0 is probability 0.5)",
                     "middle", SMALL, MUTED))
    return svg("match-weights", width, height, body, "Match weights of the pairs in pairs.parquet, one row per "
               "decision, with the review and match thresholds")


def _feature_title(feature: str) -> str:
    return {"identity": "identity: forename × birth date", "family": "family: surname × place",
            "sex": "sex"}.get(feature, feature)


def model_chart(levels: tuple[Level, ...], feature: str) -> str:
    """Each level of one feature: its meaning, m, u and weight (log2 m/u) as a bar either side of zero."""
    rows = [lv for lv in levels if lv.feature == feature]
    width, row, head = 1000, 17, 24
    meaning_w, m_x, u_x, bar_l, bar_r = 400, 490, 570, 650, 950
    limit = max((abs(lv.weight) for lv in levels), default=1) or 1
    zero = (bar_l + bar_r) / 2
    half = (bar_r - bar_l) / 2
    body = [text(0, 14, _feature_title(feature), weight="bold"),
            text(m_x, 14, "m", "end", SMALL, MUTED), text(u_x, 14, "u", "end", SMALL, MUTED),
            text(zero, 14, "weight = log2(m / u)", "middle", SMALL, MUTED),
            line(zero, head - 2, zero, head + row * len(rows), "#c5cbd3")]
    for i, lv in enumerate(rows):
        y = head + i * row
        if i % 2:
            body.append(rect(0, y, width, row, "#f7f8fa"))
        tip = f"{lv.meaning}: m {lv.m:.4g}, u {lv.u:.4g}, weight {lv.weight:+.2f}"
        w = half * lv.weight / limit
        body += [text(4, y + 12.5, fit(lv.meaning, meaning_w, SMALL), size=SMALL, tip=tip),
                 text(m_x, y + 12.5, f"{lv.m:.3g}", "end", SMALL, MUTED),
                 text(u_x, y + 12.5, f"{lv.u:.3g}", "end", SMALL, MUTED),
                 rect(min(zero, zero + w), y + 3, max(abs(w), 1), row - 6, diverging(lv.weight, limit), tip),
                 text(zero + w + (4 if w >= 0 else -4), y + 12.5, f"{lv.weight:+.2f}".replace("-", "\u2212"),
                      "start" if w >= 0 else "end", SMALL - 0.5, INK)]
    return svg(f"model-{feature}", width, head + row * len(rows) + 4, body,
               f"The linkage model's {feature} levels: m, u and weight of each")


def rates_chart(sources: tuple[str, ...], people_in: tuple[int, ...], together: tuple[tuple[int, ...], ...]) -> str:
    """Of the people with a record in the row's source, the share who also have one in the column's."""
    cell_w, cell_h, label_w, head = 62, 30, 150, 96
    n = len(sources)
    body = []
    for j, s in enumerate(sources):
        cx = label_w + j * cell_w + cell_w / 2
        body.append(f'<text transform="translate({cx:.1f},{head - 8}) rotate(-35)" font-size="{SMALL}" '
                    f'fill="{MUTED}">{esc(s)}</text>')
    for i, a in enumerate(sources):
        y = head + i * cell_h
        body.append(text(label_w - 8, y + cell_h / 2 + 4, a, "end", SMALL))
        for j, b in enumerate(sources):
            x = label_w + j * cell_w
            if i == j:
                body += [rect(x + 1, y + 1, cell_w - 2, cell_h - 2, "#eceff2",
                              f"{num(people_in[i])} people with a record in {a}"),
                         text(x + cell_w / 2, y + cell_h / 2 + 4, num(people_in[i]), "middle", SMALL - 0.5, INK,
                              "bold")]
                continue
            share = together[i][j] / people_in[i] if people_in[i] else 0.0
            share_text = pct(together[i][j], people_in[i])
            tip = (f"{num(together[i][j])} of the {num(people_in[i])} people in {a} ({share_text}) also have a "
                   f"record in {b}")
            body += [rect(x + 1, y + 1, cell_w - 2, cell_h - 2, shade(share), tip),
                     text(x + cell_w / 2, y + cell_h / 2 + 4, share_text, "middle", SMALL,
                          "#ffffff" if share > 0.55 else INK)]
    return svg("link-rates", label_w + n * cell_w + 40, head + n * cell_h + 4, body,
               "Link rates between each pair of sources")


def _band_labels(h: Histogram) -> list[str]:
    return [f"{a:.2f}–{b:.2f}" for a, b in zip(h.bins[:-1], h.bins[1:], strict=True)]


def section(facts: LinkageFacts) -> Section:
    t = facts.thresholds
    shown = facts.shown_pairs
    below = max(facts.candidate_pairs - shown, 0)
    people = sum(facts.person_sizes.values())
    in_band = facts.decisions.get("clerical review", 0)
    decisions = [[d, num(n), pct(n, shown, 1)] for d, n in facts.decisions.items()]
    parts = [
        p(f"The blocking passes proposed {num(facts.candidate_pairs)} candidate pairs of records; the model scored "
          f"each. <code>pairs.parquet</code> keeps the {num(shown)} in or above the clerical review band (probability "
          f"{t.review:g}, weight {num(t.review_weight, 1)}) or joined by an agency id; the other {num(below)} fell "
          f"below the band and were not linked. A pair at or above the match threshold (probability {t.match:g}, "
          f"weight {num(t.match_weight, 1)}) links its records unless a harder rule refuses it."),
        figure(weights_chart(facts.weights, t.review_weight, t.match_weight, t.review, t.match),
               "Match weights of the pairs in <code>pairs.parquet</code> by decision; each row has its own count "
               "scale (its tallest bar is printed under its name). Shaded: the clerical review band.", wide=True),
        table(["decision", "pairs", "share of pairs.parquet"], decisions, numeric=(1, 2), name="decisions"),
        h3("The model: m and u of each comparison level", "model"),
        p(f"m is how often a level occurs among pairs of records of one person, u among pairs of two people; a "
          f"level adds log2(m / u) to a pair's match weight, and the prior (a share of {facts.prior:.3f} of "
          "candidate pairs being one person) adds log2 of its odds. Trained on the agencies' own ids: "
          + esc(", ".join(f"{num(n)} {k.replace('_', ' ')} pairs" for k, n in facts.training.items())) + "."),
        *(figure(model_chart(facts.levels, feature), f"The {esc(feature)} levels; the full table is "
                 "<code>linkage_model.json</code>.", wide=True)
          for feature in [f for f in FEATURES if any(lv.feature == f for lv in facts.levels)]),
        h3("Sources, people and households", "sizes"),
        grid(figure(rates_chart(facts.sources, facts.people_in, facts.together),
                    "Link rates: of the people with a record in the row's source, the share who also have one in "
                    "the column's (on the diagonal, the people with a record in that source)."),
             figure(vbars("person-sizes", list(facts.person_sizes), [list(facts.person_sizes.values())],
                          [Series("people", BLUE)], "People by the number of records linked into each",
                          "records per person", "people"),
                    f"People by records linked into each ({num(people)} people)."),
             figure(vbars("household-sizes", list(facts.household_sizes), [list(facts.household_sizes.values())],
                          [Series("households", BLUE)], "Households by the number of members",
                          "members per household", "households"),
                    f"Households by members ({num(sum(facts.household_sizes.values()))} households)."),
             figure(vbars("review-band", _band_labels(facts.review), [list(facts.review.counts["clerical review"])],
                          [Series("pairs", ORANGE)], "Pairs in the clerical review band by match probability",
                          "match probability", "pairs"),
                    f"The clerical review band: {num(in_band)} pairs between probability {t.review:g} and "
                    f"{t.match:g}, not linked, listed with both records in "
                    "<code>restricted/clerical_review.parquet</code> for a reviewer."
                    + _reviewer_words(facts.reviewer))),
    ]
    return Section("linkage", "Linkage", "".join(parts))


def _reviewer_words(reviewer: dict[str, int] | None) -> str:
    if not reviewer:
        return " No reviewer's decisions were applied this run."
    r = reviewer
    return (f" Reviewers' decisions applied this run: {num(r.get('match_applied', 0))} MATCH "
            f"({num(r.get('match_refused', 0))} of them refused by a harder rule), "
            f"{num(r.get('not_match_applied', 0))} NOT_MATCH; {num(r.get('stale', 0))} stale.")
