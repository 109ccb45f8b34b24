"""Candidate pairs (issue 3, blocking): which records get compared, and how well that covers the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import ContractError
from pipeline.link.candidates import candidate_pairs, completeness
from pipeline.link.settings import LINKAGE_PATH, BlockingPass, load_linkage
from pipeline.link.standardise import OUTPUT_COLUMNS


def records(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([{c: row.get(c) for c in OUTPUT_COLUMNS} for row in rows])
    return frame


def pair_set(pairs: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(pairs["i"].tolist(), pairs["j"].tolist(), strict=True))


HEALTH_ROBERT = {"source": "health", "forename_phonetic": "RBRT", "forename_canonical": "ROBERT",
                 "surname_phonetic": "SM0", "surname_canonical": "SMITH", "dob": "1980-02-01", "dob_year": 1980,
                 "dob_month": 2, "dob_day": 1, "postcode_district": "LS30", "postcode_sector": "LS30 1"}


def test_the_configured_passes_load_and_name_known_columns():
    passes = load_linkage().blocking
    assert len(passes) >= 5 and all(isinstance(p, BlockingPass) for p in passes)
    assert all(set(p.columns) <= set(OUTPUT_COLUMNS) for p in passes)


@pytest.mark.parametrize(("blocking", "words"), [
    ("blocking: []", "blocking: List should have at least 1 item"),
    ("blocking:\n  - [dob, shoe_size]", "blocking.0: unknown column(s) shoe_size"),
    ("blocking:\n  - {columns: [dob], max_block: 1}", "blocking.0.max_block"),
    ("blocking:\n  - {columns: [dob], limit: 3}", "blocking.0.limit"),
])
def test_a_broken_blocking_pass_names_the_file_and_key(tmp_path, blocking, words):
    text = LINKAGE_PATH.read_text(encoding="utf-8")
    start = text.index("\nblocking:") + 1
    end = text.index("\n\n", start)
    path = tmp_path / "linkage.yaml"
    path.write_text(text[:start] + blocking + text[end:], encoding="utf-8")
    with pytest.raises(ContractError) as err:
        load_linkage(path)
    assert str(path) in str(err.value) and words in str(err.value), str(err.value)


def test_an_elector_without_a_date_of_birth_is_compared_by_name_and_postcode_sector():
    frame = records([HEALTH_ROBERT | {"source": "health"},
                     {k: v for k, v in HEALTH_ROBERT.items() if not k.startswith("dob")} | {"source": "electoral"}])
    pairs = candidate_pairs(frame, [BlockingPass(("surname_phonetic", "forename_phonetic", "postcode_sector"))])
    assert pair_set(pairs) == {(0, 1)}


def test_a_day_month_swap_is_still_compared_through_the_year_pass():
    swapped = HEALTH_ROBERT | {"dob": "1980-01-02", "dob_month": 1, "dob_day": 2}
    passes = [BlockingPass(("dob", "surname_phonetic")),
              BlockingPass(("forename_canonical", "dob_year", "postcode_district"))]
    pairs = candidate_pairs(records([HEALTH_ROBERT, swapped]), passes)
    assert pair_set(pairs) == {(0, 1)}
    assert pairs["passes"].tolist() == [0b10]  # only the second pass proposed it


def test_a_blank_blocks_nothing_and_a_record_is_never_paired_with_itself():
    frame = records([{"dob": None, "surname_phonetic": "SM0"}, {"dob": None, "surname_phonetic": "SM0"}])
    assert candidate_pairs(frame, [BlockingPass(("dob", "surname_phonetic"))]).empty


def test_a_pass_with_max_block_skips_blocks_too_common_to_mean_anything():
    common = [{"surname_phonetic": "SM0", "forename_phonetic": "JN"}] * 5
    rare = [{"surname_phonetic": "KWLSK", "forename_phonetic": "LKS"}] * 2
    pairs = candidate_pairs(records(common + rare),
                            [BlockingPass(("surname_phonetic", "forename_phonetic"), max_block=3)])
    assert pair_set(pairs) == {(5, 6)}


def test_pairs_are_unique_ordered_and_carry_every_pass_that_proposed_them():
    frame = records([HEALTH_ROBERT, HEALTH_ROBERT, HEALTH_ROBERT])
    passes = [BlockingPass(("dob", "surname_phonetic")), BlockingPass(("dob", "forename_phonetic"))]
    pairs = candidate_pairs(frame, passes)
    assert pair_set(pairs) == {(0, 1), (0, 2), (1, 2)}
    assert pairs["passes"].tolist() == [0b11] * 3


def test_completeness_counts_true_pairs_found_directly_and_through_chains():
    pairs = pd.DataFrame({"i": [0, 1, 3], "j": [1, 2, 4], "passes": [1, 1, 1]})
    person = np.array(["a", "a", "a", "b", "c"])
    stats = completeness(pairs, person)
    assert stats["true_pairs"] == 3 and stats["true_pairs_found"] == 2
    assert stats["pairs_completeness"] == pytest.approx(2 / 3)
    assert stats["reachable_completeness"] == 1.0  # 0-2 is joined through 1
    assert stats["reduction_ratio"] == pytest.approx(1 - 3 / 10)


def test_records_share_a_block_only_when_every_column_agrees():
    # Block keys are integers combined from each column's codes: values that would collide if the
    # columns were joined as text ("AB" + "C" vs "A" + "BC"), or swapped between columns, stay apart.
    frame = records([{"surname_phonetic": "AB", "forename_phonetic": "C"},
                     {"surname_phonetic": "A", "forename_phonetic": "BC"},
                     {"surname_phonetic": "C", "forename_phonetic": "AB"},
                     {"surname_phonetic": "AB", "forename_phonetic": "C"}])
    pairs = candidate_pairs(frame, [BlockingPass(("surname_phonetic", "forename_phonetic"))])
    assert pair_set(pairs) == {(0, 3)}
