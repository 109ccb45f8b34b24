"""Data Docs a research officer can open anywhere, saying what the run did with each source.

Great Expectations' pages load Bootstrap, jQuery, bootstrap-table, Vega and Font Awesome from CDNs
and its logo from S3. Offline they show next to nothing (the index's tables are drawn by a script:
two "Clear Filters" buttons and no rows), and on a council PC every page would call out to those
sites. So once GX has rendered the site (`make_offline`, in the GX worker) every page is rewritten
to load nothing from outside: external stylesheets, scripts and images are dropped, external links
keep their words only, and a small stylesheet and script of this project's own
(`data_docs_static/`) stand in for the parts of Bootstrap and jQuery the pages use. GX's static
folder (its logos, tutorial animations and fonts, which no page loads) is cut to the favicon.

GX's verdict on a suite is "Failed" whenever one row fails one check, but a source whose failing
rows are quarantined is still used. `present` (in the run, which knows each source's outcome)
writes the index: every source with what happened to it ("Used – 12 rows quarantined",
"Refused – ...", "Passed", "Absent – ..."), its rows and checks, and links to its GX pages; and
puts the same words at the head of each source's validation page in place of GX's bare "Failed".

Pages stay deterministic: the random ids GX gives collapsible sections are renumbered per page,
and the logo's URL, which carried the time of rendering, is gone. GX's own `ge_load_time` batch
marker is left as GX wrote it.
"""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.ingest.source import SourceOutcome

STATIC = Path(__file__).with_name("data_docs_static")
OFFLINE_DIR = "static/offline"  # where the stand-ins are copied, relative to the docs folder
KEEP_STATIC = ("static/images/favicon.ico",)

_EXTERNAL = r"""(?:https?:)?//[^"'\s>)]+"""
_ATTR = rf"""\b(?:src|href)\s*=\s*["']?{_EXTERNAL}"""
_SCRIPT = re.compile(rf"<script\b[^>]*{_ATTR}[^>]*>\s*</script>", re.I)
_LINK = re.compile(rf"<link\b[^>]*{_ATTR}[^>]*>", re.I)
_IMG = re.compile(rf"<img\b[^>]*{_ATTR}[^>]*>", re.I)
_ALT = re.compile(r"""\balt\s*=\s*["']([^"']*)["']""", re.I)
_ANCHOR = re.compile(rf"<a\b[^>]*{_ATTR}[^>]*>(.*?)</a>", re.I | re.S)
_FOOTER = re.compile(r"<footer>.*?</footer>", re.I | re.S)
_CSS_URL = re.compile(rf"""url\(\s*["']?{_EXTERNAL}["']?\s*\)""", re.I)
_CSS_IMPORT = re.compile(rf"""@import\s+(?:url\()?\s*["']?{_EXTERNAL}[^;]*;""", re.I)
_ANY_EXTERNAL_ATTR = re.compile(rf"""(\b(?:src|href|action|poster|data)\s*=\s*)(["']?){_EXTERNAL}\2""", re.I)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --------------------------------------------------------------------------- offline
def offline_css(css: str) -> str:
    """`css` with every external `@import` and `url()` removed (a background the page does without)."""
    return _CSS_URL.sub("none", _CSS_IMPORT.sub("", css))


def offline_html(page: str, root: str) -> str:
    """A GX page that loads nothing from outside; `root` is the relative path to the docs folder.

    Why each step: the CDN tags and the logo would be requests; external links are kept as their
    words, since a click is a request too; the random ids of collapsible sections are numbered in
    order, so the same run renders the same bytes.
    """
    page = _FOOTER.sub("", page)  # GX's newsletter invitation
    page = _SCRIPT.sub("", page)
    page = _LINK.sub("", page)
    page = _IMG.sub(lambda m: html.escape((_ALT.findall(m.group(0)) or [""])[0]), page)
    page = _ANCHOR.sub(r"\1", page)
    page = _ANY_EXTERNAL_ATTR.sub(r'\1\2#\2', page)
    page = re.sub(r"(<style\b[^>]*>)(.*?)(</style>)", lambda m: m.group(1) + offline_css(m.group(2)) + m.group(3),
                  page, flags=re.I | re.S)
    # GX points a validation page's favicon one folder short of the site's static/: set every one from the root.
    page = re.sub(r"""(\b(?:src|href)\s*=\s*["'])(?:\.\./)*static/""", lambda m: f"{m.group(1)}{root}static/", page)
    ids: dict[str, str] = {}
    page = _UUID.sub(lambda m: ids.setdefault(m.group(0), f"n{len(ids) + 1}"), page)
    stand_ins = (f'<link rel="stylesheet" href="{root}{OFFLINE_DIR}/data_docs.css">\n'
                 f'<script src="{root}{OFFLINE_DIR}/data_docs.js" defer></script>\n')
    return page.replace("</head>", stand_ins + "</head>", 1)


def _root(path: Path, docs_dir: Path) -> str:
    return "../" * (len(path.relative_to(docs_dir).parts) - 1)


def make_offline(docs_dir: Path) -> None:
    """Rewrite the GX site under `docs_dir` so that opening any page makes no request off the machine.

    GX's index is removed: its tables are drawn by bootstrap-table, which cannot run offline; the
    run writes its own (`present`).
    """
    (docs_dir / "index.html").unlink(missing_ok=True)
    static = docs_dir / "static"
    if static.is_dir():
        for path in sorted(static.rglob("*"), reverse=True):
            relative = path.relative_to(docs_dir).as_posix()
            if path.is_file() and relative not in KEEP_STATIC:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for path in sorted(docs_dir.rglob("*.html")):
        path.write_text(offline_html(path.read_text(encoding="utf-8"), _root(path, docs_dir)), encoding="utf-8")
    for path in sorted(docs_dir.rglob("*.css")):
        path.write_text(offline_css(path.read_text(encoding="utf-8")), encoding="utf-8")
    _copy_stand_ins(docs_dir)


def _copy_stand_ins(docs_dir: Path) -> None:
    target = docs_dir / OFFLINE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name in ("data_docs.css", "data_docs.js"):
        shutil.copyfile(STATIC / name, target / name)


# --------------------------------------------------------------------------- what happened
@dataclass(frozen=True)
class SourceStatus:
    """What the run did with one source, in the words the index and its pages show."""

    source: str
    tone: str  # passed | quarantined | refused | absent
    headline: str  # "Used – 12 rows quarantined"
    detail: str
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    checks: int | None = None
    checks_failed: int | None = None


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def status_of(outcome: SourceOutcome) -> SourceStatus:
    """The outcome of a source in words: passed, used with rows quarantined, refused or absent."""
    checks = failed = None
    if outcome.validation is not None:
        checks, failed = outcome.validation.expectations, len(outcome.validation.failed)
    counts = {"rows_in": outcome.rows_in, "rows_accepted": outcome.rows_accepted,
              "rows_quarantined": outcome.rows_quarantined, "checks": checks, "checks_failed": failed}
    q = outcome.rows_quarantined
    if outcome.status == "used" and q == 0:
        return SourceStatus(outcome.source, "passed", "Passed",
                            f"used: all {_rows(outcome.rows_in)} passed every check", **counts)
    if outcome.status == "used":
        return SourceStatus(outcome.source, "quarantined", f"Used – {_rows(q)} quarantined",
                            f"used: {outcome.rows_accepted:,} of {_rows(outcome.rows_in)} accepted; {_rows(q)} "
                            f"failed a check and {'is' if q == 1 else 'are'} in quarantine.parquet with the reason",
                            **counts)
    if outcome.status == "refused":
        read = f"; {_rows(outcome.rows_in)} read, none used" if outcome.rows_in else ""
        return SourceStatus(outcome.source, "refused", f"Refused – {outcome.reason}", f"not used{read}", **counts)
    return SourceStatus(outcome.source, "absent", f"Absent – {outcome.reason}", "not used: no file", **counts)


def _checks_words(status: SourceStatus) -> str:
    if status.checks is None:
        return "not checked"
    if not status.checks_failed:
        return f"all {status.checks} passed"
    return f"{status.checks_failed} of {status.checks} found failing rows"


def banner(status: SourceStatus, root: str) -> str:
    """The run's words at the head of a source's page: what happened to it, and the way back."""
    e = html.escape
    return (f'<div class="sf-outcome sf-{status.tone}"><strong>{e(status.source)}: {e(status.headline)}</strong>'
            f"<br>{e(status.detail)}. Checks: {e(_checks_words(status))}. Great Expectations marks a suite "
            "failed when any row fails a check; rows that fail are quarantined and the rest of the file is used. "
            f'<a href="{root}index.html">All sources of this run</a></div>\n')


_GX_STATUS = re.compile(r'(<span class="h6"\s*>Status:</span>)\s*<i [^>]*></i>\s*(?:Failed|Succeeded)')


def marked_page(page: str, status: SourceStatus, root: str) -> str:
    """A source's validation page with the run's outcome at its head and in its overview's "Status"."""
    words = html.escape(f"{status.headline} (checks: {_checks_words(status)})")
    page = _GX_STATUS.sub(lambda m: f"{m.group(1)} {words}", page, count=1)
    return re.sub(r"(<body\b[^>]*>)", lambda m: m.group(1) + "\n" + banner(status, root), page, count=1)


@dataclass(frozen=True)
class Pages:
    """A source's GX pages, relative to the docs folder (None when GX has none for it)."""

    validation: str | None
    suite: str | None


def pages_of(docs_dir: Path, source: str) -> Pages:
    validations = sorted((docs_dir / "validations" / f"{source}_contract").rglob("*.html"))
    suite = docs_dir / "expectations" / f"{source}_contract.html"
    return Pages(validations[-1].relative_to(docs_dir).as_posix() if validations else None,
                 suite.relative_to(docs_dir).as_posix() if suite.is_file() else None)


def index_html(statuses: list[SourceStatus], pages: dict[str, Pages]) -> str:
    """The run's Data Docs index: every source, what happened to it, and links to its GX pages."""
    e = html.escape
    rows = []
    for s in statuses:
        p = pages.get(s.source, Pages(None, None))
        links = [f'<a href="{e(href)}">{label}</a>' for href, label in
                 ((p.validation, "validation result"), (p.suite, f"checks ({e(s.source)}_contract)")) if href]
        rows.append(
            f'<tr><td><strong>{e(s.source)}</strong></td>'
            f'<td class="sf-status sf-{s.tone}">{e(s.headline)}<span class="sf-detail">{e(s.detail)}</span></td>'
            f'<td class="sf-number">{s.rows_in:,}</td><td class="sf-number">{s.rows_accepted:,}</td>'
            f'<td class="sf-number">{s.rows_quarantined:,}</td><td>{e(_checks_words(s))}</td>'
            f'<td>{" · ".join(links) or "no pages (the file was not checked)"}</td></tr>')
    body = "\n".join(rows)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data Docs: the checks of this run's extracts</title>
<link rel="stylesheet" href="{OFFLINE_DIR}/data_docs.css">
<link rel="icon" href="static/images/favicon.ico">
</head>
<body>
<main class="sf-index">
<h1>The checks of this run's extracts</h1>
<p>Each source's file was checked against its data contract (<code>schemas/sources/</code>).
A row that fails a check is set aside in <code>quarantine.parquet</code> with the reason, and the rest of
the file is used; a file with too many failing rows, or not allowed by its gateway, is refused whole.
Great Expectations calls a suite "failed" when any row fails any check, so a source used with rows
quarantined shows as failed on its own page. No values from the data appear here: counts only.</p>
<table>
<thead><tr><th>Source</th><th>What happened</th><th>Rows read</th><th>Accepted</th><th>Quarantined</th>
<th>Checks</th><th>Pages</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</main>
</body>
</html>
"""


def present(docs_dir: Path, outcomes: list[SourceOutcome]) -> Path:
    """Write the run's index of `docs_dir` and mark each source's validation page with its outcome."""
    _copy_stand_ins(docs_dir)  # also where GX had nothing to validate, so rendered nothing
    statuses = [status_of(o) for o in outcomes]
    pages = {s.source: pages_of(docs_dir, s.source) for s in statuses}
    for status in statuses:
        validation = pages[status.source].validation
        if validation is not None:
            path = docs_dir / validation
            path.write_text(marked_page(path.read_text(encoding="utf-8"), status, _root(path, docs_dir)),
                            encoding="utf-8")
    index = docs_dir / "index.html"
    index.write_text(index_html(statuses, pages), encoding="utf-8")
    return index
