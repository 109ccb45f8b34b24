"""Rows the registry does not let in: outside a gateway's allowed rows, or on an opt-out list.

They are dropped before validation and landing and counted, never quarantined; the counts are all
that is recorded of them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.config.gateways import RowRule, Suppression
from pipeline.ingest.admission import SuppressionListError, admit, read_suppression_list
from pipeline.ingest.read import RawExtract

TOKENS = ["a" * 64, "b" * 64, "c" * 64, "d" * 64]


def raw(benefit_types: list[str | None]) -> RawExtract:
    frame = pd.DataFrame({"benefit_type": benefit_types, "ni_number_token": TOKENS[:len(benefit_types)]},
                         index=pd.Index(range(2, 2 + len(benefit_types)), name="row_number"))
    return RawExtract(source="benefits", path=Path("benefits.csv"), sha256="0" * 64, size_bytes=0,
                      encoding="utf-8", encoding_note=None, frame=frame)


def gateway(schemas, rules):
    return schemas.gateways["benefits"].model_copy(update={"allowed_rows": rules})


def test_rows_outside_the_allowed_rows_are_dropped_and_counted_per_rule(schemas):
    rules = [RowRule(column="benefit_type", excluded=["PIP"], why="not used")]
    kept, admission = admit(raw(["UC", "PIP", " pip ", "JSA"]), gateway(schemas, rules), None)
    assert list(kept.frame["benefit_type"]) == ["UC", "JSA"] and list(kept.frame.index) == [2, 5]
    assert admission.rows_received == 4 and admission.outside_gateway == {"benefit_type not in [PIP]": 2}
    assert kept.rows_in == 2


def test_an_allowed_list_keeps_only_its_values_and_leaves_a_blank_to_validation(schemas):
    rules = [RowRule(column="benefit_type", allowed=["UC", "JSA"], why="used by a criterion")]
    kept, admission = admit(raw(["UC", "HB", None, "JSA"]), gateway(schemas, rules), None)
    assert list(kept.frame.index) == [2, 4, 5] and admission.rows_outside_gateway == 1


def test_the_shipped_benefits_gateway_does_not_take_pip_claims(schemas):
    kept, admission = admit(raw(["UC", "PIP"]), schemas.gateways["benefits"], None)
    assert list(kept.frame["benefit_type"]) == ["UC"] and admission.rows_outside_gateway == 1


def test_rows_on_the_suppression_list_are_removed_and_only_counted(schemas, tmp_path):
    path = tmp_path / "benefits.csv"
    path.write_text(f"ni_number_token\n{TOKENS[1]}\n {TOKENS[3]} \n\n", encoding="utf-8")
    listed = read_suppression_list(path, "benefits", Suppression(column="ni_number_token", name="objections"))
    kept, admission = admit(raw(["UC", "UC", "HB", "JSA"]), schemas.gateways["benefits"], listed)
    assert list(kept.frame.index) == [2, 4] and admission.suppressed == 2
    record = admission.record()
    assert record["rows_suppressed"] == 2 and record["suppression_list"].startswith("benefits.csv sha256:")
    assert not any(t in str(record) for t in TOKENS)


@pytest.mark.parametrize(("text", "said"), [
    ("token\nabc\n", "line 1 has no column 'ni_number_token'"),
    (f"ni_number_token,note\n{TOKENS[0]}\n", "line 2 has 1 fields, the header 2"),
    ("ni_number_token\n   \nx\n", None),
    ("ni_number_token,note\n,x\n", "line 2, column ni_number_token: blank"),
])
def test_a_suppression_list_that_cannot_be_applied_is_an_error_naming_line_and_column(tmp_path, text, said):
    path = tmp_path / "benefits.csv"
    path.write_text(text, encoding="utf-8")
    declared = Suppression(column="ni_number_token", name="objections")
    if said is None:
        assert read_suppression_list(path, "benefits", declared).tokens == {"x"}
        return
    with pytest.raises(SuppressionListError) as caught:
        read_suppression_list(path, "benefits", declared)
    assert said in str(caught.value) and TOKENS[0] not in str(caught.value)
