"""Clerical review that stays decided: the reviewer's form, and decisions applied in later runs."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.link.review import ReviewFormError, apply_to, read_decisions, review_form
from tests.conftest import TINY
from tests.support import lineage

pytestmark = pytest.mark.usefixtures("preloaded_gx")

HEADER = "pair,decision,reviewer,reviewed_on,note,source_a,source_record_id_a,source_b,source_record_id_b\n"


def form(tmp_path, *rows: str) -> object:
    path = tmp_path / "form.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_form_puts_what_to_fill_in_first_and_both_records_side_by_side():
    review = pd.DataFrame({"match_probability": [0.61234], "source_a": ["health"], "source_record_id_a": ["H1"],
                           "source_b": ["police"], "source_record_id_b": ["P1"], "surname_a": ["X"],
                           "surname_b": ["X"]})
    header, row = review_form(review).decode().splitlines()
    assert header.startswith("pair,decision,reviewer,reviewed_on,note,match_probability,source_a,source_b,")
    assert row.startswith("1,,,,,0.6123,health,police,H1,P1,")


def test_a_decision_other_than_match_not_match_or_blank_is_refused_naming_file_row_and_column(tmp_path):
    path = form(tmp_path, "1,MATCH,AR,2026-11-02,,health,H1,police,P1", "2,maybe,AR,2026-11-02,,health,H2,police,P2")
    with pytest.raises(ReviewFormError, match=f"^{path}: row 3, column decision: 'maybe' is not MATCH, NOT_MATCH"):
        read_decisions(path)


def test_blank_decisions_are_undecided_and_the_last_decision_on_a_pair_stands(tmp_path):
    decided = read_decisions(form(tmp_path, "1,,,,,health,H1,police,P1", "2,match,AR,,,health,H2,police,P2",
                                  "3,not match,AR,,,health,H2,police,P2"))
    assert decided.rows == 3 and decided.undecided == 1
    assert decided.pairs[["source_record_id_a", "decision"]].values.tolist() == [["H2", "NOT_MATCH"]]


def test_a_decision_whose_record_is_gone_is_stale_and_never_applied_to_other_records(tmp_path):
    decided = read_decisions(form(tmp_path, "1,MATCH,AR,,,health,H1,police,P1",
                                  "2,NOT_MATCH,AR,,,health,GONE,police,P1"))
    records = pd.DataFrame({"source": ["police", "health", "health"], "source_record_id": ["P1", "H1", "H9"]})
    applied = apply_to(decided, records)
    assert applied.must.values.tolist() == [[1, 0]] and applied.cannot.empty and applied.stale == 1


def test_a_not_match_splits_a_linked_pair_and_the_decision_is_carried_to_the_next_month(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    path = form(tmp_path, "1,NOT_MATCH,AR,2026-11-02,two people,electoral_register,ER3,health,HLT4",
                "2,MATCH,AR,2026-11-02,,electoral_register,ER404,health,HLT4")  # ER404: no such record (stale)
    assert main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "oct"), "--decisions", str(path)]) == 0
    assert "1 NOT_MATCH applied; 1 stale" in capsys.readouterr().err
    links = pd.read_parquet(tmp_path / "oct" / "record_links.parquet").set_index("source_record_id")["person_key"]
    assert links["ER3"] != links["HLT4"]
    link = next(r for r in lineage(tmp_path / "oct") if r.get("stage") == "link")
    assert link["review_decisions"]["not_match_applied"] == 1 and link["review_decisions"]["stale"] == 1
    assert len(link["review_decisions"]["sha256"]) == 64
    household = pd.read_parquet(tmp_path / "oct" / "record_links.parquet").set_index("source_record_id")[
        "household_key"]["HLT4"]
    main(["audit", "explain", household, "--run", str(tmp_path / "oct")])
    assert ("membership rests on a reviewer's decision: electoral_register ER3 and health HLT4 are two people "
            "(NOT_MATCH)") in capsys.readouterr().out

    # November, without the form: October's decisions still hold.
    assert main(["run", "--extracts", str(TINY), "--out", str(tmp_path / "nov"), "--as-of", "2026-11-30",
                 "--previous", str(tmp_path / "oct")]) == 0
    links = pd.read_parquet(tmp_path / "nov" / "record_links.parquet").set_index("source_record_id")["person_key"]
    assert links["ER3"] != links["HLT4"]
    link = next(r for r in lineage(tmp_path / "nov") if r.get("stage") == "link")
    assert link["review_decisions"]["carried_from_previous_run"] is True


def test_review_export_writes_the_form_readable_by_its_owner_alone(sample_run, capsys):
    import stat

    assert main(["review", "export", str(sample_run.out), "--to", str(sample_run.out.parent / "form.csv")]) == 0
    written = sample_run.out.parent / "form.csv"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    rows = pd.read_csv(written)
    assert len(rows) == len(pd.read_parquet(sample_run.out / "restricted" / "clerical_review.parquet")) > 0
    assert "IDENTIFYING" in capsys.readouterr().out


def test_a_decided_pair_is_not_put_to_review_again(sample_run, tmp_path, monkeypatch):
    from tests.conftest import SAMPLE

    review = pd.read_parquet(sample_run.out / "restricted" / "clerical_review.parquet")
    path = tmp_path / "form.csv"
    filled = pd.read_csv(pd.io.common.BytesIO(review_form(review)), dtype=str, keep_default_na=False)
    filled.loc[:4, "decision"] = "NOT_MATCH"
    filled.to_csv(path, index=False)
    monkeypatch.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
    assert main(["run", "--extracts", str(SAMPLE / "extracts"), "--out", str(tmp_path / "run"),
                 "--decisions", str(path)]) == 0
    again = pd.read_parquet(tmp_path / "run" / "restricted" / "clerical_review.parquet")
    sides = ["source_a", "source_record_id_a", "source_b", "source_record_id_b"]
    decided = {tuple(r) for r in filled.loc[:4, sides].itertuples(index=False)}
    assert decided and not decided & {tuple(r) for r in again[sides].astype(str).itertuples(index=False)}
    pairs = pd.read_parquet(tmp_path / "run" / "pairs.parquet")
    assert (pairs["reviewer_decision"] == "NOT_MATCH").sum() == 5


def test_each_pair_to_review_carries_the_command_that_explains_it_and_the_command_runs(sample_run, tmp_path, capsys):
    import shlex

    review = pd.read_parquet(sample_run.out / "restricted" / "clerical_review.parquet")
    first = review.iloc[0]
    words = shlex.split(first["explain_pair"])
    assert words[:4] == ["python", "-m", "pipeline", "explain-pair"]
    assert words[4:] == [f"{first['source_a']}:{first['source_record_id_a']}",
                         f"{first['source_b']}:{first['source_record_id_b']}", "--run", str(sample_run.out.resolve())]
    assert main([*words[3:], "--chart", str(tmp_path / "chart.svg")]) == 0
    assert "so the pair went to clerical review" in capsys.readouterr().out


def test_the_form_ends_with_the_explain_command_for_the_folder_it_was_exported_from(sample_run, tmp_path):
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(sample_run.out, moved, symlinks=True)
    assert main(["review", "export", str(moved), "--to", str(tmp_path / "form.csv")]) == 0
    form = pd.read_csv(tmp_path / "form.csv", dtype=str, keep_default_na=False)
    assert form.columns[-1] == "explain_pair"
    assert form["explain_pair"].str.endswith(f" --run {moved.resolve()}").all()
    assert form["explain_pair"].str.contains(" explain-pair ").all()
