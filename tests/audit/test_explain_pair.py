"""`python -m pipeline explain-pair A B --run RUN`: why two records were linked, or not, on the sample's run.

The waterfall adds up to what pairs.parquet says; a refused pair names the rule that refused it; a pair
pairs.parquet does not list is said to be never compared (and what each pass would need) or weighed
afresh with the run's model; nothing identifying reaches the terminal or the default chart. Tests that
write into a run folder work on a copy of the session's sample run.
"""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.audit.explain_pair import RecordRef, explain_pair, recomputed
from pipeline.cli import main
from pipeline.link.document import read_model
from pipeline.link.settings import load_linkage
from tests.support import leaked
from tests.test_sample import identifying_values


@pytest.fixture(scope="module")
def run(sample_run, tmp_path_factory) -> Path:
    """A copy of the sample's run folder, so charts written into it leave the session's run as it was."""
    copy = tmp_path_factory.mktemp("explain") / "run"
    shutil.copytree(sample_run.out, copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def pairs(run) -> pd.DataFrame:
    return pd.read_parquet(run / "pairs.parquet")


@pytest.fixture(scope="module")
def secrets() -> set[str]:
    return identifying_values()


def refs(row) -> tuple[str, str]:
    return f"{row.source_a}:{row.source_record_id_a}", f"{row.source_b}:{row.source_record_id_b}"


def explain(capsys, *args: object) -> tuple[int, str, str]:
    code = main(["explain-pair", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_pair_the_prior_alone_links_is_shown_step_by_step_adding_up_to_the_file(run, pairs, capsys, secrets):
    against = pairs[(pairs["decision"] == "linked") & (pairs["w_identity"] + pairs["w_family"] + pairs["w_sex"] < 0)]
    row = against.iloc[0]  # the comparisons together weigh against it: the prior alone links it
    a, b = refs(row)
    code, out, err = explain(capsys, a, b, "--run", run)
    assert code == 0, err
    assert out.startswith(f"Why {a} and {b} were linked\n")
    for name in ("prior", "identity", "family", "sex"):
        assert re.search(rf"^  {name}: .* {re.escape(format(row[f'w_{name}'], '+.2f'))}  ", out, re.M), name
    assert "= match weight" in out and f"{row['match_weight']:+.2f}" in out
    assert f"probability {row['match_probability']:.4f}" in out
    assert "decision: linked" in out and "the prior (+" in out and "carries it over the threshold" in out
    assert re.search(r"█", out) and re.search(r"░", out)  # text bars: rises and falls
    chart = run / "explain" / f"pair_{a.replace(':', '_')}__{b.replace(':', '_')}.svg"
    assert f"chart: {chart}" in out and chart.is_file()
    assert leaked(secrets, out) == [] and leaked(secrets, chart.read_text(encoding="utf-8")) == []


def test_the_explanation_is_the_run_s_own_arithmetic(run, pairs):
    for row in pairs.sample(20, random_state=3).itertuples():
        x = explain_pair(run, RecordRef.parse(refs(row)[0]), RecordRef.parse(refs(row)[1]))
        assert [s.name for s in x.steps] == ["prior", "identity", "family", "sex"]
        assert abs(x.match_weight - row.match_weight) < 1e-9 and abs(x.probability - row.match_probability) < 1e-9
        assert x.decision == row.decision and [v.name for v in x.passes] == list(row.blocking_passes)


def test_weighing_a_pair_afresh_from_the_restricted_records_gives_the_runs_weights(run, pairs):
    records = pd.read_parquet(run / "restricted" / "link_records.parquet")
    at = pd.Series(np.arange(len(records)), index=pd.MultiIndex.from_arrays(
        [records["source"].astype(str), records["source_record_id"].astype(str)]))
    model = read_model(run / "linkage_model.json")
    settings = model.settings(load_linkage())
    for row in pairs[~pairs["compared_across_a_move"]].sample(40, random_state=5).itertuples():
        steps = recomputed(records, int(at[(row.source_a, row.source_record_id_a)]),
                           int(at[(row.source_b, row.source_record_id_b)]), model, settings)
        assert [round(s.weight, 9) for s in steps] == [round(w, 9) for w in (
            row.w_prior, row.w_identity, row.w_family, row.w_sex)]


def test_a_pair_refused_because_an_agency_holds_no_duplicates_says_so(run, pairs, capsys):
    row = pairs[pairs["decision"] == "refused: agency tokens differ"].iloc[0]
    code, out, _ = explain(capsys, *refs(row), "--run", run)
    assert code == 0 and "were not linked" in out
    assert f"two different ids of {row.source_a}, an agency that holds no duplicate ids" in out
    assert "identity.distinct_tokens" in out


def test_a_pair_refused_because_it_would_join_two_people_names_what_stood_in_the_way(run, pairs, capsys):
    refused = pairs[pairs["decision"] == "refused: would join two different people"]
    assert len(refused) > 5
    for row in refused.head(6).itertuples():
        code, out, _ = explain(capsys, *refs(row), "--run", run)
        assert code == 0
        (line,) = [ln for ln in out.splitlines() if ln.startswith("  refused: ")]
        named = re.findall(r"[a-z_]+:[A-Z]+\d+", line)  # the records (or ids) that make them two people
        assert ("distinct_tokens" in line or "cannot_link_below" in line or "two flats" in line) and named, line


def test_a_pair_in_the_review_band_says_it_went_to_clerical_review(run, pairs, capsys):
    row = pairs[pairs["decision"] == "clerical review"].iloc[0]
    code, out, _ = explain(capsys, *refs(row), "--run", run)
    assert code == 0 and "in the review band (0.2 up to 0.5), so the pair went to clerical review" in out


def two_records_never_compared(run) -> tuple[str, str]:
    """Two records of different people that no pass proposed: a police record and a school record of strangers."""
    links = pd.read_parquet(run / "record_links.parquet")
    police = links[links["source"] == "police"].iloc[0]
    pupils = links[(links["source"] == "schools") & (links["household_key"] != police["household_key"])]
    return f"police:{police['source_record_id']}", f"schools:{pupils['source_record_id'].iloc[-1]}"


def test_two_records_no_blocking_pass_brought_together_are_said_never_compared_with_what_each_pass_needs(
        run, capsys, secrets):
    a, b = two_records_never_compared(run)
    code, out, _ = explain(capsys, a, b, "--run", run)
    assert code == 0, out
    assert out.startswith(f"{a} and {b}: never compared\n")
    assert "never compared: no blocking pass brought them together" in out
    for p in load_linkage().blocking:
        assert re.search(rf"^    {re.escape(p.name)}: would need .*(differ|blank)", out, re.M), p.name
    assert leaked(secrets, out) == []


def test_a_compared_pair_below_the_review_band_is_weighed_afresh_with_the_runs_model(run, pairs, capsys):
    from pipeline.link.candidates import candidate_pairs

    records = pd.read_parquet(run / "restricted" / "link_records.parquet")
    candidates = candidate_pairs(records, load_linkage().blocking)
    ids = (records["source"] + ":" + records["source_record_id"]).to_numpy()
    a = (pairs["source_a"] + ":" + pairs["source_record_id_a"]).tolist()
    b = (pairs["source_b"] + ":" + pairs["source_record_id_b"]).tolist()
    shown = set(zip(a, b, strict=True)) | set(zip(b, a, strict=True))
    i, j = next((i, j) for i, j in zip(candidates["i"], candidates["j"], strict=True)
                if (ids[i], ids[j]) not in shown)
    code, out, _ = explain(capsys, ids[i], ids[j], "--run", run)
    assert code == 0
    assert "weights from restricted/link_records.parquet (recomputed)" in out
    assert re.search(r"not linked: probability 0\.\d+ is below (review_threshold|cannot_link_below)", out)


def test_without_the_restricted_records_a_pair_not_in_pairs_parquet_is_said_to_be_undecidable(run, tmp_path, capsys):
    copy = tmp_path / "purged"
    shutil.copytree(run, copy, symlinks=True)
    (copy / "restricted" / "link_records.parquet").unlink()
    a, b = two_records_never_compared(run)
    code, out, _ = explain(capsys, a, b, "--run", copy, "--chart", tmp_path / "chart.svg")
    assert code == 0
    assert "they were never compared, or scored below it" in out and "is not there (purged" in out


def test_with_values_the_chart_shows_both_records_and_goes_only_under_restricted(run, pairs, capsys, secrets):
    row = pairs[pairs["decision"] == "linked"].iloc[0]
    a, b = refs(row)
    code, out, _ = explain(capsys, a, b, "--run", run, "--values")
    assert code == 0
    chart = run / "restricted" / "explain" / f"pair_{a.replace(':', '_')}__{b.replace(':', '_')}_values.svg"
    assert chart.is_file() and stat.S_IMODE(chart.stat().st_mode) == 0o600
    assert stat.S_IMODE(chart.parent.stat().st_mode) == 0o700
    svg = chart.read_text(encoding="utf-8")
    assert "IDENTIFYING" in svg and leaked(secrets, svg)  # the names and dates are there ...
    assert leaked(secrets, out) == []  # ... and never in the terminal
    code, _, err = explain(capsys, a, b, "--run", run, "--values", "--chart", run / "elsewhere.svg")
    assert code == 2 and "goes only under" in err and not (run / "elsewhere.svg").exists()


def test_the_chart_is_self_contained(run, pairs, capsys):
    row = pairs.iloc[0]
    code, out, _ = explain(capsys, *refs(row), "--run", run)
    assert code == 0
    path = Path(re.search(r"chart: (\S+)", out)[1])
    svg = path.read_text(encoding="utf-8")
    assert svg.startswith("<svg xmlns=\"http://www.w3.org/2000/svg\"") and svg.rstrip().endswith("</svg>")
    assert not re.search(r"<script|href=|url\(|@import|https?://(?!www\.w3\.org/2000/svg)", svg)
    before = path.read_bytes()
    explain(capsys, *refs(row), "--run", run)
    assert path.read_bytes() == before  # the same explanation, the same bytes


@pytest.mark.parametrize(("a", "b", "words"), [
    ("health-HLT1", "police:POL0000001", "not a record: 'health-HLT1' (name a record as SOURCE:SOURCE_RECORD_ID"),
    ("health:NO_SUCH", "police:POL0000001", "health:NO_SUCH is not a record of the run"),
    ("police:POL0000001", "police:POL0000001", "named twice"),
])
def test_a_record_that_cannot_be_explained_is_named_in_one_line_and_exits_two(run, capsys, a, b, words):
    code, out, err = explain(capsys, a, b, "--run", run)
    assert code == 2 and not out and words in err and len(err.splitlines()) == 1


def test_a_quarantined_record_is_said_to_be_quarantined(run, capsys):
    bad = pd.read_parquet(run / "quarantine.parquet").iloc[0]
    code, _, err = explain(capsys, f"{bad['source']}:{bad['source_record_id']}", "police:POL0000001", "--run", run)
    assert code == 2 and f"was quarantined (file line {bad['row_number']}" in err


def test_the_help_says_how_a_record_is_named(capsys):
    with pytest.raises(SystemExit):
        main(["explain-pair", "--help"])
    shown = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "SOURCE:SOURCE_RECORD_ID" in shown and "record_links.parquet" in shown and "--values" in shown
