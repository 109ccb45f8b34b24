"""The sample run's Data Docs opened in a real browser (headless Chromium) with no network: the
index and a source's page render readable, their own script runs, and no request leaves the machine.

Chromium is a test requirement (Debian's `chromium`; `.ci/run` installs it): without it these fail,
never skip, so a machine that cannot check the pages says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import open_page, png_pixels, source_records


@pytest.fixture(scope="module")
def pages(sample_run) -> dict[str, Path]:
    docs = sample_run.out / "data_docs"
    (schools,) = (docs / "validations" / "schools_contract").rglob("*.html")
    return {"index": docs / "index.html", "schools": schools}


def status_words(record: dict) -> str:
    q = record["rows_quarantined"]
    return "Passed" if q == 0 else f"Used – {q:,} row{'' if q == 1 else 's'} quarantined"


def test_the_index_in_a_browser_lists_every_source_with_its_status_and_asks_nothing_of_the_network(
        browser, pages, sample_run, tmp_path):
    dom, asked = open_page(browser, pages["index"], tmp_path, "--dump-dom")
    assert asked == []
    for source, record in source_records(sample_run.out).items():
        assert f"<strong>{source}</strong>" in dom and status_words(record) in dom, source


def test_a_source_page_in_a_browser_says_what_happened_runs_its_own_script_and_asks_nothing(
        browser, pages, sample_run, tmp_path):
    dom, asked = open_page(browser, pages["schools"], tmp_path, "--dump-dom")
    assert asked == []
    assert 'data-offline-docs="ready"' in dom  # the page's script, from the run folder, ran
    assert f"schools: {status_words(source_records(sample_run.out)['schools'])}" in dom
    assert "dob is a real calendar date between 1700 and 2199, written YYYY-MM-DD" in dom


@pytest.mark.parametrize("name", ["index", "schools"])
def test_the_pages_render_as_styled_text_not_a_blank_or_bare_page(browser, pages, tmp_path, name):
    shot = tmp_path / f"{name}.png"
    _, asked = open_page(browser, pages[name], tmp_path, "--window-size=1280,1000", f"--screenshot={shot}")
    assert asked == []
    pixels = png_pixels(shot)[..., :3].astype(int)
    ink = (pixels.min(axis=2) < 160).mean()  # text, rules and borders
    assert 0.02 < ink < 0.5, ink
    # The amber of a source used with rows quarantined (the index's cell, the page's banner): the
    # project's stylesheet was found and applied.
    amber = (abs(pixels - [255, 246, 221]).sum(axis=2) < 8).mean()
    assert amber > 0.005, amber
