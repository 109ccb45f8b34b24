"""Data Docs pages load nothing from outside, and say in words what happened to each source."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.data_docs import marked_page, offline_css, offline_html, status_of
from pipeline.ingest.source import SourceOutcome, Validation

GX_HEAD = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="//cdn.example.org/x.js" integrity="sha384-abc" crossorigin="anonymous"></script>
<style>.navbar-brand a { background: url('https://assets.example.org/logo.png') 0 0 no-repeat; }
@import url("https://fonts.example.org/css");</style>
</head><body>
<a href="../index.html"><img class="NO-CACHE" src="https://assets.example.org/logo-long.png?d=20261203T083340Z"
  alt="Great Expectations" /></a>
<a data-toggle="collapse" href="#body-53e7d9d7-e655-4016-8a79-2bfa515ae0ea">Show more info...</a>
<div id=body-53e7d9d7-e655-4016-8a79-2bfa515ae0ea class="collapse">more</div>
<p>Data Docs made with <a href="https://greatexpectations.io">Great Expectations</a>.</p>
<footer><p>Stay current <a href="https://greatexpectations.io/newsletter">Subscribe</a></p></footer>
</body></html>"""


def test_a_gx_page_made_offline_loads_nothing_from_outside_and_keeps_its_words():
    page = offline_html(GX_HEAD, "../../")
    assert "http" not in page and "//cdn" not in page and "//assets" not in page
    assert "Great Expectations</p>" not in page and "made with Great Expectations." in page
    assert "Subscribe" not in page
    assert '<link rel="stylesheet" href="../../static/offline/data_docs.css">' in page
    assert '<script src="../../static/offline/data_docs.js" defer></script>' in page
    assert 'href="#body-n1"' in page and "id=body-n1 " in page  # random ids numbered: same run, same bytes
    assert offline_html(GX_HEAD, "../../") == page


def test_stylesheets_lose_their_external_urls_and_imports():
    css = offline_css("a { background: url(//x.example.org/a.png); }\n@import 'https://x.example.org/b.css';\n"
                      "b { background: url('../images/local.png'); }")
    assert "example.org" not in css and "url('../images/local.png')" in css


def outcome(status: str, rows_in: int = 0, quarantined: int = 0, reason: str | None = None) -> SourceOutcome:
    o = SourceOutcome("schools", None if status == "absent" else Path("schools.csv"), None,
                      used=status == "used", reason=reason, rows_in=rows_in,
                      rows_accepted=rows_in - quarantined if status == "used" else 0, rows_quarantined=quarantined)
    if status != "absent" and rows_in:
        failed = ["a", "b", "c"][: min(3, quarantined)]
        o.validation = Validation("schools_contract", 43, failed, "data_docs/index.html")
    return o


def test_a_used_source_with_quarantined_rows_is_shown_as_used_not_failed():
    s = status_of(outcome("used", rows_in=1200, quarantined=12))
    assert (s.tone, s.headline) == ("quarantined", "Used – 12 rows quarantined")
    assert "1,188 of 1,200 rows accepted" in s.detail
    assert status_of(outcome("used", rows_in=5, quarantined=1)).headline == "Used – 1 row quarantined"


def test_passed_refused_and_absent_sources_say_so_with_the_reason():
    assert status_of(outcome("used", rows_in=10)).headline == "Passed"
    refused = status_of(outcome("refused", rows_in=10, quarantined=6, reason="6 of 10 rows (60.0%) failed checks"))
    assert (refused.tone, refused.headline) == ("refused", "Refused – 6 of 10 rows (60.0%) failed checks")
    absent = status_of(outcome("absent", reason="no file supplied (optional source)"))
    assert (absent.tone, absent.headline) == ("absent", "Absent – no file supplied (optional source)")


def test_a_validation_page_says_the_runs_outcome_where_gx_said_failed():
    gx = ('<body>\n<span class="h6" >Status:</span> <i class="fas fa-times text-danger" aria-hidden="true"></i>'
          " Failed\n</body>")
    page = marked_page(gx, status_of(outcome("used", rows_in=1200, quarantined=12)), "../../")
    assert "Failed" not in page.replace("marks a suite failed", "")
    assert "Status:</span> Used – 12 rows quarantined (checks: 3 of 43 found failing rows)" in page
    assert page.index("schools: Used – 12 rows quarantined") < page.index("Status:")
    assert '<a href="../../index.html">' in page
