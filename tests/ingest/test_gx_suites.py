"""Great Expectations runs the suite generated from each contract and agrees with the quarantine.

The quarantine is found by vectorised twins of the expectations; this holds them to the same
counts on every case of the corpus, so neither can drift from the contract on its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from pipeline.ingest.gx import GXValidator
from tests.ingest.test_read import CASES, ingest


@pytest.fixture(scope="module")
def gx_results(schemas, tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    validator = GXValidator(docs, dt.datetime(2026, 10, 31))
    results = {}
    for case in sorted(c for c in CASES if "refused" not in CASES[c]):
        raw, validated = ingest(case, schemas)
        results[case] = (raw, validated, validator.validate(case, validated.checks, validated.views))
    validator.build_docs()
    return docs, results


def test_every_contract_check_is_an_expectation_in_the_suite(gx_results):
    _, results = gx_results
    for case, (_, validated, outcomes) in results.items():
        assert sorted(o.check for o in outcomes) == sorted(c.name for c in validated.checks), case


def test_gx_counts_the_same_failing_rows_as_the_quarantine_checks(gx_results):
    _, results = gx_results
    compared = 0
    for case, (raw, validated, outcomes) in results.items():
        for outcome in outcomes:
            ours = validated.failures[outcome.check]
            if outcome.expectation == "expect_column_values_to_be_unique":
                # GX counts every copy of a repeated id; the quarantine keeps the first copy.
                column = outcome.check.split(".")[1]
                ours = int(raw.frame[column].dropna().duplicated(keep=False).sum())
            assert outcome.unexpected_count == ours, (case, outcome)
            assert outcome.success == (ours == 0), (case, outcome)
            compared += 1
    assert compared > 300


def test_data_docs_are_written_and_carry_no_cell_values(gx_results):
    docs, results = gx_results
    pages = list(docs.rglob("*.html"))
    assert len(pages) == 2 * len(results)  # a suite and a result each; the index is the run's (data_docs.present)
    html = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in pages)
    assert "is never blank" in html and "unexpected" in html
    for secret in ("HYPERLINK", "ZOË", "O’NEIL", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                   "01/02/1980", "NOT A CODE", "Example Road"):
        assert secret not in html


def every_contract_check(schemas):
    from pipeline.ingest.checks import compile_checks

    for contract in schemas.contracts.values():
        for check in compile_checks(contract, schemas.formats, schemas.settings.text_max_length,
                                    set(contract.columns)):
            unbound = check.params.get("value_set", []) is None  # a constant's value comes from its file
            yield dataclasses.replace(check, params={"value_set": ["X"]}) if unbound else check


def test_every_expectation_says_its_check_in_words_and_carries_the_contract_notes(schemas):
    from pipeline.ingest.gx import expectation_for

    checks = list(every_contract_check(schemas))
    assert len(checks) > 150
    for check in checks:
        expectation = expectation_for(check)
        words = expectation.description or ""
        assert words.startswith(check.column.split("+")[0]), (check.name, words)
        assert 12 < len(words) < 240 and not re.search(r"[\^$\\\[\]{}|]", words), (check.name, words)
        notes = "\n".join(expectation.notes or [])
        assert check.reason in notes and f"`{check.name}`" in notes, check.name
    dob = next(c for c in checks if c.name == "schools.dob.date_real")
    assert expectation_for(dob).description == "dob is a real calendar date between 1700 and 2199, written YYYY-MM-DD"
    assert "date of birth" in "\n".join(expectation_for(dob).notes)


def test_data_docs_show_the_checks_in_words_not_their_regular_expressions(gx_results):
    docs, _ = gx_results
    pages = "\n".join(p.read_text(encoding="utf-8") for p in docs.rglob("*.html"))
    assert "is a real calendar date between 1700 and 2199" in pages
    assert "(?:1[7-9]|2[01])" not in pages  # the calendar regex, 400 characters of it
