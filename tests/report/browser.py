"""The run report in headless Chromium: where each chart lies on the page, and the page as a picture.

Chromium's command line gives a page's DOM, its console and a screenshot, but not where things are
laid out. So a copy of the report is opened with a few lines of script added (and its policy
loosened to run them) that write each chart's box, the page's height and its width into the DOM;
the report itself runs no script. Layout does not depend on the window's height, so the boxes hold
for a screenshot of the report itself taken with a window as tall as the page.

    .venv/bin/python -m tests.report.browser out/sample/report.html docs/run-report.png
writes that screenshot (the one the README shows).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support import CHROMIUM, Visit, visit

WIDTH, HEIGHT = 1366, 768  # a laptop's screen
MEASURE = """<script>
const charts = [...document.querySelectorAll("svg.chart")].map(e => {
  const r = e.getBoundingClientRect();
  return {name: e.dataset.chart, x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};
});
const page = document.documentElement;
const measured = document.createElement("pre");
measured.id = "measured";
measured.textContent = JSON.stringify({charts, scrollWidth: page.scrollWidth, innerWidth, height: page.scrollHeight});
document.body.append(measured);
</script>"""


@dataclass(frozen=True)
class Layout:
    charts: list[dict]  # name, x, y, width, height (CSS pixels from the page's top left)
    scroll_width: int
    inner_width: int
    height: int


def measured_copy(report: Path, folder: Path) -> Path:
    """The report with the measuring script added and its Content-Security-Policy letting inline script run."""
    page = report.read_text(encoding="utf-8")
    page, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    assert n == 1, "the report declares its Content-Security-Policy"
    copy = folder / "measured.html"
    folder.mkdir(parents=True, exist_ok=True)
    copy.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    return copy


def layout(browser: str, report: Path, folder: Path, width: int = WIDTH, height: int = HEIGHT) -> Layout:
    seen = visit(browser, measured_copy(report, folder), folder / "measure", f"--window-size={width},{height}",
                 "--dump-dom")
    found = re.search(r'<pre id="measured">(.*?)</pre>', seen.output, re.S)
    assert found, seen.output[-2000:]
    data = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return Layout(data["charts"], data["scrollWidth"], data["innerWidth"], data["height"])


def screenshot(browser: str, report: Path, shot: Path, folder: Path, height: int, width: int = WIDTH) -> Visit:
    """The whole report as one picture `width` wide and `height` tall (the page's height from `layout`)."""
    return visit(browser, report, folder / "shot", f"--window-size={width},{height}", f"--screenshot={shot}")


def main(argv: list[str]) -> int:
    report, shot = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    if CHROMIUM is None:
        print("headless Chromium is needed: apt-get install -y chromium", file=sys.stderr)
        return 1
    work = shot.parent / ".report-shot"
    try:
        seen = screenshot(CHROMIUM, report, shot, work, layout(CHROMIUM, report, work).height)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print(f"{shot} ({shot.stat().st_size:,} bytes); console {seen.console or 'empty'}; asked {seen.asked or 'nothing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
