"""The whole pipeline over every case of the bad-file corpus (tests/corpus): whatever a file holds, none of its
names, dates of birth, addresses, postcodes, UPRNs or tokens is found outside restricted/: not in the run's
published files, not in the ledger or a failed run's kept trails, not on the terminal; and no control character
from a file reaches any of them.

A run reads one file a source, so the cases are batched: each run carries at most one case of each source, the
sources without a case in it left out (--allow-missing), which makes as many runs as the source with the most
cases has cases, each validating only case files; two runs go at once. Each run also says of each of its cases
what expected.yaml says: refused, or used with its accepted rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import multiprocessing
import re
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.config import load_schemas
from pipeline.ingest.checks import CONTROL_PATTERN
from tests.conftest import CORPUS, CliRun, run_cli
from tests.support import leaked

CASES: dict[str, dict] = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
SCHEMAS = load_schemas()
# The roles that say who or where a person is (pipeline/config/contracts.py). Record ids are the agency's
# pseudonymous row ids, which the published tables carry by design.
IDENTIFYING = {"person_token", "unit_token", "forename", "preferred_forename", "middle_names", "surname", "dob",
               "address_line", "postcode", "uprn"}
# The contracts' own words (column names, allowed codes such as ABC, an acceptable behaviour contract): every
# page and trail names them, so a file's cell that is one of them (a header line repeated as a record, a code in a
# postcode's place) is no personal value.
CONTRACT_WORDS = {word.lower() for contract in SCHEMAS.contracts.values() for name, column in contract.columns.items()
                  for word in (name, *(column.allowed or []))}
AS_OF = "2026-10-31"
# Dates that are the run's own facts wherever they appear (the as-of date, the agreements' dates), never a
# birthday even where a file has one in a date-of-birth column.
RUN_DATES = {AS_OF} | {d.isoformat() for g in SCHEMAS.gateways.values()
                       for d in (g.agreement.start, g.agreement.expires)}
CONTROL = re.compile(CONTROL_PATTERN)


def batches(cases: dict[str, dict]) -> list[dict[str, str]]:
    """The runs: the i-th run carries each source's i-th case (source -> case).

    A case with its own max_bad_share sets the run's, so it is put last among its source's cases, where (for
    the source with the most cases) it runs alone; a batch that would share it is a corpus error, said so.
    """
    by_source: dict[str, list[str]] = defaultdict(list)
    for case in sorted(cases, key=lambda c: ("max_bad_share" in cases[c], c)):
        by_source[cases[case]["source"]].append(case)
    runs = [{source: names[i] for source, names in sorted(by_source.items()) if i < len(names)}
            for i in range(max(map(len, by_source.values())))]
    for run in runs:
        own = [c for c in run.values() if "max_bad_share" in cases[c]]
        assert not own or len(run) == 1, f"{own} sets max_bad_share for the whole run of {sorted(run.values())}"
    return runs


BATCHES = batches(CASES)


def _decoded(data: bytes) -> str:
    data = gzip.decompress(data) if data.startswith(b"\x1f\x8b") else data  # a CSV inside gzip
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def file_values(case: str) -> set[str]:
    """The identifying values a case's file holds (three characters or more), read independently of the
    pipeline: each record's cells in the columns whose role is identifying, found by the header's names (by the
    contract's order for a file without a header line); the fields of JSON records by name."""
    spec = CASES[case]
    contract = SCHEMAS.contracts[spec["source"]]
    text = _decoded((CORPUS / case / f"{spec['source']}.csv").read_bytes())
    try:
        records = json.loads(text)
    except ValueError:
        records = None
    if isinstance(records, list) and all(isinstance(r, dict) for r in records):
        names = sorted({k for r in records for k in r})
        rows = [[str(r.get(k, "")) for k in names] for r in records]
    else:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        names = list(contract.columns) if spec.get("headerless") else [
            h.strip().lstrip("\ufeff").lower() for h in (rows[:1] or [[]])[0]]
        rows = rows if spec.get("headerless") else rows[1:]
    at = [i for i, name in enumerate(names) if name in contract.columns and contract.columns[name].role in IDENTIFYING]
    values = {row[i].strip() for row in rows for i in at if i < len(row)}
    return {v for v in values if len(v) >= 3 and v.lower() not in CONTRACT_WORDS and v not in RUN_DATES}


BINARY = {".ico", ".png"}  # Data Docs' icons: images, no text


def outside_restricted(base: Path, run_stdout: str, run_stderr: str) -> dict[str, str]:
    """Every text a run leaves where anyone may read it: each file of its output folder but restricted/ (a
    Parquet table as the text of its cells), the ledger and the failed runs' trails beside it, the terminal."""
    texts = {"stdout": run_stdout, "stderr": run_stderr}
    for root in (base / "run", base / "ledger"):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            where = path.relative_to(base)
            if "restricted" in where.parts or path.suffix in BINARY:
                continue
            if path.suffix == ".parquet":
                frame = pd.read_parquet(path)
                texts[str(where)] = "\n".join(frame[c].astype(str).str.cat(sep="\n") for c in frame.columns)
            else:
                texts[str(where)] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def source_outcomes(base: Path) -> dict[str, dict]:
    """The run's source records: from its published lineage, or the trail the ledger kept of a failed run."""
    trails = [base / "run" / "lineage.jsonl", *sorted((base / "ledger" / "failed").glob("*/lineage.jsonl"))]
    [trail] = [p for p in trails if p.exists()]
    records = [json.loads(line) for line in trail.read_text(encoding="utf-8").splitlines()]
    return {r["source"]: r for r in records if r["event"] == "source"}


def _usable(case: str) -> bool:
    return not ({"refused", "refused_validation"} & set(CASES[case]))


def run_batch(batch: dict[str, str], base: Path) -> CliRun:
    """A run over one batch's case files, each as its source's extract: the other sources left out, and the run
    made to go on with whatever it can use (required sources allowed missing; no bad share refuses a file unless
    a case sets its own)."""
    extracts = base / "extracts"
    extracts.mkdir()
    for source, case in batch.items():
        (extracts / f"{source}.csv").write_bytes((CORPUS / case / f"{source}.csv").read_bytes())
    share = min([CASES[c].get("max_bad_share", 1.0) for c in batch.values()])
    required = [s for s, c in SCHEMAS.contracts.items() if c.required_source]
    return run_cli(base, "--extracts", extracts, "--as-of", AS_OF, "--max-bad-share", share, "--no-reuse",
                   *[arg for s in required for arg in ("--allow-missing", s)])


@pytest.fixture(scope="module")
def corpus_runs(request, tmp_path_factory, preloaded_gx) -> dict[int, tuple[Path, CliRun]]:
    """The selected batches' runs, two at a time in processes forked from this one (GX already imported).

    A run spends most of its time waiting for its Great Expectations worker, on one core: two runs at once keep
    both of the machine's cores busy (on this machine the corpus takes 90 s so, 150 s one run after another).
    """
    chosen = sorted({item.callspec.params["index"] for item in request.session.items
                     if item.originalname == "test_no_identifying_value_of_a_corpus_file_is_found_outside_restricted"})
    bases = [tmp_path_factory.mktemp(f"corpus-run-{i}") for i in chosen]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        runs = list(pool.map(run_batch, [BATCHES[i] for i in chosen], bases))
    return dict(zip(chosen, zip(bases, runs, strict=True), strict=True))


@pytest.mark.parametrize("index", range(len(BATCHES)), ids=["+".join(b.values()) for b in BATCHES])
def test_no_identifying_value_of_a_corpus_file_is_found_outside_restricted(index, corpus_runs):
    batch = BATCHES[index]
    tmp_path, run = corpus_runs[index]

    # The run goes on with whatever it can use (partial: required sources left out), or fails saying none could be.
    if any(map(_usable, batch.values())):
        assert run.code in (0, 3), run.stderr
    else:
        assert run.code == 1 and "no source could be used" in run.stderr, run.stderr
    outcomes = source_outcomes(tmp_path)
    for source, case in batch.items():
        spec, outcome = CASES[case], outcomes[source]
        if "refused" in spec:
            assert not outcome["used"] and spec["refused"] in outcome["reason"], (case, outcome["reason"])
        elif "refused_validation" in spec:
            assert not outcome["used"] and spec["refused_validation"] in outcome["reason"], (case, outcome["reason"])
        else:
            assert outcome["used"] and outcome["rows_accepted"] == spec["accepted"], (case, outcome)

    texts = outside_restricted(tmp_path, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in "\n".join(texts.values())
    values = {case: file_values(case) for case in batch.values()}
    found = {(case, where): leaked(secrets, text)
             for case, secrets in values.items() for where, text in texts.items()}
    assert {k: v for k, v in found.items() if v} == {}
    controls = {where: sorted(set(CONTROL.findall(text))) for where, text in texts.items()}
    assert {k: v for k, v in controls.items() if v} == {}


def test_every_case_is_run_and_reading_its_values_finds_them():
    """The runs carry every case once, and the values a case's file is searched for are there to be found."""
    assert sorted(c for b in BATCHES for c in b.values()) == sorted(CASES)
    assert all(len(b) == len(set(b)) for b in BATCHES)
    assert {"JOHN", "SMITH", "01/02/1980", "LS1 4AB", "12 Example Road"} <= file_values("valid")
    assert {"ALARIC", "QUENBY", "2013-03-17", "21 Larkspur Close", "FT3 9QZ", "100090005671"} <= \
        file_values("no_header_line")  # a file without its header: its first record counts too
    assert {"ELSPETH", "THORNEYCROFT", "4 Wicken Row"} <= file_values("json_file")
    assert {"HUGO", "PRENDERGAST", "33 Sorrel Lane"} <= file_values("gzip_named_csv")
    assert {"WAR\x1b[2J\x1b[HBURTON", "NIA\x00MH"} <= file_values("control_characters")
    assert file_values("cp1252") >= {"ZOË", "O’NEIL"}
