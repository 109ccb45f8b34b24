"""report.html, the run told in one page: every section there with the numbers of the run's own outputs,
no personal data, nothing loaded from elsewhere, the same bytes for the same inputs, and named where
people look (the terminal's last line, the lineage).

The numbers are read back from the published files (quarantine.parquet, pairs.parquet, record_links.parquet,
households.parquet, linkage_model.json, the lineage) and computed here independently of the report's code.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from html.parser import HTMLParser

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.link.decisions import LABELS
from synth.config import SynthConfig
from synth.months import MonthRates, generate_months
from tests.conftest import TINY, run_cli
from tests.support import lineage, source_records

pytestmark = pytest.mark.usefixtures("preloaded_gx")

SECTIONS = ["glance", "quality", "linkage", "households", "changes"]


class Page(HTMLParser):
    """The report read as its reader sees it: sections, tables (by name) and each chart's tooltips."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.tips: dict[str, list[str]] = {}
        self.labels: dict[str, str] = {}
        self.ids: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False
        self._chart: str | None = None
        self._title: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "section":
            self.sections.append(a["data-section"])
        elif tag == "table" and "data-table" in a:
            self._table = a["data-table"]
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table and self._in_body:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "svg" and "data-chart" in a:
            self._chart = a["data-chart"]
            self.tips[self._chart] = []
            self.labels[self._chart] = a["aria-label"]
        elif tag == "title" and self._chart:
            self._title = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._chart = None
        elif tag == "title" and self._title is not None:
            self.tips[self._chart].append("".join(self._title))
            self._title = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._title is not None:
            self._title.append(data)


def n(value: int) -> str:
    return f"{value:,}"


@pytest.fixture(scope="module")
def sample(sample_run):
    return sample_run.out


@pytest.fixture(scope="module")
def page(sample) -> Page:
    return Page((sample / "report.html").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- an output of the run
def test_the_report_is_an_output_of_the_run_listed_with_its_sha256_and_its_own_stage(sample):
    records = lineage(sample)
    (output,) = [r for r in records if r["event"] == "output" and r["file"] == "report.html"]
    data = (sample / "report.html").read_bytes()
    assert output["sha256"] == hashlib.sha256(data).hexdigest() and output["bytes"] == len(data)
    assert records[-1]["outputs"]["report.html"] == output["sha256"]
    (stage,) = [r for r in records if r.get("stage") == "report"]
    assert stage["outputs"] == ["report.html"] and stage["bytes"] == len(data) and stage["seconds"] >= 0


def test_the_terminal_summary_ends_by_naming_the_report(sample_run):
    last = sample_run.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith(f"  report: {sample_run.out / 'report.html'}  (open it in a browser")


def test_every_section_is_there_in_order(page):
    assert page.sections == SECTIONS


# --------------------------------------------------------------------------- the run at a glance
def test_the_glance_gives_each_source_with_its_rows_gateway_and_agreement_status(sample, page):
    rows = {r[0]: r for r in page.tables["sources"]}
    records = source_records(sample)
    assert sorted(rows) == sorted(records)
    for source, rec in records.items():
        received = rec.get("rows_received", rec["rows_in"])
        row = rows[source]
        assert row[2:6] == [n(received), n(rec["rows_accepted"]), n(rec["rows_quarantined"]),
                            n(received - rec["rows_in"])], source
        assert row[6] == rec["gateway"]["citation"] and row[7] == rec["gateway"]["agreement"], source
        assert row[8].startswith("in force until "), source


def test_the_flow_of_rows_runs_from_the_files_to_the_eligible_families(sample, page):
    records = source_records(sample).values()
    links = pd.read_parquet(sample / "record_links.parquet")
    households = pd.read_parquet(sample / "households.parquet")
    families = households[households["children"] > 0]
    received = sum(r.get("rows_received", r["rows_in"]) for r in records)
    expected = (f"Flow of rows: {n(received)} received, {n(sum(r['rows_accepted'] for r in records))} accepted, "
                f"{n(sum(r['rows_quarantined'] for r in records))} quarantined, 0 in refused files, "
                f"{n(received - sum(r['rows_in'] for r in records))} not taken; {n(len(links))} records linked into "
                f"{n(links['person_key'].nunique())} people in {n(households['household_key'].nunique())} households; "
                f"{n(len(families))} families, {n(int(families['eligible'].sum()))} eligible")
    assert page.labels["flow"] == expected


# --------------------------------------------------------------------------- data quality
def test_data_quality_gives_every_quarantine_reason_by_source_and_column(sample, page):
    q = pd.read_parquet(sample / "quarantine.parquet")
    expected = sorted([s, c, r, n(k)] for (s, c, r), k in q.groupby(["source", "column", "reason"]).size().items())
    assert sorted(page.tables["reasons"]) == expected
    by_column = q.groupby(["source", "column"])["row_number"].nunique()
    assert sorted(t for t in page.tips["quarantine"] if ":" in t) == sorted(
        f"{s}.{c}: {s} {n(k)}" for (s, c), k in by_column.items())


# --------------------------------------------------------------------------- linkage
def test_linkage_gives_the_decisions_and_the_match_weights_of_pairs_parquet_between_the_thresholds(sample, page):
    pairs = pd.read_parquet(sample / "pairs.parquet")
    counts = pairs["decision"].value_counts()
    assert [r[:2] for r in page.tables["decisions"]] == [[d, n(int(counts.get(d, 0)))] for d in LABELS]
    drawn: dict[str, int] = {}
    for tip in page.tips["match-weights"]:
        found = re.fullmatch(r"(.+): ([\d,]+) pairs with weight .+", tip)
        if found:
            drawn[found[1]] = drawn.get(found[1], 0) + int(found[2].replace(",", ""))
    assert drawn == {d: int(k) for d, k in counts.items() if k}
    model = json.loads((sample / "linkage_model.json").read_text())
    review, match = model["thresholds"]["review_threshold"], model["thresholds"]["match_threshold"]
    assert f"clerical review band: probability {review:g} to {match:g}" in page.tips["match-weights"]


def test_linkage_gives_m_u_and_the_weight_of_every_level_of_the_model(sample, page):
    model = json.loads((sample / "linkage_model.json").read_text())
    for level in model["levels"]:
        tip = f"{level['meaning']}: m {level['m']:.4g}, u {level['u']:.4g}, weight {level['weight']:+.2f}"
        assert tip in page.tips[f"model-{level['feature']}"], tip
    assert f"a share of {model['prior']:.3f} of candidate pairs" in (sample / "report.html").read_text()


def test_linkage_gives_the_link_rate_between_each_pair_of_sources(sample, page):
    links = pd.read_parquet(sample / "record_links.parquet")
    people = {s: set(g["person_key"]) for s, g in links.groupby("source")}
    for a in people:
        for b in people:
            if a != b:
                both = len(people[a] & people[b])
                share = f"{100 * both / len(people[a]):.0f}%"
                share = "<1%" if both and share == "0%" else share
                tip = f"{n(both)} of the {n(len(people[a]))} people in {a} ({share}) also have a record in {b}"
                assert tip in page.tips["link-rates"], tip


def test_linkage_gives_person_and_household_sizes_and_the_clerical_review_band(sample, page):
    links = pd.read_parquet(sample / "record_links.parquet")
    sizes = links.groupby("person_key").size().clip(upper=10).value_counts()
    assert sorted(page.tips["person-sizes"][1:]) == sorted(
        f"{'10+' if k == 10 else k}: people {n(int(v))}" for k, v in sizes.items())
    members = pd.read_parquet(sample / "households.parquet")["members"].clip(upper=10).value_counts()
    assert sorted(page.tips["household-sizes"][1:]) == sorted(
        f"{'10+' if k == 10 else k}: households {n(int(v))}" for k, v in members.items())
    pairs = pd.read_parquet(sample / "pairs.parquet")
    review = int((pairs["decision"] == "clerical review").sum())
    assert review > 0
    assert sum(int(t.rsplit(" ", 1)[1].replace(",", "")) for t in page.tips["review-band"][1:]) == review
    assert f"The clerical review band: {n(review)} pairs between probability" in (sample / "report.html").read_text()


# --------------------------------------------------------------------------- households
def test_households_gives_each_criterions_households_families_and_eligible_families(sample, page):
    h = pd.read_parquet(sample / "households.parquet")
    criteria = [c for c in h.columns if c not in ("household_key", "members", "children", "problems", "eligible",
                                                  "rule_set", "as_of", "not_assessed", "address_key",
                                                  "first_seen")]
    family, eligible = h["children"] > 0, h["eligible"]
    expected = []
    for c in criteria:
        if h[c].isna().all():
            expected.append([c, "not assessed", "", ""])
        else:
            met = h[c].fillna(False).astype(bool)
            expected.append([c, n(int(met.sum())), n(int((met & family).sum())), n(int((met & eligible).sum()))])
    assert page.tables["criteria"] == expected
    by_problems = h[family].groupby("problems").agg(families=("eligible", "size"), eligible=("eligible", "sum"))
    drawn = set(page.tips["problems"][1:])
    for k, row in by_problems.iterrows():
        assert f"{k}: other families {n(int(row.families - row.eligible))}" in drawn or row.families == row.eligible
        if row.eligible:
            assert f"{k}: eligible families {n(int(row.eligible))}" in drawn


def test_households_shows_the_commonest_combinations_of_criteria_met_upset_style(sample, page):
    h = pd.read_parquet(sample / "households.parquet")
    criteria = [c for c in h.columns if h[c].dtype == "boolean" and c != "eligible"]
    families = h[h["children"] > 0]
    met = families[criteria].fillna(False).astype(bool)
    combos = met.apply(lambda r: " + ".join(c for c in criteria if r[c]), axis=1)
    counts = combos[combos != ""].value_counts()
    shown = [re.fullmatch(r"(.+) and no other: ([\d,]+) families", t) for t in page.tips["overlap"]]
    shown = [(m[1], int(m[2].replace(",", ""))) for m in shown if m]
    assert len(shown) == min(15, len(counts)) > 5
    assert [k for _, k in shown] == list(counts.iloc[:len(shown)])  # the commonest, in order
    assert all(counts[what] == k for what, k in shown)
    sizes = [re.fullmatch(r"(.+): ([\d,]+) families meet it", t) for t in page.tips["overlap"]]
    assert all(int(m[2].replace(",", "")) == int(met[m[1]].sum()) for m in sizes if m)


def test_households_says_which_criteria_were_not_assessed_and_why(sample, page):
    h = pd.read_parquet(sample / "households.parquet")
    null = [c for c in h.columns if h[c].dtype == "boolean" and h[c].isna().all()]
    assert null  # the shipped rule set's early years and family relationships: no extract shows them
    assert [r[0] for r in page.tables["not-assessed"]] == null
    assert all(r[1] == "the rule set declares it cannot be assessed from these sources" for r in
               page.tables["not-assessed"])


def test_without_a_previous_run_the_changes_section_says_how_to_have_one(page, sample):
    text = (sample / "report.html").read_text()
    assert "This run was not given a previous month's run (<code>--previous</code>)" in text
    assert "changes" not in page.tips


# --------------------------------------------------------------------------- personal data, offline
def test_the_report_holds_no_key_no_script_and_nothing_from_elsewhere(sample, page):
    text = (sample / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"\b[HPAT][0-9a-f]{20}\b", text)  # household, person, address and token keys
    assert "<script" not in text.lower() and "<iframe" not in text.lower() and "@import" not in text
    links = re.findall(r"""\b(?:src|href|xlink:href|action)\s*=\s*["']([^"']*)""", text)
    assert links and all(link.startswith("#") for link in links), links
    assert not re.search(r"url\(", text)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_the_reports_ids_are_its_sections_and_headings_never_random_ones(page):
    assert set(page.ids) <= {*SECTIONS, "model", "sizes", "overlap", "not-assessed"}


def test_the_same_inputs_give_the_same_report_byte_for_byte(tiny_run, tmp_path):
    again = run_cli(tmp_path, "--extracts", TINY, "--no-reuse")
    assert again.code == 0, again.stderr
    assert (again.out / "report.html").read_bytes() == (tiny_run.out / "report.html").read_bytes()


# --------------------------------------------------------------------------- a partial run, a second month
def test_a_partial_run_says_so_and_names_the_source_its_criteria_went_without(tmp_path):
    extracts = tmp_path / "extracts"
    shutil.copytree(TINY, extracts, ignore=shutil.ignore_patterns("health.csv"))
    run = run_cli(tmp_path, "--extracts", extracts, "--allow-missing", "health")
    assert run.code == 3, run.stderr
    text = (run.out / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    assert "<title>Run report: as of 2026-10-31 (PARTIAL)</title>" in text
    assert "It went without the required source(s) health" in text
    rows = {r[0]: r for r in page.tables["sources"]}
    assert rows["health"][1].startswith("absent: ")
    h = pd.read_parquet(run.out / "households.parquet")
    null = [c for c in h.columns if h[c].dtype == "boolean" and h[c].isna().all()]
    reasons = {r[0]: r[1] for r in page.tables["not-assessed"]}
    assert list(reasons) == null
    assert any(why.startswith("health absent: ") for why in reasons.values()), reasons


AT_ONCE = {s: (1.0, 0.0, 0.0) for s in ("police", "schools", "health", "electoral_register", "benefits",
                                         "children_social_care")}


def test_with_a_previous_run_the_report_counts_the_changes_of_changes_parquet(tmp_path):
    generate_months(200, 5, tmp_path / "authority", 2, config=SynthConfig(vacancy=0.15),
                    rates=MonthRates(move=0.05, leave=0.03, arrive=1.0, birth=0.08, split=0.06, join=0.05,
                                     lags=AT_ONCE))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_LEDGER", str(tmp_path / "ledger.jsonl"))
        assert main(["run", "--extracts", str(tmp_path / "authority/month-01/extracts"), "--out",
                     str(tmp_path / "r1")]) == 0
        assert main(["run", "--extracts", str(tmp_path / "authority/month-02/extracts"), "--out",
                     str(tmp_path / "r2"), "--previous", str(tmp_path / "r1")]) == 0
    changes = pd.read_parquet(tmp_path / "r2" / "changes.parquet")["change"].value_counts()
    assert changes.get("moved", 0) and changes.get("new", 0)
    text = (tmp_path / "r2" / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    words = {"new": "new households", "ended": "households ended", "newly_eligible": "newly eligible",
             "no_longer_eligible": "no longer eligible", "moved": "moved", "joined": "someone joined",
             "left": "someone left"}
    drawn = {t for t in page.tips["changes"] if ": " in t}
    for kind, word in words.items():
        if changes.get(kind, 0):
            assert f"{word}: {word} {n(int(changes[kind]))}" in drawn, kind
    before, now = (pd.read_parquet(tmp_path / r / "households.parquet") for r in ("r1", "r2"))
    assert (f"The previous run had {n(len(before))} households and {n(int(before['eligible'].sum()))} eligible "
            f"families; this one has {n(len(now))} and {n(int(now['eligible'].sum()))}.") in text
    assert "Since the previous run (as of 2026-10-31)" in text
