"""The bundled sample end to end: reproducible, quarantined exactly where it is defective, no leaks,
and the caseworker export and summary a research officer gets. The run is the session's `sample_run`."""

from __future__ import annotations

import filecmp
import re
import stat
from pathlib import Path

import pandas as pd

from synth import generate
from tests.conftest import REPO, SAMPLE
from tests.support import source_records, word_finder


def test_the_sample_is_remade_byte_for_byte_by_the_command_in_its_readme(tmp_path):
    generate(households=2000, seed=20261, out=tmp_path)
    for folder in ("extracts", "truth"):
        names = sorted(p.name for p in (SAMPLE / folder).iterdir())
        assert names == sorted(p.name for p in (tmp_path / folder).iterdir())
        _, mismatch, errors = filecmp.cmpfiles(SAMPLE / folder, tmp_path / folder, names, shallow=False)
        assert not mismatch and not errors, (folder, mismatch, errors)


def test_the_sample_runs_with_every_source_used(sample_run):
    out, stdout = sample_run.out, sample_run.stdout
    assert sample_run.code == 0
    sources = list(source_records(out).values())
    assert len(sources) == 6 and all(r["used"] for r in sources)
    assert all(r["rows_in"] == r["rows_accepted"] + r["rows_quarantined"] for r in sources)
    assert stdout.count("used ") == 6


def test_exactly_the_defective_rows_of_the_sample_are_quarantined(sample_run):
    out = sample_run.out
    quarantined = pd.read_parquet(out / "quarantine.parquet")
    defects = pd.read_csv(SAMPLE / "truth" / "defects.csv", dtype=str)
    assert len(defects) > 5
    got = set(zip(quarantined["source"], quarantined["source_record_id"], strict=True))
    assert got == set(zip(defects["source"], defects["source_record_id"], strict=True))


def identifying_values() -> set[str]:
    people = pd.read_csv(SAMPLE / "truth" / "people.csv", dtype=str, keep_default_na=False)
    columns = [c for c in people.columns if any(w in c for w in ("name", "dob", "token"))]
    values = {v for c in columns for v in people[c] if len(v) >= 4}
    for path in (SAMPLE / "extracts").glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in frame.columns:
            if column.endswith("_token") or "address" in column or column in ("dob", "attainer_dob"):
                values |= {v for v in frame[column] if len(v) >= 6}
    # Dates that are also the run's own facts (agreement dates, the extract date) are not
    # personal wherever they appear in the trail; a child born on one of them is a coincidence.
    from pipeline.config import load_schemas

    agreements = {d.isoformat() for g in load_schemas().gateways.values()
                  for d in (g.agreement.start, g.agreement.expires)}
    # Nor are the contracts' own words, which Data Docs quote: a column's description gives
    # "Bobby for Robert" as an example, and the sample has a Robert.
    contract_words = set(re.findall(r"[A-Za-z]+", "\n".join(
        p.read_text(encoding="utf-8") for p in (REPO / "schemas" / "sources").glob("*.yaml"))))
    return values - agreements - {"2026-10-31"} - contract_words


def approximations_section(run_folder: Path, schemas) -> str:
    """The closing summary's section on what the run's criteria approximate, as the rule file alone makes it."""
    from pipeline.criteria.rules import load_rule_set
    from pipeline.report.terminal import approximation_lines

    rule_set = pd.read_parquet(run_folder / "households.parquet")["rule_set"].iloc[0]
    return "\n".join(approximation_lines(tuple(load_rule_set(rule_set, schemas.contracts).approximations())))


def test_no_name_date_of_birth_address_or_token_from_the_sample_is_logged(sample_run, schemas):
    out, stdout, stderr = sample_run.out, sample_run.stdout, sample_run.stderr
    # The summary's section on what the criteria approximate is the rule file's words and nothing else (a
    # framework's URL carries a date, which may be somebody's birthday): held to that, and its dates let be.
    section = approximations_section(out, schemas)
    assert section in stdout
    stdout_dated = stdout.replace(section, "")
    secrets = identifying_values()
    assert len(secrets) > 5000
    texts = {"lineage": (out / "lineage.jsonl").read_text(), "stderr": stderr}
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    texts["quarantine reasons"] = "\n".join(quarantine["reason"])
    texts["quarantine.csv"] = (out / "quarantine.csv").read_text(encoding="utf-8-sig")
    texts |= {str(p.relative_to(out)): p.read_text(errors="replace") for p in (out / "data_docs").rglob("*.html")}
    texts["linkage_model.json"] = (out / "linkage_model.json").read_text()
    texts["report.html"] = (out / "report.html").read_text(encoding="utf-8")
    for path in out.glob("*.parquet"):  # the pseudonymous outputs: every text cell
        frame = pd.read_parquet(path)
        texts[path.name] = "\n".join(frame[c].astype(str).str.cat(sep="\n") for c in frame.columns
                                     if not pd.api.types.is_numeric_dtype(frame[c]))
    # Whole words only: a surname such as "Butt" must not match the HTML word "Button".
    # Evidence details carry the dates of the events themselves (an offence, a claim, an episode);
    # any date can coincide with somebody's birthday, so dates there are checked per person below.
    dates = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{2}/\d{2}/\d{4}$")
    undated = word_finder({v for v in secrets if not dates.match(v)})
    everything = word_finder(secrets)
    # The summary quotes a few evidence details; those lines are checked as evidence is.
    details = set(pd.read_parquet(out / "evidence.parquet")["detail"])
    texts["stdout"] = "\n".join(ln for ln in stdout_dated.splitlines() if not any(d in ln for d in details))
    texts["stdout, evidence lines"] = stdout
    for where, text in texts.items():
        finder = undated if where in ("evidence.parquet", "stdout, evidence lines") else everything
        found = sorted(set(finder.findall(text)))
        assert not found, (where, found[:3])


def test_no_evidence_detail_gives_its_persons_date_of_birth(sample_run):
    evidence = pd.read_parquet(sample_run.out / "evidence.parquet")
    truth = pd.read_csv(SAMPLE / "truth" / "truth.csv", dtype=str)
    people = pd.read_csv(SAMPLE / "truth" / "people.csv", dtype=str)[["person_id", "dob"]]
    rows = evidence.merge(truth, on=["source", "source_record_id"]).merge(people, on="person_id")
    assert len(rows) == len(evidence) > 100
    assert not [d for d, dob in zip(rows["detail"], rows["dob"], strict=True) if dob in d]


IDENTIFYING = re.compile(r"name|surname|dob|birth|address|postcode|uprn|street|flat|house_number|token|sex|gender")


def test_identifying_columns_are_only_under_restricted(sample_run):
    out = sample_run.out
    outside = sorted(p.name for p in out.rglob("*.parquet") if "restricted" not in p.relative_to(out).parts)
    assert outside == ["evidence.parquet", "households.parquet", "key_history.parquet", "pairs.parquet",
                       "quarantine.parquet", "record_links.parquet"]
    for name in outside:
        columns = list(pd.read_parquet(out / name).columns)
        assert not [c for c in columns if IDENTIFYING.search(c) and not c.endswith("_level")
                    and not c.startswith("w_") and not c.endswith("_key")], (name, columns)  # _key: keyed hashes
    assert pd.read_parquet(out / "households.parquet")["address_key"].dropna().str.fullmatch(r"A[0-9a-f]{20}").all()
    assert list(pd.read_parquet(out / "quarantine.parquet").columns) == ["source", "row_number", "source_record_id",
                                                                         "column", "reason"]
    assert Path(out / "restricted" / "landed" / "health.parquet").exists()
    review = pd.read_parquet(out / "restricted" / "clerical_review.parquet")
    assert {"forename_a", "forename_b", "dob_a", "dob_b", "postcode_a", "postcode_b"} <= set(review.columns)


def test_everything_under_restricted_is_readable_by_its_owner_alone(sample_run):
    restricted = sample_run.out / "restricted"
    paths = [restricted, *restricted.rglob("*")]
    assert any(p.name == "caseworker_export.csv" for p in paths) and any(p.suffix == ".parquet" for p in paths)
    wrong = {str(p.relative_to(sample_run.out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths
             if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)}
    assert wrong == {}


def test_the_caseworker_export_lists_every_member_of_each_eligible_family_under_its_marking(sample_run):
    out, stdout = sample_run.out, sample_run.stdout
    path = out / "restricted" / "caseworker_export.csv"
    raw = path.read_bytes()
    assert raw.startswith("\ufeffOFFICIAL-SENSITIVE".encode())
    rows = pd.read_csv(path, skiprows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    households = pd.read_parquet(out / "households.parquet")
    eligible = households[households["eligible"]]
    assert len(eligible) > 10
    assert set(rows["household_key"]) == set(eligible["household_key"])
    links = pd.read_parquet(out / "record_links.parquet")
    members = links[links["household_key"].isin(eligible["household_key"])]["person_key"].nunique()
    assert len(rows) == members == eligible["members"].sum()
    assert (rows["forename"] != "").mean() > 0.95 and (rows["address"] != "").mean() > 0.95
    assert rows["criteria_met"].str.count(";").ge(2).all()  # at least three needs each (supporting_families)
    assert f"caseworker_export.csv ({len(rows):,} people, OFFICIAL-SENSITIVE)" in stdout


def test_the_summary_shows_eligible_families_with_their_evidence(sample_run):
    out, stdout = sample_run.out, sample_run.stdout
    evidence = pd.read_parquet(out / "evidence.parquet")
    households = pd.read_parquet(out / "households.parquet").set_index("household_key")
    shown = re.findall(r"^      (H[0-9a-f]{20}): (\d+) members, (\d+) children, (\d+) problems$", stdout, re.M)
    assert len(shown) == 3
    for key, members, children, problems in shown:
        assert households.loc[key, "eligible"] and households.loc[key, "problems"] == int(problems)
        assert (households.loc[key, "members"], households.loc[key, "children"]) == (int(members), int(children))
        for detail in evidence.loc[evidence["household_key"] == key].drop_duplicates("criterion")["detail"]:
            assert detail in stdout


def test_the_summary_says_what_each_criterion_of_the_run_approximates(sample_run, schemas):
    from pipeline.criteria.rules import load_rule_set

    rule_set = pd.read_parquet(sample_run.out / "households.parquet")["rule_set"].iloc[0]
    rules = load_rule_set(rule_set, schemas.contracts)
    assert approximations_section(sample_run.out, schemas) in sample_run.stdout
    section = sample_run.stdout.split("  criteria and what they approximate", 1)[1].split("\n  quarantined,", 1)[0]
    def flat(words: str) -> str:
        return re.sub(r"\s+", " ", words)

    text = flat(section) + " "
    for a in rules.approximations():
        assert f" {a.name}: {a.framework} [" in text, a.name
        assert f" approximation: {flat(a.approximation)} " in text, a.name
    assert re.search(r"\[1\] .* \(\d{4}\), https://", text)


def test_the_summarys_counts_agree_with_the_files_they_describe(sample_run):
    out, stdout = sample_run.out, sample_run.stdout
    pairs = pd.read_parquet(out / "pairs.parquet")
    linked = int((pairs["decision"] == "linked").sum())
    assert f"pairs.parquet ({len(pairs):,} pairs, {linked:,} linked)" in stdout
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    bad = len(quarantine[["source", "row_number"]].drop_duplicates())
    assert f"quarantined: {bad:,} bad rows (quarantine.parquet: {len(quarantine):,} entries" in stdout
    review = pd.read_parquet(out / "restricted" / "clerical_review.parquet")
    assert f"clerical_review.parquet ({len(review):,} pairs to review)" in stdout
    links = pd.read_parquet(out / "record_links.parquet")
    assert f"{len(links):,} records -> {links['person_key'].nunique():,} people in " \
           f"{links['household_key'].nunique():,} households" in stdout
