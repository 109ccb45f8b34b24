"""The day a run runs: every data-sharing agreement must be in force on it, and agreements about to lapse
are warned of before they stop a source.

The tiny set's agreements (schemas/gateways.yaml) run from 2025-04-01 to 2028-03-31 and its extracts
are dated 2026-10-31; `--processing-date` stands in for the calendar, as a backfill would.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.cli import main
from pipeline.report.markdown import summary_markdown
from tests.conftest import TINY
from tests.support import lineage

pytestmark = pytest.mark.usefixtures("preloaded_gx")


def run(tmp_path, monkeypatch, *extra: str) -> int:
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    return main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "out"), *extra])


def test_an_agreement_that_has_expired_by_the_processing_date_stops_even_an_old_extract(tmp_path, monkeypatch,
                                                                                       capsys):
    assert run(tmp_path, monkeypatch, "--processing-date", "2028-04-01") == 1
    err = capsys.readouterr().err
    assert "data-sharing agreement DSA-POL-2025-007 expired on 2028-03-31 (processing date 2028-04-01)" in err
    assert not (tmp_path / "out").exists()


def test_an_as_of_date_cannot_move_a_run_back_inside_an_agreement_it_is_processed_outside(tmp_path, monkeypatch,
                                                                                         capsys):
    assert run(tmp_path, monkeypatch, "--as-of", "2027-01-31", "--processing-date", "2028-05-01") == 1
    assert "expired on 2028-03-31 (processing date 2028-05-01)" in capsys.readouterr().err


def test_an_as_of_date_after_the_processing_date_is_refused(tmp_path, monkeypatch, capsys):
    assert run(tmp_path, monkeypatch, "--as-of", "2026-12-31", "--processing-date", "2026-12-03") == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: as-of date 2026-12-31 is after the processing date 2026-12-03: a run cannot count back from a day "
        "that has not come (--processing-date is for tests and backfills)")


def test_agreements_lapsing_within_sixty_days_are_warned_of_in_the_terminal_the_lineage_and_the_summary(
        tmp_path, monkeypatch, capsys):
    assert run(tmp_path, monkeypatch, "--processing-date", "2028-02-15") == 0
    said = capsys.readouterr()
    warning = ("police: data-sharing agreement DSA-POL-2025-007 expires on 2028-03-31, in 45 days: renew it, or the "
               "source is refused from 2028-04-01")
    assert f"warning: {warning}" in said.err and f"  warning: {warning}" in said.out
    start = lineage(tmp_path / "out")[0]
    expiring = [w for w in start["warnings"] if " expires on 2028-03-31" in w]
    assert warning in start["warnings"] and len(expiring) == 6  # every source's agreement lapses then
    assert start["parameters"]["processing_date"] == "2028-02-15" and start["parameters"]["processing_date_given"]


def test_no_warning_while_every_agreement_has_longer_to_run(tmp_path, monkeypatch, capsys):
    assert run(tmp_path, monkeypatch, "--processing-date", "2026-12-03") == 0
    assert "data-sharing agreement" not in capsys.readouterr().err
    assert lineage(tmp_path / "out")[0]["warnings"] == []


def test_the_prefect_summary_lists_the_warnings():
    from pipeline.ingest.validate import QuarantineCounts
    from pipeline.run.result import RunResult

    result = RunResult(out=TINY, as_of=dt.date(2026, 10, 31), purpose="identification", sources=[],
                       quarantine=QuarantineCounts(entries=0, bad_rows=0, refused_rows={}), seconds=1.0,
                       warnings=["police: data-sharing agreement X expires on 2028-03-31, in 45 days"])
    assert "## Warnings\n\n- police: data-sharing agreement X expires on 2028-03-31, in 45 days" in \
        summary_markdown(result)


def police_dated(tmp_path, day: str):
    """The tiny set with police's extract_date (the last column of every row) changed to `day`."""
    import shutil

    folder = tmp_path / "extracts"
    shutil.copytree(TINY, folder)
    police = folder / "police.csv"
    lines = police.read_text(encoding="utf-8").splitlines()
    police.write_text("\n".join([lines[0], *(ln.rsplit(",", 1)[0] + f",{day}" for ln in lines[1:])]) + "\n",
                      encoding="utf-8")
    return folder


def test_an_extract_dated_after_the_processing_date_refuses_its_own_source_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    folder = police_dated(tmp_path, "2099-12-31")
    code = main(["run", "--extracts", str(folder), "--out", str(tmp_path / "out"), "--processing-date", "2026-12-03",
                 "--allow-missing", "police"])
    out = capsys.readouterr()
    assert code == 3, out.err  # partial: police left out, everything else used
    assert ("police: refused: extract_date 2099-12-31 is after the processing date 2026-12-03" in out.err)
    start = lineage(tmp_path / "out")[0]
    assert start["parameters"]["as_of"] == "2026-10-31"  # the other sources' date, not 2099's
    assert "expired" not in out.err


def test_an_as_of_date_only_one_source_reaches_is_warned_of_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    folder = police_dated(tmp_path, "2027-06-30")
    assert main(["run", "--extracts", str(folder), "--out", str(tmp_path / "out"),
                 "--processing-date", "2027-07-01"]) == 0
    warning = ("the as-of date 2027-06-30 comes from police alone; the other sources are as of 2026-10-31 or "
               "earlier: give --as-of to choose")
    assert f"warning: {warning}" in capsys.readouterr().err
    assert warning in lineage(tmp_path / "out")[0]["warnings"]
