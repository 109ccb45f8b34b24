"""A verdict in words, from the engine's own evaluation of the rule: never a second reading of it."""

from __future__ import annotations

import pytest

from pipeline.criteria.explain import describe, met_frame, verdict
from pipeline.criteria.rules import Rule, load_rule_set

PHASE2 = ["crime_asb", "education", "children_need_help", "worklessness", "domestic_abuse", "health"]


@pytest.fixture(scope="module")
def phase2(schemas):
    return load_rule_set("phase2", schemas.contracts)


def met(*names: str, unknown: tuple[str, ...] = ()) -> dict[str, bool | None]:
    return {c: True if c in names else None if c in unknown else False for c in PHASE2}


def test_two_problems_and_a_child_make_a_phase2_family_eligible(phase2):
    v = verdict(phase2, met("crime_asb", "education"), children=1)
    assert v.eligible and v.failing == []
    assert v.why == "2 of 6 problems met; the rule needs at least 2 and a child (1 child in the household)"


def test_one_problem_falls_short_and_says_so(phase2):
    v = verdict(phase2, met("health"), children=2)
    assert not v.eligible and v.failing == ["the criteria met fall short of the rule"]
    assert v.why.startswith("1 of 6 problems met; the rule needs at least 2")


def test_a_household_without_children_is_not_a_family(phase2):
    v = verdict(phase2, met("crime_asb", "education", "health"), children=0)
    assert not v.eligible and v.failing == ["no child in the household, so not a family"]


def test_a_criterion_not_assessed_counts_as_not_met(phase2):
    v = verdict(phase2, met("crime_asb", unknown=("education",)), children=1)
    assert not v.eligible


def test_nested_rules_say_which_part_holds_and_which_fails():
    rule = Rule(any_of=[Rule(all_of=["crime_asb", "education", "worklessness"]),
                        Rule(all_of=[Rule(at_least=2, of=["crime_asb", "education", "worklessness"]),
                                     "local_filter"])])
    names = ["crime_asb", "education", "worklessness", "local_filter"]
    frame = met_frame({"crime_asb": True, "education": True, "worklessness": False, "local_filter": None})
    text = describe(rule, frame, names)
    assert text.startswith("the rule needs any of: [fails] all of (")
    assert "[holds] crime_asb met" in text and "[fails] worklessness not met" in text
    assert "2 of 3 (crime_asb, education, worklessness) met, needs at least 2" in text
    assert "local_filter not assessed" in text


def test_phase1_explains_its_local_filter(schemas):
    phase1 = load_rule_set("phase1", schemas.contracts)
    crit = {c: False for c in phase1.criteria} | {"crime_asb": True, "education": True}
    assert not verdict(phase1, crit, children=1).eligible
    assert verdict(phase1, crit | {"local_filter": True}, children=1).eligible
