"""The scoring stage's counts: what the summary, the lineage and the Prefect artifacts report."""

from __future__ import annotations

from pipeline.criteria.stage import score_stage
from tests.criteria.test_rules import ADULT, CHILD, Case, R


def two_households() -> Case:
    """H1: a family with two problems (eligible); H2: a family with one; H3: an adult alone with one."""
    return (Case()
            .person("mum", ADULT, "H1").person("kid", CHILD, "H1").person("dad", ADULT, "H2")
            .person("son", CHILD, "H2").person("solo", ADULT, "H3")
            .row("police", "mum").row("police", "mum", event_date="2026-08-01")
            .row("health", "kid", ae_attendances_12m=4)
            .row("benefits", "dad").row("police", "solo"))


def test_the_counts_say_how_many_households_families_and_eligible_families_there_are(schemas):
    scoring = score_stage(*two_households().inputs(schemas=schemas, without=("children_social_care",)), R)
    c = scoring.counts
    assert (c.households, c.families, c.eligible, c.evidence_rows) == (3, 2, 1, 5)
    assert c.rule_set == "phase2" and c.caseworker_rows is None and scoring.caseworker is None
    assert (c.by_criterion["crime_asb"].households, c.by_criterion["crime_asb"].eligible_families) == (2, 1)
    assert (c.by_criterion["worklessness"].households, c.by_criterion["worklessness"].eligible_families) == (1, 0)
    assert c.not_assessed == ["children_need_help"]  # the social care extract was not supplied
    assert not c.by_criterion["children_need_help"].assessed and c.by_criterion["health"].assessed


def test_the_counts_carry_what_each_criterion_approximates_for_the_summaries(schemas):
    rules, frames, membership = two_households().inputs(schemas=schemas)
    approximations = score_stage(rules, frames, membership, R).counts.approximations
    assert [a.name for a in approximations] == ["eligibility", *rules.criteria]
    assert approximations == tuple(rules.approximations())
    crime = approximations[1]
    assert crime.framework == "\u201cParents or children involved in crime or anti-social behaviour.\u201d"
    assert crime.source.startswith("Financial framework for the expanded Troubled Families programme: April 2015 "
                                   "onwards (DCLG) (2015), https://hansard.parliament.uk/")
    assert "any member's proven offence" in crime.approximation


def test_examples_show_eligible_families_with_one_piece_of_evidence_per_criterion(schemas):
    (example,) = score_stage(*two_households().inputs(schemas=schemas), R).counts.examples
    assert (example.household_key, example.members, example.children, example.problems) == ("H1", 2, 1, 2)
    assert [(e.criterion, e.source, e.rows) for e in example.evidence] == [("crime_asb", "police", 2),
                                                                        ("health", "health", 1)]
