"""Changes since the previous run (`changes.parquet`, with --previous)."""

from __future__ import annotations

from pipeline.criteria.changes import CHANGES
from pipeline.report.html.facts import ChangeFacts
from pipeline.report.html.section import Section, figure, p
from pipeline.report.html.svg import BLUE, GREEN, GREY, ORANGE, SKY, VERMILLION, HBar, Series, hbars, num

WORDS = {"new": "new households", "ended": "households ended", "newly_eligible": "newly eligible",
         "no_longer_eligible": "no longer eligible", "moved": "moved", "joined": "someone joined",
         "left": "someone left"}
COLOURS = {"new": BLUE, "ended": GREY, "newly_eligible": GREEN, "no_longer_eligible": VERMILLION, "moved": SKY,
           "joined": ORANGE, "left": ORANGE}


def changes_chart(c: ChangeFacts) -> str:
    series = [Series(WORDS[k], COLOURS[k]) for k in CHANGES]
    rows = [HBar(WORDS[k], tuple(c.counts.get(k, 0) if j == k else 0 for j in CHANGES)) for k in CHANGES]
    return hbars("changes", rows, series, "Households by change since the previous run", width=700, label_width=170,
                 show_legend=False)


def section(c: ChangeFacts | None) -> Section:
    if c is None:
        return Section("changes", "Changes since the previous run", p(
            "This run was not given a previous month's run (<code>--previous</code>), so it has nothing to compare "
            "with: run each month with <code>--previous</code> last month's folder and this section shows who is "
            "new, who has gone, who is newly eligible and who moved (<code>changes.parquet</code>)."))
    before = ""
    if c.previous_households is not None:
        before = (f" The previous run had {num(c.previous_households)} households and {num(c.previous_eligible or 0)} "
                  f"eligible families; this one has {num(c.households)} and {num(c.eligible)}.")
    parts = [p(f"Since the previous run (as of {c.previous_as_of.isoformat()}), household by household, as "
               f"<code>changes.parquet</code> lists them (a household may have several changes).{before}"),
             figure(changes_chart(c), "Households by kind of change since the previous run.", wide=True)]
    return Section("changes", "Changes since the previous run", "".join(parts))
