"""The waterfall of one pair's match weight as a self-contained SVG file (`explain-pair`'s chart).

One bar per step (the prior, then each comparison) from the running total before it to after it, the
match weight as the last bar from zero, and the thresholds as vertical lines, in bits; under it the
probability, the decision and each reason in words. The file loads nothing (no fonts, scripts or
links), so it opens offline in any browser, and it is the same bytes for the same explanation.

Pseudonymous unless the explanation carries the two records' standardised values (`--values`): then a
table of them follows, and the command writes the file only under the run's restricted/.
"""

from __future__ import annotations

import math
import os
import re
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from pipeline.audit.explain_pair import PairExplanation, RecordRef, Thresholds, axis, pass_lines
from pipeline.audit.trail import AuditUsage
from pipeline.publish import RESTRICTED, write_bytes

WIDTH = 860
LABEL_X, BAR_X, BAR_W, VALUE_X = 16, 440, 320, 840
ROW = 30
COLOURS = {"prior": "#5c6bc0", "up": "#2e7d32", "down": "#c62828", "total": "#37474f"}
WRAP = 120  # characters a line of words below the chart holds


def _num(x: float) -> str:
    return f"{x:.1f}"


def _text(x: float, y: float, words: str, size: int = 12, anchor: str = "start", weight: str = "normal",
          fill: str = "#222") -> str:
    return (f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}">{escape(words)}</text>')


def _ticks(lo: float, hi: float) -> list[int]:
    span = hi - lo
    step = next(s for s in (1, 2, 5, 10, 20, 50) if span / s <= 8)
    return list(range(math.ceil(lo / step) * step, math.floor(hi / step) * step + 1, step))


def _wrapped(lines: list[str], x: float, y: float) -> tuple[list[str], float]:
    out = []
    for line in lines:
        for k, part in enumerate(textwrap.wrap(line, WRAP) or [""]):
            out.append(_text(x + (12 if k else 0), y, part))
            y += 17
    return out, y


def svg(x: PairExplanation) -> str:
    """The chart of one explanation, as SVG text (UTF-8)."""
    parts: list[str] = []
    y = 28.0
    parts.append(_text(LABEL_X, y, x.title(), size=16, weight="bold"))
    y += 20
    people = f"one person, {x.person_a}" if x.same_person else f"two people, {x.person_a} and {x.person_b}"
    parts.append(_text(LABEL_X, y, f"{x.a.text()} and {x.b.text()} are {people}"
                       + (f"; run as of {x.as_of}" if x.as_of else "")))
    y += 18
    if x.compared:
        proposing = [v.name for v in x.passes if v.proposed]
        lines, y = _wrapped([f"compared: proposed by {'; '.join(proposing) or 'a blocking pass'}"], LABEL_X, y)
        parts += lines
        parts_chart, y = _waterfall(x, y + 10)
        parts += parts_chart
    else:
        lines, y = _wrapped(["blocking passes:", *(f"  {line}" for line in pass_lines(x.passes, x.a, x.b))],
                            LABEL_X, y + 6)
        parts += lines
    words = [f"decision: {x.decision}" + (f" (reviewer: {x.reviewer_decision})" if x.reviewer_decision else ""),
             *x.reasons, *(f"note: {n}" for n in x.notes)]
    lines, y = _wrapped(words, LABEL_X, y + 8)
    parts += lines
    if x.values is not None:
        parts_values, y = _values(x, y + 10)
        parts += parts_values
    height = math.ceil(y + 12)
    label = quoteattr(x.title())
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} '
            f'{height}" role="img" aria-label={label} font-family="DejaVu Sans, Arial, sans-serif">\n'
            f"<title>{escape(x.title())}</title>\n"
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>\n' + "\n".join(parts) + "\n</svg>\n")


def _waterfall(x: PairExplanation, top: float) -> tuple[list[str], float]:
    lo, hi = axis(x)

    def at(w: float) -> float:
        return BAR_X + (w - lo) / (hi - lo) * BAR_W

    parts = [_text(LABEL_X, top + 12, "step", weight="bold"),
             _text(VALUE_X, top + 12, "bits", anchor="end", weight="bold")]
    rows_top = top + 24
    steps = len(x.steps) + 1
    bottom = rows_top + steps * ROW
    for tick in _ticks(lo, hi):
        parts.append(f'<line x1="{_num(at(tick))}" y1="{_num(rows_top)}" x2="{_num(at(tick))}" y2="{_num(bottom)}" '
                     f'stroke="#e0e0e0" stroke-width="1"/>')
        parts.append(_text(at(tick), bottom + 14, f"{tick:+d}", size=10, anchor="middle", fill="#555"))
    parts.append(_text(BAR_X + BAR_W / 2, bottom + 28, "weight in bits (log2 of the odds)", size=10,
                       anchor="middle", fill="#555"))
    running = 0.0
    for k, s in enumerate(x.steps):
        y = rows_top + k * ROW
        start, end = running, running + s.weight
        colour = COLOURS["prior"] if s.name == "prior" else COLOURS["up" if s.weight >= 0 else "down"]
        left, right = sorted((at(start), at(end)))
        parts.append(f'<rect x="{_num(left)}" y="{_num(y + 5)}" width="{_num(max(right - left, 1.0))}" '
                     f'height="{ROW - 10}" fill="{colour}"/>')
        if k + 1 < len(x.steps):
            parts.append(f'<line x1="{_num(at(end))}" y1="{_num(y + ROW - 5)}" x2="{_num(at(end))}" '
                         f'y2="{_num(y + ROW + 5)}" stroke="#777" stroke-dasharray="2,2"/>')
        parts.append(_text(LABEL_X, y + 19, _short(s.label)))
        parts.append(_text(VALUE_X, y + 19, f"{s.weight:+.2f}", anchor="end"))
        running = end
    y = rows_top + len(x.steps) * ROW
    left, right = sorted((at(0.0), at(x.match_weight)))
    parts.append(f'<rect x="{_num(left)}" y="{_num(y + 5)}" width="{_num(max(right - left, 1.0))}" '
                 f'height="{ROW - 10}" fill="{COLOURS["total"]}"/>')
    parts.append(_text(LABEL_X, y + 19, "= match weight", weight="bold"))
    parts.append(_text(VALUE_X, y + 19, f"{x.match_weight:+.2f}", anchor="end", weight="bold"))
    parts.append(f'<line x1="{_num(at(0.0))}" y1="{_num(rows_top)}" x2="{_num(at(0.0))}" y2="{_num(bottom)}" '
                 f'stroke="#333" stroke-width="1"/>')
    t = x.thresholds
    for p, dash, name in ((t.match, "6,3", "linked"), (t.review, "2,3", "review")):
        w = Thresholds.weight(p)
        if lo <= w <= hi:
            parts.append(f'<line x1="{_num(at(w))}" y1="{_num(rows_top - 4)}" x2="{_num(at(w))}" '
                         f'y2="{_num(bottom)}" stroke="#000" stroke-dasharray="{dash}"/>')
            parts.append(_text(at(w), rows_top - 8, f"{name} from p {p}", size=10, anchor="middle"))
    parts.append(_text(LABEL_X, bottom + 48, f"probability {x.probability:.4f} = 1 / (1 + 2^-match weight); "
                                             f"weights from {x.where}"))
    return parts, bottom + 56


def _short(label: str, width: int = 64) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"


def _values(x: PairExplanation, top: float) -> tuple[list[str], float]:
    """The two records' standardised values side by side (identifying: the chart is then restricted)."""
    assert x.values is not None
    parts = [_text(LABEL_X, top + 12, "IDENTIFYING: the two records' standardised values", weight="bold",
                   fill="#b71c1c"),
             _text(LABEL_X, top + 30, "field", weight="bold"), _text(200, top + 30, x.a.text(), weight="bold"),
             _text(520, top + 30, x.b.text(), weight="bold")]
    y = top + 48
    for row in x.values.itertuples(index=False):
        parts += [_text(LABEL_X, y, str(row.field)), _text(200, y, str(row.a)), _text(520, y, str(row.b))]
        y += 17
    return parts, y


EXPLAIN_DIR = "explain"  # beside the run's outputs (pseudonymous charts), and under restricted/ (with values)


def chart_path(run: Path, a: RecordRef, b: RecordRef, values: bool, given: Path | None = None) -> Path:
    """Where a chart goes: `given`, else RUN/explain/ (pseudonymous) or RUN/restricted/explain/ (with values).

    A chart with values is identifying: it may go only under the run's restricted/ (readable by its owner
    alone, and purged with it), so a `given` path elsewhere is refused.
    """
    name = f"pair_{_safe(a.text())}__{_safe(b.text())}{'_values' if values else ''}.svg"
    path = Path(given) if given is not None else \
        (run / RESTRICTED / EXPLAIN_DIR / name if values else run / EXPLAIN_DIR / name)
    if values and not path.resolve().is_relative_to((run / RESTRICTED).resolve()):
        raise AuditUsage(f"--chart {path}: a chart with --values holds identifying data and goes only under "
                         f"{run / RESTRICTED}")
    if path.is_dir():
        raise AuditUsage(f"--chart {path} is a folder; give the chart's file path (.svg)")
    return path


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def write_chart(explanation: PairExplanation, path: Path, values: bool) -> None:
    """The chart written atomically: readable by its owner alone when it holds values, else as any output."""
    if values:
        restricted = explanation.run / RESTRICTED
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in [path.parent, *path.parent.parents]:
            if folder == restricted or not folder.is_relative_to(restricted):
                break
            os.chmod(folder, 0o700)
    write_bytes(svg(explanation).encode("utf-8"), path, mode=0o600 if values else 0o666)
