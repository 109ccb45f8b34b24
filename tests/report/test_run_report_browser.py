"""The sample run's report.html in a real browser (headless Chromium) with no network: nothing on its
console, no request leaving the machine, no sideways scrolling on a laptop's screen, and every chart
drawn (ink in its box on the screenshot).

Chromium is a test requirement (Debian's `chromium`; `.ci/run` installs it): without it these fail,
never skip, so a machine that cannot check the page says so.
"""

from __future__ import annotations

import re

import pytest

from tests.report.browser import HEIGHT, WIDTH, layout, screenshot
from tests.support import colour, ink, png_pixels, visit


@pytest.fixture(scope="module")
def report(sample_run):
    return sample_run.out / "report.html"


@pytest.fixture(scope="module")
def measured(browser, report, tmp_path_factory):
    return layout(browser, report, tmp_path_factory.mktemp("layout"))


def test_the_report_opens_with_nothing_on_its_console_and_asks_nothing_of_the_network(browser, report, tmp_path):
    seen = visit(browser, report, tmp_path, "--dump-dom")
    # The page runs no script, so anything on its console is an error: a request its policy refused, a fault.
    assert seen.console == []
    assert seen.asked == []
    assert 'data-section="glance"' in seen.output and 'data-chart="flow"' in seen.output


def test_a_laptop_screen_shows_the_report_without_scrolling_sideways(measured):
    assert measured.inner_width == WIDTH
    assert measured.scroll_width <= WIDTH, measured.scroll_width
    assert all(c["x"] >= 0 and c["x"] + c["width"] <= WIDTH for c in measured.charts), measured.charts


def test_every_chart_of_the_report_is_drawn(browser, report, measured, sample_run, tmp_path):
    names = re.findall(r'<svg class="chart" data-chart="([^"]+)"', report.read_text(encoding="utf-8"))
    assert sorted(c["name"] for c in measured.charts) == sorted(names)
    assert {"flow", "sources", "quarantine", "match-weights", "model-identity", "model-family", "model-sex",
            "link-rates", "person-sizes", "household-sizes", "review-band", "problems", "criteria",
            "overlap"} <= set(names)
    shot = tmp_path / "report.png"
    seen = screenshot(browser, report, shot, tmp_path, max(measured.height, HEIGHT))
    assert seen.console == [] and seen.asked == []
    pixels = png_pixels(shot)
    assert pixels.shape[1] == WIDTH
    blank = {}
    for c in measured.charts:
        box = (int(c["x"]), int(c["y"]), int(c["width"]), int(c["height"]))
        assert box[2] > 100 and box[3] > 40, c  # laid out at a readable size
        drawn = (ink(pixels, box), colour(pixels, box))  # words and axes; and the coloured marks themselves
        if drawn[0] < 0.02 or drawn[1] < 0.005:
            blank[c["name"]] = drawn
    assert blank == {}
