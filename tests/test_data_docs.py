"""A run's Data Docs, as a research officer opens them: nothing loaded from outside, every source
listed with what happened to it, and the same bytes from the same run. The runs are the session's."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import TINY, run_cli
from tests.support import source_records

# Anything a page could load or send a click to off the machine: a URL with a scheme, or one
# relative to the protocol (//host/...) in an attribute, a CSS url() or an @import.
EXTERNAL = re.compile(r"""https?://|(?:src|href|action|poster|data)\s*=\s*["']?//|url\(\s*["']?//|@import\s+["']//""",
                      re.I)


def docs_files(out: Path) -> list[Path]:
    return sorted(p for p in (out / "data_docs").rglob("*") if p.is_file())


def test_no_file_of_the_data_docs_refers_to_anything_outside_the_machine(sample_run):
    files = docs_files(sample_run.out)
    texts = [p for p in files if p.suffix in (".html", ".css", ".js", ".svg", ".json")]
    assert len([p for p in texts if p.suffix == ".html"]) >= 13  # the index, 6 suites, 6 validations
    found = {str(p.relative_to(sample_run.out)): EXTERNAL.findall(p.read_text(encoding="utf-8", errors="replace"))
             for p in texts}
    assert not {k: v for k, v in found.items() if v}
    assert all(p.suffix in (".html", ".css", ".js", ".ico") for p in files), [p.name for p in files]


def test_every_local_page_a_data_docs_page_loads_or_links_to_exists(sample_run):
    docs = sample_run.out / "data_docs"
    for page in docs.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for ref in re.findall(r"""(?:src|href)\s*=\s*["']([^"'#][^"']*)["']""", text):
            assert (page.parent / ref.split("#")[0]).resolve().is_file(), (page.relative_to(docs), ref)


def test_the_index_lists_every_source_with_what_happened_to_it(sample_run):
    out = sample_run.out
    index = (out / "data_docs" / "index.html").read_text(encoding="utf-8")
    for source, record in source_records(out).items():
        q = record["rows_quarantined"]
        words = "Passed" if q == 0 else f"Used – {q:,} row{'' if q == 1 else 's'} quarantined"
        row = re.search(rf"<tr><td><strong>{source}</strong>.*?</tr>", index, re.S)
        assert row and words in row.group(0), source
        assert f'href="validations/{source}_contract/' in row.group(0)
        assert f'href="expectations/{source}_contract.html"' in row.group(0)


def test_a_source_page_says_used_with_rows_quarantined_not_only_failed(sample_run):
    out = sample_run.out
    q = source_records(out)["schools"]["rows_quarantined"]
    assert q > 0
    (page,) = (out / "data_docs" / "validations" / "schools_contract").rglob("*.html")
    text = page.read_text(encoding="utf-8")
    assert f"schools: Used – {q} row{'' if q == 1 else 's'} quarantined" in text
    assert re.search(r"Status:</span>\s*Used – ", text)


def test_the_same_run_writes_the_same_data_docs(tiny_run, tmp_path):
    again = run_cli(tmp_path, "--extracts", TINY, "--no-reuse")
    assert again.code == 0, again.stderr
    mine, theirs = docs_files(tiny_run.out), docs_files(again.out)
    assert [p.relative_to(tiny_run.out) for p in mine] == [p.relative_to(again.out) for p in theirs]
    # GX's ge_load_time batch marker is the wall-clock time GX loaded the batch: the one known difference.
    load_time = re.compile(r"\d{8}T\d{6}\.\d{6}Z")
    for a, b in zip(mine, theirs, strict=True):
        if a.suffix == ".html":
            text_a, text_b = (load_time.sub("T", p.read_text(encoding="utf-8")) for p in (a, b))
            assert text_a == text_b, a
        else:
            assert a.read_bytes() == b.read_bytes(), a
