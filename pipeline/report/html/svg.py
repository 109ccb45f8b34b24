"""The few chart pieces the run report draws, as inline SVG text: no script, no library, no request.

Why our own and not a charting library: the report must open offline from the run folder, be
byte-identical for the same inputs, and cost little per run. Every chart in it is bars, lines and
labelled cells on a plain scale, which SVG states directly; a library would inline hundreds of
kilobytes to megabytes of JavaScript into every monthly folder (or fetch it from a CDN, which a
council PC must not), give its elements random ids, and have to draw before anything shows. Here
a chart is text the browser lays out like the rest of the page, with the numbers as real text and
a tooltip (`<title>`) on every mark.

All coordinates are in the SVG's own units; the page scales each chart to its column's width
(`viewBox`, CSS `width: 100%`), so nothing is wider than the screen.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

FONT = 12  # px: labels; the page's font, so the charts read like the text around them
SMALL = 10.5
CHAR = 0.56  # a rough average width of a character of the page's sans-serif font, in em
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"

# Okabe and Ito's palette: told apart with the common kinds of colour blindness.
BLUE, SKY, ORANGE, GREEN, YELLOW, NAVY, VERMILLION, PURPLE, GREY = (
    "#0072b2", "#56b4e9", "#e69f00", "#009e73", "#f0e442", "#004c7a", "#d55e00", "#cc79a7", "#9aa5b1")


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def num(value: float, digits: int = 0) -> str:
    """A number as the report prints it: thousands separated, a real minus sign, fixed decimals."""
    text = f"{value:,.{digits}f}"
    return text.replace("-", "\u2212") if text.startswith("-") else text


def pct(part: float, whole: float, digits: int = 0) -> str:
    """A share in per cent; a share too small to show at `digits` is "<0.1%", never a misleading 0."""
    if not whole:
        return "–"
    share = 100 * part / whole
    floor = 10 ** -digits
    return f"<{floor:g}%" if 0 < share < floor / 2 else f"{share:.{digits}f}%"


def text_width(text: str, size: float = FONT) -> float:
    return len(text) * size * CHAR


def fit(text: str, width: float, size: float = FONT) -> str:
    """`text` cut with an ellipsis to about `width` units (the whole of it stays in the mark's tooltip)."""
    most = max(1, int(width / (size * CHAR)))
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


def f(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros, so the same chart is the same bytes."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def svg(name: str, width: float, height: float, body: Iterable[str], label: str) -> str:
    """A chart: `name` marks it for the page's tests (`data-chart`), `label` says what it shows to a screen reader."""
    return (f'<svg class="chart" data-chart="{esc(name)}" role="img" aria-label="{esc(label)}" '
            f'viewBox="0 0 {f(width)} {f(height)}" width="{f(width)}" height="{f(height)}" '
            f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{esc(label)}</title>{''.join(body)}</svg>")


def rect(x: float, y: float, w: float, h: float, fill: str, tip: str | None = None, extra: str = "") -> str:
    title = f"<title>{esc(tip)}</title>" if tip else ""
    return (f'<rect x="{f(x)}" y="{f(y)}" width="{f(max(w, 0))}" height="{f(max(h, 0))}" fill="{fill}"{extra}>'
            f"{title}</rect>")


def text(x: float, y: float, words: str, anchor: str = "start", size: float = FONT, fill: str = INK,
         weight: str = "normal", tip: str | None = None) -> str:
    bold = ' font-weight="bold"' if weight == "bold" else ""
    title = f"<title>{esc(tip)}</title>" if tip else ""
    return (f'<text x="{f(x)}" y="{f(y)}" text-anchor="{anchor}" font-size="{f(size)}" fill="{fill}"{bold}>'
            f"{title}{esc(words)}</text>")


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, width: float = 1, dash: str = "") -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{f(x1)}" y1="{f(y1)}" x2="{f(x2)}" y2="{f(y2)}" stroke="{stroke}" '
            f'stroke-width="{f(width)}"{dashed}/>')


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps up to at least `top` (1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


@dataclass(frozen=True)
class Series:
    """One colour of a chart and what it stands for (its legend entry)."""

    name: str
    colour: str


def legend(x: float, y: float, series: Sequence[Series], width: float) -> tuple[list[str], float]:
    """Legend entries in rows from (x, y) within `width`; returns the marks and the height used."""
    out, cx, cy = [], x, y
    for s in series:
        need = 16 + text_width(s.name, SMALL) + 14
        if cx + need > x + width and cx > x:
            cx, cy = x, cy + 16
        out += [rect(cx, cy - 9, 10, 10, s.colour), text(cx + 14, cy, s.name, size=SMALL, fill=MUTED)]
        cx += need
    return out, cy - y + 16


@dataclass(frozen=True)
class HBar:
    """One row of a horizontal bar chart: its label, the value of each series (stacked), a note at its end."""

    label: str
    values: tuple[float, ...]
    note: str | None = None  # printed after the bar (default: the total)
    tip: str | None = None


def hbars(name: str, rows: Sequence[HBar], series: Sequence[Series], label: str, width: float = 560,
          label_width: float = 170, row: float = 22, note_width: float = 90, show_legend: bool = True) -> str:
    """Horizontal stacked bars, one row per label, on one linear scale from zero."""
    top = max((sum(r.values) for r in rows), default=0) or 1
    key, key_h = legend(0, 12, series, width) if show_legend and len(series) > 1 else ([], 0)
    y0 = key_h + 6
    plot = width - label_width - note_width
    body = list(key)
    for i, r in enumerate(rows):
        y = y0 + i * row
        body.append(text(label_width - 8, y + row * 0.68, fit(r.label, label_width - 10), "end", tip=r.label))
        x = label_width
        for s, v in zip(series, r.values, strict=True):
            w = plot * v / top
            if v:
                body.append(rect(x, y + 3, max(w, 1), row - 6, s.colour, f"{r.label}: {s.name} {num(v)}"))
            x += w
        note = r.note if r.note is not None else num(sum(r.values))
        body.append(text(x + 6, y + row * 0.68, note, size=SMALL, fill=MUTED))
    return svg(name, width, y0 + len(rows) * row + 4, body, label)


def vbars(name: str, categories: Sequence[str], stacks: Sequence[Sequence[float]], series: Sequence[Series],
          label: str, x_title: str, y_title: str, width: float = 560, height: float = 240,
          show_totals: bool = True) -> str:
    """Vertical stacked bars over categories (`stacks[k][i]`: series k at category i), linear from zero."""
    totals = [sum(s[i] for s in stacks) for i in range(len(categories))]
    ticks = nice_ticks(max(totals, default=0))
    key, key_h = legend(50, 12, series, width - 50) if len(series) > 1 else ([], 0)
    top, left, bottom, right = key_h + 30, 50, 40, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    body = list(key)
    for t in ticks:
        y = top + plot_h * (1 - t / ticks[-1])
        body += [line(left, y, width - right, y), text(left - 6, y + 4, num(t), "end", SMALL, MUTED)]
    step = plot_w / max(len(categories), 1)
    bar = min(step * 0.75, 48)
    every = max(1, math.ceil(len(categories) * 30 / plot_w))  # labels that would touch are thinned
    for i, c in enumerate(categories):
        x = left + i * step + (step - bar) / 2
        y = top + plot_h
        for s, values in zip(series, stacks, strict=True):
            h = plot_h * values[i] / ticks[-1]
            if values[i]:
                body.append(rect(x, y - h, bar, max(h, 0.8), s.colour, f"{c}: {s.name} {num(values[i])}"))
            y -= h
        if show_totals and totals[i] and bar >= 18:
            body.append(text(x + bar / 2, y - 4, num(totals[i]), "middle", SMALL - 1, MUTED))
        if i % every == 0:
            body.append(text(x + bar / 2, top + plot_h + 15, c, "middle", SMALL, MUTED))
    body += [line(left, top + plot_h, width - right, top + plot_h, MUTED),
             text(left + plot_w / 2, height - 6, x_title, "middle", SMALL, MUTED),
             text(4, top - 16, y_title, "start", SMALL, MUTED)]
    return svg(name, width, height, body, label)


def shade(value: float) -> str:
    """A blue from white (0) to dark (1): how much of a matrix cell's row is in its column."""
    v = min(max(value, 0.0), 1.0)
    low, high = (247, 251, 255), (8, 81, 156)
    r, g, b = (round(a + (z - a) * v) for a, z in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def diverging(value: float, limit: float) -> str:
    """Red for a negative, blue for a positive value, paler towards zero; `limit` is the darkest."""
    v = max(-1.0, min(1.0, value / limit)) if limit else 0.0
    white, end = (255, 255, 255), ((33, 102, 172) if v >= 0 else (178, 24, 43))
    r, g, b = (round(a + (z - a) * abs(v)) for a, z in zip(white, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"
