"""Data quality: the rows quarantined, by source and column, and every reason."""

from __future__ import annotations

from pipeline.report.html.facts import QualityFacts
from pipeline.report.html.section import Section, figure, p, table
from pipeline.report.html.svg import (
    BLUE,
    GREEN,
    NAVY,
    ORANGE,
    PURPLE,
    SKY,
    VERMILLION,
    YELLOW,
    HBar,
    Series,
    hbars,
    num,
)

SOURCE_COLOURS = (BLUE, ORANGE, GREEN, PURPLE, VERMILLION, SKY, NAVY, YELLOW)


def columns_chart(q: QualityFacts) -> str:
    """One bar per source and column, coloured by source: where the failing values are."""
    sources = sorted({s for s, _, _ in q.by_column})
    series = [Series(s, SOURCE_COLOURS[i % len(SOURCE_COLOURS)]) for i, s in enumerate(sources)]
    rows = [HBar(f"{s}.{c}", tuple(n if s == name else 0 for name in sources), tip=f"{s}.{c}")
            for s, c, n in q.by_column]
    return hbars("quarantine", rows, series, "Quarantined rows by source and column", width=1000, label_width=330,
                 note_width=80)


def section(q: QualityFacts) -> Section:
    if not q.entries:
        return Section("quality", "Data quality", p("No row was quarantined: every row of every file used passed "
                                                    "every check of its contract."))
    parts = [p(f"{num(q.bad_rows)} rows failed a check of their contract and were set aside in "
               f"<code>quarantine.parquet</code> ({num(q.entries)} entries there, one per failing column of a row); "
               "the rest of each file was used. The Data Docs (<code>data_docs/index.html</code>) list every check."),
             figure(columns_chart(q), "Rows quarantined, by source and column (a row failing two columns counts "
                    "under both).", wide=True),
             table(["source", "column", "reason", "rows"], [[r.source, r.column, r.reason, num(r.rows)]
                                                             for r in q.reasons], numeric=(3,), name="reasons")]
    return Section("quality", "Data quality", "".join(parts))
