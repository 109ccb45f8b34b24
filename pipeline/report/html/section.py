"""A section of the run report and the HTML pieces its modules share (a table, a paragraph, a grid)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.report.html.svg import esc


@dataclass(frozen=True)
class Section:
    id: str  # its anchor in the page (#linkage)
    title: str
    body: str  # HTML


def p(words: str, cls: str = "") -> str:
    """A paragraph of words already escaped where they come from data (use `esc`)."""
    return f'<p class="{cls}">{words}</p>' if cls else f"<p>{words}</p>"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = (),
          name: str = "", caption: str = "", nowrap: Sequence[int] = ()) -> str:
    """A plain table; the columns at `numeric` right-aligned, those at `nowrap` (names, references) kept whole.
    Cells are escaped here."""
    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else (' class="key"' if i in nowrap else "")

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    data = f' data-table="{esc(name)}"' if name else ""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<div class="table-wrap"><table{data}>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def figure(chart: str, caption: str, wide: bool = False) -> str:
    """A chart with its caption; `wide` spans both columns of the section's grid."""
    return f'<figure class="{"wide" if wide else ""}">{chart}<figcaption>{caption}</figcaption></figure>'


def grid(*figures: str) -> str:
    return f'<div class="grid">{"".join(figures)}</div>'


def h3(words: str, anchor: str = "") -> str:
    return f'<h3 id="{esc(anchor)}">{esc(words)}</h3>' if anchor else f"<h3>{esc(words)}</h3>"
