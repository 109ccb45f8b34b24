"""The README's analyst's guide, run: every example block on the sample's run and a month after it.

The blocks are found by their markers (`<!-- analyst-guide: NAME -->` before a fenced block), run in
order in one namespace with the guide's two folders pointed at the test's runs, and each answer is
checked against the files and against its other half (pandas against DuckDB, the month's comparison
against changes.parquet), so the README cannot drift from the outputs.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import REPO, SAMPLE, run_cli

GUIDE = re.compile(r"<!-- analyst-guide: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.S)
FOLDERS = 'run, last_month = "out/2026-11", "out/2026-10"'
EXAMPLES = ["setup", "households-with-evidence", "why-a-pair-linked", "explain-a-pair",
            "this-month-against-last-month"]


def blocks() -> dict[str, tuple[str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return {m["name"]: (m["lang"], m["code"]) for m in GUIDE.finditer(text)}


def without_some_offences(sample_run, folder: Path) -> Path:
    """The sample's extracts with the police rows behind three eligible families' crime_asb taken out: families
    at the rule's minimum, so each is no longer eligible next month."""
    households = pd.read_parquet(sample_run.out / "households.parquet")
    evidence = pd.read_parquet(sample_run.out / "evidence.parquet")
    least = households[households["eligible"] & (households["problems"] == 3) & households["crime_asb"]]
    crime = evidence[evidence["household_key"].isin(least["household_key"].head(3)) & (evidence["source"] == "police")
                     & (evidence["criterion"] == "crime_asb")]
    gone = {i for ids in crime["source_record_ids"] for i in ids}
    assert gone
    shutil.copytree(SAMPLE / "extracts", folder)
    police = folder / "police.csv"
    lines = police.read_text(encoding="utf-8").splitlines(keepends=True)
    police.write_text("".join(ln for ln in lines if ln.split(",", 1)[0] not in gone), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def months(sample_run, tmp_path_factory) -> dict:
    """Last month: the session's sample run. This month: a month on, carrying its keys, with some offences
    no longer in the police extract (so some families are no longer eligible)."""
    base = tmp_path_factory.mktemp("november")
    extracts = without_some_offences(sample_run, base / "extracts")
    this = run_cli(base, "--extracts", extracts, "--previous", sample_run.out, "--as-of", "2026-11-30",
                   "--processing-date", "2026-11-30")
    assert this.code == 0, this.stderr
    return {"run": this.out, "last_month": sample_run.out}


@pytest.fixture(scope="module")
def guide(months) -> dict:
    """Every python block run in order in one namespace, the setup's folders set to the test's runs."""
    found = blocks()
    namespace: dict = {}
    printed = io.StringIO()
    for name, (lang, code) in found.items():
        if lang != "python":
            continue
        if name == "setup":
            assert FOLDERS in code
            code = code.replace(FOLDERS, f"run, last_month = {str(months['run'])!r}, {str(months['last_month'])!r}")
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"README.md analyst-guide: {name}", "exec"), namespace)
    return namespace | {"_printed": printed.getvalue()}


def test_the_guide_has_its_examples_in_order_each_marked():
    assert list(blocks()) == EXAMPLES


def test_households_with_their_evidence_agree_in_pandas_and_duckdb(guide, months):
    pandas_way, duckdb_way = guide["eligible_evidence"], guide["eligible_evidence_db"]
    assert len(pandas_way) == len(duckdb_way) > 20
    key = ["household_key", "criterion", "person_key", "detail"]
    assert set(map(tuple, pandas_way[key].to_numpy())) == set(map(tuple, duckdb_way[key].to_numpy()))
    households = pd.read_parquet(months["run"] / "households.parquet")
    assert set(duckdb_way["household_key"]) == set(households.loc[households["eligible"], "household_key"])
    assert (duckdb_way["source_rows"] >= 1).all() and set(duckdb_way["rule_set"]) == {"supporting_families"}
    assert "absence_10pct" in guide["_printed"]


def test_the_pairs_the_prior_alone_links_are_found_alike_and_the_passes_counted(guide, months):
    pandas_way, duckdb_way = guide["on_the_prior"], guide["on_the_prior_db"]
    sides = ["source_a", "source_record_id_a", "source_b", "source_record_id_b"]
    assert len(pandas_way) > 0
    assert set(map(tuple, pandas_way[sides].to_numpy())) == set(map(tuple, duckdb_way[sides].to_numpy()))
    pairs = pd.read_parquet(months["run"] / "pairs.parquet")
    assert guide["by_pass"]["pairs"].sum() == pairs["blocking_passes"].map(len).sum()


def test_the_explain_pair_command_of_the_guide_explains_a_pair_the_prior_links(guide, months, capsys):
    lang, code = blocks()["explain-a-pair"]
    words = shlex.split(code)
    assert lang == "bash" and words[:4] == [".venv/bin/python", "-m", "pipeline", "explain-pair"]
    a, b = words[4:6]
    assert (a.split(":", 1) + b.split(":", 1)) in guide["on_the_prior"][
        ["source_a", "source_record_id_a", "source_b", "source_record_id_b"]].to_numpy().tolist()
    args = [str(months["run"]) if w == "out/2026-11" else w for w in words[3:]]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"Why {a} and {b} were linked" in out and "carries it over the threshold" in out


def test_this_month_against_last_month_finds_the_changes_the_run_reported(guide, months):
    changes = pd.read_parquet(months["run"] / "changes.parquet")
    for name, change in (("newly_eligible", "newly_eligible"), ("no_longer_eligible", "no_longer_eligible")):
        assert set(guide[name]["household_key"]) == set(changes.loc[changes["change"] == change, "household_key"])
    changed = set(guide["changed_db"]["household_key"])
    assert changed == set(guide["newly_eligible"]["household_key"]) | set(guide["no_longer_eligible"]["household_key"])
    assert len(guide["no_longer_eligible"]) >= 3  # the families whose offences went
    assert "2026-10-31 -> 2026-11-30" in guide["_printed"]
